"""Promotional drift: check one text, audit the brand's feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from copilot.api.deps import CopilotDep, PrincipalDep, ReadBrand
from copilot.api.routes import PROBLEMS
from copilot.api.schemas import DriftCheck, DriftCheckIn, FeedReport
from copilot.errors import Forbidden
from copilot.features.charters import current_charter
from copilot.features.rituals import guards
from copilot.types import utc

router = APIRouter(prefix="/v1", tags=["drift"], responses=PROBLEMS)


@router.post("/brands/{brand}/drift/checks", response_model=DriftCheck, operation_id="checkDrift")
def check_drift(brand: ReadBrand, body: DriftCheckIn, principal: PrincipalDep, copilot: CopilotDep) -> DriftCheck:
    """Score one text (a draft or a published post) against the patterns, the charter and the brand's feed;
    optionally save the member-first rewrite as a draft for review."""
    if body.save_rewrite and not principal.allows("draft"):
        raise Forbidden("saving the rewrite as a draft needs the 'draft' scope")
    out = copilot.drift.check(brand, body.text, lang=body.language, scheduled_at=utc(body.scheduled_at)
                              if body.scheduled_at else None)
    if body.save_rewrite and out.rewrite:
        draft = copilot.store.create_draft(
            brand, kind="rewrite", ritual=None, title=body.text[:80], body=out.rewrite, actor=principal.actor,
            payload={"engine": out.engine, "language": out.language, "original": body.text,
                     "guards": guards(out.rewrite, [], current_charter(copilot.store, brand)[0])})
        out = out.model_copy(update={"rewrite_draft_id": draft.id})
    return out


@router.get("/brands/{brand}/drift/report", response_model=FeedReport, operation_id="driftReport")
def drift_report(brand: ReadBrand, copilot: CopilotDep,
                 window_days: Annotated[int, Query(ge=1, le=365)] = 30) -> FeedReport:
    """Audit of the brand's own posts over the window."""
    return copilot.drift.report(brand, window_days=window_days)
