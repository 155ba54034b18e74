"""One home for the text matchers every engine shares: links, phone numbers, emoji, capitals, the French
tu/vous forms, chat markup and the charter's own terms.

Drift checks, draft guards, LLM output checks, quotes of members and redaction all read text through these,
so a link, a phone number or a banned term is the same thing everywhere. Words themselves come from
`copilot.text.words` (the one tokenizer). Every pattern here is linear in the text's length: bounded or
possessive runs, no nested unbounded repeats over the same characters (tests/test_redos.py fuzzes them).

Limits: the checks enforce only what the charter states (no emoji limit in the charter, no emoji check);
what the copilot *writes* (templates, rewrites, the LLM's instructions) stays within the charter's limits or,
when it has none, within `WRITING_EMOJI_LIMIT` and `WRITING_EXCLAMATION_LIMIT`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import phonenumbers

from copilot.text import strip_accents

WRITING_EMOJI_LIMIT = 2
WRITING_EXCLAMATION_LIMIT = 2

# Links: a scheme or "www.", or a bare domain with a common suffix. The domain starts only at a token boundary,
# so long runs of dots and digits cannot cause quadratic backtracking.
LINK = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]\"]{1,2000}"
                  r"|(?<![\w.-])[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}\.(?:com|net|org|ly|fr|io|tk|biz|info|co\.uk)"
                  r"(?:/[^\s<>()\[\]\"]{0,2000})?(?![\w.])", re.I)
# Slack's own markup: <@U123>, <!channel>, <!subteam^S1|@team>, <#C123|general>, <https://x|label>, <mailto:…>.
CHAT_MARKUP = re.compile(r"<[@#!][^<>\n]{0,200}>|<(?:https?|mailto|tel|ftp):[^<>\n]{0,2000}>", re.I)
BROADCAST = re.compile(r"(?<!\w)@(?:channel|here|everyone|all|tous|tout-le-monde)\b", re.I)
HANDLE = re.compile(r"(?<![\w@])@[\w.-]{1,80}")
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF\U0001F000-\U0001F2FF]")
SHOUTED = re.compile(r"\b[A-ZÀ-Ý]{4,}\b")
# French forms of address. `\b\w+-toi` starts only at a word boundary: one attempt per word.
TU = re.compile(r"\b(?:tu|te|toi|ton|ta|tes)\b|\bt['’](?=\w)|\b\w{1,30}-(?:toi|tu)\b", re.I)
VOUS = re.compile(r"\b(?:vous|votre|vos)\b", re.I)
LETTER_WORD = re.compile(r"[^\W\d_]{2,}")

# A run of address characters, with a domain when '@' follows it. finditer consumes each run whole, so a long
# run without '@' costs its length once (a `[\w.+-]+@…` would rescan it from every position: quadratic).
EMAIL = re.compile(r"[\w.+-]++(@[\w-]++(?:\.[\w-]++)+)?")
# Phone numbers: digits in the groups numbers are written in ("06 12 34 56 78", "(415) 555-0132", "+33 (0)6 …").
# No '/': "27/11/2026" and "205/55 R16" stay apart. Possessive, so each run is read once.
NUMBER_RUN = re.compile(r"\+?\(?\d++(?:[ \u00a0.()-]{1,3}+\d++)*+")
# A date with a four-digit year is never part of a number: "03-12-2026 14:30" is a date and an hour.
DATE = re.compile(r"(?<!\d)(?:\d{1,2}[-./]\d{1,2}[-./](?:19|20)\d\d|(?:19|20)\d\d[-./]\d{1,2}[-./]\d{1,2})(?!\d)")
# FR and GB numbers start with a trunk 0 or a country code; any digit string can be a US number, so US
# numbers must also be grouped as the US writes them: "2026-000123" (an order) and "2026-12-03 14" (a date
# and an hour) are valid US numbers, not US-grouped ones.
REGIONS = (("FR", phonenumbers.Leniency.VALID), ("GB", phonenumbers.Leniency.VALID),
           ("US", phonenumbers.Leniency.STRICT_GROUPING))
MIN_DIGITS = 7           # fewer digits is never a phone number worth hiding
ONE_NUMBER_DIGITS = 17   # the most one written number holds ("011 44 20 7946 0958" and a bit)
CHECKED_DIGITS = 24      # longer runs are not shown to libphonenumber (its cost grows with the run)
MAX_CHECKS = 32          # different runs shown to libphonenumber per text (~1 ms each)


def phone_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, disjoint spans of the phone numbers in a text (libphonenumber decides, on short runs only)."""
    masked = DATE.sub(lambda m: "_" * len(m.group(0)), text)  # same length: spans stay valid
    spans: list[tuple[int, int]] = []
    read: dict[str, tuple[tuple[int, int], ...]] = {}  # window -> the numbers in it
    for run in NUMBER_RUN.finditer(masked):
        digits = sum(map(str.isdigit, run.group(0)))
        if digits < MIN_DIGITS:
            continue
        # One character of context each side: libphonenumber refuses a number glued to letters ("A0612…").
        lo = max(run.start() - 1, 0)
        window = masked[lo:run.end() + 1]
        if digits <= CHECKED_DIGITS and (window in read or len(read) < MAX_CHECKS):
            if window not in read:
                read[window] = _numbers_in(window)
            if read[window] or digits <= ONE_NUMBER_DIGITS:
                spans += [(lo + start, lo + end) for start, end in read[window]]
                continue
        # Fail closed: numbers side by side or a wall of digits (too many digits for one number, none found),
        # or more different numbers in one text than are worth checking.
        spans.append(run.span())
    return _merged(spans)


@lru_cache(maxsize=2048)
def _numbers_in(window: str) -> tuple[tuple[int, int], ...]:
    """Spans of the phone numbers libphonenumber finds in a short window, any of the regions."""
    found = {(m.start, m.end) for region, leniency in REGIONS
             for m in phonenumbers.PhoneNumberMatcher(window, region, leniency=leniency)}
    return tuple(sorted(found))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


@dataclass(frozen=True)
class TermHit:
    """Where a charter term occurs in a text."""

    term: str
    start: int
    end: int


def term_hits(text: str, terms: Iterable[str]) -> list[TermHit]:
    """Every whole-word occurrence of the terms, case and accents ignored ("Remise" finds "remisé" too), with
    spans in the original text."""
    folded = strip_accents(text.lower())
    # Folding may change the length (rare ligatures, some scripts): then match on the lower-cased text alone,
    # so spans still point at the original characters.
    same_length = len(folded) == len(text)
    hits: list[TermHit] = []
    for term in terms:
        needle = term.strip().lower()
        if not needle:
            continue
        hay, pat = (folded, strip_accents(needle)) if same_length else (text.lower(), needle)
        # A plural or a feminine ('clients' for 'client', 'bijoux', 'boxes', 'garantie(s)' for 'garanti') is the
        # same word to a reader.
        hits += [TermHit(term, m.start(), m.end())
                 for m in re.finditer(r"(?<!\w)" + re.escape(pat) + r"(?:e?s|x|e)?(?!\w)", hay)]
    return sorted(hits, key=lambda h: (h.start, h.term))


def terms_used(text: str, terms: Iterable[str]) -> list[str]:
    """The terms a text uses, in the order given, each once."""
    found = {h.term for h in term_hits(text, terms)}
    return [t for t in dict.fromkeys(terms) if t in found]


def replace_terms(text: str, replacements: dict[str, str]) -> str:
    """The text with each term of `replacements` (whole words, case and accents ignored) replaced by its value,
    capitalised like the word it replaces: how a template follows the charter's "say X, not Y"."""
    out, last = [], 0
    for hit in term_hits(text, list(replacements)):
        if hit.start < last or text[hit.start - 1:hit.start] == "$":  # never a template's own $placeholder
            continue
        new = replacements[hit.term]
        original = text[hit.start:hit.end]
        if len(original) > len(hit.term.strip()) and " " not in new and not new.endswith(("s", "x")):
            new += "s"  # the plural the text used
        out += [text[last:hit.start], new[:1].upper() + new[1:] if original[:1].isupper() else new]
        last = hit.end
    return "".join(out) + text[last:]


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the emoji in a text."""
    return [m.span() for m in EMOJI.finditer(text)]


def exclamation_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the exclamation marks in a text."""
    return [(i, i + 1) for i, c in enumerate(text) if c == "!"]


def shouted_spans(text: str) -> list[tuple[int, int]]:
    """Words in capitals (four letters or more)."""
    return [m.span() for m in SHOUTED.finditer(text)]


def letter_words(text: str) -> list[str]:
    """Words of two letters or more, digits and symbols left out (what gives a text substance)."""
    return LETTER_WORD.findall(text)


def without_links(text: str) -> str:
    """The text with its links and chat markup replaced by spaces."""
    return LINK.sub(" ", CHAT_MARKUP.sub(" ", text))
