"""Member-first rewrite of a drifting post: keep the information, drop the pressure, invite the members."""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left
from typing import Any

from copilot.phrases import say
from copilot.text import words
from copilot.textrules import EMOJI, SHOUTED, WRITING_EMOJI_LIMIT
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
CLAUSE_BREAK = re.compile(r"(?<=[.!?;,])\s+")


def _keeps_info(flag: Any) -> bool:
    return flag.type == "urgency" and bool(INFO.search(flag.excerpt))


def _clean_sentence(sentence: str, offset: int, flags: list[Any], starts: list[int]) -> str:
    # `flags` sorted by start, `starts` their starts: a bisection, not a scan of every flag per clause.
    inside = flags[bisect_left(starts, offset):bisect_left(starts, offset + len(sentence))]
    if any(f.type in PRESSURE_SENTENCE for f in inside) and not INFO.search(sentence):
        return ""
    cut = sorted((f.start - offset, f.end - offset) for f in inside
                 if (f.type in PRESSURE_SPAN or f.type in PRESSURE_SENTENCE) and not _keeps_info(f))
    out, last = [], 0
    for start, end in cut:
        if start >= last:
            out.append(sentence[last:start])
            last = max(last, end)
    out.append(sentence[last:])
    kept = "".join(out)
    return kept if len(words(kept)) >= 4 else ""


def _typography(body: str, emoji_limit: int) -> str:
    body = SHOUTED.sub(lambda m: m.group(0).lower(), body)
    body = SPACED_BANGS.sub(".", body)
    body = re.sub(r"\?{2,}", "?", body)
    seen = itertools.count()
    body = EMOJI.sub(lambda m: m.group(0) if next(seen) < emoji_limit else "", body)
    body = re.sub(r"[ \t]{2,}", " ", body)
    body = SPACE_BEFORE_PUNCT.sub(r"\1", body)
    body = PUNCT_BEFORE_STOP.sub(r"\1", body)
    body = TRAILING_PUNCT.sub("", body)
    body = re.sub(r"\.{2,}", ".", body).strip(" ,;:–")
    body = SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), body)
    return body[:1].upper() + body[1:] if body else body


def member_first_rewrite(text: str, flags: list[Any], *, charter: Charter | None, lang: str) -> str:
    """Drop the sentences that only pressure readers, cut pressure words from the rest (dates, prices and
    sizes stay), calm the typography, and end with an open question to the members."""
    ordered = sorted(flags, key=lambda f: f.start)
    starts = [f.start for f in ordered]
    kept, pos = [], 0
    for sentence in CLAUSE_BREAK.split(text):  # clause by clause: pressure and facts often share a sentence
        offset = text.find(sentence, pos)
        pos = offset + len(sentence)
        cleaned = _clean_sentence(sentence, offset, ordered, starts).strip()
        if cleaned:
            kept.append(cleaned)
    limit = charter.emoji_limit if charter and charter.emoji_limit is not None else WRITING_EMOJI_LIMIT
    body = _typography(" ".join(kept), limit)
    register = ((charter.register if charter else None) or "vous") if lang == "fr" else None
    invite = say(lang, "rewrite.invite", register=register)
    if not body:
        return invite
    return f"{body}{'' if body.endswith(('.', '?')) else '.'} {invite}"
