"""Editor review of everything the copilot writes: a small state machine with revisions and decisions.

    drafted ──submit──▶ in_review ──approve──▶ approved ──publish──▶ published
       ▲                   │  │
       │                   │  └─request_changes─▶ changes_requested ──submit──▶ in_review
       └───────────────────┴──reject──▶ rejected   (reject also from drafted and changes_requested)

Edits are allowed before a decision is final (drafted, in_review, changes_requested); each edit is a new
revision and needs `If-Match` with the current version (compare-and-set in the store, so of two concurrent
edits with the same version exactly one wins). Nothing is ever published by the copilot: `publish` records
that a person posted it.

Integrity rules:
- every revision recomputes the guards (banned terms, drift, length, emoji, exclamation, quoted instructions,
  contact data) against the brand's current charter;
- an edit while `in_review` sends the draft back to `drafted` (a `withdraw` decision is recorded): a reviewer
  never approves a text that changed after it was submitted, and the drafter submits the new text again;
- a decision with `If-Match` is refused with 412 when the draft has moved on since that version;
- approving a draft whose guards fail is refused (409 guards-failed) unless the reviewer sends
  `override_guards` with a comment; the override is recorded in the history as its own decision.
"""

from __future__ import annotations

from typing import Any

from copilot.errors import (DraftVersionConflict, GuardsFailed, IllegalTransition, InvalidInput, NotFound,
                            PreconditionRequired)
from copilot.features.charters import current_charter
from copilot.features.rituals import failing_guards, guards
from copilot.reports import Decision, DraftHistory, Revision
from copilot.store import Store

TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "submit": (frozenset({"drafted", "changes_requested"}), "in_review", "draft"),
    "approve": (frozenset({"in_review"}), "approved", "review"),
    "request_changes": (frozenset({"in_review"}), "changes_requested", "review"),
    "reject": (frozenset({"drafted", "in_review", "changes_requested"}), "rejected", "review"),
    "publish": (frozenset({"approved"}), "published", "draft"),
}
EDITABLE = frozenset({"drafted", "in_review", "changes_requested"})
STATUSES = ("drafted", "in_review", "approved", "changes_requested", "rejected", "published")


def required_scope(action: str) -> str:
    """The key scope an action needs."""
    return TRANSITIONS[action][2]


class ReviewService:
    """Edits and decisions on drafts."""

    def __init__(self, store: Store):
        self.store = store

    def get(self, draft_id: str, *, brand: str | None = None) -> Any:
        """A draft (of `brand` when given) or NotFound."""
        row = self.store.get_draft(draft_id)
        if row is None or (brand is not None and row.brand_id != brand):
            raise NotFound(f"draft '{draft_id}' not found")
        return row

    def guards_of(self, row: Any, *, body: str | None = None, variants: list[str] | None = None) -> dict[str, Any]:
        """The guards of a draft's text (or of a text about to replace it) against the brand's current charter."""
        charter, _ = current_charter(self.store, row.brand_id)
        return guards(row.body if body is None else body,
                      list(row.payload.get("variants") or []) if variants is None else variants, charter)

    def edit(self, draft_id: str, *, if_match: int | None, title: str | None, body: str | None,
             variants: list[str] | None, note: str | None, actor: str, brand: str | None = None) -> Any:
        """A new revision, if `if_match` is the current version and the draft is still editable. The guards are
        recomputed; a draft in review goes back to `drafted`."""
        row = self.get(draft_id, brand=brand)
        if if_match is None:
            raise PreconditionRequired(f"send If-Match with the draft's current version ({row.version})", field="If-Match")
        if row.status not in EDITABLE:
            raise IllegalTransition(f"a draft in status '{row.status}' can no longer be edited", field="status")
        _check_version(if_match, row.version)
        new_body = body or row.body
        new_variants = variants if variants is not None else list(row.payload.get("variants") or [])
        reopen = (("in_review", "drafted", f"edited during review (v{row.version + 1}): submit it again")
                  if row.status == "in_review" else None)
        updated = self.store.revise_draft(draft_id, expected_version=if_match, title=title or row.title,
                                          body=new_body, actor=actor, note=note, variants=new_variants,
                                          payload={"guards": self.guards_of(row, body=new_body, variants=new_variants)},
                                          reopen=reopen)
        if updated is None:  # someone else won the race between our read and our write
            _check_version(if_match, self.get(draft_id).version)
            raise IllegalTransition("the draft changed status meanwhile; reload it", field="status")
        return updated

    def decide(self, draft_id: str, *, action: str, comment: str | None, actor: str, brand: str | None = None,
               permalink: str | None = None, if_match: int | None = None, override_guards: bool = False) -> Any:
        """Apply a review action, or IllegalTransition naming the current status. With `if_match`, the draft must
        still be at that version (412 otherwise); approving needs passing guards or an explicit override."""
        if action not in TRANSITIONS:
            raise IllegalTransition(f"unknown action '{action}'", field="action")
        row = self.get(draft_id, brand=brand)
        if if_match is not None:
            _check_version(if_match, row.version)
        sources, target, _ = TRANSITIONS[action]
        if row.status not in sources:
            raise IllegalTransition(f"cannot {action.replace('_', ' ')} a draft that is '{row.status}' "
                                    f"(allowed from: {', '.join(sorted(sources))})", field="action",
                                    extra={"draft_status": row.status})
        extra: dict[str, Any] = {"published_permalink": permalink} if action == "publish" and permalink else {}
        override = None
        if action == "approve":
            current = self.guards_of(row)
            extra["guards"] = current
            failed = failing_guards(current)
            if failed and not override_guards:
                raise GuardsFailed(f"the draft's guards fail ({', '.join(failed)}); fix the text, or approve with "
                                   "override_guards and a comment saying why", field="override_guards",
                                   extra={"failed_guards": failed})
            if failed:
                if not (comment and comment.strip()):
                    raise InvalidInput("overriding failing guards needs a comment saying why", field="comment")
                override = f"approved despite failing guards ({', '.join(failed)}): {comment.strip()}"
        updated = self.store.decide_draft(draft_id, action=action, from_status=row.status, to_status=target,
                                          version=row.version, actor=actor, comment=comment, extra=extra or None,
                                          override=override)
        if updated is None:
            current_row = self.get(draft_id)
            if if_match is not None:
                _check_version(if_match, current_row.version)
            raise IllegalTransition(f"the draft changed meanwhile (now '{current_row.status}', version "
                                    f"{current_row.version})", field="action", extra={"draft_status": current_row.status})
        return updated

    def history(self, draft_id: str, *, brand: str | None = None) -> DraftHistory:
        """Revisions and decisions with who and when."""
        self.get(draft_id, brand=brand)
        revisions, decisions = self.store.draft_history(draft_id)
        return DraftHistory(
            draft_id=draft_id,
            revisions=[Revision(version=r.version, title=r.title, body=r.body, variants=r.variants or [], actor=r.actor,
                                note=r.note, created_at=r.created_at) for r in revisions],
            decisions=[Decision(action=d.action, from_status=d.from_status, to_status=d.to_status, version=d.version,
                                actor=d.actor, comment=d.comment, created_at=d.created_at) for d in decisions])


def _check_version(if_match: int, current: int) -> None:
    if if_match != current:
        raise DraftVersionConflict(f"If-Match {if_match} is stale; the draft is at version {current}",
                                   field="If-Match", extra={"current_version": current})
