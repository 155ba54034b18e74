"""Chat history typed like a forum: questions, answers, accepted answers and who a thanks is for.

Slack, Discord and JSONL exports without kinds only say who replied in which thread. This step reads the
threads as a moderator would:
- a thread start is a `question` when it asks something (French or English: interrogative words, inversion,
  "quelqu'un sait…", "any idea…", "je cherche…", a real question mark — not a rhetorical tag like "non ?"),
  otherwise a `post`;
- a reply by someone else to a question is an `answer`, any other reply a `comment`;
- a thanks is credited to whom it names (a mention, a first name or handle), to every replier for "vous deux",
  "tout le monde", "you both", "everyone", and otherwise to the last other person who spoke in the thread;
- when the asker thanks someone who answered, that person's last answer is the accepted one.

Every pattern here runs in linear time (alternations of literals, bounded classes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from copilot.text import strip_accents
from copilot.textrules import without_links
from copilot.types import MessageRecord

QUOTED = re.compile(r"«[^«»\n]{0,500}»|“[^“”\n]{0,500}”|\"[^\"\n]{0,500}\"")
SENTENCE = re.compile(r"[^.!?\n]{0,2000}[.!?\n]*")
OPENERS = re.compile(
    r"^(?:comment|pourquoi|quand|qui|quel|quelle|quels|quelles|lequel|laquelle|combien|est-ce|est ce|"
    r"qu'est-ce|qu est-ce|y a-t-il|peut-on|pouvez-vous|peux-tu|sais-tu|savez-vous|connais-tu|connaissez-vous|"
    r"avez-vous|as-tu|faut-il|dois-je|how|why|what|when|where|who|which|whats|what's|is there|are there|"
    r"does anyone|do you|does it|does this|did anyone|can i|can you|can someone|can anyone|could someone|"
    r"could anyone|should i|is it|is this|anyone)\b")
REQUESTS = re.compile(
    r"\b(?:quelqu'un (?:sait|saurait|a|aurait|connait|peut|pourrait|utilise|a deja)|quelqu un (?:sait|a|connait)|"
    r"je cherche|on cherche|j'aimerais savoir|je me demande|je voudrais savoir|une idee|des idees|un conseil|"
    r"des conseils|une astuce|des astuces|besoin d'aide|besoin d'un coup de main|un coup de main|des pistes|"
    r"any idea|any ideas|any tips|any advice|anyone know|anybody know|anyone have|anyone tried|i'm looking for|"
    r"im looking for|looking for|i wonder|wondering|need help|need some help|help with|is there a way|"
    r"how do i|how can i|how to|i'd like to know|i would like to know|"
    r"(?:i don't know|i do not know|i dont know|not sure|i'm not sure|i wonder) (?:how|which|what|where|whether|if|why|when)|"
    r"(?:je ne sais pas|je sais pas|pas sur|je ne vois pas) (?:comment|quel|quelle|quels|quelles|ou|si|pourquoi|quoi|quand))\b")
# A message that says it is a question ('Question peut-être bête : …', 'Quick question: …'), or opens on someone
# coming along ('Quelqu'un va à la journée … le 5 décembre', 'Anyone going to …').
LABELLED = re.compile(r"^\W{0,3}(?:(?:petite|simple|vraie|courte|quick|small|simple|silly|dumb|short|naive|stupid)\s)?"
                      r"question(?:\s[\w'-]+){0,3}\s?:|^\W{0,3}(?:quelqu'un|quelqu un) (?:va|vient|viendra|passe|sera|"
                      r"serait|veut|voudrait|irait|y va|monte|descend)\b|^\W{0,3}(?:anyone|anybody) (?:going|coming|"
                      r"heading|up for|around)\b")
INVERSION = re.compile(r"^\w{2,20}-(?:t-)?(?:tu|vous|on|il|elle|ils|elles)\b")
RHETORICAL = re.compile(r"(?:\bnon|\bhein|\bright|\bn'est-ce pas|\bisn't it|\bno|\bhuh|\blol|\bnon\s?!|\bquoi)\s?\?$")
THANKS = re.compile(r"\b(?:merci|mercii+|thanks|thank you|thank u|thx|ty|cheers|gracias|grazie)\b")
NEGATED = re.compile(r"\b(?:merci pour rien|non merci|no thanks|no thank you|thanks for nothing|"
                     r"thanks but no|merci mais non)\b")
GROUP = re.compile(r"\b(?:vous deux|vous trois|tous les deux|toutes les deux|a tous|a toutes|tout le monde|"
                   r"you both|you two|both of you|you all|y'all|everyone|everybody|all of you|guys|"
                   r"les gars|la team|l'equipe)\b")
# Replies that respond without answering: agreement, "+1", following the thread.
ECHO = re.compile(r"^(?:\+1|same|same here|me too|moi aussi|pareil|idem|bump|up|following|je suis|interested|"
                  r"interesse|great question|bonne question|good question|would love|j'aimerais aussi|"
                  r"no idea|aucune idee|pas d'idee|aucune idée|bientot|soon)\b")
MENTION = re.compile(r"<@([\w.-]{2,80})(?:\|[^<>]{0,80})?>|(?<![\w@<])@([\w.-]{1,80})")


def _fold(text: str) -> str:
    return strip_accents(text.lower()).replace("’", "'")


def is_question(text: str) -> bool:
    """Whether a message asks something (French or English), beyond a final question mark."""
    plain = _fold(QUOTED.sub(" ", without_links(text)))
    if not plain.strip() or (THANKS.search(plain) and "?" not in plain and not REQUESTS.search(plain)):
        return False
    if REQUESTS.search(plain) or LABELLED.search(plain):
        return True
    for sentence in SENTENCE.findall(plain):
        s = sentence.strip()
        if not s:
            continue
        if s.endswith("?") and not (RHETORICAL.search(s) and len(s.split()) <= 6):
            return True
        if not s.endswith(("!", ".")) and any(OPENERS.search(c.strip()) and len(c.split()) >= 3
                                               for c in re.split(r"[,;:]", s)):
            return True
        if INVERSION.search(s) and not s.endswith(("!", ".")):
            return True
    return False


@dataclass
class Person:
    """What a thanks can call someone: an id and the names people use for them."""

    id: str
    names: tuple[str, ...]


def names_of(author_id: str, *labels: str | None) -> Person:
    """An author's callable names: each label (real name, display name, handle) and its first word."""
    out: list[str] = []
    for label in labels:
        folded = _fold(label or "").strip().lstrip("@")
        if len(folded) >= 2:
            out.append(folded)
            first = re.split(r"[\s._-]", folded, maxsplit=1)[0]
            if len(first) >= 3:
                out.append(first)
    return Person(id=author_id, names=tuple(dict.fromkeys(out)))


def thanked(text: str, *, author: str | None, earlier: Sequence[tuple[str | None, str]],
            people: dict[str, Person]) -> list[str]:
    """Who a message thanks: member ids, in order (empty when it thanks no one). `earlier` is the thread so far
    as (author, message id), oldest first."""
    # Thanks are short: only short texts are kept in the cache, so an import of long posts cannot fill memory.
    folded = _thanking(text) if len(text) <= THANKS_CACHED_CHARS else _thanking.__wrapped__(text)
    if folded is None:
        return []
    others = [a for a, _ in earlier if a and a != author]
    named: list[str] = []
    for m in MENTION.finditer(text) if "@" in text else ():  # every mention has an @: long texts skip the scan
        target = m.group(1) if m.group(1) in people else _by_name(_fold(m.group(1) or m.group(2)), people)
        if target and target != author and target not in named:
            named.append(target)
    if not named:
        for pid in dict.fromkeys(reversed(others)):  # the people of this thread first, latest first
            person = people.get(pid)
            if person and person.names and any(n in folded for n in person.names) \
                    and _names_pattern(person.names).search(folded):  # a substring test first: it is ~20x faster
                named.append(pid)
    if named:
        return named
    if GROUP.search(folded):
        return list(dict.fromkeys(others))
    return others[-1:]


THANKS_CACHED_CHARS = 2000


@lru_cache(maxsize=8192)
def _thanking(text: str) -> str | None:
    """A message's folded text when it thanks someone, else None. Cached: the spotlight reads the window's thanks
    again on every request."""
    folded = _fold(text)
    # Every negated form says 'merci' or 'thank': without them the (slower) negation scan cannot match.
    negated = ("merci" in folded or "thank" in folded) and NEGATED.search(folded)
    return folded if THANKS.search(folded) and not negated else None


def _by_name(handle: str, people: dict[str, Person]) -> str | None:
    if handle in people:
        return handle
    return next((pid for pid, p in people.items() if handle in p.names or _fold_id(pid) == handle), None)


@lru_cache(maxsize=16384)
def _fold_id(author_id: str) -> str:
    """An author id as a handle is written (ids repeat across every thanks of a thread: folded once)."""
    return _fold(author_id)


@lru_cache(maxsize=16384)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    """Any of a person's names as a whole word: one compiled pattern per person, not one per name and message."""
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)")


def type_threads(records: Iterable[MessageRecord], people: dict[str, Person]) -> list[MessageRecord]:
    """Give chat messages forum kinds, accepted answers and thanks targets (see the module docstring). A thanks
    aimed at someone other than the message it replies to is re-pointed (`reply_to`) at the thanked person's
    latest message in the thread, so it is credited to them."""
    messages = list(records)
    threads: dict[str, list[int]] = {}
    for i, m in enumerate(messages):
        threads.setdefault(m.thread or m.source_id, []).append(i)
    updates: dict[int, dict[str, object]] = {}
    for indices in threads.values():
        indices.sort(key=lambda i: messages[i].created_at)
        root = next((i for i in indices if messages[i].reply_to is None), indices[0])
        _type_thread(messages, root, [i for i in indices if i != root], people, updates)
    return [m.model_copy(update=updates[i]) if i in updates else m for i, m in enumerate(messages)]


def _type_thread(messages: list[MessageRecord], root: int, replies: list[int], people: dict[str, Person],
                 updates: dict[int, dict[str, object]]) -> None:
    """Type one thread: its start, then each reply against the question it answers. In a thread opened by a
    post (an announcement, a ritual), members' replies may be questions of their own; a later reply by someone
    else answers the latest open one."""
    by_id = {messages[i].source_id: i for i in [root, *replies]}
    questions = {root} if is_question(messages[root].text) else set()
    updates[root] = {"kind": "question" if questions else "post"}
    seen: list[tuple[str | None, str]] = [(messages[root].author, messages[root].source_id)]
    answers: dict[tuple[int, str], int] = {}  # (question, replier) -> their latest answer
    solved: set[int] = set()
    open_question = root if questions else None
    for i in replies:
        m = messages[i]
        target = by_id.get(m.reply_to or "", root)
        if target == root and open_question is not None:
            target = open_question
        change: dict[str, object] = {"kind": "comment"}
        if root not in questions and m.author != messages[root].author and is_question(m.text):
            change["kind"] = "question"
            questions.add(i)
            open_question = i
        elif target in questions and m.author != messages[target].author and not _only_thanks(m.text):
            change["kind"] = "answer"
            if messages[target].source_id != m.reply_to:  # it answers a question asked inside the thread
                change["reply_to"] = messages[target].source_id
            if m.author:
                answers[(target, m.author)] = i
        targets = thanked(m.text, author=m.author, earlier=seen, people=people)
        if targets:
            last = next((sid for a, sid in reversed(seen) if a == targets[0]), None)
            if last and last != m.reply_to:
                change["reply_to"] = last
            asked = [q for q in questions if messages[q].author == m.author and q not in solved]
            for q in asked:
                chosen = next((answers[(q, t)] for t in targets if (q, t) in answers), None)
                if chosen is not None:
                    updates.setdefault(chosen, {})["is_solution"] = True
                    solved.add(q)
        updates.setdefault(i, {}).update(change)
        seen.append((m.author, m.source_id))


def _only_thanks(text: str) -> bool:
    """A reply that thanks, agrees or follows, without answering anything."""
    folded = _fold(text).strip()
    short = len(folded.split()) <= 8 and not is_question(text)
    return short and bool(THANKS.search(folded) or ECHO.search(folded))
