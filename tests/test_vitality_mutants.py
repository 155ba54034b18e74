"""Vitality KPIs and weak signals at their definitions and thresholds (issue 17, mutation check). Each history is
written here (no sample brand) and each expected number worked out by hand from the definitions in
copilot/features/vitality.py (DEFINITIONS): who counts as an active or known member, the top-10 % concentration,
the retention cohorts, and when an engagement drop, a tension spike or a shift between channels raises an alert."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from copilot.runtime import Copilot
from copilot.types import MemberRecord, MessageRecord

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
WEEK = timedelta(weeks=1)
CALM = "Nice ride along the river this morning"
TENSE = "C'est une honte, une vraie arnaque, je suis furieux"   # tension words: honte, arnaque, furieux
THANKS = "Merci beaucoup pour ton aide"
ADVOCACY = "Je recommande cette communauté à tous"


def msg(sid: str, author: str, when: datetime, text: str = CALM, kind: str = "post", channel: str = "general",
        **kw: object) -> MessageRecord:
    return MessageRecord(source_id=sid, author=author, created_at=when, text=text, kind=kind, channel=channel,
                         **kw)  # type: ignore[arg-type]


def _brand(copilot: Copilot, brand: str, records: list[MemberRecord | MessageRecord]) -> None:
    copilot.store.create_brand(brand, brand, "en")
    copilot.ingestor.ingest(brand, records)


def test_participation_contribution_and_signals_of_a_small_month(copilot: Copilot):
    joined = NOW - timedelta(days=60)
    members = [MemberRecord(source_id=f"m{i}", joined_at=joined) for i in range(10)]
    silent = [MemberRecord(source_id=f"s{i}", joined_at=joined) for i in range(2)]  # known, never wrote
    others = [MemberRecord(source_id="staff", role="staff"), MemberRecord(source_id="bot", role="bot"),
              MemberRecord(source_id="o", consent_analytics="opt_out", joined_at=joined)]
    t = NOW - timedelta(days=20)
    rows = [msg(f"a{k}", "m0", t + timedelta(hours=k)) for k in range(10)]  # m0 writes 10 of the 19 member messages
    rows += [msg("b1", "m1", t, THANKS), msg("b2", "m2", t, TENSE), msg("b3", "m3", t, ADVOCACY),
             *[msg(f"b{i}", f"m{i}", t) for i in range(4, 10)]]
    rows += [msg("st", "staff", t), msg("bt", "bot", t), *[msg(f"o{k}", "o", t, TENSE) for k in range(3)]]
    _brand(copilot, "month", [*members, *silent, *others, *rows])
    report = copilot.vitality.report("month", window_days=28, now=NOW)
    k = report["kpis"]
    assert k["participation"] == {"active_members": 10, "known_members": 12, "active_share": round(10 / 12, 4),
                                  "concentration_top10pct": round(10 / 19, 4)}  # the top 10 % of 10 is m0 alone
    # the opted-out member's three messages are not counted anywhere; staff and bot messages are the brand's
    assert k["messages"] == 21 and k["contribution"]["member_messages"] == 19 and k["contribution"]["member_posts"] == 19
    assert k["horizontality"]["brand_share"] == round(2 / 21, 4)
    assert k["advocacy"] == {"advocacy": 1, "thanks": 1}
    assert k["tension"] == {"tension": 1, "tension_share": round(1 / 21, 4)}
    assert report["excluded"] == {"staff_and_bots": 2, "opted_out": 1}
    assert report["window"]["since"] == NOW - timedelta(days=28) and report["window"]["days"] == 28


def test_weekly_rows_split_the_window_at_week_boundaries(copilot: Copilot):
    rows = [msg("w0", "a", NOW - 3 * WEEK + timedelta(hours=1)), msg("w1", "b", NOW - 2 * WEEK + timedelta(hours=1)),
            msg("w1b", "c", NOW - WEEK - timedelta(hours=1)), msg("w2", "a", NOW - timedelta(hours=1))]
    _brand(copilot, "weeks", rows)
    weekly = copilot.vitality.report("weeks", window_days=21, now=NOW)["weekly"]
    assert [w["week_start"] for w in weekly] == [NOW - 3 * WEEK, NOW - 2 * WEEK, NOW - WEEK]
    assert [(w["messages"], w["active_members"]) for w in weekly] == [(1, 1), (2, 2), (1, 1)]
    assert "known_members" not in weekly[0]
    # a window that is not a whole number of weeks still gets a row for its partial week
    assert len(copilot.vitality.report("weeks", window_days=10, now=NOW)["weekly"]) == 2


def test_retention_of_one_weekly_cohort(copilot: Copilot):
    # The report looks at the window's 4 weeks and the 8 before: weeks 0..11 from `start`, all ended by NOW.
    start = NOW - 12 * WEEK
    at = lambda wk, h: start + wk * WEEK + timedelta(hours=h)  # noqa: E731
    rows = [msg("x0", "x", at(2, 1)), msg("x1", "x", at(3, 1)), msg("x4", "x", at(6, 1)),   # back 1 and 4 weeks later
            msg("y0", "y", at(2, 2)), msg("y1", "y", at(3, 2)),                              # back 1 week later
            msg("z0", "z", at(2, 3)),                                                        # never back
            msg("n0", "n", at(11, 1))]                                                       # joins in the last week
    _brand(copilot, "ret", rows)
    r = copilot.vitality.report("ret", window_days=28, now=NOW)["kpis"]["retention"]
    assert [(c["week_start"], c["size"]) for c in r["cohorts"]] == [(start + 2 * WEEK, 3), (start + 11 * WEEK, 1)]
    assert {k: r["cohorts"][0][k] for k in ("week_1", "week_4", "week_8")} == \
        {"week_1": round(2 / 3, 4), "week_4": round(1 / 3, 4), "week_8": 0.0}
    # the last week's cohort has no later week yet: not a zero, an unknown, and left out of the totals
    assert {k: r["cohorts"][1][k] for k in ("week_1", "week_4", "week_8")} == \
        {"week_1": None, "week_4": None, "week_8": None}
    assert (r["week_1"], r["week_4"], r["week_8"]) == (round(2 / 3, 4), round(1 / 3, 4), 0.0)


def _activity(copilot: Copilot, brand: str, per_week: list[int], *, tense_last: int = 0) -> None:
    """`per_week[i]` members post once in week i (the last entry is the week before NOW); `tense_last` of the
    last week's posts carry tension words."""
    rows = []
    for wk, count in enumerate(per_week):
        begin = NOW - (len(per_week) - wk) * WEEK
        rows += [msg(f"{wk}-{m}", f"m{m}", begin + timedelta(hours=m + 1),
                     TENSE if wk == len(per_week) - 1 and m < tense_last else CALM) for m in range(count)]
    _brand(copilot, brand, rows)


def _alerts(copilot: Copilot, brand: str) -> dict[str, dict]:
    return {a["type"]: a for a in copilot.vitality.report(brand, window_days=28, now=NOW)["alerts"]}


def test_engagement_drop_fires_below_70_percent_of_the_baseline_and_is_high_below_half(copilot: Copilot):
    expected = {7: None, 6: "medium", 5: "medium", 4: "high"}  # baseline 10 active members a week
    for last, severity in expected.items():
        _activity(copilot, f"drop{last}", [10, 10, 10, 10, last])
        alert = _alerts(copilot, f"drop{last}").get("engagement_drop")
        assert (alert and alert["severity"]) == severity, last
        if alert:
            evidence = alert["evidence"].model_dump(exclude_none=True)
            assert evidence == {"last_week_active": last, "baseline_active": 10.0,
                                "last_week_messages": last, "baseline_messages": 10.0}
            assert str(last) in alert["message"] and "10.0" in alert["message"]
    _activity(copilot, "tiny", [2, 2, 2, 2, 0])  # a baseline under 3 active members is too small to judge
    assert "engagement_drop" not in _alerts(copilot, "tiny")


def test_tension_alert_needs_three_tense_messages_and_a_rise(copilot: Copilot):
    _activity(copilot, "two", [8, 8, 8, 8, 8], tense_last=2)
    assert "tension" not in _alerts(copilot, "two")
    _activity(copilot, "three", [8, 8, 8, 8, 8], tense_last=3)
    alert = _alerts(copilot, "three")["tension"]
    assert alert["severity"] == "high" and alert["evidence"]["share"] == round(3 / 8, 4)
    assert alert["evidence"]["baseline_share"] == 0.0 and alert["evidence"]["message_ids"] == ["4-0", "4-1", "4-2"]
    assert "3" in alert["message"]


def _channels(copilot: Copilot, brand: str, before: dict[str, int], recent: dict[str, int]) -> None:
    rows = []
    for label, mix, days_ago in (("b", before, 40), ("r", recent, 10)):
        n = 0
        for channel, count in mix.items():
            for _ in range(count):
                rows.append(msg(f"{label}{n}", f"u{n}", NOW - timedelta(days=days_ago, hours=n), channel=channel))
                n += 1
    _brand(copilot, brand, rows)


def test_a_channel_shift_is_reported_from_a_fifth_of_the_mix(copilot: Copilot):
    _channels(copilot, "small", {"repairs": 10}, {"repairs": 9, "rides": 1})  # distance 0.1
    assert "interests_shift" not in _alerts(copilot, "small")
    _channels(copilot, "big", {"repairs": 10}, {"repairs": 7, "rides": 3})  # distance 0.3
    alert = _alerts(copilot, "big")["interests_shift"]
    assert alert["severity"] == "medium" and alert["evidence"]["distance"] == 0.3
    assert sorted((c["channel"], c["share_change"]) for c in alert["evidence"]["changes"]) == \
        [("repairs", -0.3), ("rides", 0.3)]
    assert "30%" in alert["message"] and "28" in alert["message"]


def test_a_report_of_a_past_date_counts_only_the_members_known_then(copilot: Copilot):
    day = lambda n: NOW - timedelta(days=n)  # noqa: E731
    _brand(copilot, "past", [
        MemberRecord(source_id="a", joined_at=day(30)), MemberRecord(source_id="b", joined_at=day(30)),
        MemberRecord(source_id="c", joined_at=day(3)), MemberRecord(source_id="staff", role="staff", joined_at=day(30)),
        msg("1", "a", day(20)),      # known on day 10: joined before, wrote before
        msg("2", "b", day(5)),       # joined before day 10 but first wrote after it: not yet known then
        msg("3", "c", day(2)),       # joined after day 10
        msg("4", "staff", day(4)),   # the brand's account never counts
    ])
    k = copilot.vitality.report("past", window_days=28, now=day(10))["kpis"]["participation"]
    assert (k["active_members"], k["known_members"], k["active_share"]) == (1, 1, 1.0)
    today = copilot.vitality.report("past", window_days=28, now=NOW)["kpis"]["participation"]
    assert (today["active_members"], today["known_members"]) == (3, 3)


def test_a_question_is_judged_unanswered_once_48_hours_have_passed(copilot: Copilot):
    _brand(copilot, "wait", [
        msg("late", "a", NOW - timedelta(hours=48, seconds=20), "Who can lend me a pump?", kind="question"),
        msg("fresh", "b", NOW - timedelta(hours=47, minutes=59), "Where is the Sunday ride meeting?", kind="question"),
    ])
    r = copilot.vitality.report("wait", window_days=7, now=NOW)
    assert r["kpis"]["responsiveness"] == {"member_questions": 2, "median_first_response_hours": None,
                                           "unanswered_48h_share": 1.0}  # only "late" is judged, and it is unanswered
    assert len(r["weekly"]) == 1  # a one-week window has one weekly row
