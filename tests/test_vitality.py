from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient

from copilot.runtime import Copilot
from copilot.sample import load_sample
from copilot.types import MemberRecord, MessageRecord
from tests.conftest import make_key

NOW = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)


def msg(i, author, when, text="Salut", **kw):
    return MessageRecord(source_id=str(i), author=author, created_at=when, text=text, **kw)


def test_sample_kpis_have_definitions_and_exclude_staff_and_opted_out(copilot: Copilot):
    load_sample(copilot)
    report = copilot.vitality.report("roue-libre", window_days=28, now=NOW)
    k = report["kpis"]
    assert 0 < k["participation"]["active_members"] <= k["participation"]["known_members"] <= 29
    assert 0.3 < k["horizontality"]["member_to_member_reply_share"] < 1 and 0 < k["horizontality"]["brand_share"] < 0.3
    assert k["responsiveness"]["median_first_response_hours"] > 0 and len(report["weekly"]) == 4
    assert {"active_members", "retention_week_k", "median_first_response_hours", "tension"} <= set(report["definitions"])
    assert report["kpis"]["retention"]["cohorts"] and report["excluded"]["staff_and_bots"] == 3
    lucie = next(m for m in copilot.store.list_members("roue-libre", limit=100)[0] if m.name == "Lucie")
    copilot.store.update_member("roue-libre", lucie.id, {"consent_analytics": "opt_out"})
    after = copilot.vitality.report("roue-libre", window_days=28, now=NOW)["kpis"]
    lucie_msgs = sum(1 for r in copilot.store.conversation_rows("roue-libre")
                     if r[2] == "lucie" and NOW - timedelta(days=28) <= r[3] < NOW)
    assert lucie_msgs > 0
    assert after["contribution"]["member_messages"] == k["contribution"]["member_messages"] - lucie_msgs
    assert after["participation"]["active_members"] == k["participation"]["active_members"] - 1
    assert after["participation"]["known_members"] == k["participation"]["known_members"] - 1


def test_exact_kpis_on_a_small_history(copilot: Copilot):
    copilot.store.create_brand("mini", "Mini", "fr")
    t0 = NOW - timedelta(days=10)
    copilot.ingestor.ingest("mini", [
        MemberRecord(source_id="staff", role="staff"), MemberRecord(source_id="a"), MemberRecord(source_id="b"),
        MemberRecord(source_id="c"),
        msg(1, "a", t0, "Comment régler mes freins ?", kind="question"),
        msg(2, "b", t0 + timedelta(hours=2), "Tourne la molette.", kind="answer", reply_to="1"),
        msg(3, "a", t0 + timedelta(hours=3), "Merci, ça a marché !", kind="comment", reply_to="2"),
        msg(4, "c", t0 + timedelta(hours=1), "Et pour la chaîne ?", kind="question"),
        msg(5, "staff", t0 + timedelta(hours=7), "Regarde la patte.", kind="answer", reply_to="4"),
        msg(6, "b", t0 + timedelta(days=1), "Quelle pression pour mes pneus ?", kind="question"),
        msg(7, "c", t0 + timedelta(days=2), "Je recommande cet atelier à tout le monde.", kind="post"),
    ])
    k = copilot.vitality.report("mini", window_days=28, now=NOW)["kpis"]
    assert k["participation"]["active_members"] == 3 and k["participation"]["known_members"] == 3
    assert k["responsiveness"] == {"member_questions": 3, "median_first_response_hours": 4.0,
                                   "unanswered_48h_share": round(1 / 3, 4)}
    assert k["horizontality"]["member_to_member_reply_share"] == round(2 / 3, 4)
    assert k["horizontality"]["first_answered_by_member_share"] == 0.5
    assert k["horizontality"]["brand_share"] == round(1 / 7, 4)
    assert k["contribution"]["answers_by_members_share"] == 0.5
    assert k["advocacy"] == {"advocacy": 1, "thanks": 1}


def test_a_reply_stamped_before_its_question_is_not_a_response(copilot: Copilot):
    # Exports carry clock skew: a reply dated a minute before the question it answers (seen in real data and in
    # the sample history) must not make the waiting time negative.
    copilot.store.create_brand("skew", "Skew", "en")
    t0 = NOW - timedelta(days=3)
    copilot.ingestor.ingest("skew", [
        msg(1, "a", t0, "How do I reset it?", kind="question"),
        msg(2, "b", t0 - timedelta(minutes=5), "Hold the button.", kind="answer", reply_to="1"),
        msg(3, "c", t0 + timedelta(hours=6), "Or unplug it for a minute.", kind="answer", reply_to="1"),
        msg(4, "b", t0 + timedelta(hours=1), "Is it waterproof?", kind="question"),
        msg(5, "a", t0 - timedelta(hours=2), "Yes.", kind="answer", reply_to="4"),
    ])
    r = copilot.vitality.report("skew", window_days=28, now=NOW)["kpis"]["responsiveness"]
    assert r["member_questions"] == 2 and r["median_first_response_hours"] == 6.0  # only the reply after question 1
    assert r["unanswered_48h_share"] == 0.5  # question 4 got no reply after it was asked
    load_sample(copilot)  # its history has 37 replies stamped before their question
    weekly = copilot.vitality.report("roue-libre", window_days=28, now=NOW)["weekly"]
    medians = [w["median_first_response_hours"] for w in weekly if w["median_first_response_hours"] is not None]
    assert medians and min(medians) >= 0, medians


def _weeks(copilot: Copilot, brand: str, per_week: list[int], *, channel_for=lambda wk: "atelier",
           tense_last: int = 0) -> None:
    copilot.store.create_brand(brand, brand, "fr")
    rows, n = [], 0
    weeks = len(per_week)
    for wk, count in enumerate(per_week):
        start = NOW - timedelta(weeks=weeks - wk)
        for m in range(count):
            n += 1
            tense = wk == weeks - 1 and m < tense_last
            rows.append(msg(n, f"m{m}", start + timedelta(hours=m + 1),
                            "C'est une honte, une vraie arnaque, je suis furieux" if tense else "Belle sortie ce matin",
                            channel=channel_for(wk), kind="post"))
    copilot.ingestor.ingest(brand, rows)


def test_weak_signals_fire_with_evidence(copilot: Copilot):
    _weeks(copilot, "drop", [10, 10, 10, 10, 10, 10, 10, 2])
    alerts = {a["type"]: a for a in copilot.vitality.report("drop", window_days=28, now=NOW)["alerts"]}
    assert alerts["engagement_drop"]["evidence"]["last_week_active"] == 2
    assert alerts["engagement_drop"]["evidence"]["baseline_active"] == 10.0
    _weeks(copilot, "tense", [8] * 8, tense_last=5)
    alerts = {a["type"]: a for a in copilot.vitality.report("tense", window_days=28, now=NOW)["alerts"]}
    assert "engagement_drop" not in alerts and len(alerts["tension"]["evidence"]["message_ids"]) == 5
    _weeks(copilot, "shift", [8] * 8, channel_for=lambda wk: "atelier" if wk < 4 else "sorties")
    alerts = {a["type"]: a for a in copilot.vitality.report("shift", window_days=28, now=NOW)["alerts"]}
    assert alerts["interests_shift"]["evidence"]["distance"] == 1.0 and set(alerts) == {"interests_shift"}
    _weeks(copilot, "calm", [8] * 8)
    assert copilot.vitality.report("calm", window_days=28, now=NOW)["alerts"] == []


def test_vitality_endpoint(client: TestClient, copilot: Copilot):
    load_sample(copilot)
    key = make_key(client, "roue-libre", "read")
    r = client.get("/v1/brands/roue-libre/vitality", params={"window_days": 28}, headers=key)
    assert r.status_code == 200 and set(r.json()["kpis"]) >= {"participation", "retention", "contribution", "advocacy",
                                                              "horizontality", "responsiveness"}
    assert client.get("/v1/brands/roue-libre/vitality", params={"window_days": 3}, headers=key).status_code == 422
