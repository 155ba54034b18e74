"""Charter parsing: Markdown (French or English, optional YAML front matter) or structured YAML/JSON.

Sections are recognised by their headings (or their parents' headings) in either language; every
structured item keeps the id of the passage it came from; what cannot be placed is listed in `unparsed`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from copilot.errors import CharterInvalid
from copilot.ingest import safeyaml
from copilot.ingest.markdown import LINK_RE, Section, sections, split_front_matter
from copilot.text import detect_language, strip_accents
from copilot.types import (Charter, CharterItem, Passage, PromotionPolicy, Ritual, Term, Unparsed)

CATEGORIES: dict[str, tuple[str, ...]] = {
    "promotion": ("promotion", "promotionnel", "publicit", "advertis", "self-promo", "spam", "commercial",
                  "autopromo", "sponsor"),
    "rituals": ("rituel", "ritual", "rendez-vous", "rdv", "evenement", "event", "club", "seminaire", "seminar",
                "meeting", "reunion", "animation", "tradition", "newsletter", "infolettre", "hebdo", "weekly"),
    "lexicon": ("lexique", "lexicon", "vocabulaire", "vocabulary", "glossaire", "glossary", "mots", "words",
                "termes", "terms", "word list", "inclusive language", "langage inclusif"),
    "tone": ("ton", "tone", "voix", "voice", "style", "registre", "register", "ecrire", "ecriture", "writing",
             "comment on parle", "how we talk", "how we write", "plain language"),
    "values": ("valeur", "values", "principe", "principle", "engagement", "pledge", "what we believe",
               "nos convictions", "standards", "normes"),
    "vision": ("vision", "mission", "raison d'etre", "purpose", "pourquoi", "why we", "a propos", "about",
               "manifeste", "manifesto", "ambition", "our story", "notre histoire"),
}
CADENCE_RE = re.compile(
    r"(chaque|tous les|toutes les|every|each)\s+(?:\d+\s+)?(jours?|semaines?|mois|ans?|lundis?|mardis?|mercredis?|jeudis?|"
    r"vendredis?|samedis?|dimanches?|days?|weeks?|months?|years?|mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|"
    r"saturdays?|sundays?|matins?|soirs?|mornings?|evenings?)\b|\b(hebdomadaire|mensuel(?:le)?|quotidien(?:ne)?|"
    r"annuel(?:le)?|trimestriel(?:le)?|weekly|monthly|daily|yearly|quarterly|biweekly|bimensuel(?:le)?)\b|"
    r"un (lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche) sur deux|une fois par (semaine|mois|an)|"
    r"once a (week|month|year)|(le|les) (lundis?|mardis?|mercredis?|jeudis?|vendredis?|samedis?|dimanches?)\b|"
    r"\b(mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|sundays?)\b", re.I)
QUOTED_RE = re.compile(r"«\s*([^»]{1,60}?)\s*»|“([^”]{1,60})”|\"([^\"]{1,60})\"|`([^`]{1,60})`|\*\*([^*]{1,60})\*\*|\*([^*]{1,60})\*")
PAIR_RE = re.compile(
    r"^(?P<good>.{1,60}?)\s*(?:,\s*)?(?:plutôt que|plutot que|au lieu de|instead of|rather than|et non|pas|not)\s+"
    r"(?P<bad>.{1,80}?)\s*[.;]?$", re.I)
ARROW_RE = re.compile(r"^(?P<bad>.{1,60}?)\s*(?:→|->|=>)\s*(?P<good>.{1,60}?)\s*[.;]?$")
BANNED_HINT = re.compile(r"bann|interdit|a eviter|à éviter|avoid|never|jamais|ne (?:pas )?dites|ne pas dire|"
                         r"n'utilis|don't|do not|proscri|forbidden|pas de", re.I)
PREFERRED_HINT = re.compile(r"pr[ée]f[ée]r|preferred|use|utilis|on dit|dites|say|nos mots|our words", re.I)
PROMO_WORD = re.compile(r"promo|publicit|advertis|spam|commercial|sponsor|self-promotion|autopromotion|vente|selling", re.I)
NEGATION = re.compile(r"\b(no|not|never|don't|do not|pas|aucune?|jamais|interdit\w*|refus\w*|supprim\w*|removed|deleted|"
                      r"prohibited|forbidden|not allowed|non autoris\w*|ne)\b", re.I)
# A number starts where its digits start ((?<!\d)) and is read possessively: "4444…" is scanned once, not from
# every digit (quadratic).
SHARE_RES = [
    (re.compile(r"(?<!\d)(\d++(?:[.,]\d++)?)\s*+%"), lambda m: float(m.group(1).replace(",", ".")) / 100),
    (re.compile(r"\b(\d+|une?|one)\s+(?:\w+\s+){0,2}(?:sur|in|out of|on)\s+(\d+|dix|ten|cinq|five|vingt|twenty)\b", re.I),
     lambda m: _num(m.group(1)) / _num(m.group(2))),
    (re.compile(r"\b(\d+)\s*/\s*(\d+)\b"), lambda m: int(m.group(1)) / int(m.group(2))),
]
LIMIT_RE = {
    "emoji": re.compile(r"(?:max(?:imum)?|au plus|at most|pas plus de|no more than|jusqu'à|up to)\s*(\d+)\s*(?:emoji|émoji)|"
                        r"(?<!\d)(\d++)\s*+(?:emoji|émoji)s?\s*+(?:max|maximum|au plus|at most)", re.I),
    "exclamation": re.compile(r"(?:max(?:imum)?|au plus|at most|pas plus de|no more than|jusqu'à|up to)\s*(\d+)\s*(?:point|exclamation)|"
                              r"(?<!\d)(\d++)\s*+(?:points? d'exclamation|exclamation(?: mark| point)?s?)\s*+"
                              r"(?:max|maximum|au plus|at most)", re.I),
}
# A label ("Bienveillance : …") sits before the first ':' or dash; looking for that within LABEL_REACH
# characters bounds the lazy label's rescans of the whitespace after it (60 × the run).
LABEL_RE = re.compile(r"^([^:—–\n]{2,60}?)\s*(?::|\s—|\s–)\s+(.+)$", re.S)
LABEL_SEP, LABEL_REACH = re.compile(r"[:—–]"), 200
# Lexicon patterns read a copy whose whitespace runs are squeezed to one character: their lazy groups are
# followed by \s*, which rescanned a long run for every length the group tried.
WHITESPACE_RUN = re.compile(r"\s{2,}")
WORDS_NUM = {"un": 1, "une": 1, "one": 1, "cinq": 5, "five": 5, "dix": 10, "ten": 10, "vingt": 20, "twenty": 20}


def _num(token: str) -> float:
    return float(WORDS_NUM.get(token.lower(), token if token.isdigit() else 0) or 0) or float("nan")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", strip_accents(text.lower())).strip("-")[:40] or "intro"


def classify(path: Iterable[str]) -> str | None:
    """Category of a section from its own heading, else its nearest parent's."""
    for heading in reversed(list(path)):
        h = " " + strip_accents(heading.lower()) + " "
        for category, keys in CATEGORIES.items():
            if any((f" {k}" in h) if len(k) <= 4 else (k in h) for k in keys):
                return category
    return None


def strip_marker(block: str) -> str:
    """A list item or paragraph without its bullet and surrounding whitespace."""
    return re.sub(r"^\s*([-*+]|\d+[.)])\s+", "", LINK_RE.sub(r"\1", block)).strip()


def lead(block: str) -> tuple[str | None, str]:
    """(lead phrase, rest): a bold opening or a short label before ':' / '—'."""
    text = strip_marker(block)
    m = re.match(r"^\*\*(.+?)\*\*\s*[:.—–-]?\s*(.*)$", text, flags=re.S)
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


def _without_parentheses(text: str) -> str:
    """The text with each '(…)' removed (up to the first ')' after it), in one pass."""
    out, pos = [], 0
    while (start := text.find("(", pos)) != -1 and (end := text.find(")", start)) != -1:
        out.append(text[pos:start])
        pos = end + 1
    out.append(text[pos:])  # no ')' after the last '(': nothing more to remove
    return "".join(out)


class _Builder:
    """Accumulates a Charter while walking sections."""

    def __init__(self) -> None:
        self.charter = Charter()
        self._ids: Counter[str] = Counter()

    def passage(self, heading: str, text: str, section: str | None = None) -> str:
        base = _slug(heading)
        self._ids[base] += 1
        pid = f"{base}-{self._ids[base]}"
        self.charter.passages.append(Passage(id=pid, section=section or heading, text=text))
        return pid

    def section(self, sec: Section, category: str | None) -> None:
        title = " / ".join(sec.path) or "intro"
        pids = [self.passage(sec.heading or "intro", b, title) for b in sec.blocks]
        handler = getattr(self, f"_{category}", None) if category else None
        if handler is None:
            leftovers = pids
        else:
            leftovers = [pid for pid, block in zip(pids, sec.blocks) if not handler(sec, block, pid)]
        promo_found = [pid for pid, block in zip(pids, sec.blocks) if category not in ("promotion", "lexicon") and self._promo_sentences(block, pid)]
        leftovers = [p for p in leftovers if p not in promo_found]
        policy = self.charter.promotion_policy
        joined = " ".join(sec.blocks)
        if (promo_found or category == "promotion") and policy.max_promotional_share is None \
                and PROMO_WORD.search(joined) and NEGATION.search(joined):
            policy.max_promotional_share, policy.passage_id = 0.0, (promo_found or pids or [None])[0]
        if category is None and sec.blocks and leftovers:
            self.charter.unparsed.append(Unparsed(section=title, passage_ids=leftovers,
                reason="heading not recognised as vision, values, tone, lexicon, rituals or promotion policy"))
        elif leftovers and category:
            self.charter.unparsed.append(Unparsed(section=title, passage_ids=leftovers,
                reason=f"in a {category} section but no {category} item could be read from it"))

    def _vision(self, sec: Section, block: str, pid: str) -> bool:
        self.charter.vision.append(CharterItem(text=strip_marker(block)[:600], passage_id=pid))
        return True

    def _values(self, sec: Section, block: str, pid: str) -> bool:
        head, rest = lead(block)
        self.charter.values.append(CharterItem(text=(head or rest)[:300], passage_id=pid))
        return True

    def _tone(self, sec: Section, block: str, pid: str) -> bool:
        head, rest = lead(block)
        parts = [p.strip(" .") for p in re.split(r",|;| et | and ", rest)] if head is None else []
        if head is None and not rest.rstrip().endswith(".") and 2 <= len(parts) <= 8 and all(0 < len(p) <= 30 for p in parts):
            self.charter.tone.extend(CharterItem(text=p, passage_id=pid) for p in parts)
        else:
            self.charter.tone.append(CharterItem(text=(head or rest)[:300], passage_id=pid))
        self._limits(block)
        return True

    def _lexicon(self, sec: Section, block: str, pid: str) -> bool:
        text = strip_marker(block)
        context = " ".join(sec.path[-1:]) + " " + (lead(block)[0] or "")
        plain = _squeezed(text.replace("**", ""))
        pair = PAIR_RE.match(plain) or ARROW_RE.match(plain)
        if pair:
            good = quoted_terms(pair.group("good")) or [pair.group("good").strip(" «»\"'“”:")]
            bad = quoted_terms(pair.group("bad")) or [b.strip(" «»\"'“”") for b in re.split(r",| ou | or ", pair.group("bad"))]
            good_term = re.sub(r"^(dites|dis|say|on dit|use|utilise[rz]?)\s+", "", good[0], flags=re.I)
            self.charter.preferred_terms.append(Term(term=good_term, instead_of=[b for b in bad if b], passage_id=pid))
            return True
        head, rest = lead(block)
        bare = _without_parentheses(rest)
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
        name = head or (sec.path[-1] if len(sec.blocks) == 1 and sec.level > 1 and not classify(sec.path[-1:]) else None)
        cadence = CADENCE_RE.search(rest) or CADENCE_RE.search(text) or CADENCE_RE.search(" ".join(sec.path[-1:]))
        if name is None and cadence is None:
            return False
        name = name or re.split(r"[.:!?]", text)[0][:80]
        self.charter.rituals.append(Ritual(name=name.strip()[:120], cadence=cadence.group(0).strip() if cadence else None,
                                           format=(rest if head else text)[:500], passage_id=pid))
        return True

    def _promotion(self, sec: Section, block: str, pid: str) -> bool:
        self.charter.promotion_policy.rules.append(CharterItem(text=strip_marker(block)[:500], passage_id=pid))
        self._promo_share(block, pid)
        return True

    def _promo_sentences(self, block: str, pid: str) -> bool:
        found = False
        for sentence in re.split(r"(?<=[.!?])\s+|\n", block):
            if PROMO_WORD.search(sentence):
                self.charter.promotion_policy.rules.append(CharterItem(text=strip_marker(sentence)[:500], passage_id=pid))
                self._promo_share(sentence, pid)
                found = True
        return found

    def _promo_share(self, text: str, pid: str) -> None:
        policy = self.charter.promotion_policy
        for regex, value in SHARE_RES:
            m = regex.search(text)
            if m:
                share = value(m)
                if 0 <= share <= 1:
                    policy.max_promotional_share, policy.passage_id = round(share, 4), pid
                    return
        if PROMO_WORD.search(text) and NEGATION.search(text) and policy.max_promotional_share is None:
            policy.max_promotional_share, policy.passage_id = 0.0, pid

    def _limits(self, text: str) -> None:
        for key, regex in LIMIT_RE.items():
            m = regex.search(text)
            if m:
                setattr(self.charter, f"{key}_limit", int(next(g for g in m.groups() if g)))


def _register(body: str) -> str | None:
    low = body.lower()
    if re.search(r"tutoie|tutoiement|on se dit tu", low):
        return "tu"
    if re.search(r"vouvoie|vouvoiement", low):
        return "vous"
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
    builder = _Builder()
    for sec in sections(body):
        if sec.level == 1 and not builder.charter.title and not classify([sec.heading]):
            builder.charter.title = sec.heading
            if not sec.blocks:
                continue
        builder.section(sec, classify(sec.path))
    charter = builder.charter
    lang = detect_language(body)
    charter.languages = [lang] + ([] if lang == "fr" else [])
    charter.register = _register(body) if lang == "fr" else None
    return _apply_meta(charter, meta)


def _apply_meta(charter: Charter, meta: dict[str, Any]) -> Charter:
    langs = meta.get("languages") or meta.get("language") or meta.get("lang")
    if langs:
        charter.languages = [str(x) for x in (langs if isinstance(langs, list) else [langs])]
    charter.brand = str(meta["brand"]) if meta.get("brand") else charter.brand
    charter.title = str(meta["title"]) if meta.get("title") else charter.title
    if meta.get("register") is not None:
        if meta["register"] not in ("tu", "vous"):
            raise CharterInvalid("register must be 'tu' or 'vous'", field="register")
        charter.register = meta["register"]
    share = meta.get("max_promotional_share", (meta.get("promotion") or {}).get("max_share") if isinstance(meta.get("promotion"), dict) else None)
    if share is not None:
        try:
            charter.promotion_policy.max_promotional_share = float(share)
            PromotionPolicy.model_validate(charter.promotion_policy.model_dump())
        except (TypeError, ValueError, ValidationError) as exc:
            raise CharterInvalid("max_promotional_share must be a number between 0 and 1",
                                 field="max_promotional_share") from exc
        charter.promotion_policy.passage_id = charter.promotion_policy.passage_id or "front-matter"
    for key in ("emoji_limit", "exclamation_limit"):
        if meta.get(key) is not None:
            if not isinstance(meta[key], int) or meta[key] < 0:
                raise CharterInvalid(f"{key} must be a non-negative integer", field=key)
            setattr(charter, key, meta[key])
    for key, target in (("banned_terms", charter.banned_terms), ("preferred_terms", charter.preferred_terms)):
        for term in meta.get(key) or []:
            target.append(Term(term=str(term), passage_id="front-matter"))
    return charter


STRUCTURED_KEYS = {"brand", "title", "language", "languages", "lang", "register", "vision", "values", "tone",
                   "lexicon", "preferred_terms", "banned_terms", "rituals", "promotion_policy", "promotion",
                   "max_promotional_share", "emoji_limit", "exclamation_limit"}


def parse_structured(data: Any, fmt: str) -> Charter:
    """Parse a YAML/JSON charter mapping."""
    if not isinstance(data, dict):
        raise CharterInvalid(f"a {fmt} charter must be a mapping at the top level", field="charter")
    b = _Builder()
    c = b.charter

    def items(key: str, value: Any) -> list[tuple[str, str]]:
        values = value if isinstance(value, list) else [value] if value else []
        out = []
        for i, v in enumerate(values):
            text = v if isinstance(v, str) else (v.get("name") or v.get("text") or v.get("term")) if isinstance(v, dict) else None
            if not isinstance(text, str):
                raise CharterInvalid(f"{key}[{i}] must be a string or a mapping with a name", field=f"{key}[{i}]")
            out.append((text, b.passage(key, json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v)))
        return out

    c.vision = [CharterItem(text=t, passage_id=p) for t, p in items("vision", data.get("vision"))]
    c.values = [CharterItem(text=t, passage_id=p) for t, p in items("values", data.get("values"))]
    c.tone = [CharterItem(text=t, passage_id=p) for t, p in items("tone", data.get("tone"))]
    lex = data.get("lexicon") or {}
    if not isinstance(lex, dict):
        raise CharterInvalid("lexicon must be a mapping with 'preferred' and 'banned' lists", field="lexicon")
    for key, target in (("preferred", c.preferred_terms), ("banned", c.banned_terms)):
        raw = list(lex.get(key) or []) + list(data.get(f"{key}_terms") or [])
        for (t, p), v in zip(items(f"lexicon.{key}", raw), raw):
            instead = v.get("instead_of", []) if isinstance(v, dict) else []
            target.append(Term(term=t, instead_of=[str(x) for x in (instead if isinstance(instead, list) else [instead])],
                               passage_id=p))
    for (t, p), v in zip(items("rituals", data.get("rituals")), data.get("rituals") or []):
        d = v if isinstance(v, dict) else {}
        c.rituals.append(Ritual(name=t, cadence=d.get("cadence"), format=d.get("format") or d.get("description"),
                                passage_id=p))
    promo = data.get("promotion_policy") or data.get("promotion") or {}
    if isinstance(promo, dict):
        for t, p in items("promotion_policy.rules", promo.get("rules")):
            c.promotion_policy.rules.append(CharterItem(text=t, passage_id=p))
        if "max_promotional_share" in promo or "max_share" in promo:
            data = {**data, "max_promotional_share": promo.get("max_promotional_share", promo.get("max_share"))}
    unknown = sorted(set(data) - STRUCTURED_KEYS)
    if unknown:
        c.unparsed.append(Unparsed(section="top level", reason=f"unknown keys: {', '.join(unknown)}"))
    c.source_format = "json" if fmt == "json" else "yaml"
    meta = {k: data[k] for k in ("brand", "title", "language", "languages", "lang", "register",
                                 "max_promotional_share", "emoji_limit", "exclamation_limit") if k in data}
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
    if not stripped.startswith("---") and not re.search(r"^#", source, flags=re.M):
        try:
            data = safeyaml.load(source)
        except safeyaml.AliasRefused as exc:
            raise CharterInvalid(f"not valid YAML: {exc}", field="content") from exc
        except yaml.YAMLError:
            return "markdown"
        if isinstance(data, dict) and set(data) & STRUCTURED_KEYS:
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
