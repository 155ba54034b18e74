"""Ritual drafts, draft reads and LLM usage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from copilot.api.deps import CopilotDep, DraftBrand, PrincipalDep, ReadBrand
from copilot.api.routes import ETAG, PROBLEMS
from copilot.api.routes.history import job_out
from copilot.api.schemas import DraftOut, JobOut, RitualDraftIn, UsageOut
from copilot.features.rituals import RitualRequest
from copilot.types import utc
from copilot.usage import usage_report

router = APIRouter(prefix="/v1", tags=["rituals"], responses=PROBLEMS)
LOCATION = {"Location": {"description": "the job to poll: `/v1/jobs/{id}`", "schema": {"type": "string"}},
            "Preference-Applied": {"description": "`respond-async`", "schema": {"type": "string"}}}
# Payload keys that are None when a draft has no such record (a shout-out has no grounding, templates no model).
_OPTIONAL = ("prompt", "usage", "grounding", "learned_from")


def draft_out(row: Any) -> DraftOut:
    """A stored draft as the API shows it (its payload is the JSON the feature saved with it)."""
    payload = {k: v for k, v in (row.payload or {}).items() if k in DraftOut.model_fields
               and not (k in _OPTIONAL and not v)}
    return DraftOut(id=row.id, brand=row.brand_id, kind=row.kind, ritual=row.ritual, status=row.status,
                    version=row.version, title=row.title, body=row.body, created_by=row.created_by,
                    created_at=row.created_at, **payload)


def set_etag(response: Response, version: int) -> None:
    """The draft's version as its ETag, what `If-Match` takes back."""
    response.headers["ETag"] = f'"{version}"'


@router.post("/brands/{brand}/rituals/drafts", status_code=status.HTTP_201_CREATED, response_model=DraftOut,
             operation_id="draftRitual",
             responses={201: {"description": "the draft", "headers": ETAG},
                        202: {"model": JobOut, "headers": LOCATION,
                              "description": "with `Prefer: respond-async`: the draft is made in the background; poll "
                                             "the job at `Location`"}})
def draft_ritual(brand: DraftBrand, body: RitualDraftIn, principal: PrincipalDep, copilot: CopilotDep,
                 response: Response,
                 prefer: Annotated[str | None, Header(description="`respond-async` answers 202 at once with a job "
                                                                  "to poll (for slow models)")] = None) -> Any:
    """Draft a ritual post grounded in the charter and recent conversation; saved for review. A slow model
    never holds the caller: the synchronous answer comes within the LLM deadline (the rules engine answers,
    marked degraded, when the model does not), and `Prefer: respond-async` returns a job at once."""
    scheduled = utc(body.scheduled_at) if body.scheduled_at else None
    req = RitualRequest(ritual=body.ritual, channel=body.channel, theme=body.theme, language=body.language,
                        variants=body.variants, scheduled_at=scheduled)
    if prefer and "respond-async" in {p.strip().split("=")[0].lower() for p in prefer.split(",")}:
        copilot.rituals.check_request(brand, req)  # an unknown ritual is a 400 now, not a failed job later
        request = {**body.model_dump(mode="json", exclude={"scheduled_at"}),
                   "scheduled_at": scheduled.isoformat() if scheduled else None, "actor": principal.actor}
        job = copilot.store.create_job(brand, kind="ritual_draft", fmt="json", file_path=None, file_name=None,
                                       request=request)
        copilot.jobs.submit(job.id)
        return JSONResponse(jsonable_encoder(job_out(job)), status_code=status.HTTP_202_ACCEPTED,
                            headers={"Location": f"/v1/jobs/{job.id}", "Preference-Applied": "respond-async"})
    row = copilot.rituals.draft(brand, req, actor=principal.actor)
    set_etag(response, row.version)
    return draft_out(row)


@router.get("/brands/{brand}/usage", response_model=UsageOut, operation_id="llmUsage")
def llm_usage(brand: ReadBrand, copilot: CopilotDep, days: Annotated[int, Query(ge=1, le=366)] = 30) -> UsageOut:
    """LLM tokens, cost, calls and failures per day."""
    return usage_report(copilot.store, brand, days=days)
