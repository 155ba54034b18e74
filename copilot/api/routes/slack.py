"""Slack endpoints: the integration verifies the signature and replay window on the raw body before anything is
parsed, then checks the payload's shape and workspace before bolt sees it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from copilot.api.deps import CopilotDep, PrincipalDep
from copilot.api.routes import ETAG, PROBLEMS, problem
from copilot.api.routes.drafts import owned_draft
from copilot.api.routes.rituals import draft_out, set_etag
from copilot.api.schemas import DraftOut
from copilot.errors import NotFound, ServiceUnavailable

router = APIRouter(tags=["slack"])
api = APIRouter(prefix="/v1", tags=["slack"], responses={**PROBLEMS, 503: problem("Slack unavailable")})


def _integration(request: Request) -> Any:
    integration = getattr(request.app.state, "slack", None)
    if integration is None:
        raise NotFound("the Slack integration is not configured (COPILOT_SLACK_SIGNING_SECRET, COPILOT_SLACK_BOT_TOKEN)")
    return integration


async def _dispatched(request: Request) -> Response:
    """Slack's raw bytes to the integration's gate (verify, parse, type, scope), its answer back to Slack."""
    answer = await _integration(request).dispatch(await request.body(), request.headers)
    return Response(content=answer.body, status_code=answer.status, headers=answer.headers)


@router.post("/slack/events", include_in_schema=False)
async def slack_events(request: Request) -> Response:
    """Events API (live history)."""
    return await _dispatched(request)


@router.post("/slack/commands", include_in_schema=False)
async def slack_commands(request: Request) -> Response:
    """Slash command /copilot."""
    return await _dispatched(request)


@router.post("/slack/interactions", include_in_schema=False)
async def slack_interactions(request: Request) -> Response:
    """Block Kit buttons."""
    return await _dispatched(request)


@api.post("/drafts/{draft_id}/slack", response_model=DraftOut, operation_id="sendDraftToSlack",
          responses={200: {"description": "the draft, with where it was posted", "headers": ETAG}})
async def send_to_slack(draft_id: Annotated[str, Depends(owned_draft("draft"))], principal: PrincipalDep,
                        copilot: CopilotDep, request: Request, response: Response) -> DraftOut:
    """Post a draft to the editors' Slack channel with Approve / Request changes / Reject buttons; a draft that
    is still `drafted` is submitted for review first."""
    import anyio

    integration = _integration(request)
    row = copilot.store.get_draft(draft_id)
    if row is not None and not integration.review_channel_for(row.brand_id):
        raise ServiceUnavailable(f"no Slack review channel for brand '{row.brand_id}' (COPILOT_SLACK_REVIEW_CHANNELS "
                                 "or COPILOT_SLACK_REVIEW_CHANNEL)")
    if row is not None and row.status in ("drafted", "changes_requested"):
        await anyio.to_thread.run_sync(lambda: copilot.review.decide(draft_id, action="submit", comment="sent to Slack",
                                                                     actor=principal.actor))
    row = copilot.store.get_draft(draft_id)
    try:
        where = await integration.send_for_review(row)
    except Exception as exc:
        raise ServiceUnavailable(f"Slack did not accept the message: {type(exc).__name__}") from exc
    copilot.store.set_draft_payload(draft_id, {"slack": where})
    row = copilot.store.get_draft(draft_id)
    set_etag(response, row.version)
    return draft_out(row)
