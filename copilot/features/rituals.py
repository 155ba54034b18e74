"""Ritual drafts grounded in the charter and the community: an LLM when configured, templates otherwise.

Both engines share the grounding (`compose`), the guards (banned terms, a drift pre-check of the draft's own
text, length, emoji and exclamation limits) and the saved Draft. When the LLM fails for good, the template
engine answers with `degraded: true` and the reason.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from string import Template
from typing import Any, Callable

from copilot.compose import Composer, Grounding, context_block, names_ritual, past_block
from copilot.errors import InvalidInput
from copilot.features.charters import current_charter
from copilot.features.drift import check_text
from copilot.llm import LLM, LLMFailure, Usage
from copilot.outputs import (MEMBER_TOKEN, RitualDraftOut, grounding_problems, register_problems,
                             substance_problems)
from copilot.privacy import Pseudonyms, fence
from copilot.phrases import join, say
from copilot.prompts import load_templates, render
from copilot.store import Store
from copilot.text import STOPWORDS, detect_language, strip_accents, words
from copilot.types import Charter, Ritual
from copilot.textrules import (EMOJI, WRITING_EMOJI_LIMIT, WRITING_EXCLAMATION_LIMIT, exclamation_spans,
                               replace_terms, terms_used)
from copilot.untrusted import has_contact_data, instructions_in, quote_member

# Built-in ritual kinds (their names in each language are in prompts/phrases.<lang>.toml, section `rituals`).
BUILT_IN = ("weekly_challenge", "qa_session", "welcome_thread", "showcase", "spotlight_post", "retrospective",
            "discussion")
# Generic ritual shapes: (kind, what its name says, what the charter's description of it says). A name decides
# first; a description decides by the most hints; a ritual like none of them is an open discussion.
KIND_HINTS = [
    ("welcome_thread", r"bienvenue|welcome|accueil|introduc|nouveaux|newcomer",
     r"bienvenue (?:aux|à)|souhaite\w{0,3} la bienvenue|welcomes?(?: new| the new| newcomers)|accueill\w{0,4} les|"
     r"nouveaux (?:membres|venus|arrivants)|newcomers?|new members?|introduc\w{0,6}|pr[ée]sentez-vous|pr[ée]sente-toi"),
    ("qa_session", r"questions?|q ?& ?a|\bama\b|\bask\b|demandez|office hours?|permanence|en direct|\blive\b",
     r"questions?-r[ée]ponses|questions? en direct|\bq ?& ?a\b|\bama\b|ask me anything|office hours|r[ée]pond\w{0,4} "
     r"aux questions|answers? (?:your |members' )?questions|en direct|\blive\b"),
    ("spotlight_post", r"portrait|spotlight|membre du mois|member of the month|[àa] l'honneur|hall of fame",
     r"met\w{0,3} en avant (?:un|une|des|les) membres?|highlight\w{0,3} (?:a|one|the|three|two) \w{0,12} ?members?|"
     r"recogni[sz]e\w{0,2}|outstanding|[àa] l'honneur|remercie\w{0,2} (?:un|une|des|les) membres?"),
    ("weekly_challenge", r"d[ée]fi|challenge", r"d[ée]fi|challenge"),
    ("retrospective", r"r[ée]tro|bilan|recap|retrospective|year in review",
     r"r[ée]trospective|bilan|recap|look\w{0,3} back|revient sur"),
    ("showcase", r"vitrine|showcase|show ?and ?tell|show ?off|carnet|journal|galerie|gallery",
     r"photos?|montre\w{0,3}|show (?:us|off)|raconte\w{0,3} (?:sa|son|ses|ta|ton|tes|leur)|partage\w{0,3} (?:sa|son|ses|"
     r"ta|ton|tes|leur|votre|vos)|share (?:your|their|what)"),
]
WEEKDAYS = {"lundi": 0, "monday": 0, "mardi": 1, "tuesday": 1, "mercredi": 2, "wednesday": 2, "jeudi": 3,
            "thursday": 3, "vendredi": 4, "friday": 4, "samedi": 5, "saturday": 5, "dimanche": 6, "sunday": 6}
PERIODS = (("monthly", r"mois|month|mensuel"),
           ("weekly", r"semaine|week|hebdo|" + "|".join(WEEKDAYS)))  # a weekday named: it comes back every week
MAX_CHARS = 1500
# What a charter's description of a ritual says members will see, as opposed to how the team runs it: the words
# the post opens with ("starts with « … »") and a list of examples in brackets ("(a, b or c)").
OPENING = re.compile(r"(?:commen[cç]\w{0,6} par|s'ouvr\w{0,4} (?:sur|par)|d[ée]bute\w{0,3} par|starts? with|"
                     r"opens? with|begins? with|beginning with)\s{0,3}[«\"“]\s?([^«»\"“”\n]{2,80}?)\s?[»\"”]", re.I)
BRACKETS = re.compile(r"\(([^()\n]{5,240})\)")
LIST_SPLIT = re.compile(r"\s*(?:,|;|\bou\b|\bor\b|\bet\b|\band\b)\s*", re.I)


@dataclass
class FormatHints:
    """The member-facing parts of a ritual's format."""

    opening: str | None = None
    ideas: list[str] | None = None


def format_hints(fmt: str | None) -> FormatHints:
    """The opening words and example ideas a ritual's format gives; the rest of it (who posts, where, how the
    team runs it) is for the team, not the post."""
    if not fmt:
        return FormatHints()
    fmt = " ".join(fmt.split())  # descriptions wrap lines anywhere
    m = OPENING.search(fmt)
    # "#N", "n°X": the edition number is the editor's to fill in, not ours to guess
    opening = re.sub(r"\s?(?:#|n[°o]\s?)[A-Z]\b", "", m.group(1)).strip(" —–-:,") if m else None
    ideas = None
    for group in BRACKETS.findall(fmt):
        items = [i.strip(" .") for i in LIST_SPLIT.split(group) if i.strip(" .")]
        if len(items) >= 2 and all(1 <= len(i.split()) <= 6 and not re.search(r"\d", i) for i in items):
            ideas = items[:4]
            break
    return FormatHints(opening=opening or None, ideas=ideas)


@dataclass
class RitualRequest:
    """What the caller asks for."""

    ritual: str
    channel: str | None = None
    theme: str | None = None
    language: str | None = None
    variants: int = 2
    scheduled_at: datetime | None = None


def resolve(charter: Charter | None, name: str, lang: str) -> tuple[Ritual, str]:
    """The charter ritual (or built-in kind) called `name`, and its kind."""
    wanted = strip_accents(name.lower()).strip()
    for r in (charter.rituals if charter else []):
        if strip_accents(r.name.lower()) == wanted:
            return r, kind_of(r.name, r.format or "")
    key = wanted.replace(" ", "_").replace("-", "_")
    if key in BUILT_IN:
        label = say(lang, f"rituals.{key}")
        return Ritual(name=label, cadence=None, format=None, passage_id="built-in"), key
    choices = [r.name for r in (charter.rituals if charter else [])] + list(BUILT_IN)
    raise InvalidInput(f"unknown ritual '{name}'; choose one of: {', '.join(choices)}", field="ritual")


def kind_of(name: str, description: str = "") -> str:
    """The built-in kind a charter ritual resembles: by its name first, then by its description's hints, else
    an open discussion."""
    kind = next((k for k, rx, _ in KIND_HINTS if re.search(rx, name, re.I)), None)
    if kind:
        return kind
    hits = [(len(re.findall(rx, description, re.I)), -i, k) for i, (k, _, rx) in enumerate(KIND_HINTS)]
    best = max(hits)
    return best[2] if best[0] else "discussion"


def period_of(cadence: str | None) -> str:
    """'monthly', 'weekly' or 'other', from the ritual's cadence."""
    return next((p for p, rx in PERIODS if cadence and re.search(rx, cadence, re.I)), "other")


def next_slot(cadence: str | None, now: datetime) -> datetime:
    """The next occurrence of the cadence's weekday at 09:00 UTC (tomorrow 09:00 when none is named)."""
    day = next((d for w, d in WEEKDAYS.items() if cadence and w in cadence.lower()), None)
    base = now.replace(hour=9, minute=0, second=0, microsecond=0)
    if day is None:
        return base + timedelta(days=1)
    ahead = (day - now.weekday()) % 7 or 7
    return base + timedelta(days=ahead)


class RitualService:
    """Drafts rituals for brands."""

    def __init__(self, store: Store, composer: Composer, *, llm: LLM | None = None, budget_tokens: int = 3000,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.store, self.composer, self.llm, self.budget, self.clock = store, composer, llm, budget_tokens, clock
        self.failed_usage: dict[str, Any] = {}

    def check_request(self, brand: str, req: RitualRequest) -> None:
        """Raise what `draft` would raise about the request itself (unknown brand or ritual), before it is queued."""
        row = self.store.get_brand(brand)
        charter, _ = current_charter(self.store, brand)
        resolve(charter, req.ritual, req.language or (charter.languages[0] if charter and charter.languages
                                                      else row.language))

    def draft(self, brand: str, req: RitualRequest, *, actor: str, deadline: float | None = None) -> Any:
        """Compose, guard and save a draft; returns the stored Draft row. `deadline` (seconds) replaces the
        LLM client's own, for drafts no caller is waiting on."""
        name, result, payload = self._compose(brand, req, deadline=deadline, use_llm=bool(self.llm))
        return self.store.create_draft(brand, kind="ritual", ritual=name, title=result["title"],
                                       body=result["body"], payload=payload, actor=actor)

    def warm(self, brand: str) -> None:
        """Compose a draft of the brand's first ritual with the templates, and keep nothing: what a draft reads
        (charter, templates, topics, retrieval, earlier editions, editors' decisions) is loaded before the first
        real request. No model is called and no draft is saved."""
        charter, _ = current_charter(self.store, brand)
        ritual = charter.rituals[0].name if charter and charter.rituals else BUILT_IN[0]
        self._compose(brand, RitualRequest(ritual=ritual), deadline=None, use_llm=False)

    def _compose(self, brand: str, req: RitualRequest, *, deadline: float | None,
                 use_llm: bool) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """The ritual's name, the engine's result (title, body, variants, ...) and the draft's payload."""
        started = time.monotonic()  # the LLM's deadline counts from here: grounding is inside it
        row = self.store.get_brand(brand)
        charter, _ = current_charter(self.store, brand)
        lang = req.language or (charter.languages[0] if charter and charter.languages else row.language)
        ritual, kind = resolve(charter, req.ritual, lang)
        now = self.clock()
        query = " ".join(filter(None, [req.theme, ritual.name, ritual.format]))
        grounding = self.composer.ground(brand, query=query, ritual_name=ritual.name, now=now, brand_name=row.name)
        register = (charter.register if charter and charter.register else "vous") if lang == "fr" else "tu"
        learned = self._learned(brand, ritual.name)
        result, failure = (self._with_llm(brand, charter, ritual, req, grounding, lang, register, learned, started,
                                          deadline)
                           if use_llm else (None, None))
        if result is None:  # no LLM configured, or it failed for good: the templates answer
            result = {**self._with_templates(ritual, kind, req, grounding, lang, register, learned, brand=row.name,
                                             lexicon=_lexicon(charter)),
                      "degraded": failure is not None, "degraded_reason": failure}
            if failure is not None:  # what the failed model calls cost is still reported
                result["usage"] = self.failed_usage
        past_channels = [p["channel"] for p in grounding.past if p.get("channel")]
        payload = {
            **{k: v for k, v in result.items() if k not in ("title", "body")},
            "language": lang, "register": register, "ritual_kind": kind,
            "suggested_channel": req.channel or (max(set(past_channels), key=past_channels.count) if past_channels else None),
            "suggested_time": (req.scheduled_at or next_slot(ritual.cadence, now)).isoformat(),
            "guards": guards(result["body"], result.get("variants", []), charter),
            "learned_from": {"examples": [d.id for d, _ in learned["examples"]],
                             "avoided": [{"id": d.id, "reason": reason} for d, reason in learned["rejected"]]},
            "grounding": {"topics": grounding.topics, "past_editions": [
                {k: p[k] for k in ("id", "replies", "member_to_member")} for p in grounding.past[:3]]},
        }
        return ritual.name, result, payload

    def _learned(self, brand: str, ritual: str) -> dict[str, list[tuple[Any, str | None]]]:
        """Editors' decisions on earlier drafts of this ritual: approved (and edited) ones are examples,
        rejected ones (with their reason) are not proposed again."""
        return {"examples": self.store.reviewed_drafts(brand, ritual=ritual, statuses=("approved", "published"), limit=3),
                "rejected": self.store.reviewed_drafts(brand, ritual=ritual, statuses=("rejected",), limit=10)}

    def _with_templates(self, ritual: Ritual, kind: str, req: RitualRequest, g: Grounding, lang: str,
                        register: str, learned: dict[str, Any], *, brand: str,
                        lexicon: dict[str, str] | None = None) -> dict[str, Any]:
        # The templates' own words follow the charter's "say X, not Y" (member quotes are left as written).
        tables = {name: {k: _in_lexicon(v, lexicon or {}) for k, v in t.items()}
                  for name, t in load_templates("ritual_templates", lang).items()}
        table, quotes = tables[kind], tables["quote"]
        topics = [req.theme] + g.topics if req.theme else g.topics
        topics = topics or [quotes["default_topic"]]
        # Quote only questions written in the draft's language, cleaned like anything else from members
        # (no mentions, broadcasts, links, contact data or instructions), short and attributed.
        quoted = [(q, quote_member(q.text)) for q in g.questions if detect_language(q.text, default=lang) == lang]
        questions: list[tuple[Any, str] | None] = [(q, text) for q, text in quoted if text] or [None]
        wanted = max(1, req.variants)
        closings = tables["closings"][register]
        hints = format_hints(ritual.format)
        ideas = Template(quotes["ideas"]).substitute(ideas=join(hints.ideas, lang, "or")) if hints.ideas else ""
        bodies: list[str] = []
        for i in range(wanted * len(closings)):  # enough tries to reach `wanted` distinct texts
            pick = questions[i % len(questions)]
            values = {"name": ritual.name, "topics": join(topics[:3], lang), "topic": topics[i % len(topics)],
                      "example": _example(quotes, pick), "ideas": ideas, "day": ritual.cadence or "", "brand": brand,
                      "period": tables["period"][period_of(ritual.cadence)]}
            values["Period"] = values["period"][:1].upper() + values["period"][1:]
            text = re.sub(r"\n{3,}", "\n\n", Template(table[register]).substitute(values)).strip()
            if hints.opening:  # the brand's own opening words lead, as in its earlier editions
                if names_ritual(hints.opening, ritual.name):  # ... and name the ritual already: the template's
                    # own announcing sentence ("X is open.", "X !") goes, or just the name when it leads a sentence
                    text = re.sub(r"^" + re.escape(ritual.name) + r"(?:[^.!?:\n]{0,25}[.!?]\s*|\s?[,:]?\s*)", "", text)
                    text = text[:1].upper() + text[1:]
                text = f"{hints.opening}\n{text}"
            closing = closings[(i // len(questions)) % len(closings)]
            text = f"{text} {closing}".strip()
            if lang == "fr":  # elision: "de itinéraire" -> "d'itinéraire"
                text = re.sub(r"\b([dD])e ([aeiouyéèêàâîôûhAEIOUYÉÈ])", r"\1'\2", text)
            if text not in bodies:
                bodies.append(text)
            if len(bodies) == wanted:
                break
        # Editors' approved editions are models: the variant closest to them leads, none is served verbatim;
        # a text they rejected is never proposed again.
        approved = [d.body for d, _ in learned["examples"]]
        refused = {_norm(d.body) for d, _ in learned["rejected"]}
        kept = [b for b in bodies if _norm(b) not in refused and _norm(b) not in {_norm(a) for a in approved}] or bodies
        if approved:
            kept.sort(key=lambda b: -max(_overlap(b, a) for a in approved))
        citations = ([ritual.passage_id] if ritual.passage_id not in ("built-in", "front-matter") else []) + \
            [pick[0].id for pick in questions[:max(1, req.variants)] if pick]
        title = Template(table.get(f"title_{register}") or table["title"]).substitute(name=ritual.name)
        tail = set(words(title[len(ritual.name):])) - STOPWORDS
        if title.startswith(ritual.name) and tail & set(words(ritual.name)):  # "Le défi X : le défi de la semaine"
            title = ritual.name
        return {"title": title, "body": kept[0],
                "variants": kept[1:wanted], "citations": citations, "engine": "rules",
                "prompt": {"name": "ritual_templates", "version": "1.0", "hash": None},
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}}

    def _with_llm(self, brand: str, charter: Charter | None, ritual: Ritual, req: RitualRequest, g: Grounding,
                  lang: str, register: str, learned: dict[str, Any], started: float,
                  deadline: float | None = None) -> tuple[dict[str, Any] | None, str | None]:
        assert self.llm is not None
        pseudonyms = Pseudonyms()
        context, ids = context_block(g, pseudonyms, budget_tokens=self.budget // 2)
        banned = [t.term for t in charter.banned_terms] if charter else []
        prompt = render("ritual_draft", lang, brand=brand, register=register,
                        tone=", ".join(t.text for t in charter.tone[:8]) if charter else "-",
                        values=", ".join(v.text for v in charter.values[:8]) if charter else "-",
                        banned=", ".join(banned) or "-",
                        preferred=", ".join(f"{t.term} (not {'/'.join(t.instead_of)})" if t.instead_of else t.term
                                            for t in (charter.preferred_terms if charter else [])[:10]) or "-",
                        emoji_limit=str(charter.emoji_limit if charter and charter.emoji_limit is not None
                                        else WRITING_EMOJI_LIMIT),
                        exclamation_limit=str(charter.exclamation_limit if charter and charter.exclamation_limit
                                              is not None else WRITING_EXCLAMATION_LIMIT),
                        ritual_name=ritual.name, cadence=ritual.cadence or "-", ritual_passage=ritual.passage_id,
                        ritual_format=ritual.format or "-", theme=req.theme or "-", channel=req.channel or "-",
                        past=past_block(g, pseudonyms), context=context, variants=str(max(1, req.variants)),
                        examples=fence("\n---\n".join(pseudonyms.scrub(d.body) for d, _ in learned["examples"])
                                       or "(none yet)"),
                        avoid=fence("\n".join(f"- {pseudonyms.scrub(reason or 'no reason given')}: "
                                               f"{pseudonyms.scrub(d.body)[:300]}" for d, reason in learned["rejected"])
                                    or "(none yet)"))
        allowed = set(ids) | {p["id"] for p in g.past} | {p.id for p in (charter.passages if charter else [])}
        allowed.add(ritual.passage_id)
        # Only placeholders the model was shown can be mapped back to a member.
        known = {token for token in pseudonyms.backward if re.search(rf"\b{token}\b", prompt.user)}

        def check(out: RitualDraftOut) -> list[str]:
            return grounding_problems([out.title, out.body, *out.variants], citations=out.citations,
                                      allowed_ids=allowed, known_members=known, source_links=g.links,
                                      banned_terms=banned, system_prompt=prompt.system) + \
                draft_problems(out, lang=lang, register=register if lang == "fr" else None, ritual=ritual,
                               charter=charter, grounded=bool(ids))

        try:
            res = self.llm.complete(system=prompt.system, user=prompt.user, schema=RitualDraftOut, check=check, max_tokens=700,
                                    meta={"brand": brand, "feature": "ritual_draft"}, started=started,
                                    deadline=deadline)
        except LLMFailure as exc:
            self.failed_usage = _usage(exc.usage)
            return None, f"llm failed: {exc.reason}"
        out = res.value
        return {"title": pseudonyms.restore(out.title), "body": pseudonyms.restore(out.body),
                "variants": [pseudonyms.restore(v) for v in out.variants][: max(0, req.variants - 1)],
                "citations": out.citations, "engine": "llm", "model": res.model, "degraded": False,
                "prompt": {"name": prompt.name, "version": prompt.version, "hash": prompt.hash,
                           "approx_tokens": prompt.approx_tokens, "budget_tokens": self.budget},
                "usage": _usage(res.usage)}, None


def _lexicon(charter: Charter | None) -> dict[str, str]:
    """The charter's replaced words and what to say instead (a word that is also preferred stays)."""
    preferred = {t.term.lower() for t in (charter.preferred_terms if charter else [])}
    return {old: t.term for t in (charter.preferred_terms if charter else []) for old in t.instead_of
            if old.lower() not in preferred and len(old.split()) <= 3}


def _in_lexicon(value: Any, lexicon: dict[str, str]) -> Any:
    if not lexicon:
        return value
    if isinstance(value, str):
        return replace_terms(value, lexicon)
    if isinstance(value, list):
        return [_in_lexicon(v, lexicon) for v in value]
    return value


def draft_problems(out: RitualDraftOut, *, lang: str, register: str | None, ritual: Ritual, charter: Charter | None,
                   grounded: bool) -> list[str]:
    """Why a model's ritual draft cannot be used: no substance, the wrong language or register, the ritual not
    named, no citation although there was grounding, or a text that drifts by the brand's own rules."""
    problems = substance_problems("title", out.title, min_words=2) + substance_problems("body", out.body, min_words=8)
    for i, variant in enumerate(out.variants):
        problems += substance_problems(f"variant {i + 1}", variant, min_words=6)
    name = re.compile(re.escape(ritual.name), re.I)
    for i, text in enumerate([out.body, *out.variants]):
        found = detect_language(name.sub(" ", text), default=lang)  # the ritual's own name says nothing of the text
        if found != lang and len(text) >= 40:
            problems.append(f"{'body' if i == 0 else f'variant {i}'} is written in '{found}', not '{lang}'")
        problems += register_problems(text, register)
    if not names_ritual(f"{out.title}\n{out.body}", ritual.name):
        problems.append(f"does not name the ritual '{ritual.name}'")
    if grounded and not out.citations:
        problems.append("cites nothing although recent messages and charter passages were given")
    drift = check_text(out.body, charter=charter, with_rewrite=False)
    if drift.verdict != "ok":
        problems.append(f"the draft itself drifts ({drift.verdict}: {', '.join(sorted({f.type for f in drift.flags}))})")
    return problems


def guards(body: str, variants: list[str], charter: Charter | None) -> dict[str, Any]:
    """Checks on the draft's own text (and its variants, for what members could have slipped in)."""
    banned = terms_used(body, [t.term for t in (charter.banned_terms if charter else [])])
    drift = check_text(body, charter=charter, with_rewrite=False)
    emoji_limit = charter.emoji_limit if charter and charter.emoji_limit is not None else None
    max_chars = min(MAX_CHARS, charter.max_post_chars) if charter and charter.max_post_chars else MAX_CHARS
    bang_limit = charter.exclamation_limit if charter and charter.exclamation_limit is not None else None
    emojis, bangs = len(EMOJI.findall(body)), len(exclamation_spans(body))
    out = {"banned_terms": banned,
           "drift": {"score": drift.score, "verdict": drift.verdict, "flags": sorted({f.type for f in drift.flags})},
           "length": {"chars": len(body), "max": max_chars, "ok": len(body) <= max_chars},
           "emoji": {"count": emojis, "limit": emoji_limit, "ok": emoji_limit is None or emojis <= emoji_limit},
           "exclamation": {"count": bangs, "limit": bang_limit, "ok": bang_limit is None or bangs <= bang_limit},
           "unknown_member_tokens": sorted(set(MEMBER_TOKEN.findall(" ".join([body, *variants])))),
           "instructions": sorted({i for text in (body, *variants) for i in instructions_in(text)}),
           "contact_data": any(has_contact_data(text) for text in (body, *variants))}
    out["ok"] = not failing_guards(out)
    return out


def failing_guards(g: dict[str, Any]) -> list[str]:
    """The names of the guards a draft fails (empty when it passes)."""
    failed = [k for k in ("banned_terms", "instructions") if g.get(k)]
    failed += ["drift"] if (g.get("drift") or {}).get("verdict", "ok") != "ok" else []
    failed += [k for k in ("length", "emoji", "exclamation") if not (g.get(k) or {}).get("ok", True)]
    return failed + (["contact_data"] if g.get("contact_data") else [])


def _usage(u: Usage) -> dict[str, Any]:
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "cost": round(u.cost, 6),
            "calls": u.calls, "failures": u.failures}


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _overlap(a: str, b: str) -> float:
    """Jaccard overlap of two texts' words."""
    wa, wb = set(_norm(a).split()), set(_norm(b).split())
    return len(wa & wb) / max(1, len(wa | wb))


def _example(quotes: dict[str, str], pick: tuple[Any, str] | None) -> str:
    """The sentence quoting a member's question, with their name when they did not opt out of being named."""
    if pick is None:
        return quotes["none"]
    message, text = pick
    if message.attributable and message.author:
        return Template(quotes["named"]).substitute(asker=message.author, question=text)
    return Template(quotes["anonymous"]).substitute(question=text)
