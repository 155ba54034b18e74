"""Tests written from the surviving mutants of a sampled mutation run on copilot/features/rituals.py (issue 17):
behaviour a reader would notice, checked on hand-made inputs."""

from datetime import datetime, timezone

from copilot.features.rituals import draft_problems, failing_guards, next_slot
from copilot.outputs import RitualDraftOut
from copilot.types import Ritual


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
