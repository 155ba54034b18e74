"""Word bans and term pairs a charter sentence states: '« a » plutôt que « b »', 'never say "x"', tables aside."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from copilot.ingest.charter_limits import NEGATION
from copilot.ingest.charter_rules import CODE, CONTEST, SHOUT, URGENCY
from copilot.ingest.charter_words import (
    Quoted,
    fold,
    quoted,
    sentences,
    term_like,
    unquote,
)

# ------------------------------------------------------------------ word bans and term pairs

BAN_LABEL = re.compile(r"(?:bann\w{0,6}|interdit\w{0,3}|prohib\w{0,6}|forbidden|proscri\w{0,5}|a eviter|to avoid|"
                       r"retired|off[- ]limits|no longer (?:use|say|write)d?|(?:n'|ne )(?:\w+ )?plus (?:utilis|employ|dit)\w*|"
                       r"\bavoid|blacklist|liste noire|(?:never|don't|do not) (?:write|use|say)|cringe|grincer|"
                       r"no[- ]go|nope|bye[- ]?bye|a oublier|to forget)[^:\n]{0,40}:")
BAN_CUE = re.compile(r"\b(?:never|jamais|don't|do not|avoid\w{0,3}|evit\w{0,4}|bann\w{0,4}|interdi\w{0,6}|"
                     r"prohib\w{0,6}|proscri\w{0,5})\b|\bne\b[^.]{0,30}\b(?:pas|jamais)\b")
WORD_CUE = re.compile(r"\b(?:mots?|words?|termes?|terms?|phrases?|expressions?|vocabulaire|vocabulary|glossar\w{1,3}|"
                      r"lexique|lexicon|wording|write|"
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


def read_terms(block: str, *, lexicon: bool = False, about_words: bool = False) -> TermReading:
    """Pairs and bans of a block: « a » plutôt que « b », 'use X, not Y', a "don't say" sentence next to a
    "say" one, 'forbidden: …'."""
    reading = TermReading()
    pending: tuple[str, list[str]] | None = None  # the previous sentence's quoted-only list and its polarity

    def settle() -> None:  # a list no neighbouring sentence pairs with: banned, or preferred in a lexicon
        if pending and pending[0] == "avoid":
            reading.banned.extend(pending[1])
        elif pending and lexicon:
            reading.preferred.extend(pending[1])

    about_words = lexicon or about_words or bool(WORD_CUE.search(fold(block)))
    previous: str | None = None  # the polarity of the previous sentence's terms, for 'So are "x" and "y".'
    avoided: list[str] = []  # the terms the previous sentence (read by polarity) avoided
    last_seen: str | None = None  # the polarity of the block's last sentence with terms ('Même sort pour « x »')
    for sentence in sentences(block):
        spans, folded = quoted(sentence), fold(sentence)
        if spans and _behaviour(folded, spans):  # 'Pas de fausse urgence : on n'écrit pas « plus que deux… »'
            settle()
            pending, previous, avoided = None, None, []
            continue
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
            found = _by_polarity(sentence, reading, previous or (last_seen if CONTINUES.search(folded) else None))
            last_seen = found or last_seen
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
                      r"off[- ]limits|leave|laisse[zr]? de cote|exit|bye[- ]?bye|adieu|nope to|no more|"
                      r"(?:keep|stay|steer) (?:well )?(?:away|clear) (?:from|of)|a l'ecart|"
                      r"(?:remplac|replac)\w{0,4}(?! (?:par|by)\b)|"
                      r"instead of|rather than|au lieu d|plutot qu|ne (?:\w{1,12} ){0,2}plus)\b|\bn'|\bne\b")
POS_LEAD = re.compile(r"\b(?:say|says|write|use|call|prefer\w{0,5}|dis|dites|disons|on dit|ecri\w{0,5}|utilis\w{0,5}|"
                      r"parl(?:ons|ez|e)|talk about|speak of|"
                      r"emploi\w{0,5}|appel\w{0,5}|nomm\w{0,5}|ce sont|c'est|are|sont|we (?:run|offer|host|say))\b")
NEG_TAIL = re.compile(r"^\W{0,4}(?:(?:is|are|sont|est)\s)?(?:non merci|no thanks|off the table|out\b|banni\w{0,2}|"
                      r"(?:don't|do not|never|won't) appear|n'apparai\w{1,6} (?:jamais|pas|plus)|"
                      r"(?:is not|isn't|are not|aren't) (?:a )?words? we use|(?:n'est|ne sont) pas (?:un |des )?mots?|"
                      r"(?:is|are) retired|(?:is|are) off[- ]limits|(?:is|are) (?:a )?no[- ]go|(?:is|are) banned|"
                      r"makes? us cringe|(?:nous )?font grincer|(?:est|sont) a oublier|(?:est|sont) proscrit\w{0,2}|"
                      r"(?:est|sont) (?:interdit|banni|exclu)\w{0,2}|(?:is|are) (?:forbidden|prohibited)|"
                      r"interdit\w{0,2}|a proscrire|a eviter|to avoid|not welcome|never|n'(?:ont|a) rien a faire|"
                      r"(?:have|has) no place|(?:don't|do not|does not|doesn't) belong|ne (?:se disent|s'ecrivent|"
                      r"s'emploient) (?:pas|jamais|plus))")
# A sentence that opens on a refusal before its first term: every term after it starts on the refused side.
NEG_OPENING = re.compile(r"^\W{0,3}(?:pas de|pas d'|pas d|no|never|jamais de|jamais d|aucun\w{0,2}|ni)\b")
CONTINUES = re.compile(r"^\W{0,3}(?:so (?:are|is|do|does)|same (?:for|goes for)|de meme|idem|pareil pour|ni non plus|"
                       r"meme sort|same fate|likewise|ditto)\b")
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


def _behaviour(folded: str, spans: list[Quoted]) -> bool:
    """Whether a sentence names a behaviour its quotes only illustrate (urgency, a contest, superlatives,
    shouting, codes), outside the quotes themselves: those quotes are examples, not words to ban."""
    outside, last = [], 0
    for q in spans:
        outside.append(folded[last:q.start])
        last = q.end
    text = " ".join([*outside, folded[last:]])
    return any(r.search(text) for r in (URGENCY, CONTEST, SHOUT, CODE, EXAMPLE_OF))


EXAMPLE_OF = re.compile(r"\bsuperlati\w{0,4}|\bhype\b|\bdu genre\b|\bsuch as\b|\bpar exemple\b|\bfor example\b|\be\.g\.")


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
    if spans and NEG_OPENING.match(folded[:spans[0].start]):  # 'Pas de « a » ni de « b », pas d'« c » non plus'
        return []  # ... is a list of bans (the polarity reader's), not "a, not c"
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
