"""The brand feed audit on a two-week history written here (issue 17, mutation check): every count of the report
(brand posts, promotional share and quota, asks, member contributions left without an answer or a reaction, brand
share, the weekly rows, the worst posts) against numbers worked out by hand from the list of messages below.

Which posts are promotional comes from the rules engine (its own tests pin it); the first assertions of each test
check those premises, so a change there names itself instead of surfacing as a wrong count here."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from copilot.features.drift import check_text
from copilot.runtime import Copilot
from copilot.types import Charter, MemberRecord, MessageRecord, PromotionPolicy, Term

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
LOUD = "Buy now, last chance, only today! Tag 3 friends to win."  # 1 ask (tag 3 friends)
CALM = "Who is riding on Sunday? Tell us your route."  # no ask
SALE = "Follow us and share this post: the summer sale ends tonight, buy now!"  # 2 asks (follow us, share this)
THANKS = "Thanks to everyone who came to the repair evening on Thursday."  # no ask
OLD = "Buy now, last chance!"


def msg(sid: str, author: str, days_ago: float, text: str, kind: str, **kw: object) -> MessageRecord:
    return MessageRecord(source_id=sid, author=author, created_at=NOW - timedelta(days=days_ago), text=text,
                         kind=kind, channel="general", **kw)  # type: ignore[arg-type]


HISTORY = [
    MemberRecord(source_id="team", role="staff"), MemberRecord(source_id="helper-bot", role="bot"),
    MemberRecord(source_id="a"), MemberRecord(source_id="b"), MemberRecord(source_id="c"),
    msg("p0", "team", 20, OLD, "post"),                                  # before the 14-day window
    msg("q7", "a", 20, "Which tyres for gravel?", "question"),          # before the window
    msg("p1", "team", 13, LOUD, "post"),                                 # week 0 starts 14 days ago
    msg("q1", "a", 12, "How do I adjust my brakes?", "question"),
    msg("r1", "b", 11.9, "Turn the barrel adjuster.", "answer", reply_to="q1"),
    msg("q2", "b", 11, "Is the Thursday workshop free?", "question", reactions={"👍": 2}),
    msg("p2", "team", 10, CALM, "post"),
    msg("q3", "c", 9, "Where can I park my bike downtown?", "question"),
    msg("r3", "c", 8.9, "Also, is it covered?", "comment", reply_to="q3"),  # the asker's own reply: no answer
    msg("post4", "a", 8, "Photos from our ride along the canal.", "post"),
    msg("r4", "team", 7.9, "Lovely photos, thank you.", "answer", reply_to="post4"),
    msg("p3", "team", 6, SALE, "post"),                                  # week 1 starts 7 days ago
    msg("q6", "helper-bot", 5, "Did you read the rules?", "question"),  # a bot: not a member contribution
    msg("q8", "c", 4, "Any advice for a first century ride?", "question"),
    msg("p4", "team", 2, THANKS, "post"),
    msg("q5", "b", 1, "Who has a spare pump?", "question"),             # younger than 48 h: not judged yet
]


def _load(copilot: Copilot, brand: str = "shop") -> None:
    copilot.store.create_brand(brand, "Shop", "en")
    copilot.ingestor.ingest(brand, HISTORY)
    copilot.drift.clock = lambda: NOW


def test_premises_which_posts_are_promotional():
    assert [check_text(t).promotional for t in (OLD, LOUD, CALM, SALE, THANKS)] == [True, True, False, True, False]
    assert [check_text(t).verdict != "ok" for t in (LOUD, CALM, SALE, THANKS)] == [True, False, True, False]


def test_feed_report_counts_on_a_hand_written_history(copilot: Copilot):
    _load(copilot)
    r = copilot.drift.report("shop", window_days=14, now=NOW).model_dump()
    assert r["window"]["since"] == NOW - timedelta(days=14) and r["window"]["days"] == 14
    assert (r["brand_posts"], r["promotional_posts"], r["promo_share"]) == (4, 2, 0.5)  # p1 p2 p3 p4; p1 and p3
    # no charter: no quota to judge against, and four posts are too few to judge one anyway
    assert r["max_promotional_share"] is None and r["over_quota"] is False and r["quota_passage_id"] is None
    assert r["quota_judged"] is False and r["quota_note"] == "only 4 brand posts in the window; the quota is judged from 10"
    assert (r["asks_total"], r["asks_per_week"]) == (3, 1.5)
    # contributions: q1 (answered by b), q2 (reacted to), q3 (only its asker replied), post4 (staff replied), q8
    assert (r["member_contributions"], r["unacknowledged"], r["unacknowledged_share"]) == (5, 2, 0.4)
    assert [(e["id"], e["author"], e["channel"]) for e in r["unacknowledged_examples"]] == [("q3", "c", "general"),
                                                                                             ("q8", "c", "general")]
    assert r["unacknowledged_examples"][0]["created_at"] == NOW - timedelta(days=9)
    # 14 messages in the window, 5 of them by the staff account (p1 r4 p2 p3 p4; the bot is not the brand's voice)
    assert (r["messages"], r["brand_messages"], r["brand_share"]) == (14, 5, round(5 / 14, 4))


def test_feed_report_weekly_rows(copilot: Copilot):
    _load(copilot)
    weekly = copilot.drift.report("shop", window_days=14, now=NOW).model_dump()["weekly"]
    assert [w["week_start"] for w in weekly] == [NOW - timedelta(days=14), NOW - timedelta(days=7)]
    # week 0: p1 (promotional, 1 ask), p2; 9 messages, 3 by staff. week 1: p3 (promotional, 2 asks), p4; 5 messages, 2 by staff
    assert [(w["brand_posts"], w["promotional_posts"], w["promo_share"], w["asks"]) for w in weekly] == \
        [(2, 1, 0.5, 1), (2, 1, 0.5, 2)]
    assert [(w["messages"], w["brand_share"]) for w in weekly] == [(9, round(3 / 9, 4)), (5, 0.4)]
    scores = {t: check_text(t).score for t in (LOUD, CALM, SALE, THANKS)}
    assert [w["mean_drift_score"] for w in weekly] == [round((scores[LOUD] + scores[CALM]) / 2, 4),
                                                       round((scores[SALE] + scores[THANKS]) / 2, 4)]
    assert all(w["mean_drift_score"] > 0 for w in weekly)


def test_worst_posts_are_the_drifting_ones_worst_first(copilot: Copilot):
    _load(copilot)
    worst = copilot.drift.report("shop", window_days=14, now=NOW).model_dump()["worst_posts"]
    assert {w["id"]: w["excerpt"] for w in worst} == {"p1": LOUD, "p3": SALE}
    assert [w["score"] for w in worst] == sorted((w["score"] for w in worst), reverse=True)
    assert all(w["verdict"] == check_text(w["excerpt"]).verdict and w["flags"] for w in worst)


def test_an_empty_window_reports_zeros_not_errors(copilot: Copilot):
    _load(copilot)
    r = copilot.drift.report("shop", window_days=1, now=NOW - timedelta(days=30)).model_dump()
    assert (r["brand_posts"], r["promo_share"], r["messages"], r["brand_share"], r["unacknowledged_share"]) == \
        (0, 0.0, 0, 0.0, 0.0)
    assert r["worst_posts"] == [] and [w["brand_posts"] for w in r["weekly"]] == [0]


def _charter(share: float) -> Charter:
    return Charter(languages=["en"], promotion_policy=PromotionPolicy(max_promotional_share=share, passage_id="p-promo"))


def _brand_with_posts(copilot: Copilot, brand: str, promotional: int, total: int) -> None:
    copilot.store.create_brand(brand, brand, "en")
    posts = [msg(f"{brand}{i}", "team", 1 + i, OLD if i < promotional else THANKS, "post") for i in range(total)]
    copilot.ingestor.ingest(brand, [MemberRecord(source_id="team", role="staff"), *posts])


def test_the_quota_is_judged_from_ten_posts_and_only_above_the_charter_share(copilot: Copilot):
    ch = _charter(0.2)
    cases = {"at": (2, 10), "above": (3, 10), "few": (3, 9)}  # 20 % (allowed), 30 % (over), 33 % of too few posts
    for brand, (promotional, total) in cases.items():
        _brand_with_posts(copilot, brand, promotional, total)
        copilot.store.add_charter_version(brand, ch.model_dump(mode="json"), "At most one post in five promotes.",
                                          "markdown")
    reports = {b: copilot.drift.report(b, window_days=30, now=NOW).model_dump() for b in cases}
    assert {b: (r["brand_posts"], r["promotional_posts"]) for b, r in reports.items()} == \
        {"at": (10, 2), "above": (10, 3), "few": (9, 3)}
    assert {b: r["over_quota"] for b, r in reports.items()} == {"at": False, "above": True, "few": False}
    assert {b: r["quota_judged"] for b, r in reports.items()} == {"at": True, "above": True, "few": False}
    assert reports["at"]["quota_note"] is None and "9" in reports["few"]["quota_note"]
    assert all(r["max_promotional_share"] == 0.2 and r["quota_passage_id"] == "p-promo" for r in reports.values())


def test_a_check_reads_the_feed_of_the_30_days_before_it_is_published(copilot: Copilot):
    _load(copilot)
    now = copilot.drift.check("shop", CALM)["feed"]
    assert (now["brand_posts"], now["promotional_posts"], now["promo_share"]) == (5, 3, 0.6)  # p0..p4; p0 p1 p3
    assert now["max_promotional_share"] is None
    # scheduled 15 days back, its 30 days hold only p0 (20 days ago)
    earlier = copilot.drift.check("shop", CALM, scheduled_at=NOW - timedelta(days=15))["feed"]
    assert (earlier["brand_posts"], earlier["promotional_posts"], earlier["promo_share"]) == (1, 1, 1.0)


def test_a_new_charter_rescores_the_posts_already_scored(copilot: Copilot):
    _load(copilot)
    strict = Charter(languages=["en"], banned_terms=[Term(term="route", passage_id="p-lexicon")])
    assert check_text(CALM).verdict == "ok" and check_text(CALM, charter=strict).verdict != "ok"  # premise
    before = copilot.drift.report("shop", window_days=14, now=NOW).model_dump()
    assert {w["id"] for w in before["worst_posts"]} == {"p1", "p3"}
    copilot.store.add_charter_version("shop", strict.model_dump(mode="json"), "Never write 'route'.", "markdown")
    after = copilot.drift.report("shop", window_days=14, now=NOW).model_dump()
    assert {w["id"] for w in after["worst_posts"]} == {"p1", "p2", "p3"}  # p2 says "route": scored again


def test_a_message_on_a_week_boundary_counts_in_the_week_that_starts_there(copilot: Copilot):
    copilot.store.create_brand("edge", "Edge", "en")
    copilot.ingestor.ingest("edge", [MemberRecord(source_id="team", role="staff"),
                                     msg("e1", "a", 7, "Who rides to the coast on Saturday?", "question"),  # week 1 starts here
                                     msg("e2", "team", 7, THANKS, "post")])
    weekly = copilot.drift.report("edge", window_days=14, now=NOW).model_dump()["weekly"]
    assert [(w["messages"], w["brand_posts"]) for w in weekly] == [(0, 0), (2, 1)]
