"""A member's data export and a brand's LLM usage come typed from their services (copilot/members.py,
copilot/usage.py): what the API returns, a Python caller reads the same way."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from copilot.errors import NotFound
from copilot.members import MemberExport, export_member
from copilot.types import MemberRecord, MessageRecord
from copilot.usage import UsageOut, tokens_used, usage_report
from tests.conftest import ADMIN

NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)


def _record(copilot, brand: str, day: str, prompt: int, completion: int, cost: float, *, ok: bool = True) -> None:  # type: ignore[no-untyped-def]
    copilot.store.record_usage(brand, feature="ritual", model="openai/gpt-4o-mini", prompt_tokens=prompt,
                               completion_tokens=completion, cost=cost, calls=1, failures=0 if ok else 1, ok=ok,
                               day=day)


def test_usage_is_summed_per_day_within_the_window_and_totalled(copilot, client, brand):
    client.post("/v1/brands", json={"id": "other", "name": "Other"}, headers=ADMIN)
    _record(copilot, brand, "2026-11-10", 999, 999, 9.0)  # before a 7-day window
    _record(copilot, brand, "2026-11-15", 100, 20, 0.0012344)
    _record(copilot, brand, "2026-11-15", 50, 10, 0.001, ok=False)
    _record(copilot, brand, "2026-11-20", 300, 40, 0.003)
    _record(copilot, "other", "2026-11-20", 7000, 700, 1.0)  # another brand's calls never count
    report = usage_report(copilot.store, brand, days=7, now=NOW)
    assert isinstance(report, UsageOut)
    assert [(d.day, d.calls, d.failures, d.prompt_tokens, d.completion_tokens) for d in report.days] == [
        ("2026-11-15", 2, 1, 150, 30), ("2026-11-20", 1, 0, 300, 40)]
    assert report.days[0].cost == pytest.approx(0.002234)
    assert report.totals.day == "2026-11-14.." and report.totals.calls == 3 and report.totals.prompt_tokens == 450
    assert report.totals.cost == pytest.approx(0.005234)
    assert tokens_used(copilot.store, brand, "2026-11-20") == 340  # what the daily budget compares
    assert tokens_used(copilot.store, brand, "2026-11-21") == 0


def test_the_usage_route_returns_the_service_report(copilot, client, brand):
    today = datetime.now(timezone.utc).date().isoformat()
    _record(copilot, brand, today, 120, 30, 0.5)
    body = client.get(f"/v1/brands/{brand}/usage", params={"days": 1}, headers=ADMIN).json()
    assert body == usage_report(copilot.store, brand, days=1).model_dump(mode="json")
    assert body["totals"]["prompt_tokens"] == 120 and body["days"][0]["day"] == today


def test_a_member_export_holds_their_messages_and_spotlights_and_nobody_elses(copilot, client, brand):
    copilot.ingestor.ingest(brand, [
        MemberRecord(source_id="lea", name="Léa"), MemberRecord(source_id="tom", name="Tom"),
        MessageRecord(source_id="l2", author="lea", created_at=NOW, text="Et la suite ?", kind="comment",
                      reply_to="t1", reactions={"👍": 2}),
        MessageRecord(source_id="l1", author="lea", created_at=NOW.replace(day=1), text="Première question",
                      kind="question", channel="aide"),
        MessageRecord(source_id="t1", author="tom", created_at=NOW, text="Réponse de Tom", kind="answer")])
    members = {m.source_id: m.id for m in copilot.store.list_members(brand)[0]}
    copilot.store.add_spotlight(brand, members["lea"], channel="general", note="merci", actor="ed",
                                featured_at=NOW)
    export = export_member(copilot.store, brand, members["lea"])
    assert isinstance(export, MemberExport) and export.member.name == "Léa" and export.member.role == "member"
    assert [(m.id, m.channel, m.reactions) for m in export.messages] == [("l1", "aide", {}), ("l2", None, {"👍": 2})]
    assert [(r.channel, r.note) for r in export.spotlight_records] == [("general", "merci")]
    over_http = client.get(f"/v1/brands/{brand}/members/{members['lea']}/export", headers=ADMIN).json()
    assert over_http == export.model_dump(mode="json")
    client.post("/v1/brands", json={"id": "other", "name": "Other"}, headers=ADMIN)
    with pytest.raises(NotFound):
        export_member(copilot.store, "other", members["lea"])
