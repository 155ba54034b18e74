"""Members, history batches, file imports and jobs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, status

from copilot.api.deps import AdminBrand, CopilotDep, PrincipalDep, ReadBrand
from copilot.api.routes import PROBLEMS
from copilot.api.schemas import (ErasureOut, HistoryBatch, ImportFormat, IngestOut, JobOut, MemberExport, MemberOut,
                                 MemberPage, MemberPatch)
from copilot.errors import InvalidInput, NotFound, PayloadTooLarge
from copilot.members import export_member as export_member_data

router = APIRouter(prefix="/v1", tags=["history"], responses=PROBLEMS)


def _member_out(row: object) -> MemberOut:
    return MemberOut.model_validate(row, from_attributes=True)


@router.get("/brands/{brand}/members", response_model=MemberPage, operation_id="listMembers")
def list_members(brand: ReadBrand, copilot: CopilotDep,
                 role: Literal["member", "staff", "bot"] | None = None,
                 limit: Annotated[int, Query(ge=1, le=500)] = 50,
                 offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> MemberPage:
    """Members, paginated."""
    rows, total = copilot.store.list_members(brand, role=role, limit=limit, offset=offset)
    return MemberPage(items=[_member_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/brands/{brand}/members/{member_id}", response_model=MemberOut, operation_id="getMember")
def get_member(brand: ReadBrand, member_id: Annotated[int, Path(ge=1, le=2**31 - 1)], copilot: CopilotDep) -> MemberOut:
    """One member."""
    return _member_out(copilot.store.get_member(brand, member_id))


@router.patch("/brands/{brand}/members/{member_id}", response_model=MemberOut, operation_id="updateMember")
def update_member(brand: AdminBrand, member_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: MemberPatch, copilot: CopilotDep) -> MemberOut:
    """Set a member's role and/or consent (kept across re-imports)."""
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise InvalidInput("nothing to change: give role, consent_spotlight or consent_analytics", field="body")
    return _member_out(copilot.store.update_member(brand, member_id, changes))


@router.delete("/brands/{brand}/members/{member_id}", response_model=ErasureOut, operation_id="eraseMember")
def erase_member(brand: AdminBrand, member_id: Annotated[int, Path(ge=1, le=2**31 - 1)], copilot: CopilotDep) -> ErasureOut:
    """Erase a member: their messages (store, vectors, lexical index), spotlight records, and their name in drafts."""
    return copilot.erase_member(brand, member_id)


@router.get("/brands/{brand}/members/{member_id}/export", response_model=MemberExport, operation_id="exportMember")
def export_member(brand: AdminBrand, member_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                  copilot: CopilotDep) -> MemberExport:
    """Everything stored about a member (data subject access)."""
    return export_member_data(copilot.store, brand, member_id)


@router.post("/brands/{brand}/history/batch", response_model=IngestOut, operation_id="upsertHistory")
def upsert_history(brand: AdminBrand, body: HistoryBatch, copilot: CopilotDep) -> IngestOut:
    """Idempotent upsert of up to 1,000 members and 1,000 messages, keyed by (source, source_id).
    The batch is validated whole: one invalid item rejects it (422 naming the item) and nothing is written."""
    report = copilot.ingestor.ingest(brand, [*body.members, *body.messages])
    return IngestOut.model_validate(report, from_attributes=True)


@router.post("/brands/{brand}/imports", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut,
             operation_id="createImport",
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                 "schema": {"type": "string", "format": "binary"}}}}})
async def create_import(brand: AdminBrand, request: Request, copilot: CopilotDep,
                        format: ImportFormat = "auto",
                        filename: Annotated[str, Query(max_length=200, pattern=r"^[\w.\- ]+$")] = "upload") -> JobOut:
    """Upload a file (Slack export zip, Discord JSON, Stack Exchange dump, JSONL, Markdown) as the raw body;
    it is imported by a background job whose progress `GET /v1/jobs/{id}` reports."""
    if not filename.strip(" ."):
        raise InvalidInput(f"filename '{filename}' is not a file name; give the file's own name, e.g. export.zip",
                           field="filename")
    limit = copilot.settings.max_import_bytes
    # One folder per upload keeps the user's file name, so error locations name the file they sent.
    folder = copilot.settings.data_dir / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    size = 0
    with path.open("wb") as fh:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                fh.close()
                path.unlink(missing_ok=True)
                raise PayloadTooLarge(f"import is larger than {limit} bytes", field="body")
            fh.write(chunk)
    if size == 0:
        path.unlink(missing_ok=True)
        raise InvalidInput("the request body is empty; send the file as the raw body", field="body")
    job = copilot.store.create_job(brand, kind="import", fmt=format, file_path=str(path), file_name=filename)
    copilot.jobs.submit(job.id)
    return job_out(job)


def job_out(job: Any) -> JobOut:
    """A job as the API shows it."""
    return JobOut(id=job.id, brand=job.brand_id, kind=job.kind, format=job.format, status=job.status,
                  file_name=job.file_name, total=job.total, processed=job.processed, counts=job.counts or None,
                  errors=job.errors, error_count=job.error_count, detail=job.detail,
                  draft_id=(job.result or {}).get("draft_id"), created_at=job.created_at, updated_at=job.updated_at)


@router.get("/jobs/{job_id}", response_model=JobOut, operation_id="getJob")
def get_job(job_id: str, principal: PrincipalDep, copilot: CopilotDep) -> JobOut:
    """A job's status and progress: a file import, or an asynchronous draft (`draft_id` once it succeeded)."""
    job = copilot.store.get_job(job_id)
    if job is None or not (principal.is_admin or principal.brand == job.brand_id):
        raise NotFound(f"job '{job_id}' not found")
    return job_out(job)
