"""Per-post limits, promotional share, posting rate, post length and register stated in a charter sentence."""

from __future__ import annotations

import re

from copilot.ingest.charter_words import NUM, NUM_RE, fold, number

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
# A sign that never appears ('il n'apparaît dans aucune de nos publications', 'never appears in a post').
ZERO_IN = re.compile(r"n'apparai\w{1,4} (?:dans )?aucune?\b|n'apparai\w{1,4} jamais|(?:never|don't|doesn't|do not|does not) "
                     r"appear|n'(?:a|ont) (?:pas|aucune) (?:sa |leur )?place|(?:has|have) no place")
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
    if ZERO_IN.search(re.split(r"[.;!?]", after)[0]):
        return 0
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
POSTING = re.compile(r"publi|post|tweet|prend\w{0,4} (?:pas |jamais )?la parole|speaks?\b")


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


RATE_DAY = re.compile(rf"{PER_DAY}|/\s?(?:day|jour|j)\b|\b(?:in|on) any (?:one |single |given |calendar )?day\b")
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
            if len(gap.split()) <= 4 and not NOT_POSTS.search(gap):
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
                           r"inscription|enrol|vitrine|storefront|billetterie|\bbillets?\b|\btickets?\b|\bdons\b|"
                           r"donations?|merch\w{0,6}")
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
