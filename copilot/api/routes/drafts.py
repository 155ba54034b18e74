"""The editor review workflow over drafts."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from copilot.api.deps import CopilotDep, Principal, PrincipalDep, ReadBrand
from copilot.api.openapi import IF_MATCH_REQUIRED, SCOPE_ALTERNATIVES
from copilot.api.routes import ETAG, PROBLEMS, problem
from copilot.api.routes.rituals import draft_out, set_etag
from copilot.api.schemas import DecisionIn, DraftHistory, DraftKind, DraftOut, DraftPage, DraftPatch, DraftStatus
from copilot.errors import Forbidden, InvalidInput, NotFound
from copilot.review import required_scope

router = APIRouter(prefix="/v1", tags=["review"], responses={
    **PROBLEMS, 409: problem("illegal transition, or guards failed (`guards-failed`, with `failed_guards`)"),
    412: problem("stale If-Match: the draft changed since (`current_version`)"),
    428: problem("If-Match missing")})
WITH_ETAG = {200: {"description": "the draft", "headers": ETAG}}


def _owned(principal: Principal, copilot: CopilotDep, draft_id: str, scope: str):  # type: ignore[no-untyped-def]
    row = copilot.store.get_draft(draft_id)
    if row is None or not (principal.is_admin or principal.brand == row.brand_id):
        raise NotFound(f"draft '{draft_id}' not found")
    if not principal.allows(scope):
        raise Forbidden(f"this key lacks the '{scope}' scope")
    return row


def owned_draft(scope: str):  # type: ignore[no-untyped-def]
    """Dependency: the path's draft if it belongs to the caller's brand (404 otherwise) and the scope allows.
    As a dependency it runs before the body is validated, so another brand's draft never answers 422."""

    def check(draft_id: str, principal: PrincipalDep, copilot: CopilotDep) -> str:
        _owned(principal, copilot, draft_id, scope)
        return draft_id

    check.required_scope = scope  # type: ignore[attr-defined]
    return check


def parse_if_match(value: str | None) -> int | None:
    """`3`, `"3"` or `W/"3"` -> 3."""
    if value is None:
        return None
    m = re.fullmatch(r'\s*(?:W/)?"?(\d{1,9})"?\s*', value)
    if not m:
        raise InvalidInput("If-Match must be the draft's version, e.g. \"3\"", field="If-Match")
    return int(m.group(1))


@router.get("/brands/{brand}/drafts", response_model=DraftPage, operation_id="listDrafts")
def list_drafts(brand: ReadBrand, copilot: CopilotDep, status: DraftStatus | None = None,
                kind: DraftKind | None = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> DraftPage:
    """Drafts of the brand, newest first."""
    rows, total = copilot.store.list_drafts(brand, status=status, kind=kind, limit=limit, offset=offset)
    return DraftPage(items=[draft_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/drafts/{draft_id}", response_model=DraftOut, operation_id="getDraft", responses=WITH_ETAG)
def get_draft(draft_id: str, principal: PrincipalDep, copilot: CopilotDep, response: Response) -> DraftOut:
    """One draft; its `ETag` is the version to send back in `If-Match`."""
    row = _owned(principal, copilot, draft_id, "read")
    set_etag(response, row.version)
    return draft_out(row)


@router.patch("/drafts/{draft_id}", response_model=DraftOut, operation_id="editDraft", responses=WITH_ETAG,
              openapi_extra={IF_MATCH_REQUIRED: True})
def edit_draft(draft_id: Annotated[str, Depends(owned_draft("draft"))], body: DraftPatch, principal: PrincipalDep,
               copilot: CopilotDep, response: Response,
               if_match: Annotated[str | None, Header(alias="If-Match", max_length=40,
                                                      description="the draft's ETag (428 without it)")] = None) -> DraftOut:
    """Edit a draft: a new revision. `If-Match` must carry the current version (428 without it, 412 when stale)."""
    row = copilot.review.edit(draft_id, if_match=parse_if_match(if_match), title=body.title, body=body.body,
                              variants=body.variants, note=body.note, actor=principal.actor)
    set_etag(response, row.version)
    return draft_out(row)


@router.post("/drafts/{draft_id}/decisions", response_model=DraftOut, operation_id="decideDraft", responses=WITH_ETAG,
             openapi_extra={SCOPE_ALTERNATIVES: ["draft", "review"]})
def decide_draft(draft_id: Annotated[str, Depends(owned_draft("read"))], body: DecisionIn, principal: PrincipalDep,
                 copilot: CopilotDep, response: Response,
                 if_match: Annotated[str | None, Header(alias="If-Match", max_length=40,
                                                        description="the draft's ETag: decide on that version only")] = None) -> DraftOut:
    """submit, approve, request_changes, reject (with a comment) or publish (once posted). The scope depends on the
    action: `submit` and `publish` need `draft`; `approve`, `request_changes` and `reject` need `review`. With
    `If-Match`, the decision applies only to that version (412 when the draft changed since). Approving a draft
    whose guards fail answers 409 `guards-failed` unless `override_guards` is sent with a comment."""
    _owned(principal, copilot, draft_id, required_scope(body.action))
    row = copilot.review.decide(draft_id, action=body.action, comment=body.comment, actor=principal.actor,
                                permalink=body.permalink, if_match=parse_if_match(if_match),
                                override_guards=body.override_guards)
    set_etag(response, row.version)
    return draft_out(row)


@router.get("/drafts/{draft_id}/history", response_model=DraftHistory, operation_id="draftHistory")
def draft_history(draft_id: str, principal: PrincipalDep, copilot: CopilotDep) -> DraftHistory:
    """Every revision and decision, with who and when."""
    _owned(principal, copilot, draft_id, "read")
    return copilot.review.history(draft_id)
