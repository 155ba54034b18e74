"""Drafts and their review, spotlight records, LLM usage, jobs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select, update

from copilot.store.models import Draft, DraftDecision, DraftRevision, Job, LLMUsage, now_utc
from copilot.store.base import RepoBase


class UsageRow(NamedTuple):
    """One day of a brand's LLM usage, summed over its calls."""

    day: str
    calls: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    cost: float


class WorkflowRepo(RepoBase):
    """Drafts, reviews, usage and jobs."""

    # ------------------------------------------------------------ drafts and LLM usage
    def create_draft(self, brand_id: str, *, kind: str, ritual: str | None, title: str, body: str,
                     payload: dict[str, Any], actor: str) -> Draft:
        """Save a new draft (status drafted, version 1)."""
        row = Draft(id=uuid.uuid4().hex, brand_id=brand_id, kind=kind, ritual=ritual, title=title, body=body,
                    payload=payload, created_by=actor, status="drafted", version=1)
        with self.session() as s, s.begin():
            s.add(row)
            s.flush()
            s.add(DraftRevision(draft_id=row.id, version=1, title=title, body=body,
                                variants=list(payload.get("variants") or []), actor=actor, note=f"drafted ({kind})"))
        return row

    def get_draft(self, draft_id: str) -> Draft | None:
        """A draft or None."""
        with self.session() as s:
            return s.get(Draft, draft_id)

    def list_drafts(self, brand_id: str, *, status: str | None = None, kind: str | None = None, ritual: str | None = None,
                    created_by: str | None = None, since: datetime | None = None,
                    limit: int = 50, offset: int = 0) -> tuple[list[Draft], int]:
        """A page of drafts, newest first, and the total."""
        with self.session() as s:
            q = select(Draft).where(Draft.brand_id == brand_id)
            for column, value in ((Draft.status, status), (Draft.kind, kind), (Draft.ritual, ritual),
                                  (Draft.created_by, created_by)):
                if value is not None:
                    q = q.where(column == value)
            if since is not None:
                q = q.where(Draft.created_at >= since)
            total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            rows = list(s.scalars(q.order_by(Draft.created_at.desc(), Draft.id).limit(limit).offset(offset)))
        return rows, int(total)

    def draft_facets(self, brand_id: str) -> dict[str, dict[str, int]]:
        """How many drafts of the brand per status, ritual and author (the review queue's filters)."""
        out: dict[str, dict[str, int]] = {}
        with self.session() as s:
            for name, column in (("status", Draft.status), ("ritual", Draft.ritual), ("author", Draft.created_by)):
                rows = s.execute(select(column, func.count()).where(Draft.brand_id == brand_id).group_by(column))
                out[name] = {str(value): int(n) for value, n in rows if value is not None}
        return out

    def revise_draft(self, draft_id: str, *, expected_version: int, title: str, body: str, variants: list[str],
                     actor: str, note: str | None, payload: dict[str, Any] | None = None,
                     reopen: tuple[str, str, str] | None = None) -> Draft | None:
        """Write a new revision if the draft is still at `expected_version` (compare-and-set); None otherwise.
        `payload` keys are merged into the draft's payload; `reopen` = (from_status, to_status, comment) moves the
        draft back in the same transaction and records why as a `withdraw` decision."""
        with self.session() as s, s.begin():
            values: dict[str, Any] = {"version": expected_version + 1, "title": title, "body": body,
                                      "updated_at": now_utc()}
            where = [Draft.id == draft_id, Draft.version == expected_version]
            if reopen:
                values["status"] = reopen[1]
                where.append(Draft.status == reopen[0])
            result = s.execute(update(Draft).where(*where).values(**values))
            if result.rowcount != 1:
                return None
            s.add(DraftRevision(draft_id=draft_id, version=expected_version + 1, title=title, body=body,
                                variants=variants, actor=actor, note=note))
            if reopen:
                s.add(DraftDecision(draft_id=draft_id, action="withdraw", from_status=reopen[0], to_status=reopen[1],
                                    version=expected_version + 1, actor=actor, comment=reopen[2]))
            row = s.get(Draft, draft_id)
            assert row is not None
            row.payload = {**(row.payload or {}), **(payload or {}), "variants": variants}
        return self.get_draft(draft_id)

    def decide_draft(self, draft_id: str, *, action: str, from_status: str, to_status: str, version: int, actor: str,
                     comment: str | None, extra: dict[str, Any] | None = None,
                     override: str | None = None) -> Draft | None:
        """Move a draft between states if it is still in `from_status` at `version`; None otherwise. `override`
        records, in the same transaction, why failing guards were overridden (an `override_guards` decision)."""
        with self.session() as s, s.begin():
            result = s.execute(update(Draft).where(Draft.id == draft_id, Draft.status == from_status,
                                                   Draft.version == version)
                               .values(status=to_status, updated_at=now_utc()))
            if result.rowcount != 1:
                return None
            if override:
                s.add(DraftDecision(draft_id=draft_id, action="override_guards", from_status=from_status,
                                    to_status=from_status, version=version, actor=actor, comment=override))
            s.add(DraftDecision(draft_id=draft_id, action=action, from_status=from_status, to_status=to_status,
                                version=version, actor=actor, comment=comment))
            if extra:
                row = s.get(Draft, draft_id)
                assert row is not None
                row.payload = {**(row.payload or {}), **extra}
        return self.get_draft(draft_id)

    def set_draft_payload(self, draft_id: str, values: dict[str, Any]) -> None:
        """Merge keys into a draft's payload (e.g. where it was posted for review)."""
        with self.session() as s, s.begin():
            row = s.get(Draft, draft_id)
            if row is not None:
                row.payload = {**(row.payload or {}), **values}

    def draft_history(self, draft_id: str) -> tuple[list[DraftRevision], list[DraftDecision]]:
        """Every revision and decision of a draft, oldest first."""
        with self.session() as s:
            revisions = list(s.scalars(select(DraftRevision).where(DraftRevision.draft_id == draft_id)
                                       .order_by(DraftRevision.version)))
            decisions = list(s.scalars(select(DraftDecision).where(DraftDecision.draft_id == draft_id)
                                       .order_by(DraftDecision.id)))
        return revisions, decisions

    def reviewed_drafts(self, brand_id: str, *, ritual: str, statuses: Sequence[str], limit: int = 5) -> list[tuple[Draft, str | None]]:
        """Drafts of a ritual that reached one of the statuses, newest first, with the last decision's comment."""
        with self.session() as s:
            rows = list(s.scalars(select(Draft).where(Draft.brand_id == brand_id, Draft.ritual == ritual,
                                                      Draft.status.in_(list(statuses)))
                                  .order_by(Draft.updated_at.desc()).limit(limit)))
            out = []
            for row in rows:
                comment = s.scalar(select(DraftDecision.comment).where(DraftDecision.draft_id == row.id)
                                   .order_by(DraftDecision.id.desc()).limit(1))
                out.append((row, comment))
        return out

    def record_usage(self, brand_id: str, *, feature: str, model: str, prompt_tokens: int, completion_tokens: int,
                     cost: float, calls: int, failures: int, ok: bool, day: str) -> None:
        """One logical LLM call's tokens, cost and failures."""
        with self.session() as s, s.begin():
            s.add(LLMUsage(brand_id=brand_id, day=day, feature=feature, model=model, prompt_tokens=prompt_tokens,
                           completion_tokens=completion_tokens, cost=cost, calls=calls, failures=failures, ok=ok))

    def usage_by_day(self, brand_id: str, since_day: str) -> list[UsageRow]:
        """LLM calls, failures, tokens and cost per day from `since_day` (YYYY-MM-DD), oldest first."""
        with self.session() as s:
            rows = s.execute(
                select(LLMUsage.day, func.sum(LLMUsage.calls), func.sum(LLMUsage.failures),
                       func.sum(LLMUsage.prompt_tokens), func.sum(LLMUsage.completion_tokens), func.sum(LLMUsage.cost))
                .where(LLMUsage.brand_id == brand_id, LLMUsage.day >= since_day)
                .group_by(LLMUsage.day).order_by(LLMUsage.day)).tuples()
            return [UsageRow(day, int(calls or 0), int(failures or 0), int(prompt or 0), int(completion or 0),
                             float(cost or 0)) for day, calls, failures, prompt, completion, cost in rows]

    # ------------------------------------------------------------ jobs
    def create_job(self, brand_id: str, *, kind: str, fmt: str, file_path: str | None, file_name: str | None,
                   request: dict[str, Any] | None = None) -> Job:
        """Queue a job (an import with its file, or another kind of work with its `request`)."""
        row = Job(id=uuid.uuid4().hex, brand_id=brand_id, kind=kind, format=fmt, file_path=file_path,
                  file_name=file_name, status="queued", counts={}, errors=[], request=request)
        with self.session() as s, s.begin():
            s.add(row)
        return row

    def get_job(self, job_id: str) -> Job | None:
        """A job or None."""
        with self.session() as s:
            return s.get(Job, job_id)

    def update_job(self, job_id: str, **values: Any) -> None:
        """Set fields of a job."""
        with self.session() as s, s.begin():
            s.execute(update(Job).where(Job.id == job_id).values(updated_at=now_utc(), **values))

    def unfinished_jobs(self) -> list[Job]:
        """Jobs queued or interrupted while running (to resume at start-up)."""
        with self.session() as s:
            return list(s.scalars(select(Job).where(Job.status.in_(["queued", "running"])).order_by(Job.created_at)))
