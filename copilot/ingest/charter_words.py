"""Folded text, numbers in digits or words, sentences and quoted terms: what the charter readers share."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


def _fold_table() -> dict[int, str]:
    table = {ord(c): c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    for code in range(0xC0, 0x250):
        base = unicodedata.normalize("NFD", chr(code))[0].lower()
        if len(base) == 1 and base.isascii() and base.isalpha():
            table[code] = base
    table.update({ord(c): "'" for c in "’‘´"} | {ord(c): '"' for c in "“”„"} | {0xA0: " ", 0x202F: " "})
    return table


FOLD = _fold_table()


@lru_cache(maxsize=1024)
def fold(text: str) -> str:
    """Lower-case, unaccented, straight-quoted text of exactly the same length (positions stay valid)."""
    return text.lower() if text.isascii() else text.translate(FOLD)  # each reader folds the same sentence


# ------------------------------------------------------------------ numbers

NUMBER_WORDS = {"zero": 0, "un": 1, "une": 1, "one": 1, "single": 1, "deux": 2, "two": 2, "trois": 3, "three": 3,
                "quatre": 4, "four": 4, "cinq": 5, "five": 5, "six": 6, "sept": 7, "seven": 7, "huit": 8, "eight": 8,
                "neuf": 9, "nine": 9, "dix": 10, "ten": 10, "onze": 11, "eleven": 11, "douze": 12, "twelve": 12,
                "treize": 13, "thirteen": 13, "quatorze": 14, "fourteen": 14, "quinze": 15, "fifteen": 15,
                "seize": 16, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
                "vingt": 20, "twenty": 20, "trente": 30, "thirty": 30, "quarante": 40, "forty": 40,
                "cinquante": 50, "fifty": 50, "cent": 100, "hundred": 100}
TENS = ("vingt", "twenty", "trente", "thirty", "quarante", "forty", "cinquante", "fifty")
UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "un", "une", "deux", "trois",
         "quatre", "cinq", "six", "sept", "huit", "neuf")
_WORD_NUMBERS = "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
# "twenty-five", "vingt-cinq", "vingt et un": a ten and a unit read as one number.
_COMPOUND = rf"(?:{'|'.join(TENS)})(?:-et-|-|\s+et\s+)(?:{'|'.join(sorted(UNITS, key=len, reverse=True))})"
NUM = rf"(?<![\w.,])(?:\d{{1,3}}(?!\d)|{_COMPOUND}|{_WORD_NUMBERS})\b"
NUM_RE = re.compile(NUM)


def number(token: str) -> int:
    """The value of a number written in digits or in (French or English) words ('vingt-cinq' = 25)."""
    if token.isdigit():
        return int(token)
    return sum(NUMBER_WORDS[part] for part in re.split(r"[\s-]+", token) if part != "et")


# ------------------------------------------------------------------ sentences and quotes

# A quote closing after the sentence's own stop ('… avoid “cheap.” “Cheap” alone is fine') ends it when what
# follows starts a sentence; 'never “Act now!” or “Buy today.”' stays one.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"”»’'])\s+(?=[\"“«‘'(]|[^\W\d_](?<=[A-ZÀ-Þ]))|"
                          r"\n+|\s/\s")
CLAUSE_SEP = re.compile(r"[,;:()]\s*|\s(?:ou|or|ni|nor|and|et)\s")


SOFT_WRAP = re.compile(r"(?<=[\w,;])[ \t]*\n[ \t]*(?=[a-zà-ÿ(])")


def sentences(text: str) -> list[str]:
    """The sentences of a block (a line break or a ' / ' between two language versions also ends one; a line
    wrapped inside a sentence, going on in lower case, does not)."""
    return [s.strip() for s in SENTENCE_END.split(SOFT_WRAP.sub(" ", text)) if s.strip()]


QUOTE_RES = [re.compile(p) for p in (r"«([^«»\n]{1,80})»", r"“([^“”\n]{1,80})”", r"\"([^\"\n]{1,80})\"",
                                      r"‘([^‘’\n]{1,80})’(?!\w)", r"(?<!\w)'([^'\n]{1,80})'(?!\w)",
                                      r"`([^`\n]{1,80})`")]


@dataclass(frozen=True)
class Quoted:
    """A term written between quotes (any style) or backticks, and where its quotes start and end."""

    start: int
    end: int
    term: str


def quoted(text: str) -> list[Quoted]:
    """The quoted terms of a text, in order; where two quote styles overlap, the one opening first wins."""
    candidates = sorted((m.start(), style, m) for style, regex in enumerate(QUOTE_RES) for m in regex.finditer(text))
    found: list[Quoted] = []
    for start, _, m in candidates:
        # American style puts the sentence's comma or period inside the quotes: not part of the term.
        term = m.group(1).strip().rstrip(",;:.").strip().strip("*_").strip()
        if term and (not found or start >= found[-1].end):
            found.append(Quoted(start, m.end(), term))
    return found


def unquote(text: str) -> str:
    """A term without its quotes, emphasis or trailing punctuation."""
    return text.strip().strip("«»\"“”'‘’`*_").strip().rstrip(".,;:").strip()


def term_like(text: str) -> bool:
    """A word or short phrase, not a sentence."""
    return 0 < len(text) <= 40 and len(text.split()) <= 5 and not text.endswith((".", "!", "?"))
