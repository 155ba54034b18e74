"""Spotlight suggestions: members who hold the community together, found fairly, with evidence and consent.

Model (Orbit-inspired, https://github.com/orbit-love/orbit-model, MIT): *love* is weighted contribution —
accepted solutions, first answers to someone else's question, other help, thanks received, content created,
reactions received — and *reach* is how many distinct people a member interacted with. Consistency (active
weeks, after CHAOSS "active contributors") and a rising bonus (growth against the previous window) complete
it. Staff, bots, opted-out members and members featured within the cooldown are never suggested; a greedy
re-ranking prefers variety of channels and kinds of contribution over the same profile every time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from copilot.errors import InvalidInput
from copilot.features.charters import current_charter
from copilot.features.rituals import guards
from copilot.features.shoutout import llm_shoutout, template_shoutout
from copilot.features.snapshot import KINDS, Snapshot, Snapshots
from copilot.llm import LLM
from copilot.phrases import say
from copilot.reports import SpotlightReport
from copilot.store import Store

WEIGHTS = {"solutions": 3.0, "first_answers": 2.0, "help_given": 1.5, "thanks_received": 1.0,
           "content_created": 0.3, "reactions_received": 0.5, "reach": 0.4, "active_weeks": 0.3}
VARIETY_PENALTY = 0.15
Q, A = KINDS.index("question"), KINDS.index("answer")


@dataclass
class MemberStats:
    """Per-author arrays over the window (index = snapshot author code)."""

    help_given: np.ndarray
    first_answers: np.ndarray
    solutions: np.ndarray
    well_received: np.ndarray
    thanks_received: np.ndarray
    content_created: np.ndarray
    reactions_received: np.ndarray
    reach: np.ndarray
    active_weeks: np.ndarray
    messages: np.ndarray
    main_channel: np.ndarray
    main_kind: np.ndarray

    def love(self) -> np.ndarray:
        """Weighted contribution plus reach and consistency (before the rising bonus)."""
        return (WEIGHTS["solutions"] * self.solutions + WEIGHTS["first_answers"] * self.first_answers
                + WEIGHTS["help_given"] * self.help_given + WEIGHTS["thanks_received"] * self.thanks_received
                + WEIGHTS["content_created"] * self.content_created
                + WEIGHTS["reactions_received"] * np.log1p(self.reactions_received)
                + WEIGHTS["reach"] * self.reach + WEIGHTS["active_weeks"] * self.active_weeks)


def member_stats(snap: Snapshot, lo: float, hi: float, channel: int | None = None) -> MemberStats:
    """Contribution counts of every author in [lo, hi)."""
    n_auth = max(1, len(snap.authors))
    w = snap.window(lo, hi)
    rows = np.arange(w.start, w.stop)
    if channel is not None:
        rows = rows[snap.channel[rows] == channel]
    rows = rows[snap.author[rows] >= 0]
    a = snap.author[rows]
    p = snap.parent[rows]
    has_parent = p >= 0
    pa = np.where(has_parent, snap.author[np.maximum(p, 0)], -1)
    to_other = has_parent & (pa >= 0) & (pa != a)
    on_question = to_other & (snap.kind[np.maximum(p, 0)] == Q)
    help_w = np.where(snap.kind[rows] == A, 1.0, 0.5) * on_question
    first = np.zeros(len(rows), dtype=bool)
    if on_question.any():
        idx = np.flatnonzero(on_question)
        _, first_pos = np.unique(p[idx], return_index=True)  # rows are in time order: first reply per question
        first[idx[first_pos]] = True
    solutions = on_question & snap.solution[rows]
    well = on_question & (snap.reactions[rows] > 0)
    thanks_rows = to_other & snap.thanks[rows]
    # Content counts when someone engaged with it (a reaction or a reply by another member): posting into the
    # void, as self-promoters do, is volume, not contribution.
    engaged = snap.reactions[rows] > 0
    answered = snap.derived("answered_by_other")
    content = ~snap.is_reply[rows] & np.isin(snap.kind[rows], [Q, KINDS.index("post")]) & (engaged | answered[rows])
    weeks = ((snap.created[rows] - lo) // (7 * 86400)).astype(np.int64)

    def count(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(a[mask], weights=None if weights is None else weights[mask], minlength=n_auth)

    # Distinct (member, other) and (member, week) pairs, as single int64 keys (much faster than 2-D unique).
    left = np.concatenate([a[to_other], pa[to_other]]).astype(np.int64)
    right = np.concatenate([pa[to_other], a[to_other]]).astype(np.int64)
    reach_keys = np.unique(left * n_auth + right)
    week_keys = np.unique(a.astype(np.int64) * 100_000 + weeks)
    kinds_of_help = np.where(solutions, 0, np.where(on_question, 1, np.where(content, 2, 3)))
    return MemberStats(
        help_given=count(on_question, help_w), first_answers=count(first), solutions=count(solutions),
        well_received=count(well), thanks_received=np.bincount(pa[thanks_rows], minlength=n_auth),
        content_created=count(content), reactions_received=count(np.ones(len(rows), bool), snap.reactions[rows].astype(float)),
        reach=np.bincount(reach_keys // n_auth, minlength=n_auth),
        active_weeks=np.bincount(week_keys // 100_000, minlength=n_auth),
        messages=np.bincount(a, minlength=n_auth),
        main_channel=_mode_by(a, snap.channel[rows], n_auth), main_kind=_mode_by(a, kinds_of_help, n_auth))


def _mode_by(keys: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The most frequent value per key (values are small non-negative codes, -1 allowed)."""
    out = np.full(n, -1, dtype=np.int64)
    if len(keys) == 0:
        return out
    shifted = values.astype(np.int64) + 1
    width = int(shifted.max()) + 1
    combo, counts = np.unique(keys.astype(np.int64) * width + shifted, return_counts=True)
    k, v = combo // width, combo % width - 1
    order = np.lexsort((-counts, k))
    first = np.unique(k[order], return_index=True)[1]
    out[k[order[first]]] = v[order[first]]
    return out


def rank(snap: Snapshot, stats: MemberStats, previous: MemberStats, *, eligible: np.ndarray, newcomers: np.ndarray,
         limit: int, variety: bool = True) -> list[tuple[int, float, dict[str, float]]]:
    """(author code, score, breakdown) of the best eligible members, with the variety re-ranking."""
    love = stats.love()
    # Rising needs a previous window to compare with: members new in this window are newcomers instead.
    rising = (stats.messages >= 3) & (love >= 2 * np.maximum(previous.love(), 0.5)) & ~newcomers
    score = love * (1 + 0.2 * rising) * eligible
    candidates = [int(i) for i in np.argsort(-score, kind="stable") if score[i] > 0][: limit * 5]
    picked: list[int] = []
    while candidates and len(picked) < limit:
        def adjusted(i: int) -> float:
            overlap = sum(1 for j in picked if stats.main_channel[j] == stats.main_channel[i]
                          and stats.main_kind[j] == stats.main_kind[i]) if variety else 0
            return float(score[i]) * (1 - VARIETY_PENALTY) ** overlap
        best = max(candidates, key=lambda i: (adjusted(i), -i))
        picked.append(best)
        candidates.remove(best)
    top = float(score[picked[0]]) if picked else 1.0
    return [(i, round(float(score[i]) / top, 4), {
        "help_given": float(stats.help_given[i]), "first_answers": int(stats.first_answers[i]),
        "solutions": int(stats.solutions[i]), "well_received": int(stats.well_received[i]),
        "thanks_received": int(stats.thanks_received[i]), "content_created": int(stats.content_created[i]),
        "reactions_received": int(stats.reactions_received[i]), "reach": int(stats.reach[i]),
        "active_weeks": int(stats.active_weeks[i]), "rising": bool(rising[i]), "newcomer": bool(newcomers[i]),
        "love": round(float(love[i]), 2)}) for i in picked]


def every_thanked(snap: Snapshot, stats: MemberStats, lo: float, hi: float, ch: int | None) -> MemberStats:
    """Thanks credited to everyone a thanks names ('merci à vous deux', 'thanks Nadia and Antoine'), not only to
    the message it replies to: the credits the snapshot read when each thanks arrived (copilot.features.credits),
    counted over the window's thanks."""
    w = snap.window(lo, hi)
    rows = np.arange(w.start, w.stop)
    rows = rows[snap.thanks[rows] & (snap.author[rows] >= 0)]
    if ch is not None:
        rows = rows[snap.channel[rows] == ch]
    if not len(rows):
        return stats
    codes = snap.credits(rows)
    return replace(stats, thanks_received=np.bincount(codes[codes >= 0], minlength=len(snap.authors)))


def window_stats(snap: Snapshot, lo: float, hi: float, ch: int | None) -> tuple[MemberStats, MemberStats]:
    """Every member's stats in [lo, hi) and in the window of the same length before it, thanks credited to everyone
    a thanks names; `ch` a channel code, -2 for a channel the brand does not have (no thanks counted)."""
    counted = ch if ch != -2 else None
    before = lo - (hi - lo)
    return (every_thanked(snap, member_stats(snap, lo, hi, counted), lo, hi, ch),
            every_thanked(snap, member_stats(snap, before, lo, counted), before, lo, ch))


class SpotlightService:
    """Spotlight suggestions for a brand."""

    def __init__(self, store: Store, snapshots: Snapshots, *, llm: LLM | None = None,
                 clock: Any = lambda: datetime.now(timezone.utc)):
        self.store, self.snapshots, self.llm, self.clock = store, snapshots, llm, clock

    def suggest(self, brand: str, *, window_days: int = 30, limit: int = 5, channel: str | None = None,
                cooldown_days: int = 60, now: datetime | None = None) -> SpotlightReport:
        """Ranked suggestions with breakdown, why, evidence, consent and a shout-out."""
        now = now or self.clock()
        snap = self.snapshots.get(brand)
        members = self.store.members_by_key(brand)
        lo, hi = (now - timedelta(days=window_days)).timestamp(), now.timestamp()
        ch = snap.channels.index(channel) if channel in snap.channels else (-2 if channel else None)
        stats, previous = window_stats(snap, lo, hi, ch)
        cooled = self.store.spotlighted_since(brand, now - timedelta(days=cooldown_days))
        eligible, reasons = eligibility(snap, members, cooled)
        first_seen = snap.derived("first_seen")
        # New in this window, in a history that began before it: when the import starts inside the window, nobody
        # can be told to be new (a 3-week export would make everyone a newcomer).
        began = float(snap.created.min()) if len(snap.created) else hi
        newcomers = (first_seen >= lo) & (first_seen < hi) & (began < lo)
        ranked = [] if ch == -2 else rank(snap, stats, previous, eligible=eligible, newcomers=newcomers, limit=limit)
        voice = self._voice(brand)
        suggestions = [self._suggestion(brand, snap, members, i, score, breakdown, lo, hi, voice)
                       for i, score, breakdown in ranked]
        return SpotlightReport.model_validate({
            "window": {"since": datetime.fromtimestamp(lo, tz=timezone.utc), "until": now, "days": window_days,
                       "as_of": snap.as_of},
            "channel": channel, "cooldown_days": cooldown_days, "suggestions": suggestions,
            "excluded": reasons, "model": MODEL_DESCRIPTION})

    def _voice(self, brand: str) -> dict[str, Any]:
        """What shout-outs need to speak like the brand: its name, language, charter and register."""
        row = self.store.get_brand(brand)
        charter, _ = current_charter(self.store, brand)
        return {"brand_name": row.name, "lang": row.language, "charter": charter,
                "register": charter.register if charter else None}

    def _suggestion(self, brand: str, snap: Snapshot, members: dict[tuple[str, str], Any], i: int, score: float,
                    breakdown: dict[str, Any], lo: float, hi: float, voice: dict[str, Any]) -> dict[str, Any]:
        source, sid = snap.authors[i]
        m = members.get((source, sid))
        name = (m.name if m and m.name else sid)
        evidence = self._evidence(brand, snap, i, lo, hi)
        lang, charter, register = voice["lang"], voice["charter"], voice["register"]
        if self.llm is not None:
            shoutout = llm_shoutout(self.llm, brand=brand, brand_name=voice["brand_name"], charter=charter,
                                    name=name, breakdown=breakdown, evidence=evidence, lang=lang, register=register,
                                    days=int((hi - lo) // 86400))
        else:
            shoutout = {"text": template_shoutout(name, breakdown, lang, register), "engine": "rules"}
        return {"member": {"id": m.id if m else None, "source": source, "source_id": sid, "name": name},
                "shoutout": {**shoutout, "language": lang},
                "score": score, "breakdown": breakdown, "why": why(name, breakdown, lang),
                "evidence": evidence,
                "consent": {"spotlight": m.consent_spotlight if m else "unknown",
                            "analytics": m.consent_analytics if m else "unknown",
                            "note": None if m and m.consent_spotlight == "opt_in" else
                            say(lang, "spotlight.consent_note")}}

    def _evidence(self, brand: str, snap: Snapshot, i: int, lo: float, hi: float) -> list[dict[str, Any]]:
        w = snap.window(lo, hi)
        rows = np.arange(w.start, w.stop)
        rows = rows[snap.author[rows] == i]
        p = snap.parent[rows]
        on_q = (p >= 0) & (snap.kind[np.maximum(p, 0)] == Q) & (snap.author[np.maximum(p, 0)] != i)
        order = np.lexsort((-snap.reactions[rows], ~on_q, ~snap.solution[rows]))
        chosen = rows[order][:3]
        uids = [f"{snap.sources[r]}:{snap.ids[r]}" for r in chosen]
        found = self.store.get_messages(brand, uids)
        out = []
        for uid in uids:
            row = found.get(uid)
            if row is not None:
                out.append({"id": row.source_id, "source": row.source, "kind": row.kind, "created_at": row.created_at,
                            "permalink": row.permalink, "snippet": " ".join(row.text.split())[:240],
                            "is_solution": row.is_solution})
        return out


    def draft_shoutout(self, brand: str, member_id: int, *, window_days: int, actor: str,
                       now: datetime | None = None) -> Any:
        """Save a shout-out draft for one member (the LLM writes it when configured)."""
        now = now or self.clock()
        member = self.store.get_member(brand, member_id)
        if member.role in ("staff", "bot") or "opt_out" in (member.consent_spotlight, member.consent_analytics):
            raise InvalidInput(f"member {member_id} cannot be spotlighted (role {member.role}, consent "
                               f"{member.consent_spotlight}/{member.consent_analytics})", field="member_id")
        snap = self.snapshots.get(brand)
        try:
            i = snap.authors.index((member.source, member.source_id))
        except ValueError:
            raise InvalidInput(f"member {member_id} has no message to build a shout-out from", field="member_id") from None
        lo, hi = (now - timedelta(days=window_days)).timestamp(), now.timestamp()
        # The suggestion's own counts (thanks credited to everyone a thanks names), so a shout-out never tells a
        # member a different number of thanks than the suggestion it was drafted from.
        stats, previous = window_stats(snap, lo, hi, None)
        eligible = np.zeros(len(snap.authors), dtype=bool)
        eligible[i] = True
        ranked = rank(snap, stats, previous, eligible=eligible,
                      newcomers=np.zeros(len(snap.authors), bool), limit=1, variety=False)
        breakdown = ranked[0][2] if ranked else {k: 0 for k in ("help_given", "solutions", "content_created")}
        voice = self._voice(brand)
        name = member.name or member.source_id
        evidence = self._evidence(brand, snap, i, lo, hi)
        lang, charter, register = voice["lang"], voice["charter"], voice["register"]
        if self.llm is not None:
            out = llm_shoutout(self.llm, brand=brand, brand_name=voice["brand_name"], charter=charter, name=name,
                               breakdown=breakdown, evidence=evidence, lang=lang, register=register, days=window_days)
        else:
            out = {"text": template_shoutout(name, breakdown, lang, register), "engine": "rules", "degraded": False}
        title = say(lang, "spotlight.shoutout_title", name=name)
        payload = {**{k: v for k, v in out.items() if k != "text"}, "language": lang, "register": register,
                   "citations": [e["id"] for e in evidence], "member_id": member_id,
                   "consent": {"spotlight": member.consent_spotlight, "analytics": member.consent_analytics},
                   "guards": guards(out["text"], [], charter)}
        return self.store.create_draft(brand, kind="shoutout", ritual=None, title=title, body=out["text"],
                                       payload=payload, actor=actor)


MODEL_DESCRIPTION = ("Orbit-inspired: love = 3·solutions + 2·first answers + 1.5·help to others' questions + "
                     "1·thanks received + 0.3·content created + 0.5·log(1+reactions) + 0.4·reach (distinct people) "
                     "+ 0.3·active weeks; ×1.2 when rising (love at least twice the previous window); normalised to the "
                     "top suggestion; variety re-ranking penalises repeated channel and contribution type by 15%.")


def eligibility(snap: Snapshot, members: dict[tuple[str, str], Any], cooled: set[int]) -> tuple[np.ndarray, dict[str, int]]:
    """Which authors may be suggested, and how many were excluded for each reason."""
    ok = np.ones(len(snap.authors), dtype=bool)
    reasons = {"staff": 0, "bot": 0, "opted_out": 0, "cooldown": 0}
    for i, key in enumerate(snap.authors):
        m = members.get(key)
        if m is None:
            continue
        reason = ("staff" if m.role == "staff" else "bot" if m.role == "bot" else
                  "opted_out" if "opt_out" in (m.consent_spotlight, m.consent_analytics) else
                  "cooldown" if m.id in cooled else None)
        if reason:
            ok[i] = False
            reasons[reason] += 1
    return ok, reasons


def contributions(b: dict[str, Any], lang: str, section: str, fields: tuple[str, ...]) -> list[str]:
    """The non-zero contribution counts of a breakdown as phrases of `section` (help given rounds to a count)."""
    counts = {f: int(b[f] + 0.5) if f == "help_given" else b[f] for f in fields}
    return [say(lang, f"{section}.{f}", count=n) for f, n in counts.items() if n]  # help that rounds to 0 is not named


def why(name: str, b: dict[str, Any], lang: str) -> str:
    """One sentence saying why, in the brand's language."""
    parts = contributions(b, lang, "spotlight", ("help_given", "solutions", "first_answers", "thanks_received",
                                                  "content_created"))
    return say(lang, "spotlight.why", name=name, parts=", ".join(parts) or say(lang, "spotlight.steady"),
               reach=b["reach"], weeks=b["active_weeks"]) + \
        (say(lang, "spotlight.rising") if b["rising"] else "") + (say(lang, "spotlight.newcomer") if b["newcomer"] else "")
