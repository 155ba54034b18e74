"""Spotlight suggestions, spotlight records, shout-out drafts and vitality."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from copilot.api.deps import CopilotDep, DraftBrand, PrincipalDep, ReadBrand
from copilot.api.routes import ETAG, PROBLEMS
from copilot.api.routes.rituals import draft_out, set_etag
from copilot.api.schemas import (DraftOut, ShoutoutDraftIn, SpotlightRecordIn, SpotlightRecordOut, SpotlightReport,
                                 VitalityReport)
from copilot.errors import InvalidInput

router = APIRouter(prefix="/v1", tags=["community"], responses=PROBLEMS)


@router.get("/brands/{brand}/spotlight", response_model=SpotlightReport, operation_id="spotlight")
def spotlight(brand: ReadBrand, copilot: CopilotDep, window_days: Annotated[int, Query(ge=1, le=365)] = 30,
              limit: Annotated[int, Query(ge=1, le=50)] = 5,
              channel: Annotated[str | None, Query(max_length=200)] = None,
              cooldown_days: Annotated[int, Query(ge=0, le=365)] = 60) -> SpotlightReport:
    """Members to spotlight, with score breakdown, why, evidence, consent and a suggested shout-out."""
    return copilot.spotlight.suggest(brand, window_days=window_days, limit=limit, channel=channel,
                                     cooldown_days=cooldown_days)


@router.post("/brands/{brand}/spotlight/records", status_code=status.HTTP_201_CREATED,
             response_model=SpotlightRecordOut, operation_id="recordSpotlight")
def record_spotlight(brand: DraftBrand, body: SpotlightRecordIn, principal: PrincipalDep,
                     copilot: CopilotDep) -> SpotlightRecordOut:
    """Record that a member was featured (they are then skipped during the cooldown). A date in the future is
    refused: it would hide the member from suggestions until then."""
    now = datetime.now(timezone.utc)
    featured_at = body.featured_at or now
    if featured_at > now + timedelta(seconds=copilot.settings.max_future_skew_s):
        raise InvalidInput("featured_at is in the future; record a spotlight once it happened", field="featured_at")
    row = copilot.store.add_spotlight(brand, body.member_id, channel=body.channel, note=body.note, actor=principal.actor,
                                      featured_at=featured_at)
    return SpotlightRecordOut.model_validate(row, from_attributes=True)


@router.post("/brands/{brand}/spotlight/drafts", status_code=status.HTTP_201_CREATED, response_model=DraftOut,
             operation_id="draftShoutout", responses={201: {"description": "the draft", "headers": ETAG}})
def draft_shoutout(brand: DraftBrand, body: ShoutoutDraftIn, principal: PrincipalDep, copilot: CopilotDep,
                   response: Response) -> DraftOut:
    """Write a shout-out for a member and save it as a draft for review."""
    row = copilot.spotlight.draft_shoutout(brand, body.member_id, window_days=body.window_days, actor=principal.actor)
    set_etag(response, row.version)
    return draft_out(row)


@router.get("/brands/{brand}/vitality", response_model=VitalityReport, operation_id="vitality")
def vitality(brand: ReadBrand, copilot: CopilotDep,
             window_days: Annotated[int, Query(ge=7, le=365)] = 28) -> VitalityReport:
    """Participation, retention, contribution, advocacy, horizontality, responsiveness and weak signals."""
    return copilot.vitality.report(brand, window_days=window_days)
