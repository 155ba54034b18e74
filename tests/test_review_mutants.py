"""The review state machine, case by case (issue 17, mutation check): each test pins a rule whose break a CM or
an editor would notice (a transition allowed from the wrong status, a version guard skipped, an edit that drops
the text or the variants, a lost race reported as success, an override without its reason). They call the
ReviewService on a real SQLite store, without the sample brand, so they stay fast enough to run per mutant."""

from __future__ import annotations

from typing import Any

import pytest

from copilot.errors import (DraftVersionConflict, GuardsFailed, IllegalTransition, InvalidInput, NotFound,
                            PreconditionRequired)
from copilot.review import STATUSES, TRANSITIONS, ReviewService, required_scope
from copilot.runtime import Copilot

CLEAN = "Cette semaine, posez vos questions en réponse : les membres qui ont eu le même souci répondent aussi."
LOUD = "Répondez en commentaire " + "!" * 3 + " " + "x" * 5000  # fails the length and exclamation guards


@pytest.fixture
def review(copilot: Copilot) -> ReviewService:
    copilot.store.create_brand("acme", "Acme", "fr")
    copilot.store.create_brand("other", "Other", "en")
    return copilot.review


def _draft(review: ReviewService, body: str = CLEAN, *, brand: str = "acme", variants: list[str] | None = None) -> str:
    row = review.store.create_draft(brand, kind="ritual", ritual="qa", title="Questions", body=body,
                                    payload={"variants": variants or ["Variante une", "Variante deux"]}, actor="writer")
    return row.id


def _to(review: ReviewService, draft_id: str, status: str) -> Any:
    """Walk a draft to `status` by the legal path."""
    path = {"drafted": [], "in_review": ["submit"], "approved": ["submit", "approve"],
            "changes_requested": ["submit", "request_changes"], "rejected": ["reject"],
            "published": ["submit", "approve", "publish"]}[status]
    row = review.get(draft_id)
    for action in path:
        row = review.decide(draft_id, action=action, comment=None, actor="editor")
    assert row.status == status
    return row


def test_scopes_split_drafters_from_reviewers():
    assert {a: required_scope(a) for a in TRANSITIONS} == {
        "submit": "draft", "approve": "review", "request_changes": "review", "reject": "review", "publish": "draft"}


@pytest.mark.parametrize("action", sorted(TRANSITIONS))
@pytest.mark.parametrize("status", STATUSES)
def test_every_action_from_every_status(review: ReviewService, action: str, status: str):
    legal = {("submit", "drafted"): "in_review", ("submit", "changes_requested"): "in_review",
             ("approve", "in_review"): "approved", ("request_changes", "in_review"): "changes_requested",
             ("reject", "drafted"): "rejected", ("reject", "in_review"): "rejected",
             ("reject", "changes_requested"): "rejected", ("publish", "approved"): "published"}
    draft_id = _draft(review)
    _to(review, draft_id, status)
    if (action, status) in legal:
        row = review.decide(draft_id, action=action, comment="ok", actor="editor")
        assert row.status == legal[(action, status)] == review.get(draft_id).status
        last = review.history(draft_id)["decisions"][-1]
        assert (last["action"], last["from_status"], last["to_status"]) == (action, status, row.status)
    else:
        with pytest.raises(IllegalTransition) as refused:
            review.decide(draft_id, action=action, comment=None, actor="editor")
        assert refused.value.field == "action" and refused.value.extra == {"draft_status": status}
        assert f"'{status}'" in refused.value.detail and action.replace("_", " ") in refused.value.detail
        assert review.get(draft_id).status == status


def test_refusal_names_the_statuses_an_action_is_allowed_from(review: ReviewService):
    draft_id = _draft(review)
    with pytest.raises(IllegalTransition) as refused:
        review.decide(draft_id, action="approve", comment=None, actor="editor")
    assert refused.value.detail.endswith("(allowed from: in_review)")
    _to(review, draft_id, "rejected")
    with pytest.raises(IllegalTransition) as refused:
        review.decide(draft_id, action="submit", comment=None, actor="editor")
    assert "allowed from: changes_requested, drafted" in refused.value.detail


def test_an_unknown_action_is_refused_before_reading_the_draft(review: ReviewService):
    with pytest.raises(IllegalTransition) as refused:
        review.decide("no-such-draft", action="archive", comment=None, actor="editor")
    assert refused.value.field == "action" and "'archive'" in refused.value.detail


def test_a_draft_of_another_brand_is_not_found(review: ReviewService):
    draft_id = _draft(review, brand="other")
    assert review.get(draft_id).brand_id == "other" == review.get(draft_id, brand="other").brand_id
    for call in (lambda: review.get(draft_id, brand="acme"), lambda: review.history(draft_id, brand="acme"),
                 lambda: review.decide(draft_id, action="submit", comment=None, actor="e", brand="acme"),
                 lambda: review.edit(draft_id, if_match=1, title=None, body="x", variants=None, note=None, actor="e",
                                     brand="acme")):
        with pytest.raises(NotFound):
            call()
    assert review.get(draft_id).version == 1 and review.get(draft_id).status == "drafted"
    with pytest.raises(NotFound, match="'missing'"):
        review.get("missing")


def test_an_edit_needs_the_current_version(review: ReviewService):
    draft_id = _draft(review)
    with pytest.raises(PreconditionRequired) as missing:
        review.edit(draft_id, if_match=None, title=None, body="x", variants=None, note=None, actor="e")
    assert missing.value.field == "If-Match" and "(1)" in missing.value.detail
    with pytest.raises(DraftVersionConflict) as stale:
        review.edit(draft_id, if_match=2, title=None, body="x", variants=None, note=None, actor="e")
    assert stale.value.extra == {"current_version": 1} and stale.value.field == "If-Match"
    assert stale.value.detail == "If-Match 2 is stale; the draft is at version 1"
    assert review.get(draft_id).body == CLEAN


def test_an_edit_keeps_what_it_does_not_change(review: ReviewService):
    draft_id = _draft(review, variants=["Première", "Seconde"])
    row = review.edit(draft_id, if_match=1, title=None, body=None, variants=None, note="rien", actor="e")
    assert (row.version, row.title, row.body, row.payload["variants"]) == (2, "Questions", CLEAN, ["Première", "Seconde"])
    row = review.edit(draft_id, if_match=2, title="Nouveau titre", body="Nouveau texte", variants=[], note=None,
                      actor="e")
    assert (row.version, row.title, row.body, row.payload["variants"]) == (3, "Nouveau titre", "Nouveau texte", [])
    revision = review.history(draft_id)["revisions"][-1]
    assert (revision["version"], revision["body"], revision["variants"], revision["actor"]) == (3, "Nouveau texte", [], "e")
    assert review.history(draft_id)["revisions"][1]["note"] == "rien"


def test_an_edit_recomputes_the_guards_of_the_new_text_and_variants(review: ReviewService):
    draft_id = _draft(review)
    loud = review.edit(draft_id, if_match=1, title=None, body=LOUD, variants=None, note=None, actor="e")
    assert loud.payload["guards"]["ok"] is False and loud.payload["guards"]["length"]["chars"] == len(LOUD)
    calm = review.edit(draft_id, if_match=2, title=None, body=CLEAN, variants=["Écris-moi à a.b@example.org"],
                       note=None, actor="e")
    assert calm.payload["guards"]["length"]["chars"] == len(CLEAN) and calm.payload["guards"]["contact_data"] is True
    assert review.guards_of(calm)["contact_data"] is True  # the stored variants are the ones guarded
    assert review.guards_of(calm, variants=[])["contact_data"] is False


def test_guards_read_the_brands_current_charter(review: ReviewService):
    from copilot.types import Charter, Passage, Term

    draft_id = _draft(review, body="Une vraie affaire en or, répondez en commentaire.")
    assert review.guards_of(review.get(draft_id))["banned_terms"] == []
    charter = Charter(languages=["fr"], passages=[Passage(id="p1", section="Lexique", text="Jamais « affaire en or ».")],
                      banned_terms=[Term(term="affaire en or", passage_id="p1")])
    review.store.add_charter_version("acme", charter.model_dump(mode="json"), "Jamais « affaire en or ».", "markdown")
    assert review.guards_of(review.get(draft_id))["banned_terms"] == ["affaire en or"]
    _to(review, draft_id, "in_review")
    with pytest.raises(GuardsFailed) as refused:
        review.decide(draft_id, action="approve", comment=None, actor="editor")
    assert refused.value.extra["failed_guards"][0] == "banned_terms"
    other = _draft(review, brand="other", body="Une vraie affaire en or.")  # another brand's charter says nothing
    assert review.guards_of(review.get(other))["banned_terms"] == []


@pytest.mark.parametrize("status", ["approved", "rejected", "published"])
def test_a_final_draft_cannot_be_edited(review: ReviewService, status: str):
    draft_id = _draft(review)
    row = _to(review, draft_id, status)
    with pytest.raises(IllegalTransition) as refused:
        review.edit(draft_id, if_match=row.version, title=None, body="x", variants=None, note=None, actor="e")
    assert refused.value.field == "status" and f"'{status}'" in refused.value.detail
    assert review.get(draft_id).body == CLEAN


def test_only_an_edit_in_review_sends_the_draft_back(review: ReviewService):
    draft_id = _draft(review)
    _to(review, draft_id, "changes_requested")
    row = review.edit(draft_id, if_match=1, title=None, body="Texte revu", variants=None, note=None, actor="e")
    assert row.status == "changes_requested" and row.version == 2
    assert "withdraw" not in [d["action"] for d in review.history(draft_id)["decisions"]]
    review.decide(draft_id, action="submit", comment=None, actor="e")
    row = review.edit(draft_id, if_match=2, title=None, body="Texte revu encore", variants=None, note=None, actor="e")
    assert row.status == "drafted" and row.version == 3
    withdraw = review.history(draft_id)["decisions"][-1]
    assert (withdraw["action"], withdraw["from_status"], withdraw["to_status"], withdraw["version"]) == (
        "withdraw", "in_review", "drafted", 3)
    assert "v3" in withdraw["comment"]


def test_a_decision_with_a_stale_version_changes_nothing(review: ReviewService):
    draft_id = _draft(review)
    review.edit(draft_id, if_match=1, title=None, body="Deuxième version", variants=None, note=None, actor="e")
    with pytest.raises(DraftVersionConflict) as stale:
        review.decide(draft_id, action="submit", comment=None, actor="e", if_match=1)
    assert stale.value.extra == {"current_version": 2}
    assert review.get(draft_id).status == "drafted"
    assert review.decide(draft_id, action="submit", comment=None, actor="e", if_match=2).status == "in_review"


def test_approving_failing_guards_needs_an_override_with_a_reason(review: ReviewService):
    draft_id = _draft(review, body=LOUD)
    _to(review, draft_id, "in_review")
    with pytest.raises(GuardsFailed) as refused:
        review.decide(draft_id, action="approve", comment="ok", actor="editor")
    assert refused.value.extra["failed_guards"] == ["length"] and refused.value.field == "override_guards"
    for blank in (None, "", "   "):
        with pytest.raises(InvalidInput) as no_reason:
            review.decide(draft_id, action="approve", comment=blank, actor="editor", override_guards=True)
        assert no_reason.value.field == "comment" and "needs a comment" in (no_reason.value.detail or "")
    assert review.get(draft_id).status == "in_review"
    row = review.decide(draft_id, action="approve", comment="  texte long voulu  ", actor="editor", override_guards=True)
    assert row.status == "approved" and row.payload["guards"]["ok"] is False
    override, approve = review.history(draft_id)["decisions"][-2:]
    assert override["action"] == "override_guards"
    assert override["comment"] == "approved despite failing guards (length): texte long voulu"
    assert (approve["action"], approve["comment"]) == ("approve", "  texte long voulu  ")


def test_an_override_on_passing_guards_records_no_override(review: ReviewService):
    draft_id = _draft(review)
    _to(review, draft_id, "in_review")
    row = review.decide(draft_id, action="approve", comment=None, actor="editor", override_guards=True)
    assert row.status == "approved" and row.payload["guards"]["ok"] is True
    assert [d["action"] for d in review.history(draft_id)["decisions"]] == ["submit", "approve"]


def test_the_permalink_is_kept_only_by_publish(review: ReviewService):
    draft_id = _draft(review)
    row = review.decide(draft_id, action="submit", comment=None, actor="e", permalink="https://x.example/early")
    assert "published_permalink" not in row.payload and "guards" not in row.payload
    review.decide(draft_id, action="approve", comment=None, actor="e")
    row = review.decide(draft_id, action="publish", comment=None, actor="e", permalink="https://x.example/p/1")
    assert row.payload["published_permalink"] == "https://x.example/p/1"
    other = _draft(review)
    _to(review, other, "approved")
    assert "published_permalink" not in review.decide(other, action="publish", comment=None, actor="e").payload


def test_history_lists_who_did_what(review: ReviewService):
    draft_id = _draft(review)
    review.decide(draft_id, action="submit", comment=None, actor="writer")
    review.decide(draft_id, action="request_changes", comment="plus court", actor="editor")
    history = review.history(draft_id)
    assert [(r["version"], r["title"], r["actor"], r["note"]) for r in history["revisions"]] == [
        (1, "Questions", "writer", "drafted (ritual)")]
    assert history["revisions"][0]["variants"] == ["Variante une", "Variante deux"]
    assert [(d["action"], d["actor"], d["comment"], d["version"]) for d in history["decisions"]] == [
        ("submit", "writer", None, 1), ("request_changes", "editor", "plus court", 1)]
    assert all(r["created_at"] is not None for r in history["revisions"] + history["decisions"])


class _RacingStore:
    """A store where another writer acts between the service's read and its write (the race the service guards)."""

    def __init__(self, store: Any, rival: Any):
        self._store, self._rival = store, rival

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def revise_draft(self, draft_id: str, **kwargs: Any) -> Any:
        self._rival(draft_id)
        return self._store.revise_draft(draft_id, **kwargs)

    def decide_draft(self, draft_id: str, **kwargs: Any) -> Any:
        self._rival(draft_id)
        return self._store.decide_draft(draft_id, **kwargs)


def test_a_lost_race_is_reported_not_swallowed(review: ReviewService):
    store = review.store
    draft_id = _draft(review)
    _to(review, draft_id, "in_review")
    rejecting = ReviewService(_RacingStore(store, lambda d: store.decide_draft(
        d, action="reject", from_status="in_review", to_status="rejected", version=1, actor="rival", comment=None)))
    with pytest.raises(IllegalTransition) as lost:
        rejecting.decide(draft_id, action="request_changes", comment=None, actor="editor")
    assert lost.value.extra == {"draft_status": "rejected"} and "'rejected'" in lost.value.detail
    assert store.get_draft(draft_id).status == "rejected"

    reviewed = _draft(review)
    _to(review, reviewed, "in_review")
    rejected_meanwhile = ReviewService(_RacingStore(store, lambda d: store.decide_draft(
        d, action="reject", from_status="in_review", to_status="rejected", version=1, actor="rival", comment=None)))
    with pytest.raises(IllegalTransition) as moved:
        rejected_meanwhile.edit(reviewed, if_match=1, title=None, body="mine", variants=None, note=None, actor="e")
    assert moved.value.field == "status" and "changed status meanwhile" in moved.value.detail
    assert store.get_draft(reviewed).body == CLEAN

    other = _draft(review)
    editing = ReviewService(_RacingStore(store, lambda d: store.revise_draft(
        d, expected_version=1, title="t", body="rival", variants=[], actor="rival", note=None)))
    with pytest.raises(DraftVersionConflict) as stale:
        editing.edit(other, if_match=1, title=None, body="mine", variants=None, note=None, actor="e")
    assert stale.value.extra == {"current_version": 2}
    assert store.get_draft(other).body == "rival"
    with pytest.raises(DraftVersionConflict):  # a decision with If-Match that lost to an edit says so
        editing_then_deciding = ReviewService(_RacingStore(store, lambda d: store.revise_draft(
            d, expected_version=2, title="t", body="rival again", variants=[], actor="rival", note=None)))
        editing_then_deciding.decide(other, action="submit", comment=None, actor="e", if_match=2)


def test_an_override_names_every_failing_guard(review: ReviewService):
    draft_id = _draft(review, body=LOUD + " Appelez le 01 23 45 67 89.")  # also drifts and holds a phone number
    _to(review, draft_id, "in_review")
    review.decide(draft_id, action="approve", comment="annonce validée", actor="editor", override_guards=True)
    override = review.history(draft_id)["decisions"][-2]
    assert override["comment"] == "approved despite failing guards (drift, length, contact_data): annonce validée"


def test_a_decision_that_lost_a_race_at_the_same_version_is_a_transition_error(review: ReviewService):
    # The rival's reject does not change the version: the caller's If-Match is still right, so the answer is
    # 409 naming the new status, not 412.
    store = review.store
    draft_id = _draft(review)
    _to(review, draft_id, "in_review")
    racing = ReviewService(_RacingStore(store, lambda d: store.decide_draft(
        d, action="reject", from_status="in_review", to_status="rejected", version=1, actor="rival", comment=None)))
    with pytest.raises(IllegalTransition) as lost:
        racing.decide(draft_id, action="approve", comment=None, actor="editor", if_match=1)
    assert lost.value.field == "action" and lost.value.extra == {"draft_status": "rejected"}
    assert "now 'rejected', version 1" in lost.value.detail
