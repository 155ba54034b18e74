"""Member-first rewrite of a drifting post: keep the information, drop the pressure, invite the members."""

from __future__ import annotations

import re
from typing import Any

from copilot.features.drift_rules import EMOJI
from copilot.types import Charter

PRESSURE_SENTENCE = {"over_solicitation", "instrumentalisation", "contact_bait", "ignores_members"}
PRESSURE_SPAN = {"urgency", "banned_term", "unsolicited_link"}
INFO = re.compile(r"(?<!\d)\d+\s?(?:€|%|£|\$|mm|cm|km|kg|h\b|nm\b)|(?<!\d)\d{1,2}h\d{0,2}|\b(?:lundi|mardi|mercredi|jeudi|vendredi|"
                  r"samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|sunday|minuit|midnight|soir|tonight)\b", re.I)
INVITE = {
    ("fr", "tu"): "Et toi, qu'en penses-tu ? Raconte-nous ce qui marche pour toi.",
    ("fr", "vous"): "Et vous, qu'en pensez-vous ? Racontez-nous ce qui marche pour vous.",
    ("en", None): "What do you think? Tell us what works for you.",
}


def _keeps_info(flag: Any) -> bool:
    return flag.type == "urgency" and bool(INFO.search(flag.excerpt))


def _clean_sentence(sentence: str, offset: int, flags: list[Any]) -> str:
    inside = [f for f in flags if offset <= f.start < offset + len(sentence)]
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
    return kept if len(re.findall(r"\w+", kept)) >= 4 else ""


def _typography(body: str, emoji_limit: int) -> str:
    body = re.sub(r"\b([A-ZÀ-Ý]{4,})\b", lambda m: m.group(1).lower(), body)
    body = re.sub(r"\s*!+", ".", body)
    body = re.sub(r"\?{2,}", "?", body)
    for m in reversed(list(EMOJI.finditer(body))[emoji_limit:]):
        body = body[:m.start()] + body[m.end():]
    body = re.sub(r"[ \t]{2,}", " ", body)
    body = re.sub(r"\s+([,.;:?])", r"\1", body)
    body = re.sub(r"[,;:]+\s*([.?])", r"\1", body)
    body = re.sub(r"[,;:]+\s*$", "", body)
    body = re.sub(r"\.{2,}", ".", body).strip(" ,;:–")
    body = re.sub(r"([.?!]\s+)([a-zà-ÿ])", lambda m: m.group(1) + m.group(2).upper(), body)
    return body[:1].upper() + body[1:] if body else body


def member_first_rewrite(text: str, flags: list[Any], *, charter: Charter | None, lang: str) -> str:
    """Drop the sentences that only pressure readers, cut pressure words from the rest (dates, prices and
    sizes stay), calm the typography, and end with an open question to the members."""
    kept, pos = [], 0
    for sentence in re.split(r"(?<=[.!?;,])\s+", text):  # clause by clause: pressure and facts often share a sentence
        offset = text.find(sentence, pos)
        pos = offset + len(sentence)
        cleaned = _clean_sentence(sentence, offset, flags).strip()
        if cleaned:
            kept.append(cleaned)
    limit = charter.emoji_limit if charter and charter.emoji_limit is not None else 2
    body = _typography(" ".join(kept), limit)
    register = (charter.register or "vous") if lang == "fr" else None
    invite = INVITE.get((lang, register), INVITE[("en", None)])
    if not body:
        return invite
    return f"{body}{'' if body.endswith(('.', '?')) else '.'} {invite}"
