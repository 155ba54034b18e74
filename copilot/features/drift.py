"""Promotional drift: check one text against patterns and the brand's charter; audit the brand's feed.

Deterministic engine (no LLM, nothing trained): French/English patterns of instrumentalisation
(`drift_rules`), plus the charter itself (banned terms, tu/vous register, emoji and exclamation limits,
"no shouting", the promotional quota measured on the brand's own recent feed). A promotional post is fine
when the feed is under quota and the post respects the tone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from copilot.features import drift_rules as R
from copilot.features.charter_checks import family_spans, rule_flags
from copilot.features.rewrite import member_first_rewrite
from copilot.phrases import say
from copilot.report import Report
from copilot.text import detect_language, strip_accents, words
from copilot.textrules import (LINK, TU, VOUS, emoji_spans, exclamation_spans, phone_spans, shouted_spans,
                               term_hits)
from copilot.types import Charter

Verdict = Literal["ok", "watch", "drift"]
PROMO_TYPES = {"hard_sell", "urgency", "instrumentalisation", "self_promotion", "no_share_asks", "no_tag_asks",
               "no_contests_for_reach", "no_promo_codes", "no_urgency", "no_gated_participation"}
MIN_QUOTA_POSTS = 10  # below this many brand posts in the window, a share of promotional posts means little
DRIFT_AT, WATCH_AT = 0.6, 0.4


class CharterClause(Report):
    """The charter passage a flag breaks."""

    passage_id: str
    text: str


class Flag(Report):
    """One problem found in a text, with its exact character span."""

    type: str
    severity: Literal["low", "medium", "high"]
    start: int
    end: int
    excerpt: str
    explanation: str
    charter_clause: CharterClause | None = None


class DriftResult(BaseModel):
    """Verdict for one text."""

    score: float = Field(ge=0, le=1)
    verdict: Verdict
    promotional: bool
    language: str
    flags: list[Flag]
    rewrite: str | None = None
    engine: str = "rules"
    degraded: bool = False
    degraded_reason: str | None = None


@dataclass
class FeedStats:
    """The brand's recent own posts, for the quota and posture checks."""

    brand_posts: int = 0
    promotional_posts: int = 0
    recent_promotional: list[bool] = field(default_factory=list)  # newest last

    @property
    def promo_share(self) -> float:
        """Share of promotional posts among the brand's posts."""
        return self.promotional_posts / self.brand_posts if self.brand_posts else 0.0


def _clause(charter: Charter | None, passage_id: str | None) -> CharterClause | None:
    if charter is None or not passage_id:
        return None
    text = next((p.text for p in charter.passages if p.id == passage_id), None)
    return CharterClause(passage_id=passage_id, text=text or "front matter")


def _passage_matching(charter: Charter, pattern: str) -> str | None:
    rx = re.compile(pattern, re.I)
    return next((p.id for p in charter.passages if rx.search(p.text)), None)


def _flag(text: str, kind: str, severity: str, m: re.Match[str] | tuple[int, int], why: str,
          clause: CharterClause | None = None) -> Flag:
    start, end = (m.start(), m.end()) if isinstance(m, re.Match) else m
    return Flag(type=kind, severity=severity, start=start, end=end, excerpt=text[start:end], explanation=why,  # type: ignore[arg-type]
                charter_clause=clause)


def pattern_flags(text: str, profile: str | None = None, lang: str = "en") -> list[Flag]:
    """Flags from the language patterns alone (plus a named corpus profile's, for evaluations only),
    explained in `lang`."""
    rules = R.RULES + (R.SMS_PROFILE if profile == "sms" else [])
    flags = [_flag(text, kind, sev, m, say(lang, key)) for kind, sev, rx, key in rules for m in rx.finditer(text)]
    asks = list(R.ASKS.finditer(text))
    if len(asks) >= 2:
        sev = "high" if len(asks) >= 3 else "medium"
        why = say(lang, "drift.over_solicitation", count=len(asks))
        flags += [_flag(text, "over_solicitation", sev, m, why) for m in asks]
    links = list(LINK.finditer(text))
    words_outside = len(words(LINK.sub(" ", text))) if links else 0
    for m in links:
        bare = words_outside < 6 or bool(asks)
        flags.append(_flag(text, "unsolicited_link", "medium" if bare else "low", m,
                           say(lang, "drift.unsolicited_link_bare" if bare else "drift.unsolicited_link")))
    flags += [_flag(text, "contact_bait", "medium", span, say(lang, "drift.contact_bait")) for span in phone_spans(text)]
    return flags


def _rule_flag(text: str) -> Any:
    def make(kind: str, severity: str, span: tuple[int, int], why: str, rule: Any) -> Flag:
        return _flag(text, kind, severity, span, why, CharterClause(passage_id=rule.passage_id, text=rule.text))
    return make


def charter_flags(text: str, charter: Charter, lang: str) -> list[Flag]:
    """Flags from the charter: its typed rules (each citing its clause), banned terms, register,
    emoji/exclamation limits."""
    flags: list[Flag] = rule_flags(text, list(getattr(charter, "rules", []) or []), lang, _rule_flag(text))
    passages = {t.term: t.passage_id for t in charter.banned_terms}
    for hit in term_hits(text, list(passages)):
        flags.append(_flag(text, "banned_term", "medium", (hit.start, hit.end),
                           say(lang, "drift.banned_term", term=hit.term), _clause(charter, passages[hit.term])))
    # The words a preferred term replaces are the charter's "do not use" vocabulary too (unless also preferred).
    preferred = {t.term.lower() for t in charter.preferred_terms}
    replaced = {old: t for t in charter.preferred_terms for old in t.instead_of
                if old.lower() not in preferred and old not in passages}
    for hit in term_hits(text, list(replaced)):
        term = replaced[hit.term]
        if _says_the_whole(text, hit.term, term.term):  # 'not just "free"': "free" beside "open source" is fine
            continue
        if term.condition:  # 'colonie, not ruche, when you mean the bees': the word may be right here
            flags.append(_flag(text, "replaced_term", "low", (hit.start, hit.end),
                               say(lang, "drift.replaced_term_if", term=hit.term, preferred=term.term,
                                   condition=term.condition), _clause(charter, term.passage_id)))
            continue
        flags.append(_flag(text, "replaced_term", "medium", (hit.start, hit.end),
                           say(lang, "drift.replaced_term", term=hit.term, preferred=term.term),
                           _clause(charter, term.passage_id)))
    if lang == "fr" and charter.register:
        wrong = VOUS if charter.register == "tu" else TU
        right = TU if charter.register == "tu" else VOUS
        misses = list(wrong.finditer(text))
        if misses and len(misses) > len(right.findall(text)):
            pid = _passage_matching(charter, r"tutoie|vouvoie|\btu\b|\bvous\b") or "front-matter"
            # Low severity for "vous" under a tu charter: French uses "vous" for a group even where members are
            # "tu" one to one. "tu" under a vous charter has no such reading: worth an editor's look.
            flags.append(_flag(text, "off_tone", "medium" if charter.register == "vous" else "low", misses[0],
                               say(lang, "drift.register", found=misses[0].group(0), wanted=charter.register),
                               _clause(charter, pid)))
    if charter.max_post_chars and len(text.strip()) > charter.max_post_chars:
        pid = charter.sources.get("max_post_chars") or "front-matter"
        lead = len(text) - len(text.lstrip())  # the span is what overflows the trimmed text
        flags.append(_flag(text, "off_tone", "medium", (lead + charter.max_post_chars, len(text.rstrip())),
                           say(lang, "drift.length_limit", count=len(text.strip()), limit=charter.max_post_chars),
                           _clause(charter, pid)))
    for spans, limit, key, field, hint in ((emoji_spans(text), charter.emoji_limit, "drift.emoji_limit", "emoji_limit",
                                            r"[ée]moji|emoticon|émoticône"),
                                           (exclamation_spans(text), charter.exclamation_limit,
                                            "drift.exclamation_limit", "exclamation_limit", r"exclamation")):
        if limit is not None and len(spans) > limit:
            # The passage the limit was read from, else one naming it ("Deux émojis au maximum")
            pid = charter.sources.get(field) or _passage_matching(charter, hint) or "front-matter"
            # A limit the charter states in so many words: breaking it is worth an editor's look.
            flags.append(_flag(text, "off_tone", "medium", (spans[limit][0], spans[-1][1]),
                               say(lang, key, count=len(spans), limit=limit), _clause(charter, pid)))
    return flags


def _says_the_whole(text: str, replaced: str, preferred: str) -> bool:
    """Whether a preferred term that contains the replaced one ('free and open source' for 'free') is said with
    the rest of its words in the text, hyphens or not."""
    def content(s: str) -> set[str]:
        return {w for w in re.findall(r"\w+", strip_accents(s.lower())) if len(w) > 3}
    rest = content(preferred) - content(replaced)
    return bool(rest) and content(replaced) <= content(preferred) and rest <= content(text.replace("-", " "))


def shouting_flags(text: str, charter: Charter | None, lang: str = "en") -> list[Flag]:
    """Words in capitals used to insist."""
    caps = shouted_spans(text)
    if len(caps) < 2:
        return []
    pid = _passage_matching(charter, r"majuscule|capitals|shout|crie") if charter else None
    # Shouting is only a breach of tone where the charter says so; elsewhere it is a weak hint.
    return [_flag(text, "off_tone", "medium" if pid else "low", (caps[0][0], caps[-1][1]),
                  say(lang, "drift.shouting"), _clause(charter, pid))]


def quota_flags(text: str, flags: list[Flag], charter: Charter | None, feed: FeedStats | None,
                lang: str = "en") -> list[Flag]:
    """Promotional quota and abrupt posture change, measured on the brand's own feed."""
    promo = [f for f in flags if _promotes(f)]
    if not promo or charter is None or feed is None:  # no feed known: the quota cannot be judged
        return []
    if feed.brand_posts < MIN_QUOTA_POSTS:  # too few posts for a share to mean anything (the report says so)
        return []
    out: list[Flag] = []
    policy = charter.promotion_policy
    if policy.max_promotional_share is not None:
        projected = (feed.promotional_posts + 1) / (feed.brand_posts + 1)
        if projected > policy.max_promotional_share:
            out.append(_flag(text, "promo_quota", "high", (promo[0].start, promo[0].end),
                             say(lang, "drift.promo_quota", projected=f"{projected:.0%}",
                                 allowed=f"{policy.max_promotional_share:.0%}"), _clause(charter, policy.passage_id)))
    recent = feed.recent_promotional[-5:]
    if len(recent) >= 3 and sum(recent) >= 2:
        out.append(_flag(text, "posture_change", "medium", (promo[0].start, promo[0].end),
                         say(lang, "drift.posture_change", count=sum(recent), total=len(recent))))
    return out


def _promotes(flag: Flag) -> bool:
    """A flag that makes its post promotional: a price or a product softened into information (a factual
    announcement the charter allows, a thank-you) does not count towards the promotional share."""
    return flag.type in PROMO_TYPES and flag.severity != "low"


def _soften_genuine(text: str, flags: list[Flag]) -> list[Flag]:
    # Thanks, apologies, rituals and answers to members' own requests may mention a price or a product:
    # a lone medium hard-sell cue there is information, not drift.
    if not R.GENUINE.search(text) or family_spans("no_promo_codes", text):  # a code is never just information
        return flags
    strong = [f for f in flags if f.type != "hard_sell" and f.severity != "low"]
    if strong:
        return flags
    return [f.model_copy(update={"severity": "low"}) if f.type == "hard_sell" else f for f in flags]


FACTUAL_CUES = ("hard_sell", "self_promotion")  # a price, a product, 'on our website': what an announcement holds


def _soften_factual(text: str, flags: list[Flag], charter: Charter | None) -> list[Flag]:
    # A charter that welcomes factual announcements (what, price, availability, where to apply): price and
    # own-site cues alone are information there; with urgency, asks or a promo code beside them, they stay what
    # they are.
    allowed = any(r.type == "factual_announcements_allowed" for r in (getattr(charter, "rules", None) or []))
    if not allowed or family_spans("no_promo_codes", text) or \
            any(f.type not in FACTUAL_CUES and f.severity != "low" for f in flags):
        return flags
    return [f.model_copy(update={"severity": "low"}) if f.type in FACTUAL_CUES else f for f in flags]


# A generic cue and the charter rule that names the same thing, on the same words: one finding, shown once, with
# the charter's clause ('DERNIÈRE CHANCE' is not urgency twice; capitals are not off tone beside 'no shouting').
SAME_FINDING = {"urgency": "no_urgency", "off_tone": "no_shouting", "hard_sell": "banned_term",
                "self_promotion": "no_superlatives"}


def _one_flag_per_finding(flags: list[Flag]) -> list[Flag]:
    spans = {(f.type, f.start, f.end) for f in flags}
    out, seen = [], set()
    for f in flags:
        twin = SAME_FINDING.get(f.type)
        if twin and (twin, f.start, f.end) in spans:
            continue
        if (f.type, f.start, f.end) in seen:
            continue
        seen.add((f.type, f.start, f.end))
        out.append(f)
    return out


def score_flags(flags: list[Flag]) -> float:
    """1 - Π(1 - w) over flag types, each at its worst severity (distinct banned words count apart)."""
    worst: dict[str, float] = {}
    for f in flags:
        worst[f.type] = max(worst.get(f.type, 0.0), R.SEVERITY_WEIGHT[f.severity])
    remaining = 1.0
    for kind, w in worst.items():
        remaining *= 1 - w
    # Several different banned words are several breaches of the charter, not one: 'a real superfood and a great
    # gut-healing detox' counts its words (up to three), where one stray word stays a matter for a look.
    banned = {f.excerpt.lower() for f in flags if f.type == "banned_term" and f.severity != "low"}
    for _ in range(min(len(banned), 3) - 1):
        remaining *= 1 - R.SEVERITY_WEIGHT["medium"]
    return round(1 - remaining, 4)


def verdict_for(score: float) -> Verdict:
    """ok < 0.4 <= watch < 0.6 <= drift."""
    return "drift" if score >= DRIFT_AT else "watch" if score >= WATCH_AT else "ok"


def check_text(text: str, *, charter: Charter | None = None, feed: FeedStats | None = None,
               lang: str | None = None, with_rewrite: bool = True, profile: str | None = None) -> DriftResult:
    """Check one text with the deterministic engine."""
    language = lang or detect_language(text, default=(charter.languages[0] if charter and charter.languages else "en"))
    flags = pattern_flags(text, profile, language)
    if charter is not None:
        flags += charter_flags(text, charter, language)
    flags += shouting_flags(text, charter, language)
    flags = _soften_genuine(text, flags)
    flags = _soften_factual(text, flags, charter)
    flags += quota_flags(text, flags, charter, feed, language)
    flags = _one_flag_per_finding(flags)
    flags.sort(key=lambda f: (f.start, f.type))
    score = score_flags(flags)
    promotional = any(_promotes(f) for f in flags)
    result = DriftResult(score=score, verdict=verdict_for(score), promotional=promotional, language=language, flags=flags)
    if with_rewrite and result.verdict != "ok":
        result.rewrite = member_first_rewrite(text, flags, charter=charter, lang=language)
    return result
