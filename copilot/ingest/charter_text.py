"""What a charter's sentences say: limits, promotion share, posting rate, register, word bans, term pairs, typed
rules and ritual cadences, in French and English.

Each reader takes plain text (a sentence, a list item, a table row, a "key: value" line from YAML or JSON) and
returns what it states; `charter.py` decides where the text came from and which passage it cites. Patterns describe
classes of phrasing (a quantifier next to a subject, a ban verb before a list, a contrast between two quoted
terms), never one charter's sentence. Text is first folded to lower-case unaccented letters of the same length,
so patterns are written once and positions still point into the original. Every pattern has bounded repeats
only and runs in time linear in its input.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import get_args

from copilot.types import CharterRule

RULE_TYPES: tuple[str, ...] = get_args(CharterRule.model_fields["type"].annotation)


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


# ------------------------------------------------------------------ limits, share, posting rate, register

EMOJI = r"emojis?|emoticones?|emoticons?|smileys?"
EXCLAMATION = r"points? d'exclamation|points? exclamation|exclamations?(?: marks?| points?)?"
SUBJECT_RE = re.compile(rf"\b(?:(?P<emoji_limit>{EMOJI})|(?P<exclamation_limit>{EXCLAMATION}))\b")
NUM_BEFORE = re.compile(rf"({NUM})(?:\s+seule?s?)?\s{{0,2}}$")
ZERO_BEFORE = re.compile(r"\b(?:no|zero|aucune?|sans|without|pas d'|pas de|jamais d'|jamais de|ni|"
                         r"(?:don't|do not|never) use(?: any)?)\s{0,2}$")
ZERO_AFTER = re.compile(r"\W{0,3}(?:(?:are|is|sont|est|ne sont|n'est)\s+)?(?:none\b|aucune?\b|zero\b|not used|never used|not allowed|banned|"
                        r"(?:nous nous|on s'|je m') en pass\w{1,4}|(?:we|i) (?:do|go|can do) without|we skip them|"
                        r"ne s'(?:emploie|utilise|ecri)\w{0,3} (?:pas|jamais)|(?:we )?(?:don't|do not|never) use (?:them|it|any)|"
                        r"forbidden|prohibited|proscrit|interdit|exclu|banni|pas utilise|jamais utilise)")
QUANTIFIER_BEFORE = re.compile(r"(?:max(?:imum)?(?: of)?|au plus|at most|plus (?:de|d')|more than|up to|jusqu'a|"
                               r"limit\w{0,5} (?:a|to)|:)\s{0,2}(?:an?\s|une?\s)?$")
QUANTIFIER_AFTER = re.compile(r"\s{0,2}(?:seule?s?|per|par|pour|in a|dans (?:un|une|chaque)|max|au plus|at most|"
                              r"or fewer|ou moins|tops|au maximum|,?\s?pas plus|,?\s?pas davantage)\b")


def limits(text: str) -> dict[str, int]:
    """Per-post emoji and exclamation-mark limits a sentence states ('trois émojis au plus', 'no emoji' = 0)."""
    folded, found = fold(text), {}
    subjects = list(SUBJECT_RE.finditer(folded))
    for i, m in enumerate(subjects):
        kind = m.lastgroup or ""
        prev_end = subjects[i - 1].end() if i else 0
        window = folded[m.end(): subjects[i + 1].start() if i + 1 < len(subjects) else len(folded)][:80]
        value = _count_near(folded[max(prev_end, m.start() - 30): m.start()], window)
        if value is not None and kind not in found:
            found[kind] = value
    return found


def _count_near(before: str, after: str) -> int | None:
    if m := NUM_BEFORE.search(before):
        return number(m.group(1))
    if ZERO_BEFORE.search(before) or ZERO_AFTER.match(after):
        return 0
    for n in NUM_RE.finditer(after):
        if QUANTIFIER_BEFORE.search(after[max(0, n.start() - 20): n.start()]) or QUANTIFIER_AFTER.match(after, n.end()):
            return number(n.group(0))
    return None


POSTS = r"(?:posts?|publications?|messages?|tweets?|fois|times)"
PER_DAY = (r"(?:(?:per|par|a|each|every)\s+(?:business\s+|working\s+)?(?:day|jour)(?:\s+ouvr\w{1,3})?|daily|"
           r"quotidien\w{0,3}|(?:dans|sur|en)\s+(?:la|une)\s+(?:meme\s+|seule\s+)?journee|"
           r"in\s+(?:a|one|the\s+same|a\s+single)\s+day|(?:par|per|every|in)\s+24\s?h\w{0,4})")
# The words that may sit between a rate's subject and its number ('publications : pas plus de deux par jour').
AT_MOST = (r"(?:(?:pas plus de|pas plus d'|au plus|au maximum|maximum|max|at most|no more than|not more than|"
           r"up to|jusqu'a|tops)\s+)?")
POSTS_PER_DAY_RES = [re.compile(rf"({NUM})\s+(?:[\w-]{{1,20}}\s+){{0,2}}?({POSTS})\s+{PER_DAY}"),
                     re.compile(rf"()({POSTS})\s+{PER_DAY}\W{{1,4}}{AT_MOST}({NUM})"),
                     re.compile(rf"()({POSTS})\W{{1,4}}{AT_MOST}({NUM})\s+(?:{POSTS}\s+)?{PER_DAY}"),
                     # a label and its value: 'Posts in a day, all our accounts together: two'
                     re.compile(rf"()({POSTS})\s+{PER_DAY}[^.:\d]{{0,40}}:\s+{AT_MOST}({NUM})")]
POSTING = re.compile(r"publi|post|tweet")


LENGTH_UNIT = r"(?:caracteres|characters|chars|signes|mots|words)"
LENGTH_RES = [re.compile(rf"(?:max(?:imum)?|au plus|at most|pas plus de|no more than|not more than|under|moins de|"
                         rf"fewer than|less than|jusqu'a|up to|limit\w{{0,5}} (?:a|to)|depass\w{{0,4}} (?:pas )?|exceed\w{{0,2}}|:)\s{{0,3}}(\d{{2,4}})\s{{0,2}}{LENGTH_UNIT}"),
              re.compile(rf"(\d{{2,4}})\s{{0,2}}{LENGTH_UNIT}\s{{0,3}}(?:max(?:imum)?|au plus|at most|tops|grand maximum|or fewer|"
                         rf"ou moins|,?\s?pas plus)")]
POST = re.compile(r"\b(?:posts?|publications?|messages?|texte?s?|billets?|captions?|legendes?)\b")


def post_length(text: str) -> int | None:
    """The longest post a sentence allows, in characters ('280 caractères maximum', 'under 120 words': 6 a word)."""
    folded = fold(text)
    if not POST.search(folded):
        return None
    for regex in LENGTH_RES:
        if m := regex.search(folded):
            value = int(m.group(1))
            unit = folded[m.end(1):m.end()].strip()
            chars = value * 6 if re.search(r"mots|words", unit) else value
            return chars if 40 <= chars <= 20_000 else None
    return None


def posts_per_day(text: str) -> int | None:
    """The most brand posts a day ('deux publications par jour', 'at most 4 posts a day', 'posts per day: 3')."""
    folded = fold(text)
    for regex in POSTS_PER_DAY_RES:
        for m in regex.finditer(folded):
            if m.group(2) in ("fois", "times") and not POSTING.search(folded):
                continue
            value = number(m.group(1) or m.group(3))
            if 0 < value <= 50:
                return value
    return _rate_near_day(folded)


RATE_DAY = re.compile(rf"{PER_DAY}|/\s?(?:day|jour|j)\b|\bin any (?:one |single )?day\b")
POSTING_WORD = re.compile(r"\b(?:posts?|posting|publications?|publi\w{0,6}|messages?|updates?|tweets?|stories|story|"
                          r"articles?|billets?|toots?)\b")
TIMES = {"once": 1, "twice": 2}
RATE_NUM = re.compile(rf"{NUM}|\bonce\b|\btwice\b")
NOT_POSTS = re.compile(r"\b(?:hours?|heures?|minutes?|h|emojis?|emoticones?|exclamation\w*|points?|replies|reponses?|"
                       r"questions?|comments?|commentaires?|members?|membres?)\b")
RATE_AFTER = re.compile(rf"^(?:\s+[\w-]{{1,12}}){{0,2}}\W{{1,4}}{AT_MOST}({NUM}|once|twice)\b")


def _rate_near_day(folded: str) -> int | None:
    """A posting rate told around 'a day' in other shapes: 'at most two updates a day', '2 posts/day', 'we publish
    twice a day', 'daily posts: 2', 'four posts in any one day'. Posting must be named beside the number, and the
    words between the number and the day must not count something else (hours, emojis, replies)."""
    if not POSTING_WORD.search(folded):
        return None
    for m in RATE_DAY.finditer(folded):
        before = re.split(r"[.;!]", folded[max(0, m.start() - 50):m.start()])[-1]  # a question keeps its answer
        after = re.split(r"[.;!?]", folded[m.end():m.end() + 30])[0]
        token = None
        if (nums := list(RATE_NUM.finditer(before))) and (POSTING_WORD.search(before) or
                                                         POSTING_WORD.match(after.lstrip())):  # '2 daily posts'
            gap = before[nums[-1].end():]
            if len(gap.split()) <= 3 and not NOT_POSTS.search(gap):
                token = nums[-1].group(0)
        if token is None and (n := RATE_AFTER.match(after)) and not NOT_POSTS.search(after[:n.start(1)]) and \
                POSTING_WORD.search(before + after[:n.end() + 15]):
            token = n.group(1)
        if token is not None and 0 < (value := TIMES.get(token) or number(token)) <= 50:
            return value
    return None


PROMO_CONTEXT = re.compile(r"promo|publicit|advertis|sponsor|commercia|marketing|\bventes?\b|\bsales?\b|selling|"
                           r"\bvend(?:re|s|ons|ez|ent|u|ue|us|ues|ant)\b|\bsells?\b|\bsold\b|\bads?\b|\bpubs?\b|"
                           r"\bproducts?\b|\bproduits?\b|payant\w{0,2}|\bpaid\b|"
                           r"\boffres?\b|\boffers?\b|tarif|\bfees\b|pricing|\bprix\b|\bprices?\b|discount|soldes|"
                           r"inscription|enrol")
PROMO_CONTENT = re.compile(r"publicit\w{0,6}|promotion\w{0,6}|advertis\w{0,6}|\bspam\b|commercia\w{0,6}|"
                           r"sponsoris\w{0,6}|autopromo\w{0,6}|self-promo\w{0,6}")
PROMO_CODE = re.compile(r"\bcodes?\s+(?:de\s+)?promo\w{0,8}|\bpromo\w{0,8}\s+codes?\b")
# A percentage that is a discount or a rise ('20% off', '10 % de remise', '20% more') is no share of posts.
PERCENT = re.compile(rf"(?<![\d.,])(\d{{1,3}}(?:[.,]\d{{1,2}})?|{NUM})\s{{0,2}}(?:%|percent\b|per cent\b|pour ?cent\b)"
                     rf"(?!\s{{0,2}}(?:off\b|more\b|less\b|discount|cheaper|de (?:remise|reduction|rabais|plus|moins)|"
                     rf"(?:plus|moins) cher|supplementaire))")
RATIO = re.compile(rf"({NUM})\s+(?:[\w-]{{1,20}}\s+){{0,3}}?(?:sur|in|out of|on|pour|every|toutes les|tous les)\s+({NUM})")
# The whole first, then the part: 'sur vingt publications, une seule…', 'out of ten posts, at most one'.
RATIO_WHOLE_FIRST = re.compile(rf"(?:\bsur|\bout of|\bof every|\bfor every|\bin every|\bpour)\s+({NUM})\s+"
                               rf"(?:[\w'-]{{1,20}}\s+){{0,3}}?[\w'-]{{1,20}}\W{{1,3}}"
                               rf"(?:(?:only|seule?ment|at most|au plus|pas plus de|no more than|not more than)\s+)?"
                               rf"({NUM})\b")
FRACTION = re.compile(r"(?<![\d/])(\d{1,2})\s?/\s?(\d{1,3})(?![\d/])")
# 'one-tenth', 'a quarter', 'un dixième', 'la moitié'.
PARTS = {"half": 2, "halves": 2, "moitie": 2, "third": 3, "tiers": 3, "quarter": 4, "quart": 4, "fifth": 5,
         "cinquieme": 5, "sixth": 6, "sixieme": 6, "seventh": 7, "septieme": 7, "eighth": 8, "huitieme": 8,
         "ninth": 9, "neuvieme": 9, "tenth": 10, "dixieme": 10, "twelfth": 12, "douzieme": 12, "fifteenth": 15,
         "quinzieme": 15, "twentieth": 20, "vingtieme": 20}
FRACTION_WORD = re.compile(rf"(?:({NUM})|\ban?\b|\bla\b|\ble\b|\bthe\b)[\s-]+({'|'.join(sorted(PARTS, key=len, reverse=True))})s?\b")
# 'sur quatre publications, trois au moins parlent d'autre chose que de vendre': the ratio counts the others.
AT_LEAST = re.compile(r"\b(?:au moins|at least|minimum)\b")
OTHER_THAN = re.compile(r"autre chose que|other than|something (?:else|other)|anything but|\bne (?:\w+ ){0,3}pas\b|"
                        r"\bnot\b|\bnever\b|\bsans\b|\bwithout\b|\bnon[- ](?:commercia|promo)")
NEGATION = re.compile(r"\b(?:no|not|never|none|nor|neither|don't|doesn't|won't|cannot|can't|pas|jamais|aucune?|ni|"
                      r"sans|without|interdi\w{0,6}|prohib\w{0,6}|forbid\w{0,6}|exclu\w{0,4}|refus\w{0,6}|"
                      r"abstien\w{0,4}|s'interdit|avoid\w{0,3}|evit\w{0,4}|bann\w{0,4}|supprim\w{0,6})\b|\bn'|\bne\b")


def _stated_share(folded: str) -> float | None:
    """The share a sentence states, in percent, fraction, ratio either way round or fraction words."""
    if m := PERCENT.search(folded):
        value = m.group(1).replace(",", ".")
        return (float(value) if value[:1].isdigit() else number(value)) / 100
    found = [(m.start(), number(m.group(1)), number(m.group(2))) for m in (RATIO.search(folded),) if m]
    found += [(m.start(), number(m.group(2)), number(m.group(1))) for m in (RATIO_WHOLE_FIRST.search(folded),) if m]
    found += [(m.start(), int(m.group(1)), int(m.group(2))) for m in (FRACTION.search(folded),) if m]
    found += [(m.start(), number(m.group(1)) if m.group(1) else 1, PARTS[m.group(2)])
              for m in (FRACTION_WORD.search(folded),) if m]
    if not found:
        return None
    _, part, whole = min(found)
    share = part / max(whole, 1)
    if AT_LEAST.search(folded) and OTHER_THAN.search(folded):
        share = 1 - share
    return share


def promo_share(text: str, *, about_promotion: bool = False) -> float | None:
    """The most promotional posts a sentence allows, as a share ('une sur six', '1 in 4' = 0.25, '12 %',
    'one-tenth', 'sur vingt publications, une seule'; 'three in four must be about something else' = 0.25)."""
    folded = fold(text)
    if not (about_promotion or PROMO_CONTEXT.search(PROMO_CODE.sub(" ", folded))):
        return None
    share = _stated_share(folded)
    return round(share, 4) if share is not None and 0 <= share <= 1 else None


def bans_promotion(text: str, *, forbidding: bool = False) -> bool:
    """A sentence (or an item under a forbidding lead-in) that refuses promotional or advertising content;
    promo codes alone do not count."""
    folded = PROMO_CODE.sub(" ", fold(text))
    return bool(PROMO_CONTENT.search(folded) and (forbidding or NEGATION.search(folded)))


TU_RE = re.compile(r"\btutoi\w{0,6}|\btutoy\w{0,6}|\bdit tu\b|\bdire tu\b")
VOUS_RE = re.compile(r"\bvouvoi\w{0,6}|\bvouvoy\w{0,6}|\bdit vous\b|\bdire vous\b")
NEGATED_BEFORE = re.compile(r"\b(?:ne|n'|pas|jamais|no|not|never|sans|without)\b[^.,;]{0,12}$|\bn'$")


def register(text: str) -> str | None:
    """'tu' or 'vous' when a sentence says which one the brand uses ('ici on tutoie', 'sans vouvoiement')."""
    folded = fold(text)
    mentions = sorted([(m.start(), "tu") for m in TU_RE.finditer(folded)] +
                      [(m.start(), "vous") for m in VOUS_RE.finditer(folded)])
    for start, which in mentions:
        if not NEGATED_BEFORE.search(folded[max(0, start - 20): start]):
            return which
    if mentions:
        return "vous" if mentions[0][1] == "tu" else "tu"
    return None


# ------------------------------------------------------------------ word bans and term pairs

BAN_LABEL = re.compile(r"(?:bann\w{0,6}|interdit\w{0,3}|prohib\w{0,6}|forbidden|proscri\w{0,5}|a eviter|to avoid|"
                       r"retired|off[- ]limits|no longer (?:use|say|write)d?|(?:n'|ne )(?:\w+ )?plus (?:utilis|employ|dit)\w*|"
                       r"\bavoid|blacklist|liste noire|(?:never|don't|do not) (?:write|use|say))[^:\n]{0,40}:")
BAN_CUE = re.compile(r"\b(?:never|jamais|don't|do not|avoid\w{0,3}|evit\w{0,4}|bann\w{0,4}|interdi\w{0,6}|"
                     r"prohib\w{0,6}|proscri\w{0,5})\b|\bne\b[^.]{0,30}\b(?:pas|jamais)\b")
WORD_CUE = re.compile(r"\b(?:mots?|words?|termes?|terms?|phrases?|expressions?|vocabulaire|vocabulary|write|"
                      r"ecri\w{0,5}|dire|dites|dis|disons|say|use|utilis\w{0,5}|emploi\w{0,5})\b")
SAY = re.compile(r"\b(?:say|write|use|call|dit|dis|dites|disons|ecri\w{0,5}|parl\w{0,5}|utilis\w{0,5}|emploi\w{0,5}|"
                 r"nomm\w{0,5}|appel\w{0,5}|prefer\w{0,5})\b")
NEG_SAY = re.compile(r"\b(?:ne|n')\s?(?:\w{1,3}\s)?(?:dit|dis|dites|disons|ecri\w{0,5}|parl\w{0,5}|utilis\w{0,5})\b|"
                     r"\b(?:don't|do not|never) (?:say|write|use|call)\b")
CONTRAST = re.compile(r"plutot qu|\b(?:rather than|instead of|au lieu d|a la place d|et non|and not|not|never|jamais|"
                      r"no longer|won't|"
                      r"pas|over)\b")
PREFER = re.compile(r"\bprefer\w{0,5}")  # 'préférez « a » à « b »'
CLAUSE_BREAK = re.compile(r"\b(?:and|et|but|mais)\b|;")
FREE_CONTRAST = re.compile(r"plutot qu|rather than|instead of|au lieu d|a la place d")
ALTERNATIVE = re.compile(r"[\s,/]{0,4}(?:(?:ou|or|ni|nor)\s{1,2}(?:de |d'|du |des |of |the )?)?[\s,/]{0,4}")
SEPARATOR = re.compile(r"[\s,;]{0,4}(?:(?:et|and)\s{1,2}(?:de |d'|du |des )?)?[\s,;]{0,4}")


@dataclass
class TermReading:
    """The term pairs (preferred terms and what they replace) and banned terms a block states."""

    pairs: list[tuple[list[str], list[str]]] = field(default_factory=list)
    banned: list[str] = field(default_factory=list)
    preferred: list[str] = field(default_factory=list)


def read_terms(block: str, *, lexicon: bool = False) -> TermReading:
    """Pairs and bans of a block: « a » plutôt que « b », 'use X, not Y', a "don't say" sentence next to a
    "say" one, 'forbidden: …'."""
    reading = TermReading()
    pending: tuple[str, list[str]] | None = None  # the previous sentence's quoted-only list and its polarity

    def settle() -> None:  # a list no neighbouring sentence pairs with: banned, or preferred in a lexicon
        if pending and pending[0] == "avoid":
            reading.banned.extend(pending[1])
        elif pending and lexicon:
            reading.preferred.extend(pending[1])

    about_words = lexicon or bool(WORD_CUE.search(fold(block)))
    previous: str | None = None  # the polarity of the previous sentence's terms, for 'So are "x" and "y".'
    avoided: list[str] = []  # the terms the previous sentence (read by polarity) avoided
    for sentence in sentences(block):
        spans, folded = quoted(sentence), fold(sentence)
        pairs = _pairs(sentence, spans, lexicon=lexicon)
        listed = None if pairs else _listed(sentence, spans, folded)
        if listed and pending and pending[0] != listed[0]:
            reading.pairs.append((pending[1], listed[1]) if pending[0] == "say" else (listed[1], pending[1]))
            pending, previous = None, None
            continue
        settle()
        pending = listed
        reading.pairs += pairs
        banned = [] if pairs or listed else _banned(sentence, spans, folded)
        bold = [m.group(1).strip() for m in BOLD.finditer(sentence) if spans and m.end() <= spans[0].start]
        if banned and bold:  # 'we run a **course**, never a "package"': the emphasised term is what to say
            reading.pairs.append((bold, banned))
        else:
            reading.banned += banned
        if pairs or listed or banned:
            previous = "avoid" if banned else "say"
        if about_words and not (pairs or listed or banned):
            before = len(reading.banned), len(reading.pairs)
            found = _by_polarity(sentence, reading, previous)
            # 'On évite de parler de « a ». Ce sont des « b ».': the second sentence says what to use instead.
            if found == "say" and previous == "avoid" and avoided and len(reading.pairs) == before[1] + 1 \
                    and not reading.pairs[-1][1]:
                reading.pairs[-1] = (reading.pairs[-1][0], avoided)
                reading.banned = [t for t in reading.banned if t not in avoided]
            avoided = reading.banned[before[0]:] if found == "avoid" else []
            previous = found
            continue
        avoided = []
        if not spans:  # a sentence without terms ends what 'So are …' could continue
            previous = None
    settle()
    said = [goods for goods, bads in reading.pairs if not bads]  # terms to use with nothing they replace
    reading.pairs = [(goods, bads) for goods, bads in reading.pairs if bads]
    if lexicon:
        reading.preferred += [t for goods in said for t in goods]
    return reading


# The fallback reader of a sentence about words that none of the patterns above read: each quoted (or bold, when
# the sentence also quotes) term takes the polarity of the nearest cue before it in its clause ("never a", "ni des",
# "on évite de parler de", "dis", "ce sont des", "we run a"), or of a verdict right after it (« x » : non merci;
# "x" is off the table), or of the term before it ("a, b ou c"); "So are …" continues the previous sentence.
NEG_LEAD = re.compile(r"\b(?:not|never|no|nor|neither|ni|pas|jamais|aucun\w{0,2}|sans|without|avoid\w{0,3}|"
                      r"evit\w{0,4}|bann\w{0,6}|interdi\w{0,6}|prohib\w{0,6}|proscri\w{0,5}|oubli\w{0,4}|"
                      r"(?:won't|wont|will not|no longer|never|don't|do not)(?: \w{1,12})? (?:say|write|use|call)|"
                      r"won't|wont|will not|no longer|retir\w{0,4}|dropp?\w{0,3}|steer clear|laiss\w{0,4} tomber|"
                      r"off[- ]limits|leave|laisse[zr]? de cote|"
                      r"instead of|rather than|au lieu d|plutot qu|ne (?:\w{1,12} ){0,2}plus)\b|\bn'|\bne\b")
POS_LEAD = re.compile(r"\b(?:say|says|write|use|call|prefer\w{0,5}|dis|dites|disons|on dit|ecri\w{0,5}|utilis\w{0,5}|"
                      r"parl(?:ons|ez|e)|talk about|speak of|"
                      r"emploi\w{0,5}|appel\w{0,5}|nomm\w{0,5}|ce sont|c'est|are|sont|we (?:run|offer|host|say))\b")
NEG_TAIL = re.compile(r"^\W{0,4}(?:(?:is|are|sont|est)\s)?(?:non merci|no thanks|off the table|out\b|banni\w{0,2}|"
                      r"(?:don't|do not|never|won't) appear|n'apparai\w{1,6} (?:jamais|pas|plus)|"
                      r"(?:is not|isn't|are not|aren't) (?:a )?words? we use|(?:n'est|ne sont) pas (?:un |des )?mots?|"
                      r"(?:is|are) retired|(?:is|are) off[- ]limits|"
                      r"interdit\w{0,2}|a proscrire|a eviter|to avoid|not welcome|never|n'(?:ont|a) rien a faire|"
                      r"(?:have|has) no place|(?:don't|do not|does not|doesn't) belong|ne (?:se disent|s'ecrivent|"
                      r"s'emploient) (?:pas|jamais|plus))")
CONTINUES = re.compile(r"^\W{0,3}(?:so (?:are|is|do|does)|same (?:for|goes for)|de meme|idem|pareil pour|ni non plus)\b")
SAME_AS_BEFORE = re.compile(r"\b(?:so (?:are|is)|as (?:are|is)|de meme (?:que|pour)|ainsi que|tout comme|as well as|"
                            r"pareil pour|same (?:for|goes for))\W{0,3}$")
BOLD = re.compile(r"\*\*([^*\n]{1,60})\*\*")


def _by_polarity(sentence: str, reading: TermReading, previous: str | None) -> str | None:
    spans = quoted(sentence)
    if not spans:
        return None
    folded = fold(sentence)
    bold = [Quoted(m.start(), m.end(), m.group(1).strip()) for m in BOLD.finditer(sentence)
            if not any(q.start <= m.start() < q.end for q in spans)]
    terms = sorted(spans + bold, key=lambda q: q.start)
    polarity: list[str | None] = []
    last_end = 0
    for i, q in enumerate(terms):
        whole = folded[last_end:q.start]
        lead = re.split(r"[;:]|\b(?:mais|but)\b", whole)[-1]  # the cue is in the term's own clause ...
        neg = [m.end() for m in NEG_LEAD.finditer(lead)]
        pos = [m.end() for m in POS_LEAD.finditer(lead)]
        if not (neg or pos) and i == 0 and whole.rstrip().endswith(":"):  # ... or announces a list: 'les mots … :'
            neg = [m.end() for m in NEG_LEAD.finditer(whole)]
            pos = [m.end() for m in POS_LEAD.finditer(whole)]
        tail = folded[q.end:terms[i + 1].start if i + 1 < len(terms) else len(folded)]
        if i == 0 and previous and CONTINUES.search(folded):
            polarity.append(previous)
        elif i > 0 and SAME_AS_BEFORE.search(lead):  # '"a" is off the table, and so are "b" and "c"'
            polarity.append(polarity[-1])
        elif neg or pos:
            # a verb of saying negated right before it ("won't write") ends where the negation does: it avoids
            polarity.append("avoid" if max(neg, default=-1) >= max(pos, default=-1) else "say")
        elif NEG_TAIL.search(tail):
            polarity.append("avoid")
        else:
            polarity.append(polarity[-1] if polarity else None)
        last_end = q.end
    # A group without a cue before a verdict ('« a » ou « b » : non merci') takes the verdict.
    for i in range(len(terms) - 1, -1, -1):
        if polarity[i] is None and i + 1 < len(terms) and polarity[i + 1] == "avoid" and \
                NEG_TAIL.search(folded[terms[i].end:]) is None and (ALTERNATIVE.fullmatch(between := folded[
                    terms[i].end:terms[i + 1].start]) or SEPARATOR.fullmatch(between)):
            polarity[i] = "avoid"
    if polarity and polarity[0] is None and "avoid" in polarity:  # 'we run a **course**, never a "package"'
        polarity = ["say" if p is None else p for p in polarity]
    avoid = [t.term for t, p in zip(terms, polarity) if p == "avoid" and t in spans]
    say = [t.term for t, p in zip(terms, polarity) if p == "say"]
    if avoid and say:
        reading.pairs.append((say, avoid))
    elif avoid:
        reading.banned += avoid
    elif say:  # what to use; the next sentence of the block may not say what it replaces (see read_terms)
        reading.pairs.append((say, []))
    return "avoid" if avoid and not say else "say" if say and not avoid else None


def _listed(sentence: str, spans: list[Quoted], folded: str) -> tuple[str, list[str]] | None:
    """('say' | 'avoid', terms) for a sentence that only lists quoted terms after 'on dit' / 'ne dites pas'."""
    if not spans or any(not ALTERNATIVE.fullmatch(folded[a.end:b.start]) for a, b in pairwise(spans)):
        return None
    prefix = folded[: spans[0].start]
    if NEG_SAY.search(prefix):
        return "avoid", [q.term for q in spans]
    if SAY.search(prefix) and not NEGATION.search(prefix) and len(prefix) <= 40:
        return "say", [q.term for q in spans]
    return None


def _pairs(sentence: str, spans: list[Quoted], *, lexicon: bool) -> list[tuple[list[str], list[str]]]:
    folded, out = fold(sentence), []
    contrast_ok = lexicon or bool(SAY.search(folded[: spans[0].start])) if spans else False
    prefers = bool(spans and PREFER.search(folded, 0, spans[0].start))
    goods: list[str] = [spans[0].term] if spans else []
    bads: list[str] = []
    for i, (a, b) in enumerate(pairwise(spans)):
        between = folded[a.end:b.start]
        if SEPARATOR.fullmatch(between) and re.search(r"\b(?:et|and)\b", between) and not bads and \
                _contrast_after(folded, spans, i + 1):  # '« a » et « b », jamais « c »': both are to use
            goods.append(b.term)
        elif SEPARATOR.fullmatch(between) and re.search(r";|\bet\b|\band\b", between):
            if bads:
                out.append((goods, bads))
            goods, bads = [b.term], []
        elif ALTERNATIVE.fullmatch(between) and not (bads and _contrast_after(folded, spans, i + 1)):
            (bads if bads else goods).append(b.term)
        elif not bads and (len(between) <= 30 and CONTRAST.search(between) and (contrast_ok or FREE_CONTRAST.search(
                between)) or between.strip() == "a" and prefers):
            bads = [b.term]
        else:
            if bads:
                out.append((goods, bads))
            goods, bads = [b.term], []
    if bads:
        out.append((goods, bads))
    return out


def _contrast_after(folded: str, spans: list[Quoted], i: int) -> bool:
    """Whether quoted term i is followed by a contrast ('… or "u" instead of "you"'): it starts a new pair."""
    between = folded[spans[i].end: spans[i + 1].start] if i + 1 < len(spans) else ""
    return len(between) <= 30 and bool(CONTRAST.search(between))


def _banned(sentence: str, spans: list[Quoted], folded: str) -> list[str]:
    """Terms a word-ban sentence forbids: 'Forbidden: a, b', 'never say "x"', 'évitez les mots « y »'."""
    if label := BAN_LABEL.search(folded):
        after = [q.term for q in spans if q.start >= label.end()]
        if after:
            return after
        rest = sentence[label.end():]
        items = [unquote(t) for t in re.split(r",|;|\s(?:ou|or)\s", rest)]
        return [t for t in items if term_like(t)] if all(term_like(t) for t in items if t) else []
    # 'use jargon' names a habit, not words: the verbs of using count only with 'the words'.
    if not spans and (m := next((m for m in UNQUOTED_BAN.finditer(folded) if m.group("word") or m.group("verb") and
                                 not USING.fullmatch(m.group("verb").strip())), None)):
        # 'Nous évitons de parler de buzz, de viral ou de clash.': an unquoted list of short words after the cue.
        items = [unquote(t) for t in LIST_SPLIT.split(sentence[m.end():].rstrip(" .;!"))]
        if (len(items) >= 2 or m.group("word")) and all(term_like(t) and len(t.split()) <= 3 for t in items):
            return items
    cue = BAN_CUE.search(folded)
    if cue and spans and WORD_CUE.search(folded, cue.start(), spans[0].start + 1) and \
            not CLAUSE_BREAK.search(folded, cue.end(), spans[0].start):  # 'avoid X and use "they"' bans nothing
        return [q.term for q in spans if q.start >= cue.start()]
    return []


UNQUOTED_BAN = re.compile(r"\b(?:evit\w{0,4}|avoid\w{0,3}|never|jamais|bann\w{0,4}|proscri\w{0,5})\s+"
                          r"(?:(?:de|d'|to)\s?)?(?:(?P<verb>parler\s+(?:de|d')|dire|utiliser|employer|ecrire|"
                          r"talking about|saying|using|writing|say|use|write)\s?)?"
                          r"(?P<word>(?:les|le|the)\s+(?:mots?|words?|termes?|terms?)\s)?")
USING = re.compile(r"utiliser|employer|using|use")
LIST_SPLIT = re.compile(r",\s*(?:(?:ou|et|or|and)\s+)?(?:de\s+|d')?|\s+(?:ou|et|or|and|nor|ni)\s+(?:de\s+|d')?")


# ------------------------------------------------------------------ typed rules

ASK = re.compile(r"\b(?:demand|ask|sollicit|solicit|request|invit|encourag|incit|pousse|exig)\w{0,6}")
SHARE = re.compile(r"\b(?:partag|repartag|share|reshar|repost|retweet|reblog|relay|relai|transf[e]r|forward|upvot|"
                   r"recommand|recommend|epingl|duet)\w{0,6}|\b(?:star|stars|liker)\b|"
                   r"\blike (?:our|us|the|this|my|their)\b")
TAG = re.compile(r"\b(?:tag|tagu|tagg|identifi|mention)\w{0,6}|hashtag|mots?-diese|#\w|@\s?\w")
CONTEST = re.compile(r"\b(?:concours|contests?|giveaways?|tirages? au sort|sweepstakes?|raffles?|challenges?|"
                     r"to win|pour gagner|a gagner)\b")
REACH = re.compile(r"\b(?:follow|abonn|subscri|friends?|amis?|tag|identifi|partag|share|repost|repartag)\w{0,6}")
CODE = re.compile(r"\bcodes?\s+(?:de\s+)?(?:promo|reduction|remise|parrainage|rabais)|\bcoupons?\b|\bvouchers?\b|"
                  r"\b(?:promo\w{0,7}|discount|referral|credit|bonus)\s+(?:or\s+\w{1,12}\s+)?codes?\b")
URGENCY = re.compile(r"\b(?:urgence|urgency|countdowns?|comptes? a rebours|fomo|last[- ]minute|"
                     r"time pressure|pression|pressure|timers?|chrono\w{0,6}|"
                     r"scarcity|rarete|penurie|s'epuis\w{0,4}|expire\w{0,2}|"
                     r"deadline\w{0,8}|hurry|depeche\w{0,3}|limited time|temps limite|pressant\w{0,3}|"
                     r"derniere chance|last chance|last call|dernier appel)\b")
SUPERLATIVE = re.compile(r"\bsuperlati\w{0,4}|\b(?:claim|pretend|present|call|dit|dire|say)\w{0,4}\s"
                         r"(?:\w{1,15}\s){0,4}(?:the best|number one|le meilleur|la meilleure|les meilleur|"
                         r"best-in-class)")
SHOUT = re.compile(r"\b(?:all[- ]caps|caps lock|caps|majuscules?|capitales|capitals|capital letters|upper[- ]?case)\b")
GATE = re.compile(r"\b(?:reserv\w{0,5}|restrict\w{0,5}|conditionn\w{0,5}|behind|locked|paywall\w{0,2}|requir\w{0,5}|"
                  r"limited to|only (?:for|to)|uniquement aux?|seulement aux?|depend\w{0,4} (?:on|upon|de|d')|"
                  r"subordonn\w{0,5}|conditional on|contingent on)\b")
# What a gate may ask instead of a purchase: an engagement ('held behind a like, a follow or a comment').
ENGAGEMENT = re.compile(r"\b(?:likes?|liking|liker|follows?|following|comments?|commenting|commentaires?|commenter|"
                        r"abonnements?|s'abonner|subscrib\w{0,3}|shares?|sharing|partages?|partager)\b")
PAYERS = re.compile(r"\b(?:achat\w{0,2}|achet\w{0,4}|purchas\w{0,4}|bought|buy\w{0,4}|paid|payant\w{0,2}|paying|"
                    r"premium|pro|accounts?|billets?|tickets?|customers?|clients?|abonne\w{0,2}|subscri\w{0,6}|"
                    r"detenteurs|"
                    r"holders)\b")
OPEN = re.compile(r"\bouverte?s? a tou\w{0,4}|\bopen to (?:all|everyone|anyone|every|any)\b|\bfree for (?:all|everyone)\b")
PERSONAL = re.compile(r"\be-?mails?\b|\bcourriels?\b|\bphone\b|\btelephone\w{0,2}|\baddress\w{0,2}|\badresses?\b|"
                      r"\bcoordonnees\b|\bdate (?:of birth|de naissance)\b|\baccount numbers?\b|\bcard details\b|"
                      r"\bnumeros? de carte\b|\b(?:personal|personnelles?) (?:data|information|details|"
                      r"donnees|informations)\b|\b(?:donnees?|informations?|infos?) perso\w{0,9}|"
                      r"\brien de (?:personnel|perso|prive)\b|\bnothing (?:personal|private)\b")
FACT = re.compile(r"\bfactu\w{0,6}|\bfacts?\b|\btel(?:le)?s? quel(?:le)?s?\b|\bas (?:they|it) (?:are|is)\b|\bplainly\b|"
                  r"\bstate (?:them|it)\b|\bplain announcements?\b|\bsobrement\b|\bc'est de l'information\b|"
                  r"\b(?:is|counts as) information\b")
# An announcement said in so many words to be allowed, even under a heading that forbids.
ALLOWED = re.compile(r"\b(?:(?:is|are) (?:fine|allowed|permitted|welcome|ok)|(?:reste|restent|est|sont) (?:permis|autorise)\w{0,2}|"
                     r"(?:c'est|is) de l'information)\b")
ANNOUNCEABLE = re.compile(r"\b(?:prix|prices?|tarifs?|fees|pricing|dates?|horaires?|schedules?|produits?|products?|"
                          r"features?|plans?|releases?|arrivages?|lots?|annonc\w{0,5}|announc\w{0,6}|patch notes)\b")
ANNOUNCE = re.compile(r"\b(?:annonc|announc)\w{0,6}")
PRICE_OR_DATE = re.compile(r"\b(?:prix|prices?|tarifs?|fees|pricing|dates?)\b")


def rules(sentence: str, *, forbidding: bool = False) -> list[str]:
    """Typed rules a sentence states; `forbidding` when its heading or lead-in forbids ('What we never do')."""
    text = fold(sentence)
    found: set[str] = set()
    contest = CONTEST.search(text)
    if forbidding or NEGATION.search(text):
        if ask := ASK.search(text):
            found |= _asks(text, ask.start(), contest.start() if contest else len(text))
        checks = {"no_contests_for_reach": bool(contest and REACH.search(text)), "no_promo_codes": CODE,
                  "no_urgency": URGENCY, "no_superlatives": SUPERLATIVE, "no_shouting": SHOUT,
                  "no_gated_participation": not contest and GATE.search(text)
                  and (PAYERS.search(text) or ENGAGEMENT.search(text))}
        found |= {k for k, v in checks.items() if (v.search(text) if isinstance(v, re.Pattern) else v)}
    if OPEN.search(text):
        found.add("no_gated_participation")
    if _allows_facts(text, forbidding=forbidding):
        found.add("factual_announcements_allowed")
    return [t for t in RULE_TYPES if t in found]


def _asks(text: str, ask_at: int, contest_at: int) -> set[str]:
    """Share, tag and personal-data asks in the clauses after the verb that asks, before any contest."""
    found, start = set(), ask_at
    for sep in [*CLAUSE_SEP.finditer(text, ask_at), None]:
        end = sep.start() if sep else len(text)
        clause = text[start:end]
        if end <= contest_at:
            found |= {name for name, regex in (("no_share_asks", SHARE), ("no_tag_asks", TAG),
                                              ("no_personal_data_asks", PERSONAL)) if regex.search(clause)}
        start = sep.end() if sep else end
    return found


def _allows_facts(text: str, *, forbidding: bool) -> bool:
    if FACT.search(text) and ANNOUNCEABLE.search(text):
        return True
    announce = ANNOUNCE.search(text)
    if announce and ALLOWED.search(text) and (PRICE_OR_DATE.search(text) or ANNOUNCEABLE.search(text)):
        return True
    return bool(announce and not forbidding and PRICE_OR_DATE.search(text)
                and not NEGATION.search(text, max(0, announce.start() - 25), announce.start()))


# ------------------------------------------------------------------ ritual cadences

DAYS = (r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|"
        r"sunday)s?")
MONTHS = (r"(?:janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre|january|february|"
          r"march|april|may|june|july|august|september|october|november|december)")
CLOCK = r"\d{1,2}(?:[:h]\d{2})?(?:\s?(?:h|am|pm|utc|cet|cest|gmt|et|pt)\b)?"
# A cadence opens with a head: complete by itself ('weekly', 'le mardi', 'after each'), or open ('every', 'once')
# and then needing a time word ('every Friday', 'once a month'; 'chaque participant' is no cadence).
HEAD_ALONE = (rf"(?:weekly|monthly|daily|nightly|yearly|annually|quarterly|biweekly|fortnightly|hebdomadaire|"
              rf"mensuel\w{{0,3}}|quotidien\w{{0,3}}|annuel\w{{0,3}}|trimestriel\w{{0,3}}|un {DAYS} sur deux|"
              rf"(?:le|les|on) {DAYS}|(?:before|after|avant|apres) (?:each|every|chaque))")
HEAD = (rf"(?:{HEAD_ALONE}|chaque|tous les|toutes les|every|each|once|twice|(?:{NUM}) fois (?:par|a|l'|chaque)|"
        rf"(?:{NUM}) times (?:a|per|each|every)|(?:le|la|the) (?:premier|premiere|dernier|derniere|deuxieme|first|"
        rf"last|second)|first|last)")
HEAD_ALONE_RE = re.compile(rf"{HEAD_ALONE}\b")
TIME_WORD = re.compile(rf"\b(?:{DAYS}|{MONTHS}|(?:matin|soir|soiree|nuit|apres-midi|morning|evening|night|afternoon|"
                       rf"jour|day|semaine|week|mois|month|an|annee|year|trimestre|quarter|saison|season|week-end|"
                       rf"weekend)s?)\b|\d")
TOKEN = (rf"(?:{DAYS}|{MONTHS}|{CLOCK}|(?:matin|soir|soiree|nuit|apres-midi|morning|evening|night|afternoon)s?|"
         rf"(?:jour|day|semaine|week|mois|month|an|annee|year|trimestre|quarter|saison|season|week-end|weekend)s?|"
         rf"premier|premiere|dernier|derniere|deuxieme|second|first|last|other|autre|business|ouvre|"
         rf"de|du|des|d'|la|le|les|l'|of|the|a|each|every|chaque|tous|toutes|at|on|in|en|sur|par|per|to)")
PHRASE_RE = re.compile(rf"\b{HEAD}(?:\s{{1,3}}{TOKEN}\b){{0,8}}(?![\w-])")  # not 'daily-digest'
CONTINUATION = re.compile(rf"\b(?:{HEAD}|{DAYS}|{MONTHS})\b|(?<![\w:])\d{{1,2}}(?::\d{{2}}|\s?h\b|\s?[ap]m\b)")
TRAILING = re.compile(r"(?:\s+(?:de|du|des|d'|la|le|les|l'|of|the|a|each|every|chaque|at|on|in|en|sur|par|per|to))+$")
SEGMENT_END = re.compile(r":\s|\s:|\.(?:\s|$)|\s[—–]\s|\s/\s|;")


def cadence_phrase(text: str) -> tuple[int, int] | None:
    """(start, end) of the first time phrase in a text ('chaque mardi soir', 'every morning at 8 am')."""
    folded = fold(text)
    for m in PHRASE_RE.finditer(folded):
        if HEAD_ALONE_RE.match(folded, m.start()) or TIME_WORD.search(folded, m.start(), m.end()):
            trailing = TRAILING.search(folded, m.start(), m.end())
            return m.start(), trailing.start() if trailing else m.end()
    return None


def leading_cadence(text: str) -> str | None:
    """The cadence a ritual's description opens with ('monthly, first Monday: …' -> 'monthly, first Monday')."""
    body = text.lstrip(" ,—–:-(")
    folded = fold(body)
    end = m.start() if (m := SEGMENT_END.search(folded)) else len(body)
    parts: list[str] = []
    for part in body[:end].split(","):
        piece = without_parentheses(part).strip(" )")
        span = cadence_phrase(piece)
        if not parts and (not span or span[0] != 0):
            return None
        if parts and not CONTINUATION.search(fold(piece)):
            break
        if span and span[0] == 0 and len(piece.split()) > 5:  # 'every Sunday we meet …' -> 'every Sunday'
            parts.append(piece[: span[1]])
            break
        parts.append(piece)
    return ", ".join(p for p in parts if p) or None


def without_parentheses(text: str) -> str:
    """The text with each '(…)' removed (up to the first ')' after it), in one pass."""
    out, pos = [], 0
    while (start := text.find("(", pos)) != -1 and (end := text.find(")", start)) != -1:
        out.append(text[pos:start])
        pos = end + 1
    return "".join(out) + text[pos:]


def prose_ritual(sentence: str) -> tuple[str, str] | None:
    """(name, cadence) of a ritual told in prose: a capitalised quoted name and a time phrase in one sentence."""
    span = cadence_phrase(sentence)
    names = [q for q in quoted(sentence) if q.term[:1].isupper()]
    if not span or not names:
        return None
    name = min(names, key=lambda q: min(abs(q.start - span[1]), abs(span[0] - q.end)))
    return name.term, sentence[span[0]: span[1]]
