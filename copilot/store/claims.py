"""Import jobs claimed from the database, so any replica's worker can run them and none is lost to a restart.

A worker claims the oldest job that is queued, or running under a lease that ran out (its worker died), by
setting `claimed_by` and `lease_until` in one statement: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers
never wait on or take the same row; SQLite has one writer at a time, which makes the same statement atomic. The
worker renews its lease while it runs; a job claimed `MAX_ATTEMPTS` times without finishing is failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, text, update

from copilot.store.base import RepoBase
from copilot.store.models import Job, Message, now_utc

MAX_ATTEMPTS = 3


class ClaimsRepo(RepoBase):
    """Claiming and renewing jobs."""

    def claim_job(self, worker: str, *, lease_s: float, skip: Sequence[str] = (),
                  now: datetime | None = None) -> Job | None:
        """Claim the next runnable job for `worker`, other than `skip` (None when there is none)."""
        now = now or now_utc()
        runnable = or_(Job.status == "queued",
                       and_(Job.status == "running", or_(Job.lease_until.is_(None), Job.lease_until < now)))
        if skip:
            runnable = and_(runnable, Job.id.not_in(list(skip)))
        pick = (select(Job.id).where(runnable).order_by(Job.created_at, Job.id).limit(1)
                .with_for_update(skip_locked=True).scalar_subquery())
        with self.session() as s, s.begin():
            job_id = s.scalar(update(Job).where(Job.id == pick, runnable)
                              .values(status="running", claimed_by=worker, lease_until=now + timedelta(seconds=lease_s),
                                      attempts=Job.attempts + 1, updated_at=now)
                              .returning(Job.id).execution_options(synchronize_session=False))
            if job_id is None:
                return None
            job = s.get(Job, job_id)
            if job is not None and job.attempts > MAX_ATTEMPTS:
                job.status, job.detail = "failed", f"the import stopped {MAX_ATTEMPTS} times before finishing"
                job.claimed_by, job.lease_until = None, None
            return job

    def renew_claim(self, job_id: str, worker: str, *, lease_s: float) -> bool:
        """Extend `worker`'s lease on a job it runs; False when it lost the claim."""
        with self.session() as s, s.begin():
            result = s.execute(update(Job).where(Job.id == job_id, Job.claimed_by == worker, Job.status == "running")
                               .values(lease_until=now_utc() + timedelta(seconds=lease_s))
                               .execution_options(synchronize_session=False))
        return bool(result.rowcount)

    def unclaim_job(self, job_id: str, worker: str) -> None:
        """Give a claimed job back to the queue (this worker cannot run it), without counting the attempt."""
        with self.session() as s, s.begin():
            s.execute(update(Job).where(Job.id == job_id, Job.claimed_by == worker)
                      .values(status="queued", claimed_by=None, lease_until=None, attempts=Job.attempts - 1)
                      .execution_options(synchronize_session=False))

    def brands_needing_embeddings(self) -> list[str]:
        """Brands with messages waiting for their vectors (through the partial index of pending rows)."""
        with self.session() as s:
            return list(s.scalars(select(Message.brand_id).where(text("embed_pending")).distinct()))

    def release_claim(self, job_id: str) -> None:
        """Forget who ran a finished job."""
        with self.session() as s, s.begin():
            s.execute(update(Job).where(Job.id == job_id).values(claimed_by=None, lease_until=None)
                      .execution_options(synchronize_session=False))
