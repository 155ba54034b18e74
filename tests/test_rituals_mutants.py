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
    # the templates made it: the draft says so, and it cost no tokens
    assert payload["engine"] == "rules" and payload["prompt"]["name"] == "ritual_templates"
    assert payload["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}


def test_an_opening_that_names_the_ritual_replaces_the_templates_announcement(copilot: Copilot):
    from copilot.types import Charter, Passage

    fmt = 'Every Tuesday the moderators open a thread that starts with "🧵 Tool Tuesday #N — " and pin it.'
    charter = Charter(languages=["en"], passages=[Passage(id="p-rit", section="Rituals", text=fmt)],
                      rituals=[Ritual(name="Tool Tuesday", cadence="every Tuesday", format=fmt, passage_id="p-rit")])
    copilot.store.create_brand("tools", "Tools", "en")
    copilot.store.add_charter_version("tools", charter.model_dump(mode="json"), fmt, "markdown")
    copilot.rituals.clock = lambda: datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
    body = copilot.rituals.draft("tools", RitualRequest(ritual="Tool Tuesday", variants=1), actor="ed").body
    opening, _, rest = body.partition("\n")
    assert opening == "🧵 Tool Tuesday"  # the brand's own opening words lead, without the editor's "#N"
    assert rest[:1].isupper() and not rest.startswith("Tool Tuesday"), body  # and the name is not announced twice


def test_a_model_draft_keeps_its_variants_and_the_next_one_is_told_what_editors_rejected(settings):
    from copilot.embed import HashEmbedder
    from tests.fakes import FakeLLM

    now = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
    first = {"title": "Weekly challenge", "body": "Weekly challenge: ride somewhere new this week, then tell the "
             "others in a reply where you went and what you found there.",
             "variants": ["Weekly challenge: fix a flat tyre at home this week, then tell us in a reply how long "
                          "it took you and which tools you used."], "citations": ["e1"]}
    second = {**first, "variants": []}
    llm = FakeLLM(first, second)
    c = Copilot(settings, embedder=HashEmbedder(), llm=llm)
    try:
        c.store.create_brand("club", "Club", "en")
        c.ingestor.ingest("club", [
            MemberRecord(source_id="team", role="staff"),
            MessageRecord(source_id="e1", author="team", created_at=now - timedelta(days=7), channel="general",
                          text="Weekly challenge: ride 20 km this week and post a photo of your route.", kind="post")])
        c.rituals.clock = lambda: now
        draft = c.rituals.draft("club", RitualRequest(ritual="weekly challenge", variants=2), actor="ed")
        assert draft.payload["engine"] == "llm" and draft.payload["variants"] == first["variants"]
        assert draft.payload["prompt"]["budget_tokens"] == settings.llm_max_prompt_tokens
        assert c.store.decide_draft(draft.id, action="reject", from_status="drafted", to_status="rejected", version=1,
                                    actor="ed", comment="no distance targets, please") is not None
        again = c.rituals.draft("club", RitualRequest(ritual="weekly challenge", variants=1), actor="ed")
        assert again.payload["learned_from"]["avoided"] == [{"id": draft.id, "reason": "no distance targets, please"}]
        assert "no distance targets, please" in llm.calls[-1]["user"] and first["body"][:60] in llm.calls[-1]["user"]
    finally:
        c.close()
