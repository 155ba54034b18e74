"""Tests written from the surviving mutants of a sampled mutation run on copilot/features/rituals.py (issue 17):
behaviour a reader would notice, checked on hand-made inputs."""

from datetime import datetime, timedelta, timezone

from copilot.features.rituals import RitualRequest, draft_problems, failing_guards, next_slot
from copilot.outputs import RitualDraftOut
from copilot.runtime import Copilot
from copilot.types import MemberRecord, MessageRecord, Ritual


def test_every_failing_guard_is_named_together():
    guards = {"banned_terms": ["promo"], "instructions": [], "drift": {"verdict": "watch"},
              "length": {"ok": False}, "emoji": {"ok": True}, "exclamation": {"ok": False}, "contact_data": []}
    assert failing_guards(guards) == ["banned_terms", "drift", "length", "exclamation"]
    assert failing_guards({"drift": {"verdict": "ok"}, "length": {"ok": True}}) == []


def test_the_next_slot_is_nine_sharp_on_the_named_day():
    now = datetime(2026, 11, 25, 15, 42, 37, 123, tzinfo=timezone.utc)  # a Wednesday
    slot = next_slot("every Friday", now)
    assert slot == datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)
    assert next_slot(None, now) == datetime(2026, 11, 26, 9, 0, 0, tzinfo=timezone.utc)
    assert next_slot("chaque mercredi", now) == datetime(2026, 12, 2, 9, 0, 0, tzinfo=timezone.utc)


def test_a_good_variant_does_not_hide_a_bad_body():
    ritual = Ritual(name="Open Mic", cadence="every Friday", format=None, passage_id="p1")
    out = RitualDraftOut(title="Open Mic", body="Open Mic.", citations=[],
                         variants=["Open Mic is back on Friday: bring a song, a poem or a story to share with us all."])
    problems = draft_problems(out, lang="en", register=None, ritual=ritual, charter=None, grounded=False)
    assert any(p.startswith("body") for p in problems), problems


def test_a_built_in_ritual_is_suggested_where_most_past_editions_ran_and_cites_only_messages(copilot: Copilot):
    now = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)

    def post(sid: str, author: str, days: int, text: str, channel: str, kind: str = "post") -> MessageRecord:
        return MessageRecord(source_id=sid, author=author, created_at=now - timedelta(days=days), text=text,
                             channel=channel, kind=kind)

    copilot.store.create_brand("club", "Club", "en")
    copilot.ingestor.ingest("club", [
        MemberRecord(source_id="team", role="staff"),
        post("e1", "team", 21, "Weekly challenge: ride 20 km this week and post a photo of your route.", "general"),
        post("e2", "team", 14, "Weekly challenge: fix a flat tyre in under ten minutes.", "general"),
        post("e3", "team", 7, "Weekly challenge: one sunrise ride before work.", "stage"),
        post("q1", "ann", 2, "How do you fix a flat tyre on the road without tools?", "general", kind="question"),
    ])
    copilot.rituals.clock = lambda: now
    payload = copilot.rituals.draft("club", RitualRequest(ritual="weekly challenge"), actor="ed").payload
    assert payload["suggested_channel"] == "general"  # two of its three past editions, not the last one
    # a built-in ritual has no charter passage to cite: every citation is a message of the brand
    assert payload["citations"] and all(copilot.store.get_messages("club", [f"native:{i}"]) for i in payload["citations"])
