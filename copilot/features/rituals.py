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
    # A weekly round-up of what members asked and who answered ('The Brine Report: the three most useful questions
    # of the week, who answered them, and one open question').
    ("digest", r"\breport\b|round-?up|gazette|this week in|la semaine (?:en|au|du)|revue de (?:la )?semaine",
     r"(?:questions?|sujets?|topics?) (?:of|de) (?:the|la) (?:week|semaine)|who answered|qui (?:y )?a r[ée]pondu|"
     r"round-?up|r[ée]sum\w{1,3}|summar\w{1,3}|digest"),
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
OPENING = re.compile(r"(?:commen[cç]\w{0,6} par|s'ouvr\w{0,4} (?:sur|par)|d[ée]bute\w{0,3} par|ouvr\w{0,4} par|starts? with|"
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


ORDINALS = {"premier": 1, "premiere": 1, "1er": 1, "1re": 1, "first": 1, "1st": 1, "deuxieme": 2, "second": 2, "2e": 2,
            "2nd": 2, "troisieme": 3, "third": 3, "3e": 3, "3rd": 3, "quatrieme": 4, "fourth": 4, "4e": 4, "4th": 4,
            "dernier": -1, "derniere": -1, "last": -1}
EVERY_OTHER = re.compile(r"\bsur deux\b|every other|every (?:two|2) weeks|toutes les (?:deux|2) semaines|fortnight|"
                         r"biweekly|bimensuel|one \w+ in two|tous les quinze jours|every second")


def next_slot(cadence: str | None, now: datetime, *, detail: str | None = None, last: datetime | None = None) -> datetime:
    """The next time the ritual comes back, at 09:00 UTC: the cadence's weekday ('every Friday'), the nth or
    last weekday of the month ('le premier lundi du mois'), every other week after the last edition ('un dimanche
    sur deux'), the weekday its description names when the cadence does not ('Une fois par mois' + 'le premier
    lundi'); tomorrow when nothing says when."""
    said = strip_accents((cadence or "").lower())
    if not any(w in said for w in WEEKDAYS) and detail:  # 'Une fois par mois, le premier lundi, …'
        said = f"{said} {strip_accents(re.split(r'[.:;]', detail, maxsplit=1)[0].lower())}"
    day = next((d for w, d in WEEKDAYS.items() if re.search(rf"\b{w}s?\b", said)), None)
    base = now.replace(hour=9, minute=0, second=0, microsecond=0)
    if day is None:
        return base + timedelta(days=1)
    nth = next((n for w, n in ORDINALS.items()
                if re.search(rf"\b{w}\s+(?:{'|'.join(WEEKDAYS)})", said)), None)
    if nth is not None:
        for months_ahead in range(0, 3):
            y, m = divmod(now.month - 1 + months_ahead, 12)
            slot = _nth_weekday(now.year + y, m + 1, day, nth).replace(hour=9, tzinfo=now.tzinfo)
            if slot > now:
                return slot
    ahead = (day - now.weekday()) % 7 or 7
    slot = base + timedelta(days=ahead)
    if EVERY_OTHER.search(said) and last is not None:  # every other week: two weeks after the last edition
        step = (last if last.tzinfo else last.replace(tzinfo=now.tzinfo)).replace(hour=9, minute=0, second=0,
                                                                                  microsecond=0)
        step += timedelta(days=(day - step.weekday()) % 7)
        while step <= now:
            step += timedelta(days=14)
        return step
    return slot


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> datetime:
    """The nth (or, for -1, the last) given weekday of a month."""
    first = datetime(year, month, 1)
    if nth > 0:
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=(following.weekday() - weekday) % 7 or 7)


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
        grounding = self.composer.ground(brand, query=query, ritual_name=ritual.name, now=now, brand_name=row.name,
                                         opening=format_hints(ritual.format).opening)
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
            "suggested_channel": req.channel or (max(set(past_channels), key=past_channels.count) if past_channels
                                                 else _named_channel(ritual.format)),
            "suggested_time": (req.scheduled_at or next_slot(
                ritual.cadence, now, detail=ritual.format,
                last=max((p["created_at"] for p in grounding.past if p.get("created_at")), default=None))).isoformat(),
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
        # What members keep bringing up is listed ($about) only when the history shows it; a kind without such a
        # list takes its theme from the editor, else from the first recurring subject, else asks none.
        listed = "$about" in table[register]
        themes = [req.theme] if req.theme else ([] if listed else g.topics)
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
            values = {"name": ritual.name, "topics": join(g.topics[:3], lang),
                      "topic": themes[i % len(themes)] if themes else "",
                      "example": _example(quotes, pick), "ideas": ideas, "day": ritual.cadence or "", "brand": brand,
                      "period": tables["period"][period_of(ritual.cadence)]}
            values["Period"] = values["period"][:1].upper() + values["period"][1:]
            values["about"] = _sentence(table, "about", register, values) if g.topics else ""
            values["digest"] = _digest(table, g, lang, register) if "$digest" in table[register] else ""
            values["theme"] = (_sentence(table, "theme", register, values) or _sentence(quotes, "theme", register, values)
                               if themes else _sentence(table, "no_theme", register, values))
            text = Template(table[register]).substitute(values)
            text = re.sub(r"\n{3,}", "\n\n", re.sub(r"(?m)^[ \t]+| +(?=\n)", "", text)).strip()
            if hints.opening:  # the brand's own opening words lead, as in its earlier editions
                if names_ritual(hints.opening, ritual.name) or kind == "digest":  # (a round-up's opening is its title)  # ... and name the ritual already: the template's
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
            if old.lower() not in preferred and len(old.split()) <= 3 and not t.condition}


def _digest(table: dict[str, Any], g: Grounding, lang: str, register: str) -> str:
    """The week's member questions, answered ones first with who answered (up to three), then one still open; a
    line saying the week was quiet when there were none."""
    answered = [(q, t) for q in g.questions if q.answered_by and (t := quote_member(q.text))][:3]
    still_open = next(((q, t) for q in g.questions if not q.answered_by and (t := quote_member(q.text))), None)
    lines = [Template(table["answered"]).substitute(question=t, who=join(q.answered_by[:3], lang))
             for q, t in answered]
    if still_open:
        lines.append(Template(table["open"]).substitute(question=still_open[1]))
    return "\n".join(lines) or _sentence(table, "quiet", register, {})


def _named_channel(fmt: str | None) -> str | None:
    """The channel a ritual's description names ('posts the Brine Report in #troubleshooting')."""
    m = re.search(r"(?<![\w&])#([a-z0-9][\w-]{1,40})", fmt or "", re.I)
    return m.group(1) if m else None


def _sentence(table: dict[str, Any], key: str, register: str, values: dict[str, str]) -> str:
    """A template's optional sentence (`key_tu`, `key_vous`, else `key`) filled in; empty when it has none."""
    text = table.get(f"{key}_{register}") or table.get(key) or ""
    return Template(text).substitute(values) if text else ""


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
