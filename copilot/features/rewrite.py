"""Member-first rewrite of a drifting post: keep the information, drop the pressure, invite the members."""

from __future__ import annotations

import itertools
import re
from typing import Any

from copilot.features.charter_checks import family_spans
from copilot.outputs import TU, VOUS
from copilot.phrases import say
from copilot.text import words
from copilot.textrules import EMOJI, SHOUTED, WRITING_EMOJI_LIMIT, replace_terms
from copilot.types import Charter

PRESSURE_SENTENCE = {"over_solicitation", "instrumentalisation", "contact_bait", "ignores_members",
                     # charter rules: a sentence that asks members to relay, tag, enter, buy first or give data,
                     # or carries a promo code, has nothing to keep
                     "no_share_asks", "no_tag_asks", "no_contests_for_reach", "no_promo_codes",
                     "no_gated_participation", "no_personal_data_asks"}
PRESSURE_SPAN = {"urgency", "banned_term", "unsolicited_link", "no_urgency", "no_superlatives"}
INFO = re.compile(r"(?<!\d)\d+\s?(?:€|%|£|\$|mm|cm|km|kg|h\b|nm\b)|(?<!\d)\d{1,2}h\d{0,2}|\b(?:lundi|mardi|mercredi|jeudi|vendredi|"
                  r"samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|sunday|minuit|midnight|soir|tonight)\b", re.I)
# Typography patterns see a whole post. Each one may start only where its run starts ((?<!\s), (?<![,;:]))
# and takes its runs possessively (*+, ++): a long run of spaces, newlines or commas is then scanned once,
# not once per position (`\s+([,.;:?])` on 20,000 spaces took seconds).
SPACED_BANGS = re.compile(r"(?<!\s)\s*+!+")
SPACE_BEFORE_PUNCT = re.compile(r"(?<!\s)\s++([,.;:?])")
PUNCT_BEFORE_STOP = re.compile(r"(?<![,;:])[,;:]++\s*+([.?])")
TRAILING_PUNCT = re.compile(r"(?<![,;:])[,;:]++\s*+$")
SENTENCE_START = re.compile(r"([.?!]\s++)([a-zà-ÿ])")
CLAUSE_BREAK = re.compile(r"(?<=[.!?;,:—–])\s+")


# An offer: a discount, a code, a call to buy now. The member-first text keeps none of it, nor the deadline that goes
# with it; a price alone ('passe à 39 €') is information and stays.
OFFER = re.compile(r"[-−–]\s?\d{1,3}\s?%|\b\d{1,3}\s?%\s?(?:off\b|de (?:réduction|remise|rabais)|discount)|"
                   r"\b(?:black friday|cyber monday|flash sale|vente flash|ventes? privées?|grab yours|get yours|"
                   r"order yours|shop now|"
                   r"code promo|promo code|discount code|coupon|voucher|bon de réduction|offres? (?:exclusives?|"
                   r"spéciales?|limitées?)|special offer|exclusive offer|prix cassés|soldes)\b|"
                   r"\b(?:commandez|achetez|profitez|order|buy|shop) (?:now|maintenant|vite|dès maintenant|today|aujourd'hui)\b|"
                   r"\b(?:commandez|achetez|profitez)(?:-en)?\b", re.I)
# What a member-first text never keeps a sentence of: asks to relay, tag, enter, pay first or give data.
ASK_KINDS = ("no_share_asks", "no_tag_asks", "no_contests_for_reach", "no_gated_participation", "no_personal_data_asks")
SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+|\n+")


def _pressure(text: str, flags: list[Any]) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[tuple[int, int]],
                                                  list[tuple[int, int]]]:
    """Where the text asks, offers, hurries, or says a word to cut: from its flags and, whatever the charter
    says, from the generic families (a code, a deadline, an ask to share are pressure under any charter)."""
    asks = [(f.start, f.end) for f in flags if f.type in PRESSURE_SENTENCE and f.type != "no_promo_codes"]
    asks += [span for kind in ASK_KINDS for span in family_spans(kind, text)]
    offers = [(m.start(), m.end()) for m in OFFER.finditer(text)] + family_spans("no_promo_codes", text)
    offers += [(f.start, f.end) for f in flags if f.type == "no_promo_codes"]
    hurry = [(f.start, f.end) for f in flags if f.type in ("urgency", "no_urgency")] + family_spans("no_urgency", text)
    # A banned word is a claim its clause makes ('a real superfood'): the clause goes, not the word alone, which
    # left 'our kimchi is a real and a great'.
    offers += [(f.start, f.end) for f in flags if f.type == "banned_term"]
    words_out = [(f.start, f.end) for f in flags if f.type in PRESSURE_SPAN
                 and f.type not in ("urgency", "no_urgency", "banned_term")]
    return asks, offers, hurry, words_out


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    return [(a, b) for a, b in spans if a < end and b > start]


def _clean_clause(clause: str, offset: int, offers, hurry, words_out, offered: bool) -> str:
    end = offset + len(clause)
    if _inside(offers, offset, end):
        return ""
    cut = list(_inside(words_out, offset, end))
    for a, b in _inside(hurry, offset, end):
        # A date beside a hurry word stays ('jusqu'à dimanche' of an event) unless it is an offer's deadline.
        if offered or not INFO.search(clause[max(0, a - offset):b - offset]):
            cut.append((a, b))
    out, last = [], 0
    for a, b in sorted((max(0, a - offset), min(len(clause), b - offset)) for a, b in cut):
        if a >= last:
            out.append(clause[last:a])
            last = b
        else:
            last = max(last, b)
    if not cut:
        return clause  # nothing to take out: 'Eight places,' is information, however short
    out.append(clause[last:])
    kept = "".join(out)
    return kept if len(words(kept)) >= 4 else ""


def _typography(body: str, emoji_limit: int, lang: str = "en") -> str:
    body = SHOUTED.sub(lambda m: m.group(0).lower(), body)
    body = SPACED_BANGS.sub(".", body)
    body = re.sub(r"\?{2,}", "?", body)
    seen = itertools.count()
    body = EMOJI.sub(lambda m: m.group(0) if next(seen) < emoji_limit else "", body)
    body = re.sub(r"[ \t]{2,}", " ", body)
    body = SPACE_BEFORE_PUNCT.sub(r"\1", body)
    body = PUNCT_BEFORE_STOP.sub(r"\1", body)
    body = TRAILING_PUNCT.sub("", body)
    # CLAUSE_BREAK cuts after either dash, so a dropped clause can leave either one at an end
    body = re.sub(r"\.{2,}", ".", body).strip(" ,;:–—")
    body = SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), body)
    if lang == "fr":  # French keeps a space before ? ! ; : (« Vous aimez ? »)
        body = re.sub(r"(?<=[^\s])([?!;:])(?=\s|$)", r" \1", body)
    return body[:1].upper() + body[1:] if body else body


def member_first_rewrite(text: str, flags: list[Any], *, charter: Charter | None, lang: str) -> str:
    """Drop the sentences that only pressure readers, cut pressure words from the rest (dates, prices and
    sizes stay), calm the typography, and end with an open question to the members."""
    asks, offers, hurry, words_out = _pressure(text, flags)
    offered = bool(offers)
    kept, pos = [], 0
    for sentence in SENTENCE_BREAK.split(text):
        offset = text.find(sentence, pos)
        pos = offset + len(sentence)
        if not sentence.strip() or _inside(asks, offset, offset + len(sentence)):
            continue  # an ask to relay, tag or enter: nothing of its sentence is kept ('… the best ones get reposted')
        inner = 0
        for clause in CLAUSE_BREAK.split(sentence):  # clause by clause: pressure and facts often share a sentence
            at = sentence.find(clause, inner)
            inner = at + len(clause)
            cleaned = _clean_clause(clause, offset + at, offers, hurry, words_out, offered).strip()
            if cleaned:
                kept.append(cleaned)
    limit = charter.emoji_limit if charter and charter.emoji_limit is not None else WRITING_EMOJI_LIMIT
    body = _typography(" ".join(kept), limit, lang)
    if charter:  # the charter's words: 'nos clients' -> 'nos membres'
        preferred = {t.term.lower() for t in charter.preferred_terms}
        # A preferred term's own aside stays in the charter: 'the kitchen (our Discord)' writes 'the kitchen'.
        body = replace_terms(body, {old: re.sub(r"\s*\([^)]*\)", "", t.term).strip()
                                    for t in charter.preferred_terms for old in t.instead_of
                                    if old.lower() not in preferred and not t.condition})
        # Two replaced words for one term: 'users and customers' -> 'members', not 'members and members'.
        body = re.sub(r"\b(\w[\w' -]{0,40}?) (?:and|et|or|ou|,) \1\b", r"\1", body)
    register = ((charter.register if charter else None) or "vous") if lang == "fr" else None
    if lang == "fr" and body:  # the closing question speaks like the text it ends, never tu then vous
        own = "tu" if TU.search(body) and not VOUS.search(body) else "vous" if VOUS.search(body) and not TU.search(body) \
            else None
        register = own or register
    invite = say(lang, "rewrite.invite", register=register)
    if not body:
        return invite
    return f"{body}{'' if body.endswith(('.', '?', '!')) else '.'} {invite}"
