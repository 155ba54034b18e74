"""Spotlight's counts, score and guards, each on a tiny community written here by hand (issue 17, mutation check).

Every expectation below was counted by hand from the ten messages of `HISTORY`, not read off the code: who
answered whose question first, which answer was accepted, who thanked whom, whose post drew a reaction or a
reply, how many people each member talked with and in how many weeks. The published model
(`MODEL_DESCRIPTION`, shown to API users) gives the score from those counts.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from copilot.errors import InvalidInput
from copilot.features.snapshot import build
from copilot.features.spotlight import MODEL_DESCRIPTION, MemberStats, contributions, eligibility, member_stats, rank, why
from copilot.runtime import Copilot

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)  # a Monday; the 28-day window [T0, T0 + 28 d) is "now"


def at(days: float, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


# (id, author, time, kind, reply_to, reactions, accepted, channel, thanks)
HISTORY = [
    ("q1", "ben", at(0), "question", None, 0, False, "help", False),
    ("a1", "ana", at(0, 1), "answer", "q1", 2, True, "help", False),     # first answer to q1, accepted, 2 reactions
    ("a2", "cy", at(0, 2), "answer", "q1", 0, False, "help", False),     # a second answer to q1
    ("c1", "ben", at(0, 3), "comment", "a1", 0, False, "help", True),    # ben thanks ana
    ("c2", "ana", at(0, 4), "comment", "q1", 0, False, "help", False),   # a comment on ben's question: half help
    ("p1", "dee", at(8), "post", None, 3, False, "show", False),         # a post that drew 3 reactions
    ("p2", "dee", at(9), "post", None, 0, False, "show", False),         # a post nobody engaged with
    ("q2", "cy", at(15), "question", None, 0, False, "help", False),
    ("a3", "ana", at(15, 1), "answer", "q2", 0, False, "help", False),   # first answer to q2
    ("a4", "cy", at(15, 2), "answer", "q2", 0, False, "help", False),    # cy answers her own question
]
LO, HI = T0.timestamp(), at(28).timestamp()


def snapshot(history=HISTORY):
    rows = [(n, "native", sid, author, when, kind, reply, None, reactions, accepted, channel, 1 if thanks else 0)
            for n, (sid, author, when, kind, reply, reactions, accepted, channel, thanks) in enumerate(history, 1)]
    return build(rows, epoch=0, hwm=len(rows)).publish()


def counts_of(snap, stats: MemberStats, who: str) -> dict[str, float]:
    i = snap.authors.index(("native", who))
    return {k: float(getattr(stats, k)[i]) for k in ("help_given", "first_answers", "solutions", "well_received",
                                                      "thanks_received", "content_created", "reactions_received",
                                                      "reach", "active_weeks", "messages")}


def test_contribution_counts_match_a_hand_count():
    snap = snapshot()
    stats = member_stats(snap, LO, HI)
    # ana: answers a1 (1) and a3 (1), comment c2 on a question (0.5) -> 2.5 help; first on q1 and q2; a1 accepted
    # and reacted to; thanked by ben; talked with ben and cy; active in weeks 0 and 2.
    assert counts_of(snap, stats, "ana") == {
        "help_given": 2.5, "first_answers": 2, "solutions": 1, "well_received": 1, "thanks_received": 1,
        "content_created": 0, "reactions_received": 2, "reach": 2, "active_weeks": 2, "messages": 3}
    # ben: his question q1 got answers (content); he talked with ana (c1, a1) and cy (a2 answered him).
    assert counts_of(snap, stats, "ben") == {
        "help_given": 0, "first_answers": 0, "solutions": 0, "well_received": 0, "thanks_received": 0,
        "content_created": 1, "reactions_received": 0, "reach": 2, "active_weeks": 1, "messages": 2}
    # cy: a second answer (help, not first); q2 answered by ana is content; her own answer a4 is not help.
    assert counts_of(snap, stats, "cy") == {
        "help_given": 1, "first_answers": 0, "solutions": 0, "well_received": 0, "thanks_received": 0,
        "content_created": 1, "reactions_received": 0, "reach": 2, "active_weeks": 2, "messages": 3}
    # dee: p1 drew reactions (content), p2 drew nothing (volume, not content); nobody talked with her.
    assert counts_of(snap, stats, "dee") == {
        "help_given": 0, "first_answers": 0, "solutions": 0, "well_received": 0, "thanks_received": 0,
        "content_created": 1, "reactions_received": 3, "reach": 0, "active_weeks": 1, "messages": 2}


def test_love_follows_the_published_model():
    snap = snapshot()
    love = member_stats(snap, LO, HI).love()
    ana = 3 * 1 + 2 * 2 + 1.5 * 2.5 + 1 * 1 + 0.3 * 0 + 0.5 * math.log(1 + 2) + 0.4 * 2 + 0.3 * 2
    dee = 0.3 * 1 + 0.5 * math.log(1 + 3) + 0.3 * 1
    assert love[snap.authors.index(("native", "ana"))] == pytest.approx(ana)
    assert love[snap.authors.index(("native", "dee"))] == pytest.approx(dee)
    for words in ("3·solutions", "2·first answers", "1.5·help", "1·thanks", "0.3·content", "0.5·log(1+reactions)",
                  "0.4·reach", "0.3·active weeks", "×1.2", "twice", "15%"):
        assert words in MODEL_DESCRIPTION


def test_window_is_half_open_and_a_channel_filter_keeps_its_own_messages():
    snap = snapshot()
    # [day 8, day 15): only dee's two posts, and nothing of q2 (day 15, excluded)
    mid = member_stats(snap, at(8).timestamp(), at(15).timestamp())
    assert {a[1]: int(mid.messages[i]) for i, a in enumerate(snap.authors) if mid.messages[i]} == {"dee": 2}
    show = snap.channels.index("show")
    only_show = member_stats(snap, LO, HI, show)
    assert {a[1]: int(only_show.messages[i]) for i, a in enumerate(snap.authors) if only_show.messages[i]} == {"dee": 2}
    assert only_show.help_given.sum() == 0
    # active weeks count from the window's start: ana's day-0 and day-15 messages are in weeks 0 and 2 -> 2;
    # a window starting on day 14 puts q2/a3 in its week 0 only.
    late = member_stats(snap, at(14).timestamp(), HI)
    assert counts_of(snap, late, "ana")["active_weeks"] == 1 and counts_of(snap, late, "ana")["first_answers"] == 1


def test_main_profile_is_the_most_frequent_channel_and_kind_of_help():
    snap = snapshot()
    stats = member_stats(snap, LO, HI)
    ana, dee = snap.authors.index(("native", "ana")), snap.authors.index(("native", "dee"))
    assert snap.channels[stats.main_channel[ana]] == "help" and snap.channels[stats.main_channel[dee]] == "show"
    # ana: a1 is a solution (0), a3 and c2 are help on questions (1) -> mostly help; dee: one post that counts
    # as content (2) and one that does not (3), the tie goes to the smaller code.
    assert int(stats.main_kind[ana]) == 1 and int(stats.main_kind[dee]) == 2


def _stats(**values: list[float]) -> MemberStats:
    n = len(next(iter(values.values())))
    base = {k: np.zeros(n) for k in MemberStats.__dataclass_fields__}
    base["main_channel"] = np.arange(n)  # every member a different profile: no variety penalty
    base["main_kind"] = np.zeros(n, dtype=np.int64)
    return MemberStats(**{**base, **{k: np.asarray(v, dtype=float) for k, v in values.items()}})


def _ranked(stats, previous, *, eligible=None, newcomers=None, limit=5, variety=True):
    n = len(stats.messages)
    return rank(None, stats, previous, eligible=np.ones(n, bool) if eligible is None else np.asarray(eligible),
                newcomers=np.zeros(n, bool) if newcomers is None else np.asarray(newcomers), limit=limit,
                variety=variety)


def test_rising_needs_three_messages_twice_the_previous_love_and_an_old_member():
    # love = 1·thanks here. Member 0: 3 messages, love 2 against 1 before: exactly twice -> rising.
    # 1: love 1.9 against 1 -> not. 2: only 2 messages -> not. 3: love 1 against nothing (floor 0.5) -> rising.
    # 4: love 2 against 1, but new in this window -> a newcomer, not rising.
    now = _stats(thanks_received=[2, 1.9, 4, 1, 2], messages=[3, 3, 2, 3, 3])
    before = _stats(thanks_received=[1, 1, 1, 0, 1], messages=[1, 1, 1, 0, 1])
    out = {i: b for i, _, b in _ranked(now, before, newcomers=[False, False, False, False, True])}
    assert {i: out[i]["rising"] for i in out} == {0: True, 1: False, 2: False, 3: True, 4: False}
    assert out[4]["newcomer"] and not out[0]["newcomer"]
    # floor: love 0.99 against nothing is not twice 0.5
    low = _ranked(_stats(thanks_received=[0.99], messages=[3]), _stats(thanks_received=[0], messages=[0]))
    assert low[0][2]["rising"] is False


def test_rising_multiplies_the_score_by_1_2_and_scores_are_relative_to_the_top():
    # 0: love 10, steady; 1: love 9, rising (9 >= 2·4) -> 10.8 overtakes 10 -> scores 1.0 and 10/10.8
    now = _stats(thanks_received=[10, 9], messages=[5, 5])
    before = _stats(thanks_received=[10, 4], messages=[5, 5])
    ranked = _ranked(now, before)
    assert [i for i, _, _ in ranked] == [1, 0]
    assert [s for _, s, _ in ranked] == [1.0, round(10 / 10.8, 4)]
    assert ranked[0][2]["love"] == 9.0


def test_ineligible_and_zero_scores_are_never_suggested_and_limit_holds():
    now = _stats(thanks_received=[5, 4, 0, 3, 2, 1], messages=[3] * 6)
    ranked = _ranked(now, _stats(thanks_received=[5] * 6, messages=[3] * 6),
                     eligible=[True, False, True, True, True, True], limit=3)
    assert [i for i, _, _ in ranked] == [0, 3, 4]
    assert _ranked(_stats(thanks_received=[0, 0], messages=[1, 1]), _stats(thanks_received=[0, 0], messages=[0, 0])) == []


def test_variety_penalty_is_fifteen_percent_per_shared_profile():
    # 0 and 1 share a profile, 2 differs: 1 keeps its place only when 0.85·score(1) >= score(2)
    def order(score_1: float, score_2: float) -> list[int]:
        stats = _stats(thanks_received=[10, score_1, score_2], messages=[5] * 3)
        stats.main_channel = np.array([0, 0, 1])
        return [i for i, _, _ in _ranked(stats, _stats(thanks_received=[10] * 3, messages=[5] * 3), limit=3)]
    assert order(9.0, 7.6) == [0, 1, 2]   # 7.65 > 7.6
    assert order(9.0, 7.7) == [0, 2, 1]   # 7.65 < 7.7
    # a third member of the same profile pays twice: 0.85² · 10 = 7.225
    stats = _stats(thanks_received=[10, 10, 10, 7.3], messages=[5] * 4)
    stats.main_channel, stats.main_kind = np.array([0, 0, 0, 1]), np.array([1, 1, 1, 1])
    picked = [i for i, _, _ in _ranked(stats, _stats(thanks_received=[10] * 4, messages=[5] * 4), limit=4)]
    assert picked == [0, 1, 3, 2]  # 1 at 8.5 beats 3 at 7.3; then 2 at 7.225 loses to 3


# ---------------------------------------------------------------- through the service, on a real store
MEMBERS = [("ana", "Ana", "member", "opt_in"), ("ben", "Ben", "member", "unknown"), ("cy", "Cy", "member", "unknown"),
           ("dee", "Dee", "member", "opt_in"), ("sam", "Sam", "staff", "unknown"), ("fay", "Fay", "member", "opt_out"),
           ("gus", "Gus", "member", "opt_in"), ("hal", "Hal", "member", "opt_in")]
EXTRA = [
    ("q0", "ben", at(-10), "question", None, 0, False, "help", False),   # the previous window: ana answered once
    ("a0", "ana", at(-10, 1), "answer", "q0", 0, False, "help", False),
    ("a5", "sam", at(1), "answer", "q1", 0, False, "help", False),       # staff answers ben too
    ("p3", "fay", at(20), "post", None, 5, False, "show", False),        # opted out, however good
    ("h1", "hal", at(-20), "post", None, 4, False, "show", False),       # hal, active in the previous window only:
    ("h2", "hal", at(-9), "answer", "q0", 0, False, "help", False),      # a popular post, then help to ben
]
TEXTS = {"c1": "Thanks Ana, that fixed it.", "q1": "How do I reset the device?", "q2": "Where is the log file?"}


@pytest.fixture
def community(copilot: Copilot, tmp_path: Path) -> Copilot:
    copilot.store.create_brand("tiny", "Tiny", "en")
    lines = [{"type": "member", "source_id": sid, "name": name, "role": role, "consent_spotlight": consent}
             for sid, name, role, consent in MEMBERS]
    for sid, author, when, kind, reply, reactions, accepted, channel, _ in sorted(HISTORY + EXTRA, key=lambda r: r[2]):
        lines.append({"type": "message", "source_id": sid, "channel": channel, "author": author,
                      "created_at": when.isoformat(), "text": TEXTS.get(sid, f"Message {sid} about the topic."),
                      "reply_to": reply, "thread": None, "kind": kind, "is_solution": accepted,
                      "reactions": {"+1": reactions} if reactions else {},
                      "permalink": f"https://example.org/m/{sid}"})
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    copilot.ingest_file("tiny", path, "jsonl")
    return copilot


def suggest(copilot: Copilot, **kwargs):
    return copilot.spotlight.suggest("tiny", window_days=28, now=at(28), **kwargs)


def test_suggestions_rank_exclude_and_explain(community: Copilot):
    out = suggest(community)
    got = [(s["member"]["source_id"], s["score"]) for s in out["suggestions"]]
    # ana: love 13.70 (see above), rising against 4.2 before (1.5 help + 2 first + 0.4 reach + 0.3 week) -> 16.44.
    # cy 3.2 (a newcomer), ben 0.3 content + 0.4·3 reach (ana, cy, sam) + 0.3 week = 1.8, dee 1.29 (a newcomer).
    ana = 13.6993 * 1.2
    assert [g[0] for g in got] == ["ana", "cy", "ben", "dee"]
    assert [g[1] for g in got] == pytest.approx([1.0, 3.2 / ana, 1.8 / ana, 1.2931 / ana], abs=1e-3)
    assert out["excluded"] == {"staff": 1, "bot": 0, "opted_out": 1, "cooldown": 0}
    first = out["suggestions"][0]
    assert first["breakdown"]["rising"] and not first["breakdown"]["newcomer"]
    assert [s["breakdown"]["newcomer"] for s in out["suggestions"]] == [False, True, False, True]
    assert first["why"] == ("Ana: 3 replies to other members, 1 accepted solution, 2 first answers, thanked 1 time, "
                            "connecting with 2 people over 2 active weeks. Rising fast.")
    # evidence: the accepted answer first, then help on questions (oldest first at equal reactions)
    assert [e["id"] for e in first["evidence"]] == ["a1", "c2", "a3"] and first["evidence"][0]["is_solution"]
    assert first["consent"]["note"] is None
    assert out["suggestions"][2]["consent"] == {"spotlight": "unknown", "analytics": "unknown",
                                                "note": "ask for consent before featuring"}
    assert first["member"]["name"] == "Ana" and first["shoutout"]["language"] == "en"
    assert out["window"]["since"] == T0 and out["window"]["days"] == 28
    # the report says which snapshot of the history it reflects (taken when the history was loaded, just now)
    as_of = out["window"]["as_of"]
    assert as_of is not None and abs(datetime.now(timezone.utc) - as_of) < timedelta(minutes=10)


def test_cooldown_and_channel_of_the_service(community: Copilot):
    ana = community.store.members_by_key("tiny")[("native", "ana")].id
    community.store.add_spotlight("tiny", ana, featured_at=at(18), channel=None, note=None, actor="ed")
    out = suggest(community)
    assert "ana" not in [s["member"]["source_id"] for s in out["suggestions"]] and out["excluded"]["cooldown"] == 1
    assert "ana" in [s["member"]["source_id"] for s in suggest(community, cooldown_days=9)["suggestions"]]
    assert "ana" not in [s["member"]["source_id"] for s in suggest(community, cooldown_days=10)["suggestions"]]
    show = suggest(community, channel="show", cooldown_days=0)
    assert [s["member"]["source_id"] for s in show["suggestions"]] == ["dee"] and show["channel"] == "show"
    assert suggest(community, channel="nowhere")["suggestions"] == []
    assert len(suggest(community, limit=2, cooldown_days=0)["suggestions"]) == 2


def test_shoutout_drafts_refuse_staff_opted_out_and_silent_members(community: Copilot):
    ids = {k[1]: m.id for k, m in community.store.members_by_key("tiny").items()}
    for who in ("sam", "fay", "gus"):
        with pytest.raises(InvalidInput) as err:
            community.spotlight.draft_shoutout("tiny", ids[who], window_days=28, actor="ed", now=at(28))
        assert err.value.field == "member_id"
    draft = community.spotlight.draft_shoutout("tiny", ids["ana"], window_days=28, actor="ed", now=at(28))
    assert draft.kind == "shoutout" and draft.title == "Thank you, Ana" and "Ana" in draft.body
    assert draft.payload["citations"] == ["a1", "c2", "a3"] and draft.payload["member_id"] == ids["ana"]
    assert draft.payload["consent"] == {"spotlight": "opt_in", "analytics": "unknown"}
    assert draft.payload["language"] == "en" and draft.payload["engine"] == "rules"
    # a member who is not the community's top helper gets a shout-out built from her own messages
    dee = community.spotlight.draft_shoutout("tiny", ids["dee"], window_days=28, actor="ed", now=at(28))
    assert dee.title == "Thank you, Dee" and dee.payload["citations"] == ["p1", "p2"]  # most reacted-to first
    # a member with messages, none of them in the window: a plain thank-you, nothing cited (not an error)
    quiet = community.spotlight.draft_shoutout("tiny", ids["ben"], window_days=7, actor="ed", now=at(60))
    assert quiet.body == ("A big thank you to Ben! Over the last weeks: a presence that mattered. Did Ben help you "
                          "too? Say so in reply and keep the conversation going.")
    assert quiet.payload["citations"] == [] and quiet.payload["guards"]["ok"]
    # evidence puts help on someone's question before a post with more reactions
    hal = community.spotlight.draft_shoutout("tiny", ids["hal"], window_days=28, actor="ed", now=at(0))
    assert hal.payload["citations"] == ["h2", "h1"]


def test_contribution_phrases_round_help_and_skip_zero_counts():
    b = {"help_given": 2.5, "solutions": 0, "first_answers": 1, "thanks_received": 0, "content_created": 2,
         "reach": 4, "active_weeks": 3, "rising": False, "newcomer": True}
    # help is counted in halves (a comment on a question weighs 0.5), said as a whole count: 2.5 -> 3
    assert contributions(b, "en", "spotlight", ("help_given", "solutions", "first_answers")) == \
        ["3 replies to other members", "1 first answer"]
    assert why("Zoe", b, "en") == ("Zoe: 3 replies to other members, 1 first answer, 2 topics started, "
                                   "connecting with 4 people over 3 active weeks. A newcomer.")
    quiet = {**b, "help_given": 0.0, "first_answers": 0, "content_created": 0, "newcomer": False}
    assert why("Zoe", quiet, "en") == "Zoe: a steady presence, connecting with 4 people over 3 active weeks."


def test_eligibility_gives_one_reason_per_excluded_member():
    class M:
        def __init__(self, id: int, role: str = "member", spot: str = "unknown", analytics: str = "unknown"):
            self.id, self.role, self.consent_spotlight, self.consent_analytics = id, role, spot, analytics
    snap = snapshot()
    members = {("native", "ana"): M(1, "staff", "opt_out"), ("native", "ben"): M(2, "bot"),
               ("native", "cy"): M(3, analytics="opt_out"), ("native", "dee"): M(4)}
    ok, reasons = eligibility(snap, members, {4})
    assert reasons == {"staff": 1, "bot": 1, "opted_out": 1, "cooldown": 1} and not ok.any()
    ok, reasons = eligibility(snap, {("native", "dee"): M(4, spot="opt_out")}, set())
    assert ok.tolist() == [True, True, True, False] and reasons["opted_out"] == 1
