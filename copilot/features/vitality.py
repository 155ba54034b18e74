"""Community vitality, measured against vanity metrics, and weak signals.

Definitions follow CHAOSS where one exists (time to first response, active/new contributors, types of
contributions) and the Khoros community health factors (responsiveness, interaction, liveliness). Staff and
bots are excluded from member KPIs (their messages count on the brand side); members who opted out of
analytics are excluded entirely.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import numpy as np

from copilot.features.snapshot import KINDS, Snapshot, Snapshots
from copilot.phrases import say
from copilot.reports import VitalityReport
from copilot.store import Store

WEEK = 7 * 86400
Q, A = KINDS.index("question"), KINDS.index("answer")
DEFINITIONS = {
    "active_members": "members (not staff, not bots, not opted out of analytics) with at least one message in the period",
    "known_members": "such members known by the end of the period",
    "concentration_top10pct": "share of member messages written by the most active 10% of active members",
    "retention_week_k": "share of members whose first message fell in a week who are active again k weeks later "
                        "(cohorts whose week k has ended)",
    "member_posts": "questions and top-level posts created by members",
    "answers_by_members_share": "replies to questions written by members / all replies to questions",
    "advocacy": "member messages that spontaneously recommend the brand or community (French and English patterns)",
    "thanks": "member messages thanking someone",
    "member_to_member_reply_share": "replies from a member to a member / all replies whose parent is known",
    "first_answered_by_member_share": "member questions whose first reply came from a member / answered member questions",
    "brand_share": "messages by staff and bots / all messages",
    "median_first_response_hours": "median time from a member question to the first reply by someone else (CHAOSS)",
    "member_questions": "questions asked by members, opening a thread or inside one",
    "unanswered_48h_share": "member questions older than 48 hours with no answer by someone else within 48 hours "
                            "(a comment such as '+1' is a response, not an answer)",
    "tension": "messages with conflict or strongly negative words (French and English patterns)",
}


class Cohorts:
    """Per-snapshot arrays reused by every report: first reply time per row and first-seen week per author.
    A later snapshot that only appended rows extends them from the new rows alone (`extend`)."""

    def __init__(self, snap: Snapshot, brand_side: np.ndarray):
        self.snap, self.n = snap, snap.n
        self.first_reply = np.full(snap.n, np.inf)
        self.first_answer = np.full(snap.n, np.inf)
        self.first_replier_brand = np.zeros(snap.n, dtype=bool)
        self._add(snap, brand_side, 0)
        self.first_seen = snap.derived("first_seen")

    def extend(self, snap: Snapshot, brand_side: np.ndarray) -> "Cohorts":
        """The cohorts of `snap`, a later snapshot of the same rows plus appended ones (copies: reports reading
        this one are not disturbed)."""
        out = Cohorts.__new__(Cohorts)
        out.snap, out.n = snap, snap.n
        grow = snap.n - self.n
        out.first_reply = np.concatenate([self.first_reply, np.full(grow, np.inf)])
        out.first_answer = np.concatenate([self.first_answer, np.full(grow, np.inf)])
        out.first_replier_brand = np.concatenate([self.first_replier_brand, np.zeros(grow, dtype=bool)])
        out._add(snap, brand_side, self.n)
        out.first_seen = snap.derived("first_seen")
        return out

    def _add(self, snap: Snapshot, brand_side: np.ndarray, start: int) -> None:
        """Fold in the replies among rows [start, n) (rows are in time order)."""
        rows = np.arange(start, snap.n)
        replies = rows[(snap.parent[rows] >= 0) & (snap.author[rows] >= 0)]
        others = replies[snap.author[replies] != snap.author[snap.parent[replies]]]
        # A reply stamped before its question (clock skew, an export's rounding, a bad import) says nothing about
        # how fast anyone answered: it would make waiting times negative.
        others = others[snap.created[others] >= snap.created[snap.parent[others]]]
        if not len(others):
            return
        parents = snap.parent[others]
        unanswered_before = np.isinf(self.first_reply[parents])
        np.minimum.at(self.first_reply, parents, snap.created[others])
        answers = others[snap.kind[others] == A]
        np.minimum.at(self.first_answer, snap.parent[answers], snap.created[answers])
        # the first occurrence per parent among these rows is its first reply, unless it had one before them
        uniq, first_idx = np.unique(parents, return_index=True)
        fresh = unanswered_before[first_idx]
        self.first_replier_brand[uniq[fresh]] = brand_side[others[first_idx[fresh]]]


class VitalityService:
    """Vitality reports for brands."""

    def __init__(self, store: Store, snapshots: Snapshots, clock: Any = lambda: datetime.now(timezone.utc)):
        self.store, self.snapshots, self.clock = store, snapshots, clock
        self._cohorts: dict[str, tuple[tuple[Any, ...], Cohorts]] = {}
        self._joined: dict[str, tuple[Any, frozenset[Any], np.ndarray]] = {}  # per members view: joined times

    def report(self, brand: str, *, window_days: int = 28, now: datetime | None = None) -> VitalityReport:
        """KPIs for the window, a weekly series, and weak-signal alerts."""
        now = now or self.clock()
        snap = self.snapshots.get(brand)
        view = self.store.members_view(brand)  # roles and members from one read
        roles = view.roles
        brand_side = snap.author_mask(roles["staff"] | roles["bot"])
        opted_out = snap.author_mask(roles["no_analytics"])
        member = (snap.author >= 0) & ~brand_side & ~opted_out
        cohorts = self._cohorts_of(brand, snap, brand_side, roles["staff"] | roles["bot"])
        hi = now.timestamp()
        lo = hi - window_days * 86400
        known = self._known_members(brand, view, snap, cohorts, hi)
        ctx = Periods(snap, cohorts, member, brand_side, opted_out, known)
        kpis = ctx.kpis(lo, hi)
        kpis["retention"] = retention(snap, cohorts, member, lo, hi)
        n_weeks = max(1, math.ceil(window_days / 7))
        weekly = [{"week_start": datetime.fromtimestamp(hi - (n_weeks - i) * WEEK, tz=timezone.utc),
                   **flatten(ctx.kpis(hi - (n_weeks - i) * WEEK, hi - (n_weeks - i - 1) * WEEK))}
                  for i in range(n_weeks)]
        alerts = weak_signals(ctx, hi, lang=self.store.get_brand(brand).language)
        return VitalityReport.model_validate({
            "window": {"since": datetime.fromtimestamp(lo, tz=timezone.utc), "until": now, "days": window_days,
                       "as_of": snap.as_of},
            "kpis": kpis, "weekly": weekly, "alerts": alerts, "definitions": DEFINITIONS,
            "excluded": {"staff_and_bots": len(roles["staff"] | roles["bot"]), "opted_out": len(roles["no_analytics"])}})

    def _cohorts_of(self, brand: str, snap: Snapshot, brand_side: np.ndarray, brand_accounts: set[Any]) -> Cohorts:
        """Cohorts depend on the rows and on who is the brand: reused while both hold, extended when the snapshot
        only gained rows (a live community), computed afresh otherwise."""
        key = (snap.epoch, snap.generation, frozenset(brand_accounts))
        cached = self._cohorts.get(brand)
        if cached is not None and cached[0] == key and cached[1].n <= snap.n:
            cohorts = cached[1] if cached[1].n == snap.n else cached[1].extend(snap, brand_side)
        else:
            cohorts = Cohorts(snap, brand_side)
        self._cohorts[brand] = (key, cohorts)
        return cohorts

    def _known_members(self, brand: str, view: Any, snap: Snapshot, cohorts: Cohorts, hi: float) -> int:
        """Members (not staff, bots or opted out) who joined before `hi` and whose first message, if any, is before
        it: those joined before `hi`, less the few authors first seen at or after it (none when `hi` is now)."""
        members, base, changed, roles = view.by_key, view.base, view.changed, view.roles
        skip = roles["staff"] | roles["bot"] | roles["no_analytics"]
        cached = self._joined.get(brand)
        if cached is not None and cached[0] is members and cached[1] == skip:
            pass
        elif cached is not None and cached[0] is base and base is not None and changed is not None and cached[1] == skip:
            cached = (members, skip, _patch_joined(cached[2], base, members, changed, skip))
        else:
            cached = (members, skip, np.sort(np.fromiter((_joined(m) for key, m in members.items() if key not in skip),
                                                         dtype=np.float64)))
        self._joined[brand] = cached
        known = int(np.searchsorted(cached[2], hi, "left"))
        # An author whose every message was deleted keeps a code with no first message (inf) until a rebuild: like
        # a member who never wrote, they count when they joined before `hi`.
        seen = cohorts.first_seen[:len(snap.authors)]
        for code in np.flatnonzero((seen >= hi) & np.isfinite(seen)).tolist():
            key = snap.authors[code]
            m = members.get(key)
            if m is not None and key not in skip and (m.joined_at is None or m.joined_at.timestamp() < hi):
                known -= 1
        return known


def _joined(m: Any) -> float:
    return m.joined_at.timestamp() if m.joined_at else -np.inf


def _patch_joined(joined: np.ndarray, base: Any, members: Any, changed: frozenset[Any], skip: frozenset[Any]) -> np.ndarray:
    """The sorted join times of the counted members, moved from `base` to `members` (which re-read `changed`)."""
    out = joined
    for key in changed:
        if key in skip:
            continue
        before = base.get(key)
        if before is not None:
            out = np.delete(out, int(np.searchsorted(out, _joined(before), "left")))
        out = np.insert(out, int(np.searchsorted(out, _joined(members[key]), "left")), _joined(members[key]))
    return out


class Periods:
    """The KPIs of periods of one report, each computed once (the weekly series and the weak signals share weeks)."""

    def __init__(self, snap: Snapshot, cohorts: Cohorts, member: np.ndarray, brand_side: np.ndarray,
                 opted_out: np.ndarray, known: int):
        self.snap, self.known = snap, known
        self.ctx = (snap, cohorts, member, brand_side, opted_out)
        self._done: dict[tuple[float, float], dict[str, Any]] = {}

    def kpis(self, lo: float, hi: float) -> dict[str, Any]:
        """`period_kpis` for [lo, hi), a fresh copy each time (callers add to it)."""
        done = self._done.get((lo, hi))
        if done is None:
            done = self._done[(lo, hi)] = period_kpis(self.ctx, lo, hi, self.known)
        return {k: dict(v) if isinstance(v, dict) else v for k, v in done.items()}


def period_kpis(ctx: tuple[Any, ...], lo: float, hi: float, known: int) -> dict[str, Any]:
    """Every KPI except retention for [lo, hi)."""
    snap, cohorts, member, brand_side, opted_out = ctx
    w = snap.window(lo, hi)
    rows = np.arange(w.start, w.stop)
    rows = rows[~opted_out[rows]]
    mem_rows = rows[member[rows]]
    counts = np.bincount(snap.author[mem_rows], minlength=len(snap.authors)) if len(mem_rows) else np.zeros(0)
    active = counts[counts > 0]
    top = np.sort(active)[::-1][: max(1, math.ceil(0.1 * len(active)))] if len(active) else active
    p = snap.parent[rows]
    reply = rows[p >= 0]
    parent_known = reply[snap.author[snap.parent[reply]] >= 0]
    m2m = parent_known[member[parent_known] & member[snap.parent[parent_known]]]
    to_q = reply[snap.kind[snap.parent[reply]] == Q]
    member_q = mem_rows[snap.kind[mem_rows] == Q]
    answered = member_q[np.isfinite(cohorts.first_reply[member_q])]
    waits = (cohorts.first_reply[answered] - snap.created[answered]) / 3600
    old = member_q[snap.created[member_q] < hi - 48 * 3600]
    unanswered = old[~(cohorts.first_answer[old] <= snap.created[old] + 48 * 3600)]
    return {
        "participation": {"active_members": int(len(active)), "known_members": known,
                          "active_share": round(len(active) / known, 4) if known else 0.0,
                          "concentration_top10pct": round(float(top.sum() / active.sum()), 4) if len(active) else 0.0},
        "contribution": {"member_posts": int((~snap.is_reply[mem_rows] & ((snap.kind[mem_rows] == Q) | (snap.kind[mem_rows] == 2))).sum()),
                         "answers_by_members_share": round(float(member[to_q].mean()), 4) if len(to_q) else 0.0,
                         "member_messages": int(len(mem_rows))},
        "advocacy": {"advocacy": int(snap.advocacy[mem_rows].sum()), "thanks": int(snap.thanks[mem_rows].sum())},
        "horizontality": {"member_to_member_reply_share": round(len(m2m) / len(parent_known), 4) if len(parent_known) else 0.0,
                          "first_answered_by_member_share": round(float((~cohorts.first_replier_brand[answered]).mean()), 4)
                          if len(answered) else 0.0,
                          "brand_share": round(float(brand_side[rows].mean()), 4) if len(rows) else 0.0},
        "responsiveness": {"member_questions": int(len(member_q)),
                           "median_first_response_hours": round(float(np.median(waits)), 2) if len(waits) else None,
                           "unanswered_48h_share": round(len(unanswered) / len(old), 4) if len(old) else 0.0},
        "tension": {"tension": int(snap.tension[rows].sum()),
                    "tension_share": round(float(snap.tension[rows].mean()), 4) if len(rows) else 0.0},
        "messages": int(len(rows)),
    }


def flatten(kpis: dict[str, Any]) -> dict[str, Any]:
    """The weekly row: one level of numbers."""
    out: dict[str, Any] = {"messages": kpis["messages"]}
    for group, values in kpis.items():
        if isinstance(values, dict):
            out.update(values)
    out.pop("known_members", None)
    return out


def retention(snap: Snapshot, cohorts: Cohorts, member: np.ndarray, lo: float, hi: float) -> dict[str, Any]:
    """Weekly cohorts of new members (first message in the window's weeks or the 8 before) still active later."""
    start = lo - 8 * WEEK
    w = snap.window(start, hi)
    valid = np.arange(w.start, w.stop)
    valid = valid[member[valid]]
    authors = snap.author[valid]
    week_of = np.floor((snap.created[valid] - start) / WEEK).astype(np.int64)
    n_weeks = int((hi - start) // WEEK)
    # who was active in which week, as a table over author codes (weeks asked about stay below n_weeks + 8)
    active = np.zeros((len(cohorts.first_seen), n_weeks + 10), dtype=bool)
    active[authors, week_of] = True
    new_authors = np.flatnonzero(active.any(axis=1))
    first_week = np.floor((cohorts.first_seen[new_authors] - start) / WEEK)
    in_range = (first_week >= 0) & (first_week < n_weeks)
    cohort_authors, cohort_week = new_authors[in_range], first_week[in_range].astype(np.int64)
    sizes = np.bincount(cohort_week, minlength=n_weeks)
    kept_by_k = {k: np.bincount(cohort_week, weights=active[cohort_authors, cohort_week + k],
                                minlength=n_weeks).astype(np.int64) for k in (1, 4, 8)}
    rows, totals = [], {1: [0, 0], 4: [0, 0], 8: [0, 0]}
    for wk in np.flatnonzero(sizes).tolist():
        size = int(sizes[wk])
        row: dict[str, Any] = {"week_start": datetime.fromtimestamp(start + wk * WEEK, tz=timezone.utc), "size": size}
        for k in (1, 4, 8):
            if start + (wk + k + 1) * WEEK <= hi:
                kept = int(kept_by_k[k][wk])
                row[f"week_{k}"] = round(kept / size, 4)
                totals[k][0] += kept
                totals[k][1] += size
            else:
                row[f"week_{k}"] = None
        rows.append(row)
    return {"cohorts": rows[-12:], **{f"week_{k}": round(t[0] / t[1], 4) if t[1] else None for k, t in totals.items()}}


def weak_signals(periods: Periods, hi: float, lang: str = "en") -> list[dict[str, Any]]:
    """Engagement dropping against its trailing baseline, tension spikes, interests shifting between channels."""
    snap = periods.snap
    weeks = [periods.kpis(hi - (k + 1) * WEEK, hi - k * WEEK) for k in range(5)]  # 0 = last week
    alerts = []
    last, base = weeks[0], weeks[1:]
    active_base = np.mean([w["participation"]["active_members"] for w in base])
    msgs_base = np.mean([w["messages"] for w in base])
    if active_base >= 3 and last["participation"]["active_members"] < 0.7 * active_base:
        alerts.append({"type": "engagement_drop", "severity": "high" if last["participation"]["active_members"] < 0.5 * active_base else "medium",
                       "message": say(lang, "vitality.engagement_drop", active=last["participation"]["active_members"],
                                      baseline=f"{active_base:.1f}"),
                       "evidence": {"last_week_active": last["participation"]["active_members"],
                                    "baseline_active": round(float(active_base), 1), "last_week_messages": last["messages"],
                                    "baseline_messages": round(float(msgs_base), 1)}})
    tension_base = np.mean([w["tension"]["tension_share"] for w in base])
    if last["tension"]["tension"] >= 3 and last["tension"]["tension_share"] >= max(2 * tension_base, 0.05):
        w = snap.window(hi - WEEK, hi)
        rows = np.arange(w.start, w.stop)
        ids = [snap.ids[r] for r in rows[snap.tension[rows]][-5:]]
        alerts.append({"type": "tension", "severity": "high",
                       "message": say(lang, "vitality.tension", count=last["tension"]["tension"],
                                      share=f"{last['tension']['tension_share']:.0%}", baseline=f"{tension_base:.0%}"),
                       "evidence": {"message_ids": ids, "share": last["tension"]["tension_share"],
                                    "baseline_share": round(float(tension_base), 4)}})
    shift = channel_shift(snap, hi, lang=lang)
    if shift:
        alerts.append(shift)
    return alerts


def channel_shift(snap: Snapshot, hi: float, days: int = 28, lang: str = "en") -> dict[str, Any] | None:
    """Total-variation distance between the channel mix of the last `days` and the `days` before."""
    def mix(lo: float, up: float) -> np.ndarray:
        w = snap.window(lo, up)
        ch = snap.channel[w.start:w.stop]
        ch = ch[ch >= 0]
        counts = np.bincount(ch, minlength=len(snap.channels)).astype(float)
        return counts / counts.sum() if counts.sum() else counts

    now_mix, before = mix(hi - days * 86400, hi), mix(hi - 2 * days * 86400, hi - days * 86400)
    if not now_mix.sum() or not before.sum():
        return None
    distance = 0.5 * float(np.abs(now_mix - before).sum())
    if distance < 0.2:
        return None
    moves = sorted(((snap.channels[i], round(float(now_mix[i] - before[i]), 4)) for i in range(len(snap.channels))),
                   key=lambda kv: -abs(kv[1]))[:4]
    return {"type": "interests_shift", "severity": "medium",
            "message": say(lang, "vitality.interests_shift", distance=f"{distance:.0%}", days=days),
            "evidence": {"distance": round(distance, 4), "changes": [{"channel": c, "share_change": d} for c, d in moves]}}
