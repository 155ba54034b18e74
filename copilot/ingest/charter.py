"""Charter parsing: Markdown (French or English; front matter, headings, bullets, tables or plain prose) or YAML/JSON
with the keys brands choose.

Both become sections (a heading or a key path, and its blocks). Every block is kept as a passage and read sentence
by sentence (`charter_text`: limits, promotion share, posting rate, register, word bans, term pairs, typed rules,
rituals); a section's category (vision, values, tone, lexicon, rituals, promotion) also takes its blocks as items.
Every item cites its passage. A section nothing could be read from is listed in `unparsed` with the reason, and
history, legal, contact or changelog sections are recognised as such and not mined for rules. The title and the
untitled intro are context (`intro`), never unparsed. Front matter and top-level keys naming a field win.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from copilot.errors import CharterInvalid
from copilot.ingest import safeyaml
from copilot.ingest import charter_text as T
from copilot.ingest.markdown import LINK_RE, Section, sections, split_front_matter
from copilot.text import detect_language, strip_accents
from copilot.types import (Charter, CharterItem, CharterRule, Passage, PromotionPolicy, Ritual, Term, Unparsed)

CATEGORIES: dict[str, tuple[str, ...]] = {
    "promotion": ("promotion", "promotionnel", "publicit", "advertis", "self-promo", "spam", "commercial",
                  "autopromo", "sponsor", "selling", "vendre", "ventes", "sales"),
    "rituals": ("rituel", "ritual", "rendez-vous", "rdv", "evenement", "event", "club", "seminaire", "seminar",
                "meeting", "reunion", "animation", "tradition", "newsletter", "infolettre", "hebdo", "weekly",
                "recurring", "recurrent", "regular", "regulier", "programs", "programmes"),
    "lexicon": ("lexique", "lexicon", "vocabulaire", "vocabulary", "glossaire", "glossary", "mots", "words",
                "termes", "terms", "word list", "inclusive language", "langage inclusif", "terminolog", "lingo"),
    "tone": ("ton", "tone", "voix", "voice", "style", "registre", "register", "ecrire", "ecriture", "writing",
             "comment on parle", "how we talk", "how we write", "plain language"),
    "values": ("valeur", "values", "principe", "principle", "engagement", "pledge", "what we believe",
               "nos convictions", "standards", "normes", "ce qui compte", "what matters", "ce qui nous tient",
               "what we care", "what we stand for", "piliers", "pillars"),
    "vision": ("vision", "mission", "raison d'etre", "purpose", "pourquoi", "why we", "manifeste", "manifesto",
               "ambition"),
    # Context for people, not rules for posts: recognised so that they are reported as such and not mined.
    "aside": ("histor", "histoire", "our story", "qui sommes", "who we are", "about us", "about the", "a propos",
              "legal", "juridique", "mentions legales", "licen", "copyright", "credit", "contact", "changelog",
              "change log", "revision", "compliance", "conformite", "moderation", "enforcement", "accessib",
              "privacy", "confidentialite", "donnees personnelles", "attribution", "further reading", "resources",
              "ressources", "scope", "portee"),
}
ASIDE_REASON = "history, legal, contact, moderation or document-control section: context for people, not a rule for posts"
QUOTED_RE = re.compile(r"«\s*([^»]{1,60}?)\s*»|“([^”]{1,60})”|\"([^\"]{1,60})\"|`([^`]{1,60})`|\*\*([^*]{1,60})\*\*|\*([^*]{1,60})\*")
PAIR_RE = re.compile(
    r"^(?P<good>.{1,60}?)\s*(?:,\s*)?(?:plutôt que|plutot que|au lieu de|instead of|rather than|et non|pas|not)\s+"
    r"(?P<bad>.{1,80}?)\s*[.;]?$", re.I)
ARROW_RE = re.compile(r"^(?P<bad>.{1,60}?)\s*(?:→|->|=>)\s*(?P<good>.{1,60}?)\s*[.;]?$")
BANNED_HINT = re.compile(r"bann|interdit|a eviter|à éviter|avoid|never|jamais|ne (?:pas )?dites|ne pas dire|"
                         r"n'utilis|don't|do not|proscri|forbidden|pas de", re.I)
PREFERRED_HINT = re.compile(r"pr[ée]f[ée]r|preferred|use|utilis|on dit|dites|say|nos mots|our words", re.I)
PROMO_WORD = re.compile(r"promo|publicit|advertis|spam|commercial|sponsor|self-promotion|autopromotion|vente|selling", re.I)
# A label ("Bienveillance : …") sits before the first ':' or dash; looking for that within LABEL_REACH
# characters bounds the lazy label's rescans of the whitespace after it (60 × the run).
LABEL_RE = re.compile(r"^([^:—–\n]{2,60}?)\s*(?::|\s—|\s–)\s+(.+)$", re.S)
LABEL_SEP, LABEL_REACH = re.compile(r"[:—–]"), 200
# Lexicon patterns read a copy whose whitespace runs are squeezed to one character: their lazy groups are
# followed by \s*, which rescanned a long run for every length the group tried.
WHITESPACE_RUN = re.compile(r"\s{2,}")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
TABLE_RULE = re.compile(r":?-{2,}:?")
# Table headers: which column holds the replaced terms, a ritual's name, its cadence.
REPLACED_COLUMN = re.compile(r"plutot|instead|au lieu|rather|avoid|eviter|\bnot\b|\bpas\b|don't|ne dit|banned|interdit|"
                             r"tempt|about to|old\b|ancien|before|avant")
# A header that names the term to use even though it says "instead" ("…type this instead", "dites plutôt").
GOOD_TAIL = re.compile(r"\b(?:instead|plutot|a la place|rather)\W{0,3}$")
GOOD_COLUMN = re.compile(r"(?:instead|plutot|a la place|rather)\W{0,3}$|\b(?:say|use|write|type|prefer\w{0,4}|on dit|"
                         r"dites|ecri\w{0,4}|utilis\w{0,4}|new|nouveau|apres|after)\b")
# A column explaining a row ("Why", "Pourquoi", "Reason"): its table pairs nothing with anything.
REASON_COLUMN = re.compile(r"\b(?:why|pourquoi|reason|raison|because|parce|explanation|explication|note|comment)\b")
NAME_COLUMN = re.compile(r"ritu|rendez-vous|\bname\b|\bnom\b|event|evenement|program|thread|\bquoi\b")
WHEN_COLUMN = re.compile(r"\bwhen\b|quand|cadence|frequen|rythme|schedule|horaire|\bdate\b|\bjour\b")
# Structured keys: a list of words under a ban key is banned, under a preference key preferred.
BAN_KEY = re.compile(r"bann|avoid|prohib|forbid|interdit|evit|proscri|never|jamais|don't|ne pas|blacklist|not this|"
                     r"off the table|non merci|no thanks|retir|refus|no[- ]go|off[- ]limits|\bdont\b|\bwont\b")
PREFER_KEY = re.compile(r"prefer|use|utilis|on dit|\bsay\b|recommand|recommend|\bdire\b")
GOOD_KEYS = ("term", "terme", "use", "say", "prefer", "preferred", "on dit", "dire", "mot", "word", "utiliser", "write",
             "ecrire", "employer", "dites")
# A mapping of short terms under such a key reads "replaced term: term to use" ({"vitre": "écran"}).
REPLACEMENT_KEY = re.compile(r"remplac|replac|swap|substitu|au lieu|instead|a la place|correspondance|mapping")
# A lexicon key ("lexique", "glossary"): {"term": ["replaced", …]} under it reads like under a preference key.
LEXICON_KEY = re.compile(r"lexi(?:que|con)|glossa\w{1,4}|vocabula\w{1,4}|terminolog\w{1,4}|wording")
REPLACED_KEYS = ("instead of", "instead", "avoid", "not", "not this", "on ne dit pas", "plutot que", "au lieu de",
                 "ne pas dire", "rather than", "replaces", "remplace", "pas", "pas ca", "non")
GENERIC_KEY = re.compile(r"words?|terms?|mots?|termes?|list[es]?|items?|entries|vocabular\w{1,3}|expressions?")
NAME_KEYS = ("name", "nom", "title", "titre", "ritual", "rituel")
WHEN_KEYS = ("cadence", "frequency", "frequence", "quand", "when", "rythme", "schedule", "horaire")
FORMAT_KEYS = ("format", "description", "what", "quoi", "ou", "details")
META_KEYS = {"brand": "brand", "marque": "brand", "title": "title", "titre": "title", "language": "language",
             "languages": "languages", "lang": "lang", "langue": "language", "register": "register",
             "registre": "register", "max_promotional_share": "max_promotional_share", "emoji_limit": "emoji_limit",
             "exclamation_limit": "exclamation_limit", "max_posts_per_day": "max_posts_per_day",
             "max_post_chars": "max_post_chars"}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", strip_accents(text.lower())).strip("-")[:40] or "intro"


CONTACT = re.compile(r"\b(?:nous ecrire|ecrivez-nous|ecris-nous|nous contacter|contactez|write to us|contact us|get in touch)\b")


# A swap the charter limits to some uses: 'Écrivez « colonie » et non « ruche » quand vous parlez des abeilles',
# 'say "crew" not "staff" when you mean volunteers'.
CONDITION = re.compile(r"\b(?:quand|lorsque|lorsqu'|si|sauf|when|whenever|if|unless|except|only (?:when|for|if)|"
                       r"uniquement (?:quand|pour|si)|seulement (?:quand|pour|si)|pour parler d)\b", re.I)


def _condition(text: str, replaced: list[str]) -> str | None:
    """The clause that limits a swap, when it follows the replaced terms in the same sentence."""
    if not replaced:
        return None
    for sentence in T.sentences(text):
        at = max((sentence.lower().find(r.lower()) for r in replaced), default=-1)
        if at < 0:
            continue
        m = CONDITION.search(sentence, at)
        if m:
            return _clip(sentence[m.start():].strip(" .;"), 160)
    return None


PROPER_NAME = re.compile(r"(?<=[a-zà-ÿ,;]\s)((?:[A-ZÀ-Ý][\w'’-]+)(?:\s(?:(?:of|the|de|du|des|la|le|aux|à|&)\s)?"
                         r"[A-ZÀ-Ý][\w'’-]+){1,4})")
CALENDAR_WORD = re.compile(r"^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|lundi|mardi|mercredi|jeudi|"
                           r"vendredi|samedi|dimanche|january|february|march|april|may|june|july|august|september|"
                           r"october|november|december)$", re.I)


def _proper_name(text: str) -> str | None:
    """A ritual named in prose with capitals inside a sentence ('we run the Culture Swap roll call'): two or more
    capitalised words, not a day or a month."""
    for m in PROPER_NAME.finditer(text):
        words = m.group(1).split()
        if not all(CALENDAR_WORD.match(w) for w in words if w[:1].isupper()):
            return m.group(1)
    return None


def _clip(text: str, limit: int) -> str:
    """A text cut to `limit` characters at a word boundary, with an ellipsis when something was cut (a tone
    item never ends 'on cite le prénom de')."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    return (cut[:cut.rfind(" ")] if " " in cut else cut).rstrip(" ,;:") + "…"


def _words_only(text: str) -> str:
    return re.sub(r"[^\w-]+", " ", text).strip()


def classify(path: Iterable[str]) -> str | None:
    """Category of a section from its own heading, else its nearest parent's."""
    for heading in reversed(list(path)):
        if CONTACT.search(T.fold(heading)):  # 'Nous écrire' is a contact section, not one on writing
            return "aside"
        h = " " + _words_only(T.fold(heading)) + " "  # "Un peu d'histoire" holds the word "histoire"
        # Context for people first: 'Club history' is history, whatever else its heading names.
        for category, keys in sorted(CATEGORIES.items(), key=lambda kv: kv[0] != "aside"):
            if any(f" {_words_only(k)}" in h for k in keys):  # each key starts a word: not "vision" in "révision"
                return category
    return None


def strip_marker(block: str) -> str:
    """A list item or paragraph without its bullet and surrounding whitespace."""
    return re.sub(r"^\s*([-*+]|\d+[.)])\s+", "", LINK_RE.sub(r"\1", block)).strip()


def lead(block: str) -> tuple[str | None, str]:
    """(lead phrase, rest): a bold opening or a short label before ':' / '—'."""
    text = strip_marker(block)
    m = re.match(r"^(?:(?:le|la|les|l'|the|our|nos|notre|un|une|a)\s?)?\*\*(.+?)\*\*\s*[,:.—–-]?\s*(.*)$", text,
                 flags=re.S | re.I)
    if m:
        return m.group(1).strip(" .:"), m.group(2).strip()
    m = LABEL_RE.match(text) if LABEL_SEP.search(text, 0, LABEL_REACH) else None
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return None, text


def quoted_terms(text: str) -> list[str]:
    """Terms written in quotes, backticks or emphasis (a run of whitespace inside one read as one character)."""
    return [next(g for g in m.groups() if g).strip() for m in QUOTED_RE.finditer(_squeezed(text))]


def _squeezed(text: str) -> str:
    """Each run of whitespace as one character (a line break if the run holds one, else a space)."""
    return WHITESPACE_RUN.sub(lambda m: "\n" if "\n" in m.group(0) else " ", text)


def table_rows(block: str) -> list[list[str]] | None:
    """The rows of a Markdown table (header first, the |---| rule left out), else None."""
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    if len(lines) < 2 or not all(line.startswith("|") for line in lines):
        return None
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return [row for row in rows if not all(TABLE_RULE.fullmatch(cell) for cell in row)]


def _humanize(key: str) -> str:
    """A YAML/JSON key as words: 'maxEmojiCount' -> 'max emoji count', 'mots_bannis' -> 'mots bannis'."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(key)).replace("_", " ").replace("-", " ").lower()


@dataclass
class _Context:
    """Where a block sits: its section's category, and whether its heading or lead-in forbids ('Never:')."""

    category: str | None
    forbidding: bool
    wordy: bool = False  # the heading is about words ("Notre façon d'écrire"): its quoted terms are vocabulary


def _answered(sentences: list[str]) -> list[str]:
    """Sentences, with a short question joined to its answer ('Les émojis ? Nous nous en passons.')."""
    out: list[str] = []
    for sentence in sentences:
        if out and out[-1].rstrip().endswith("?") and len(out[-1]) <= 40:
            out[-1] = f"{out[-1]} {sentence}"
        else:
            out.append(sentence)
    return out


def _replaced_column(header: list[str]) -> int | None:
    """In a two-term table, the column of the terms to replace: its header says so ("Instead of", "Not this",
    "If you're about to type…"), and the other one does not explain ("Why not") or name the term to use."""
    if len(header) < 2 or any(REASON_COLUMN.search(h) for h in header):
        return None
    bad = [i for i, h in enumerate(header) if REPLACED_COLUMN.search(GOOD_TAIL.sub("", h))]
    good = [i for i, h in enumerate(header) if GOOD_COLUMN.search(h) and i not in bad]
    if len(bad) == 1:
        return bad[0]
    if len(good) == 1 and len(header) == 2:
        return 1 - good[0]
    return None


class _Builder:
    """Accumulates a Charter while walking sections."""

    def __init__(self) -> None:
        self.charter = Charter()
        self._ids: Counter[str] = Counter()
        self.register: tuple[str, str] | None = None  # (tu|vous, passage id) as a sentence states it
        self.share: tuple[float, str] | None = None  # the first share a sentence states
        self.no_promotion: str | None = None  # a passage refusing promotional content: share 0 if none is stated

    def passage(self, heading: str, text: str, section: str | None = None) -> str:
        base = _slug(heading)
        self._ids[base] += 1
        pid = f"{base}-{self._ids[base]}"
        self.charter.passages.append(Passage(id=pid, section=section or heading, text=text))
        return pid

    def section(self, sec: Section, category: str | None, *, shown: str, intro: bool = False,
                labels: list[str | None] | None = None, read: bool = False) -> None:
        """Keep every block as a passage, read it, and report the blocks nothing could be read from."""
        title = " / ".join(sec.path) or "intro"
        heading = T.fold(" ".join(_humanize(h) for h in sec.path[-1:]))
        heading_forbids = bool(T.NEGATION.search(heading) or BAN_KEY.search(heading))
        pids, leftovers, lead_in_forbids = [], [], False
        labels = list(labels or [None] * len(sec.blocks))
        asked = (sec.path[-1:] or [""])[0].strip()
        if labels and labels[0] is None and asked.endswith("?") and len(asked) <= 80 and \
                T.SUBJECT_RE.search(T.fold(asked)):  # 'And exclamation marks?' answered by 'Two per post at most.'
            labels[0] = asked
        for block, label in zip(sec.blocks, labels):
            pid = self.passage(sec.heading or "intro", f"{label}: {block}" if label else block, title)
            pids.append(pid)
            item = bool(LIST_ITEM.match(block))
            ctx = _Context(category, heading_forbids or (item and lead_in_forbids), bool(T.WORD_CUE.search(heading)))
            if not self.block(sec, block, pid, ctx, label):
                leftovers.append(pid)
            if not item:
                lead_in_forbids = block.rstrip().endswith(":") and bool(T.NEGATION.search(T.fold(block)))
        if intro:
            texts = dict(zip(pids, sec.blocks))
            self.charter.intro += [CharterItem(text=_clip(strip_marker(texts[p]), 600), passage_id=p) for p in leftovers]
        elif leftovers:
            whole = len(leftovers) == len(pids) and not read
            self.charter.unparsed.append(self._unparsed(shown, category, leftovers, whole=whole))

    def _unparsed(self, shown: str, category: str | None, pids: list[str], *, whole: bool) -> Unparsed:
        if category == "aside":
            reason = ASIDE_REASON
        elif category:
            reason = f"in a {category} section but no {category} item could be read from it"
        else:
            reason = "heading not recognised, and no rule, limit, term or ritual could be read from it"
        if not whole:
            reason = "passages of a section that was otherwise read: " + reason
        return Unparsed(section=shown, reason=reason, passage_ids=pids, kind="section" if whole else "passages")

    def block(self, sec: Section, block: str, pid: str, ctx: _Context, label: str | None = None) -> bool:
        """Read one block; True when something in the charter now cites it."""
        if ctx.category == "aside":
            return False
        if (rows := table_rows(block)) is not None:
            return self._table(rows, pid, ctx)
        read = self._sentences(block, pid, ctx, label)
        handler = getattr(self, f"_{ctx.category}", None) if ctx.category else None
        if handler and not (ctx.category in ("lexicon", "rituals") and ctx.category in read):
            read.add(ctx.category) if handler(sec, block, pid) else None
        if ctx.category not in ("promotion", "lexicon") and self._promo_sentences(block, pid):
            read.add("promotion")
        return bool(read)

    def _sentences(self, block: str, pid: str, ctx: _Context, label: str | None) -> set[str]:
        """Everything the block's sentences state, wherever the block sits."""
        c, read = self.charter, set()
        plain = strip_marker(block).replace("**", "").replace("__", "")
        for sentence in _answered(T.sentences(f"{_humanize(label)}: {plain}" if label else plain)):
            read |= self._scalars(sentence, pid, ctx)
            if ctx.category != "lexicon":
                found = T.rules(sentence, forbidding=ctx.forbidding)
                c.rules += [CharterRule(type=t, text=_clip(sentence, 300), passage_id=pid)  # type: ignore[arg-type]
                            for t in found]
                read |= {"rules"} if found else set()
        # Emphasis stays for the term reader: '**course**, never "package"' says which term is the one to use.
        read |= self._terms(strip_marker(block).replace("__", ""), pid, lexicon=ctx.category == "lexicon",
                            wordy=ctx.wordy)
        if "lexicon" not in read:
            read |= self._block_rituals(block, pid, ctx)
        return read

    def _scalars(self, sentence: str, pid: str, ctx: _Context) -> set[str]:
        c, read = self.charter, set()
        found: dict[str, Any] = dict(T.limits(sentence))
        if (per_day := T.posts_per_day(sentence)) is not None:
            found["max_posts_per_day"] = per_day
        if (length := T.post_length(sentence)) is not None:
            found["max_post_chars"] = length
        for key, value in found.items():
            if getattr(c, key) is None:
                setattr(c, key, value)
                c.sources[key] = pid
            read.add(key)
        if (said := T.register(sentence)) is not None:
            self.register = self.register or (said, pid)
            read.add("register")
        share = T.promo_share(sentence, about_promotion=ctx.category == "promotion")
        if share is not None:
            self.share = self.share or (share, pid)
            read.add("promotion")
        elif ctx.category != "lexicon" and T.bans_promotion(sentence, forbidding=ctx.forbidding):
            self.no_promotion = self.no_promotion or pid
        return read

    def _terms(self, text: str, pid: str, *, lexicon: bool, wordy: bool = False) -> set[str]:
        reading = T.read_terms(text, lexicon=lexicon, about_words=wordy)
        c = self.charter
        c.preferred_terms += [Term(term=g, instead_of=bads, passage_id=pid, condition=_condition(text, bads))
                              for goods, bads in reading.pairs for g in goods]
        c.preferred_terms += [Term(term=t, passage_id=pid) for t in reading.preferred]
        c.banned_terms += [Term(term=t, passage_id=pid) for t in reading.banned]
        return {"lexicon"} if reading.pairs or reading.banned or reading.preferred else set()

    def _block_rituals(self, block: str, pid: str, ctx: _Context) -> set[str]:
        """A named item opening with its cadence ('**Name** — every Tuesday: …'), or rituals told in prose."""
        head, rest = lead(block)
        named = ctx.category == "rituals" or ctx.category is None and (LIST_ITEM.match(block) or block.startswith("**"))
        cadence = T.leading_cadence(rest) if head and named else None
        if head and ctx.category == "rituals" and cadence is None:  # '**Name** — held every Monday …'
            first = T.sentences(rest)[:1]
            span = T.cadence_phrase(first[0]) if first else None
            cadence = first[0][span[0]:span[1]] if span else None
        if head and cadence:
            self._ritual(head, cadence, rest, pid)
            return {"rituals"}
        if self._bold_rituals(strip_marker(block), pid, at_least=2):  # outside a rituals section, two or more
            return {"rituals"}
        found = [r for s in T.sentences(strip_marker(block)) if (r := T.prose_ritual(s)) and not T.read_terms(s).pairs]
        for name, cadence in found:
            self._ritual(name, cadence, strip_marker(block), pid)
        return {"rituals"} if found else set()

    def _ritual(self, name: str, cadence: str | None, text: str, pid: str) -> None:
        self.charter.rituals.append(Ritual(name=T.unquote(name)[:120], cadence=cadence, format=text[:500] or None,
                                           passage_id=pid))

    def _table(self, rows: list[list[str]], pid: str, ctx: _Context) -> bool:
        """A terms table (Preferred | Instead of), a rituals table (Ritual | When | …), or rows read as lines."""
        header, body = [T.fold(cell) for cell in rows[0]], rows[1:]
        replaced = _replaced_column(header)
        name = next((i for i, h in enumerate(header) if NAME_COLUMN.search(h)), None)
        when = next((i for i, h in enumerate(header) if WHEN_COLUMN.search(h)), None)
        if replaced is not None and len(header) >= 2:
            good = next(i for i in range(len(header)) if i != replaced)
            for row in (r for r in body if len(r) > max(good, replaced) and r[good]):
                bads = [T.unquote(b) for b in re.split(r",|;|\s(?:ou|or)\s", row[replaced]) if T.unquote(b)]
                self.charter.preferred_terms.append(Term(term=T.unquote(row[good]), instead_of=bads, passage_id=pid))
            return bool(body)
        first = header[0].strip(" *")
        if replaced is None and (ctx.forbidding and GENERIC_KEY.fullmatch(first) or
                                 BAN_KEY.search(first) and GENERIC_KEY.search(first)):  # "Retired word | Why"
            # "Words that are off the table" | "Word | Why": the first column lists banned words.
            terms = [T.unquote(r[0]) for r in body if r and T.term_like(T.unquote(r[0]))]
            self.charter.banned_terms += [Term(term=t, passage_id=pid) for t in terms]
            if terms:
                return True
        if name is not None and when is not None and name != when:
            for row in (r for r in body if len(r) > max(name, when)):
                rest = " — ".join(cell for i, cell in enumerate(row) if i not in (name, when))
                self._ritual(row[name], row[when] or None, rest, pid)
            return bool(body)
        read = [self._sentences(": ".join(cell for cell in row if cell), pid, ctx, None) for row in body]  # every row
        return any(read)

    def _vision(self, sec: Section, block: str, pid: str) -> bool:
        self.charter.vision.append(CharterItem(text=_clip(strip_marker(block), 600), passage_id=pid))
        return True

    def _values(self, sec: Section, block: str, pid: str) -> bool:
        head, rest = lead(block)
        self.charter.values.append(CharterItem(text=_clip(head or rest, 300), passage_id=pid))
        return True

    def _tone(self, sec: Section, block: str, pid: str) -> bool:
        head, rest = lead(block)
        parts = [p.strip(" .") for p in re.split(r",|;| et | and ", rest)] if head is None else []
        if head is None and not rest.rstrip().endswith(".") and 2 <= len(parts) <= 8 and all(0 < len(p) <= 30 for p in parts):
            self.charter.tone.extend(CharterItem(text=p, passage_id=pid) for p in parts)
        else:
            self.charter.tone.append(CharterItem(text=_clip(head or rest, 300), passage_id=pid))
        return True

    def _lexicon(self, sec: Section, block: str, pid: str) -> bool:
        """Unquoted lexicon lines ('bénévole plutôt que volontaire', 'Termes proscrits : a, b'), lexicon sections."""
        text = strip_marker(block)
        context = " ".join(sec.path[-1:]) + " " + (lead(block)[0] or "")
        plain = _squeezed(text.replace("**", ""))
        pair = PAIR_RE.match(plain) or ARROW_RE.match(plain)
        if pair:
            good = quoted_terms(pair.group("good")) or [pair.group("good").strip(" «»\"'“”:")]
            bad = quoted_terms(pair.group("bad")) or [b.strip(" «»\"'“”") for b in re.split(r",| ou | or ", pair.group("bad"))]
            good_term = re.sub(r"^(dites|dis|say|on dit|use|utilise[rz]?)\s+", "", good[0], flags=re.I).strip(" —–-:")
            # '**readers** — not customers, not consumers': each replaced term loses its own "not"
            bad = [re.sub(r"^(?:not|pas|ni|never|jamais)\s+", "", b, flags=re.I).strip() for b in bad]
            self.charter.preferred_terms.append(Term(term=good_term, instead_of=[b for b in bad if b], passage_id=pid))
            return True
        head, rest = lead(block)
        bare = T.without_parentheses(rest)
        terms = quoted_terms(bare) or [t.strip(" .«»\"") for t in re.split(r",|;", bare) if 0 < len(t.strip(" .")) <= 40]
        if not terms:
            return False
        target = self.charter.banned_terms if BANNED_HINT.search(context) else \
            self.charter.preferred_terms if PREFERRED_HINT.search(context) else None
        if target is None:
            return False
        target.extend(Term(term=t, passage_id=pid) for t in terms)
        return True

    def _rituals(self, sec: Section, block: str, pid: str) -> bool:
        head, rest = lead(block)
        text = strip_marker(block)
        if head is None and self._bold_rituals(text, pid):
            return True
        own = sec.level > 1 and not classify(sec.path[-1:])  # '### Failure Friday': a heading naming a ritual
        first = bool(sec.blocks) and strip_marker(sec.blocks[0]) == text
        titled = sec.path[-1] if own and (len(sec.blocks) == 1 or first and head is None) else None
        if titled and head and T.cadence_phrase(head):  # '### Mardi, on débute' then 'Chaque mardi matin, … : …':
            head, rest = None, text  # the heading names the ritual, the label is its cadence and format
        if own and not first and head is None and not titled:
            # A later paragraph under a ritual's heading: another ritual only when it names one ('we run the
            # Culture Swap roll call'), else more about the same one.
            named = _proper_name(text)
            span = T.cadence_phrase(text)
            if named and span:
                self._ritual(named, text[span[0]:span[1]], text, pid)
                return True
            return bool(self.charter.rituals)
        name = head or titled or (_proper_name(text) if T.cadence_phrase(text) else None)
        span = T.cadence_phrase(text)
        cadence = (T.leading_cadence(rest) if head else None) or (text[span[0]:span[1]] if span else None) or \
            next((h[s[0]:s[1]] for h in sec.path[-1:] if (s := T.cadence_phrase(h))), None)
        if name is None and cadence is None:
            return False
        self._ritual(name or _clip(re.split(r"[.:!?]", text)[0], 80), cadence, rest if head else text, pid)
        return True

    def _bold_rituals(self, text: str, pid: str, at_least: int = 1) -> bool:
        """Rituals told in prose, each name in bold with its cadence in the same sentence, after the name or else
        before it ('La **Note du lundi**, chaque lundi : …', 'Chaque samedi matin, c'est **La Fournée** : …'): one
        ritual per name."""
        names = list(re.finditer(r"\*\*([^*\n]{2,80})\*\*", text))
        found = []
        for i, m in enumerate(names):
            stretch = text[m.end(): names[i + 1].start() if i + 1 < len(names) else len(text)]
            start = max(text.rfind(c, 0, m.start()) for c in ".!?\n") + 1
            stops = [j for c in ".!?\n" if (j := text.find(c, m.end())) >= 0]
            after, before = text[m.end(): min(stops, default=len(text))], text[start:m.start()]
            for part in (after, before):
                if (span := T.cadence_phrase(part)) is not None:
                    found.append((m.group(1).strip(), part[span[0]:span[1]], stretch.strip(" ,:;—–-")))
                    break
        if len(found) < max(at_least, 1) or len(found) < len(names):  # a bold word that is no ritual: no list
            return False
        for name, cadence, rest in found:
            self._ritual(name, cadence, rest, pid)
        return True

    def _promotion(self, sec: Section, block: str, pid: str) -> bool:
        self.charter.promotion_policy.rules.append(CharterItem(text=strip_marker(block)[:500], passage_id=pid))
        return True

    def _promo_sentences(self, block: str, pid: str) -> bool:
        found = False
        for sentence in re.split(r"(?<=[.!?])\s+|\n", block):
            if PROMO_WORD.search(sentence):
                self.charter.promotion_policy.rules.append(CharterItem(text=strip_marker(sentence)[:500], passage_id=pid))
                found = True
        return found

    def numeric(self, field: str, value: float, pid: str) -> None:
        """Set a field a YAML/JSON key names to its number (the first one read wins, as in prose)."""
        if field == "share":
            self.share = self.share or (round(value if value <= 1 else value / 100, 4), pid)
        elif getattr(self.charter, field) is None:
            setattr(self.charter, field, int(value))
            self.charter.sources[field] = pid

    def finish(self, lang: str, body_for_register: str) -> Charter:
        """Settle what is read across the whole document: language, register, promotion share."""
        c = self.charter
        c.languages = [lang]
        if lang == "fr":
            if self.register:
                c.register, c.sources["register"] = self.register
            else:
                c.register = _register_by_pronouns(body_for_register)
        policy = c.promotion_policy
        if self.share is not None:
            policy.max_promotional_share, policy.passage_id = self.share
        elif self.no_promotion is not None:
            policy.max_promotional_share, policy.passage_id = 0.0, self.no_promotion
        return c


def numeric_field(label: str, value: Any) -> str | None:
    """The field a number under a YAML/JSON key sets ('emoji_max: 2', 'postsPerDay: 1'), if any."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        return None
    key = T.fold(_humanize(label))
    if "emoji" in key or "exclamation" in key or (re.search(r"post|publi|message", key)
                                                    and re.search(r"day|jour|daily|quotid", key)):
        field = "emoji_limit" if "emoji" in key else \
            "exclamation_limit" if "exclamation" in key else "max_posts_per_day"
        return field if int(value) == value else None
    return "share" if re.search(r"promo|commercia|sponsor|advertis|publicit|share|\bpart\b|ratio", key) else None


def _register_by_pronouns(body: str) -> str | None:
    """tu or vous from the pronouns a French charter uses, when no sentence says which."""
    low = body.lower()
    tu = len(re.findall(r"\b(tu|toi|ton|ta|tes|t'|te)\b", low))
    vous = len(re.findall(r"\b(vous|votre|vos)\b", low))
    if tu + vous < 3:
        return None
    return "tu" if tu > vous else "vous"


def parse_markdown(source: str) -> Charter:
    """Parse a Markdown charter (with optional front matter)."""
    try:
        meta, body = split_front_matter(source)
    except ValueError as exc:
        raise CharterInvalid(str(exc), field="front_matter") from exc
    builder, title, opening = _Builder(), None, True
    secs = list(sections(body))
    single_h1 = sum(sec.level == 1 for sec in secs) == 1
    for sec in secs:
        # The title is the H1 that opens the document; its paragraphs, and any before it, are the intro. The only
        # H1 of a document is its title even when it names a category ('… manifesto', '… Club guide').
        is_title = opening and sec.level == 1 and (single_h1 or not classify([sec.heading]))
        opening = opening and sec.level == 0
        title = sec.heading if is_title else title
        path = sec.path[1:] if title is not None and sec.path[:1] == [title] else sec.path
        # The title's own paragraphs are read as what it names ('Nos rituels'), and what that cannot read is the
        # intro; the sections under it do not inherit the title's category.
        category = classify([sec.heading]) if is_title else classify(path)
        if sec.blocks:
            builder.section(sec, category, shown=" / ".join(path) or sec.heading or "intro",
                            intro=is_title or sec.level == 0)  # what the title's category cannot read is intro
    builder.charter.title = title
    return _apply_meta(builder.finish(detect_language(body), body), meta)


def _apply_meta(charter: Charter, meta: dict[str, Any]) -> Charter:
    langs = meta.get("languages") or meta.get("language") or meta.get("lang")
    if langs:
        charter.languages = [str(x) for x in (langs if isinstance(langs, list) else [langs])]
    charter.brand = str(meta["brand"]) if meta.get("brand") else charter.brand
    title = meta.get("title") or meta.get("titre")
    charter.title = str(title) if title else charter.title
    if meta.get("register") is not None:
        if meta["register"] not in ("tu", "vous"):
            raise CharterInvalid("register must be 'tu' or 'vous'", field="register")
        charter.register = meta["register"]
        charter.sources["register"] = "front-matter"
    share = meta.get("max_promotional_share", (meta.get("promotion") or {}).get("max_share") if isinstance(meta.get("promotion"), dict) else None)
    if share is not None:
        try:
            charter.promotion_policy.max_promotional_share = float(share)
            PromotionPolicy.model_validate(charter.promotion_policy.model_dump())
        except (TypeError, ValueError, ValidationError) as exc:
            raise CharterInvalid("max_promotional_share must be a number between 0 and 1",
                                 field="max_promotional_share") from exc
        charter.promotion_policy.passage_id = charter.promotion_policy.passage_id or "front-matter"
    for key in ("emoji_limit", "exclamation_limit", "max_posts_per_day", "max_post_chars"):
        if meta.get(key) is not None:
            if not isinstance(meta[key], int) or meta[key] < 0:
                raise CharterInvalid(f"{key} must be a non-negative integer", field=key)
            setattr(charter, key, meta[key])
            charter.sources[key] = "front-matter"
    for key, target in (("banned_terms", charter.banned_terms), ("preferred_terms", charter.preferred_terms)):
        for term in meta.get(key) or []:
            target.append(Term(term=str(term), passage_id="front-matter"))
    return charter


STRUCTURED_KEYS = {"brand", "title", "language", "languages", "lang", "register", "vision", "values", "tone",
                   "lexicon", "preferred_terms", "banned_terms", "rituals", "promotion_policy", "promotion",
                   "max_promotional_share", "emoji_limit", "exclamation_limit", "max_posts_per_day", "max_post_chars"}
CHECKED_LISTS = ("vision", "values", "tone", "rituals", "preferred_terms", "banned_terms")


def _check_known_lists(data: dict[str, Any]) -> None:
    """The lists whose items the parser names: each a string or a mapping with a name."""
    for key in CHECKED_LISTS:
        for i, v in enumerate(data.get(key) if isinstance(data.get(key), list) else []):
            if not (isinstance(v, str) or isinstance(v, dict) and _text_of(v)):
                raise CharterInvalid(f"{key}[{i}] must be a string or a mapping with a name", field=f"{key}[{i}]")
    if "lexicon" in data and not isinstance(data["lexicon"], dict):
        raise CharterInvalid("lexicon must be a mapping with 'preferred' and 'banned' lists", field="lexicon")


def _pick(mapping: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((v for k, v in mapping.items() if T.fold(_humanize(k)) in names), None)


def _other_term(pair: dict[str, Any]) -> str | None:
    """In a {term to use, other} pair whose other key is not a known one ({"ifTempted": "x", "write": "y"}), the
    other short value is the term it replaces, unless its key explains (why, note, reason)."""
    others = [(k, v) for k, v in pair.items() if T.fold(_humanize(k)) not in GOOD_KEYS]
    if len(others) == 1 and isinstance(others[0][1], str) and T.term_like(others[0][1].strip()) \
            and not REASON_COLUMN.search(T.fold(_humanize(others[0][0]))):
        return others[0][1].strip()
    return None


def _text_of(v: dict[str, Any]) -> str | None:
    text = _pick(v, NAME_KEYS + ("text", "term", "terme"))
    return text if isinstance(text, str) else None


def _scalar(value: Any) -> bool:
    """A one-line value (text, number, date…), as opposed to a mapping, a list or a multi-line text."""
    return value is not None and not isinstance(value, (dict, list)) and "\n" not in str(value).strip()


class _Structured:
    """Walks a YAML/JSON mapping: each key holding a mapping, a list or a text becomes a section."""

    def __init__(self, builder: _Builder) -> None:
        self.b = builder
        self.texts: list[str] = []
        self.context = ""  # the scalar values beside the list being read

    def walk(self, path: list[str], value: Any) -> bool:
        """Read one key's value: its scalars as labelled blocks, its lists and mappings as nested sections. True
        when the value was a list of terms or items."""
        words = [_humanize(k) for k in path]
        sec = Section(heading=path[-1], level=len(path) + 1, path=path)
        if isinstance(value, dict):
            if self._replacements(sec, T.fold(words[-1]), value):
                return False
            # What the scalars beside a list say about it ("reason": "these words are never used").
            self.context = " ".join(str(v) for v in value.values() if _scalar(v))
            labels: list[str | None] = []
            explained = False  # a note beside a list of terms it explains is read with that list
            for k, v in value.items():
                if _scalar(v):
                    sec.blocks.append(str(v))
                    labels.append(str(k))
                elif v is not None:
                    explained = self.walk(path + [str(k)], v) and GENERIC_KEY.fullmatch(T.fold(_humanize(str(k)))) \
                        is not None or explained
            if explained and all(REASON_COLUMN.search(T.fold(_humanize(label))) for label in labels if label):
                self.texts += sec.blocks
                self.b.passage(sec.heading, " ".join(sec.blocks), " / ".join(sec.path)) if sec.blocks else None
            else:
                self.read(sec, classify(words), labels)
        elif isinstance(value, list):
            items = [v for v in value if v is not None]
            # A generic key ("words", "list") says what the list is under its parent ("offTheTable": {"words": …}).
            key = T.fold(" ".join(words[-2:]) if GENERIC_KEY.fullmatch(T.fold(words[-1])) else words[-1])
            if self._terms(sec, key, items) or self._items(sec, classify(words), items):
                return True
            sec.blocks = [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in items]
            self.read(sec, classify(words), [None] * len(sec.blocks))
        elif value is not None:
            sec.blocks = [str(value)]
            self.read(sec, classify(words), [None])
        return False

    def read(self, sec: Section, category: str | None, labels: list[str | None], *, metadata: bool = False) -> None:
        """Numbers under keys naming a field set it; every other block is read as text."""
        shown, rest, rest_labels, taken = " / ".join(sec.path), [], [], False
        self.texts += sec.blocks
        for block, label in zip(sec.blocks, labels):
            number = _number(block)
            field = numeric_field(label, number) if label and number is not None else None
            if field and number is not None:
                self.b.numeric(field, number, self.b.passage(sec.heading, f"{label}: {block}", shown))
                taken = True
            else:
                rest.append(block)
                rest_labels.append(label)
        if rest and metadata:
            unused = []
            for block, label in zip(rest, rest_labels):
                pid = self.b.passage("metadata", f"{label}: {block}", "metadata")
                key = T.fold(_humanize(str(label or "")))  # 'off_limits: We steer clear of "x"': a key about words
                ctx = _Context(None, bool(BAN_KEY.search(key)), bool(T.WORD_CUE.search(key) or BAN_KEY.search(key)))
                if not self.b.block(sec, block, pid, ctx, label):
                    unused.append((str(label), pid))
            if unused:
                self.b.charter.unparsed.insert(0, Unparsed(
                    section="metadata", kind="metadata", passage_ids=[p for _, p in unused],
                    reason=f"top-level values no field uses: {', '.join(k for k, _ in unused)}"))
        elif rest:
            self.b.section(Section(sec.heading, sec.level, rest, sec.path), category, shown=shown, labels=rest_labels,
                           read=taken)

    def _terms(self, sec: Section, key: str, items: list[Any]) -> bool:
        """A list of words under a ban or preference key, or of {term, instead_of} pairs."""
        pairs = all(isinstance(v, dict) and _pick(v, GOOD_KEYS) is not None for v in items)
        short = all(isinstance(v, str) and T.term_like(v.strip()) for v in items)
        banned = bool(BAN_KEY.search(key)) or short and GENERIC_KEY.fullmatch(key.split()[-1] if key else "") is not None \
            and bool(T.NEGATION.search(T.fold(self.context))) and bool(T.WORD_CUE.search(T.fold(self.context)))
        if not items or not (pairs or short and (banned or PREFER_KEY.search(key))):
            return False
        target = self.b.charter.banned_terms if banned else self.b.charter.preferred_terms
        for v in items:
            pid = self.b.passage(sec.heading, json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v,
                                 " / ".join(sec.path))
            term = str(_pick(v, GOOD_KEYS)) if isinstance(v, dict) else v.strip()
            instead = (_pick(v, REPLACED_KEYS) or _other_term(v)) if isinstance(v, dict) and not banned else []
            instead = instead if isinstance(instead, list) else [instead] if instead else []
            target.append(Term(term=term, instead_of=[str(x) for x in instead], passage_id=pid))
            self.texts.append(term)
        return True

    def _replacements(self, sec: Section, key: str, value: dict[str, Any]) -> bool:
        """{"replaced term": "term to use", …} under a replacements key; {"term to use": ["replaced", …], …} under a
        replacements or preference key (one uses one term, not a list)."""
        lexicon = bool(LEXICON_KEY.search(key)) and not BAN_KEY.search(key)
        if (REPLACEMENT_KEY.search(key) or PREFER_KEY.search(key) or lexicon) and value and all(
                isinstance(v, list) and v and T.term_like(str(k).strip()) and
                all(isinstance(x, str) and T.term_like(x.strip()) for x in v) for k, v in value.items()):
            for new, olds in value.items():
                pid = self.b.passage(sec.heading, f"{new}: {', '.join(olds)}", " / ".join(sec.path))
                self.b.charter.preferred_terms.append(Term(term=str(new).strip(), instead_of=[x.strip() for x in olds],
                                                           passage_id=pid))
                self.texts += [str(new), *olds]
            return True
        if not REPLACEMENT_KEY.search(key) or not value or not all(
                isinstance(v, str) and T.term_like(v.strip()) and T.term_like(str(k).strip()) for k, v in value.items()):
            return False
        for old, new in value.items():
            pid = self.b.passage(sec.heading, f"{old}: {new}", " / ".join(sec.path))
            self.b.charter.preferred_terms.append(Term(term=new.strip(), instead_of=[str(old).strip()], passage_id=pid))
            self.texts += [str(old), new]
        return True

    def _items(self, sec: Section, category: str | None, items: list[Any]) -> bool:
        """A list of rituals ({name, cadence, …}) or of named items ({name|text, …}) for vision, values or tone."""
        if not items or not all(isinstance(v, dict) for v in items):
            return False
        rituals = all(_pick(v, NAME_KEYS) is not None and (category == "rituals" or _pick(v, WHEN_KEYS) is not None)
                      for v in items)
        if not rituals and not (category in ("vision", "values", "tone") and all(_text_of(v) for v in items)):
            return False
        for v in items:
            pid = self.b.passage(sec.heading, json.dumps(v, ensure_ascii=False), " / ".join(sec.path))
            self.texts.append(json.dumps(v, ensure_ascii=False))
            if rituals:
                when, fmt = _pick(v, WHEN_KEYS), _pick(v, FORMAT_KEYS)
                self.b._ritual(str(_pick(v, NAME_KEYS)), None if when is None else str(when),
                               "" if fmt is None else str(fmt), pid)
            else:
                getattr(self.b.charter, str(category)).append(CharterItem(text=str(_text_of(v)), passage_id=pid))
        return True


def _number(text: str) -> float | None:
    return float(text) if re.fullmatch(r"\d{1,3}(?:\.\d{1,4})?", text.strip()) else None


def parse_structured(data: Any, fmt: str) -> Charter:
    """Parse a YAML/JSON charter mapping, whatever its keys."""
    if not isinstance(data, dict):
        raise CharterInvalid(f"a {fmt} charter must be a mapping at the top level", field="charter")
    _check_known_lists(data)
    walker = _Structured(_Builder())
    meta: dict[str, Any] = {}
    loose = Section(heading="metadata", level=1, path=["metadata"])
    labels: list[str | None] = []
    for key, value in data.items():
        name = META_KEYS.get(T.fold(str(key)))
        if name and (_scalar(value) or name == "languages"):
            meta[name] = value
        elif _scalar(value):  # a one-line value at the top: metadata, unless it states a field
            loose.blocks.append(str(value))
            labels.append(str(key))
        elif value is not None:
            walker.walk([str(key)], value)
    walker.read(loose, None, labels, metadata=True)
    c = walker.b.finish(detect_language(" ".join(walker.texts)), " ".join(walker.texts))
    c.source_format = "json" if fmt == "json" else "yaml"
    return _apply_meta(c, meta)


def detect_charter_format(source: str, filename: str | None = None) -> str:
    """markdown, yaml or json, from the file name or the content."""
    name = (filename or "").lower()
    if name.endswith(".json"):
        return "json"
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    if name.endswith((".md", ".markdown", ".txt")):
        return "markdown"
    stripped = source.lstrip()
    if stripped.startswith(("{", "[")):
        return "json"
    if not stripped.startswith("---"):  # YAML may open with '# comments', which read like Markdown headings
        try:
            data = safeyaml.load(source)
        except safeyaml.AliasRefused as exc:
            if re.search(r"^#{1,6}\s", source, flags=re.M):  # Markdown whose line opens with *emphasis*
                return "markdown"
            raise CharterInvalid(f"not valid YAML: {exc}", field="content") from exc
        except yaml.YAMLError:
            return "markdown"
        if isinstance(data, dict) and (set(data) & STRUCTURED_KEYS or
                                       sum(isinstance(v, (dict, list)) for v in data.values()) >= 2):
            return "yaml"
    return "markdown"


def parse_charter(source: str, fmt: str | None = None, *, filename: str | None = None) -> Charter:
    """Parse a charter in any accepted format; CharterInvalid names what is wrong."""
    if not source.strip():
        raise CharterInvalid("the charter is empty", field="content")
    fmt = fmt or detect_charter_format(source, filename)
    if fmt == "markdown":
        charter = parse_markdown(source)
    elif fmt in ("yaml", "json"):
        try:
            data = json.loads(source) if fmt == "json" else safeyaml.load(source)  # aliases refused before expansion
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise CharterInvalid(f"not valid {fmt.upper()}: {exc}", field="content") from exc
        charter = parse_structured(data, fmt)
    else:
        raise CharterInvalid(f"unknown charter format '{fmt}'; expected markdown, yaml or json", field="format")
    if not charter.passages:
        raise CharterInvalid("no text could be read from the charter", field="content")
    return charter
