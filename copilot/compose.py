"""Grounding for drafts: what members talk about now, and how earlier editions of a ritual did.

Everything that may reach an LLM leaves here pseudonymised, redacted and fenced, within a token budget.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from copilot.features.snapshot import Snapshots
from copilot.privacy import Pseudonyms, fence
from copilot.retrieve import Retriever
from copilot.store import Store
from copilot.text import STOPWORDS, strip_accents, words
from copilot.textrules import LINK, without_links
from copilot.untrusted import instructions_in

RECENT_DAYS = 28
CHARS_PER_TOKEN = 4
EXTRA_STOP = frozenset("merci bonjour salut hello thanks semaine week aussi faire faut peut très bien comme quand "
                       "encore vraiment quelqu question réponse toujours depuis avant après bravo super génial "
                       "everyone anyone something really tout toute toutes tous rien chose choses quelquun someone "
                       "anybody thing things idea idée avez avoir know does have cette votre notre just like "
                       "pense trouve voir need want fois time more than less find get make use think see look ask "
                       "answer answers questions réponses post posts quel quelle quels quelles which "
                       # questions words and days cut a phrase: "handle how fix" is not a subject
                       "comment pourquoi combien where why whose first second last next dernier dernière premier "
                       "première prochain prochaine lundi mardi mercredi jeudi vendredi samedi dimanche monday "
                       "tuesday wednesday thursday friday saturday sunday today tomorrow demain aujourd hier "
                       "yesterday soir matin morning evening tonight "
                       # counted words are not subjects: "share one photo" is no topic
                       "one two three four five ten deux trois quatre cinq dix "
                       # prepositions lead to a place or a time, not a subject: "devant la gare"
                       "devant derrière pendant contre près loin under between without behind during onto through "
                       "across near around over "
                       # adverbs qualify, they are no subject: "presque jusqu'au bout"
                       "presque jusqu jusquau jusqua jusquaux déjà trop assez plutôt souvent jamais parfois "
                       "almost already quite often never always sometimes still maintenant now bientôt soon ensuite "
                       "alors tard tôt".split())


@dataclass
class ContextMessage:
    """A message used as grounding."""

    id: str
    author: str
    text: str
    kind: str
    attributable: bool = True  # False when the member opted out of being named (spotlight consent)
    answered_by: list[str] = field(default_factory=list)  # for a question: who answered it (names, first first)


@dataclass
class Grounding:
    """What a draft can rely on."""

    messages: list[ContextMessage] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    questions: list[ContextMessage] = field(default_factory=list)
    past: list[dict[str, Any]] = field(default_factory=list)
    links: set[str] = field(default_factory=set)


CLAUSE_BREAK = re.compile(r"[.!?;:,…](?:\s|$)|[()\[\]{}«»\"“”\n]")
# Subjects and modals after which the next word is a verb, in French and English ("you migrate", "je cherche",
# "can share"). Prepositions are left out: "to dark mode", "pour la partie" lead to nouns as often as to verbs.
VERB_CUES = frozenset("i you we they can cannot cant could should would will wont dont didnt doesnt please lets "
                      "je tu il elle on nous vous ils elles peut peux pouvez faut dois doit veux veut voulez "
                      "sais savez ne".split())
# Words a phrase may hold inside ("carte de membre", "horaires du marché", "point of view"). Not articles: a noun
# followed by an article and a noun is a verb and its object ("changer la date", "fix the build").
CONNECTORS = frozenset("de du des d à au aux en of for on with to".split())


def _phrases(tokens: list[str]) -> set[tuple[str, ...]]:
    """Runs of 2-3 tokens that start and end with a content word, connectors allowed inside; 4 when one is a
    connector ("traitement à l'acide oxalique")."""
    out: set[tuple[str, ...]] = set()
    for i, first in enumerate(tokens):
        if not _content(first):
            continue
        for j in range(i + 1, min(i + 4, len(tokens))):
            if not (_content(tokens[j]) or tokens[j] in CONNECTORS):
                break
            if _content(tokens[j]) and (j - i < 3 or any(t in CONNECTORS for t in tokens[i + 1:j])):
                out.add(tuple(tokens[i:j + 1]))
    return out


def _content(w: str) -> bool:
    return len(w) >= 3 and w not in STOPWORDS and w not in EXTRA_STOP and not w.isdigit()


def topics_of(texts: list[str], n: int = 3, exclude: Iterable[str] = (), authors: list[str] | None = None) -> list[str]:
    """What members keep bringing up, as key phrases ("horaires du marché", "dark mode settings"): runs of
    content words found in at least two messages, shared by the most people, then the most messages, longest
    first. Never a lone frequent word, and never an action ("share one photo", "cherche une partie"): a phrase
    whose first word the texts themselves use as a verb (after "I", "you", "can", "je", "on"...) is left out. Empty
    when nothing recurs: the caller then makes no claim about what members talk about. Words of `exclude`
    (the brand's and the ritual's names) are never a subject; a word and its plural count once. `authors`,
    aligned with `texts`, lets a phrase that several people use lead one that a single person repeats."""
    phrase_df: Counter[tuple[str, ...]] = Counter()
    phrase_people: dict[tuple[str, ...], set[str]] = {}
    banned = {strip_accents(w) for w in words(" ".join(exclude))}
    verbs: set[str] = set()
    seen: set[str] = set()
    for k, text in enumerate(texts):
        flat, text_verbs, text_phrases = _read(text)
        if flat in seen:  # a message pasted twice is one mention
            continue
        seen.add(flat)
        verbs.update(text_verbs)
        # A phrase holding an excluded word is no subject, and neither is one running across it.
        found = [p for p, folded in text_phrases if not folded & banned]
        phrase_df.update(found)
        for p in found:
            phrase_people.setdefault(p, set()).add(authors[k] if authors else str(k))
    people = {p: len(who) for p, who in phrase_people.items()}
    ranked = sorted((p for p, c in phrase_df.items() if c >= 2 and p[0] not in verbs),
                    key=lambda p: (-people[p], -phrase_df[p] * (1 + 0.3 * (len(p) - 1)), p))
    chosen: list[tuple[str, ...]] = []
    for phrase in ranked:
        if not any({_stem(w) for w in phrase} & {_stem(w) for w in c} - CONNECTORS for c in chosen):
            chosen.append(phrase)  # one phrase per subject
        if len(chosen) == n:
            break
    return [_as_written(p, texts) for p in chosen]


@lru_cache(maxsize=2048)  # a draft reads up to 300 recent messages
def _read(text: str) -> tuple[str, frozenset[str], tuple[tuple[tuple[str, ...], frozenset[str]], ...]]:
    """One message as topics_of reads it: its tokens joined (to spot copies), the words its own text uses as verbs,
    and its phrases with their accent-folded words. Cached by text: the recent messages a draft reads are mostly
    the ones the previous draft read, so a draft under a stream of new messages reads only the new ones."""
    # Phrases never run across punctuation: "camera settings. Voting closes" holds no "settings voting".
    raw = [w for clause in CLAUSE_BREAK.split(without_links(text)) for w in [*words(clause), "."]]
    verbs = frozenset(w for prev, w in zip(raw, raw[1:]) if prev in VERB_CUES)
    return " ".join(raw), verbs, tuple((p, frozenset(strip_accents(w) for w in p)) for p in sorted(_phrases(raw)))


@lru_cache(maxsize=2048)
def _carries_instructions(text: str) -> bool:
    return bool(instructions_in(text))


def _as_written(phrase: tuple[str, ...], texts: list[str]) -> str:
    """A phrase the way members write it most often ("Marée Basse", "migrate-config"), else its words."""
    # Between two words: spaces or punctuation, and an elided article the tokens dropped ("à l'acide").
    between = r"\W{1,3}(?:(?:l|d|j|qu|n|s|c)['’])?"
    pattern = re.compile(r"(?<!\w)" + between.join(re.escape(w) for w in phrase) + r"(?!\w)", re.I)
    seen = Counter(m.group(0) for text in texts for m in pattern.finditer(text))
    if not seen:
        return " ".join(phrase)
    best = max(seen.values())
    return min((form for form, count in seen.items() if count == best), key=lambda f: (f != f.lower(), f))


def _stem(word: str) -> str:
    """A crude shared stem for French and English plurals (cartes/carte, configs/config)."""
    w = strip_accents(word)
    return w[:-1] if len(w) > 4 and w.endswith(("s", "x")) else w


def names_ritual(text: str, ritual_name: str) -> bool:
    """Whether a post names a ritual: every content word of the name near its start (accents, case and articles
    ignored), or the name written as one hashtag (#DefiDuLundi)."""
    return _head_names(text[:300], ritual_name)


@lru_cache(maxsize=8192)
def _head_names(start: str, ritual_name: str) -> bool:
    """names_ritual on a post's first 300 characters; cached, since every draft reads the brand's recent posts."""
    head = strip_accents(start.lower())
    name = strip_accents(ritual_name.lower())
    wanted = {w for w in words(name) if w not in STOPWORDS} or set(words(name))
    if wanted and wanted <= set(words(head)):
        return True
    squashed = re.sub(r"[^a-z0-9]", "", name)
    return len(squashed) >= 6 and squashed in re.sub(r"[^a-z0-9]", "", head)


class Composer:
    """Builds the grounding of a ritual draft for a brand."""

    def __init__(self, store: Store, retriever: Retriever, snapshots: Snapshots):
        self.store, self.retriever, self.snapshots = store, retriever, snapshots

    def ground(self, brand: str, *, query: str, ritual_name: str, now: datetime, limit: int = 10,
               brand_name: str = "", opening: str | None = None) -> Grounding:
        """Recent relevant messages, current topics, member questions and earlier editions of the ritual."""
        roles = self.store.member_roles(brand)
        brand_accounts = roles["staff"] | roles["bot"]
        since = now - timedelta(days=RECENT_DAYS)
        recent = self.store.recent_messages(brand, since, limit=300, exclude_authors=brand_accounts | roles["no_analytics"])
        # Topics come from what members ask and answer, not from short reactions in comment threads, nor from
        # messages that carry instructions aimed at a model.
        talk = [r for r in recent if r[5] in ("question", "answer") and not _carries_instructions(r[6])]
        g = Grounding(topics=topics_of([r[6] for r in talk], exclude=(brand, brand_name, ritual_name),
                                       authors=[f"{r[0]}:{r[2]}" for r in talk]))
        # Relevance first, then recency: an unfiltered search stays on the fast path of both indexes, and the
        # recent hits are preferred over older ones when there are enough of them.
        hits = self.retriever.search(brand, query, limit=limit * 4)
        staff_ids = {sid for _, sid in brand_accounts}
        rows = self.store.get_messages(brand, [h.uid for h in hits])
        ordered = sorted(hits, key=lambda h: h.created_at < since)
        seen_texts: set[str] = set()
        for h in ordered:
            row = rows.get(h.uid)
            if row is None or row.kind in ("charter", "doc") or (row.author in staff_ids):
                continue
            flat = " ".join(row.text.lower().split())
            if flat in seen_texts:  # the same sentence twice adds nothing to the grounding
                continue
            seen_texts.add(flat)
            g.messages.append(ContextMessage(id=row.source_id, author=row.author_name or row.author or "", text=row.text,
                                             kind=row.kind))
            if len(g.messages) >= limit:
                break
        asked = [r for r in recent if r[5] == "question"][:5]
        names = self.store.member_names(brand, [(r[0], r[2]) for r in asked if not r[3]])
        answerers = self._answerers(brand, asked, roles["no_spotlight"])
        g.questions = [ContextMessage(id=r[1], author=r[3] or names.get((r[0], r[2])) or r[2] or "", text=r[6],
                                      kind=r[5], attributable=(r[0], r[2]) not in roles["no_spotlight"],
                                      answered_by=who) for r, who in zip(asked, answerers)]
        g.past = self._past_editions(brand, ritual_name, brand_accounts, now, opening)
        g.links = {u for m in g.messages for u in LINK.findall(m.text)}
        return g

    def _answerers(self, brand: str, asked: list[tuple[Any, ...]], unnamed: set[tuple[str, str]]) -> list[list[str]]:
        """For each question row (source, source_id, author, …): who replied to it, other than its asker, members
        who opted out of being named left out. One pass over the snapshot and one name lookup for all of them."""
        snap = self.snapshots.get(brand)
        rows = [snap.row_of(r[0], r[1]) for r in asked]
        known = np.array([row for row in rows if row is not None], dtype=np.int64)
        replies = np.flatnonzero(np.isin(snap.parent, known)) if len(known) else np.zeros(0, dtype=np.int64)
        keys: list[list[tuple[str, str]]] = []
        for r, row in zip(asked, rows):
            codes = dict.fromkeys(int(snap.author[x]) for x in replies if snap.parent[x] == row and snap.author[x] >= 0)
            keys.append([snap.authors[c] for c in codes if snap.authors[c][1] != r[2] and snap.authors[c] not in unnamed]
                        if row is not None else [])
        names = self.store.member_names(brand, [k for ks in keys for k in ks])
        return [[names.get(k) or k[1] for k in ks] for ks in keys]

    def _past_editions(self, brand: str, ritual_name: str, accounts: set[tuple[str, str]], now: datetime,
                       opening: str | None = None) -> list[dict[str, Any]]:
        """The brand's earlier posts of the ritual: named at their start, or opening with the words the charter
        says the ritual opens with ('This week in the brine:')."""
        candidates = self.store.recent_posts(brand, accounts, now - timedelta(days=120))
        lead = [w for w in words(opening or "") if w]
        posts = [p for p in candidates if names_ritual(p[4], ritual_name)
                 or (len(lead) >= 2 and words(p[4][:200])[:len(lead)] == lead)][:12]
        if not posts:
            return []
        snap = self.snapshots.get(brand)
        brand_rows = snap.author_mask(accounts) | (snap.author < 0)
        out = []
        for source, sid, channel, created, text in posts:
            row = snap.row_of(source, sid)
            if row is None:
                continue
            in_thread = np.flatnonzero((snap.thread == snap.thread[row]) & (snap.parent >= 0))
            m2m = sum(1 for r in in_thread if not brand_rows[r] and not brand_rows[snap.parent[r]])
            out.append({"id": sid, "channel": channel, "created_at": created, "text": text, "replies": len(in_thread),
                        "member_to_member": m2m})
        return sorted(out, key=lambda p: (-p["member_to_member"], -p["replies"]))


def context_block(g: Grounding, pseudonyms: Pseudonyms, *, budget_tokens: int) -> tuple[str, list[str]]:
    """Fenced, pseudonymised lines of context within the budget; returns the block and the ids included."""
    lines, used, ids = [], 0, []
    for m in g.messages:
        line = f"[{m.id}] {pseudonyms.alias(m.author)} ({m.kind}): {pseudonyms.scrub(_one_line(m.text))[:400]}"
        cost = len(line) // CHARS_PER_TOKEN + 1
        if used + cost > budget_tokens:
            break
        lines.append(line)
        used += cost
        ids.append(m.id)
    return fence("\n".join(lines) or "(no recent messages)"), ids


def past_block(g: Grounding, pseudonyms: Pseudonyms) -> str:
    """Earlier editions with the member-to-member replies they drew (best first)."""
    if not g.past:
        return "(no earlier edition found)"
    rows = [f"[{p['id']}] {p['member_to_member']} member-to-member replies, {p['replies']} replies: "
            f"{pseudonyms.scrub(_one_line(p['text']))[:300]}" for p in g.past[:3]]
    return fence("\n".join(rows))


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
