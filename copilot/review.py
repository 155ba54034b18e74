"""Editor review of everything the copilot writes: a small state machine with revisions and decisions.

    drafted ──submit──▶ in_review ──approve──▶ approved ──publish──▶ published
       ▲                   │  │
       │                   │  └─request_changes─▶ changes_requested ──submit──▶ in_review
       └───────────────────┴──reject──▶ rejected   (reject also from drafted and changes_requested)

Edits are allowed before a decision is final (drafted, in_review, changes_requested); each edit is a new
revision and needs `If-Match` with the current version (compare-and-set in the store, so of two concurrent
edits with the same version exactly one wins). Nothing is ever published by the copilot: `publish` records
that a person posted it.
"""

from __future__ import annotations

from typing import Any

from copilot.errors import DraftVersionConflict, IllegalTransition, NotFound, PreconditionRequired
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

    def edit(self, draft_id: str, *, if_match: int | None, title: str | None, body: str | None,
             variants: list[str] | None, note: str | None, actor: str, brand: str | None = None) -> Any:
        """A new revision, if `if_match` is the current version and the draft is still editable."""
        row = self.get(draft_id, brand=brand)
        if if_match is None:
            raise PreconditionRequired(f"send If-Match with the draft's current version ({row.version})", field="If-Match")
        if row.status not in EDITABLE:
            raise IllegalTransition(f"a draft in status '{row.status}' can no longer be edited", field="status")
        if if_match != row.version:
            raise DraftVersionConflict(f"If-Match {if_match} is stale; the draft is at version {row.version}",
                                       field="If-Match", extra={"current_version": row.version})
        updated = self.store.revise_draft(draft_id, expected_version=if_match, title=title or row.title,
                                          body=body or row.body, actor=actor, note=note,
                                          variants=variants if variants is not None else list(row.payload.get("variants") or []))
        if updated is None:  # someone else won the race between our read and our write
            current = self.get(draft_id)
            raise DraftVersionConflict(f"If-Match {if_match} is stale; the draft is at version {current.version}",
                                       field="If-Match", extra={"current_version": current.version})
        return updated

    def decide(self, draft_id: str, *, action: str, comment: str | None, actor: str, brand: str | None = None,
               permalink: str | None = None) -> Any:
        """Apply a review action, or IllegalTransition naming the current status."""
        if action not in TRANSITIONS:
            raise IllegalTransition(f"unknown action '{action}'", field="action")
        row = self.get(draft_id, brand=brand)
        sources, target, _ = TRANSITIONS[action]
        if row.status not in sources:
            raise IllegalTransition(f"cannot {action.replace('_', ' ')} a draft that is '{row.status}' "
                                    f"(allowed from: {', '.join(sorted(sources))})", field="action",
                                    extra={"status": row.status})
        extra = {"published_permalink": permalink} if action == "publish" and permalink else None
        updated = self.store.decide_draft(draft_id, action=action, from_status=row.status, to_status=target,
                                          version=row.version, actor=actor, comment=comment, extra=extra)
        if updated is None:
            current = self.get(draft_id)
            raise IllegalTransition(f"the draft changed meanwhile (now '{current.status}', version {current.version})",
                                    field="action", extra={"status": current.status})
        return updated

    def history(self, draft_id: str, *, brand: str | None = None) -> dict[str, Any]:
        """Revisions and decisions with who and when."""
        self.get(draft_id, brand=brand)
        revisions, decisions = self.store.draft_history(draft_id)
        return {"revisions": [{"version": r.version, "title": r.title, "body": r.body, "variants": r.variants,
                               "actor": r.actor, "note": r.note, "created_at": r.created_at} for r in revisions],
                "decisions": [{"action": d.action, "from_status": d.from_status, "to_status": d.to_status,
                               "version": d.version, "actor": d.actor, "comment": d.comment, "created_at": d.created_at}
                              for d in decisions]}
