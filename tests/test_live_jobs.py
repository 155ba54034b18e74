"""Import jobs are claimed from the database: any process's worker runs them, a dead worker's job is taken over
once its lease runs out, a job that keeps killing its worker fails, and an upload another replica holds is left
to it. Also: vectors an outage left missing are re-embedded in the background, not by the next write."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import update

from copilot.embed import HashEmbedder
from copilot.ingest.pipeline import EMBED_CHUNK
from copilot.runtime import Copilot
from copilot.settings import Settings
from copilot.store.claims import MAX_ATTEMPTS
from copilot.store.models import Job
from copilot.types import MessageRecord


def upload(copilot: Copilot, name: str, n: int = 20) -> Path:
    folder = copilot.uploads_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "history.jsonl"
    path.write_text("".join(json.dumps({"type": "message", "source_id": f"{name}-{i}", "author": "u1",
                                        "created_at": "2026-10-01T10:00:00Z", "text": f"message {i} sur les freins"})
                            + "\n" for i in range(n)), encoding="utf-8")
    return path


def wait_for(predicate, seconds: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_job_queued_through_one_process_runs_on_another(settings: Settings):
    front = Copilot(settings, embedder=HashEmbedder())  # receives the upload; its worker is not running
    worker = Copilot(settings, embedder=HashEmbedder())
    try:
        front.store.create_brand("acme", "Acme", "fr")
        job = front.store.create_job("acme", kind="import", fmt="jsonl", file_path=str(upload(front, "a")),
                                     file_name="history.jsonl")
        front.jobs.submit(job.id)  # wakes nobody here: the other process finds it in the database
        worker.jobs.start()
        assert wait_for(lambda: front.store.get_job(job.id).status == "succeeded")
        done = front.store.get_job(job.id)
        assert done.counts["messages"]["inserted"] == 20 and done.claimed_by is None and done.attempts == 1
    finally:
        worker.close()
        front.close()


def test_a_dead_workers_job_is_taken_over_once_its_lease_ran_out(settings: Settings):
    c = Copilot(settings, embedder=HashEmbedder())
    try:
        c.store.create_brand("acme", "Acme", "fr")
        job = c.store.create_job("acme", kind="import", fmt="jsonl", file_path=str(upload(c, "b")),
                                 file_name="history.jsonl")
        assert c.store.claim_job("dead-worker", lease_s=3600).id == job.id  # it claimed, then died
        assert c.store.claim_job("other", lease_s=60) is None  # the lease still holds: nobody else takes it
        with c.store.session() as s, s.begin():
            s.execute(update(Job).where(Job.id == job.id).values(
                lease_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
        c.jobs.start()
        assert wait_for(lambda: c.store.get_job(job.id).status == "succeeded")
        assert c.store.get_job(job.id).attempts == 2 and c.store.count_messages("acme") == 20
    finally:
        c.close()


def test_a_job_that_keeps_stopping_its_worker_fails(settings: Settings):
    c = Copilot(settings, embedder=HashEmbedder())
    try:
        c.store.create_brand("acme", "Acme", "fr")
        job = c.store.create_job("acme", kind="import", fmt="jsonl", file_path=str(upload(c, "c")),
                                 file_name="history.jsonl")
        past = datetime.now(timezone.utc) - timedelta(hours=1)
        for _ in range(MAX_ATTEMPTS):
            assert c.store.claim_job("crashing-worker", lease_s=60).id == job.id
            with c.store.session() as s, s.begin():
                s.execute(update(Job).where(Job.id == job.id).values(lease_until=past))
        last = c.store.claim_job("crashing-worker", lease_s=60)
        assert last is not None and last.status == "failed" and "3 times" in last.detail
        assert c.store.claim_job("another", lease_s=60) is None
    finally:
        c.close()


def test_a_worker_leaves_an_upload_it_cannot_read_to_the_replica_that_has_it(settings: Settings, tmp_path: Path):
    c = Copilot(settings, embedder=HashEmbedder())
    try:
        c.store.create_brand("acme", "Acme", "fr")
        elsewhere = tmp_path / "other-replica" / "history.jsonl"  # not on this machine's disk
        job = c.store.create_job("acme", kind="import", fmt="jsonl", file_path=str(elsewhere), file_name="h.jsonl")
        assert c.jobs.run_next() is True
        assert c.store.get_job(job.id).status == "queued" and c.store.get_job(job.id).attempts == 0
        assert c.jobs.run_next() is False  # skipped for a while, not claimed again at once
        elsewhere.parent.mkdir(parents=True)
        elsewhere.write_text(upload(c, "d").read_text(encoding="utf-8"), encoding="utf-8")
        other = Copilot(settings, embedder=HashEmbedder())  # the replica that holds the file
        try:
            assert other.jobs.run_next() is True and other.store.get_job(job.id).status == "succeeded"
        finally:
            other.close()
    finally:
        c.close()


def test_claims_never_hand_one_job_to_two_workers(settings: Settings):
    c = Copilot(settings, embedder=HashEmbedder())
    try:
        c.store.create_brand("acme", "Acme", "fr")
        jobs = {c.store.create_job("acme", kind="import", fmt="jsonl", file_path=None, file_name=None).id
                for _ in range(12)}
        claimed: list[str] = []

        def worker(name: str) -> None:
            store = Copilot(settings, embedder=HashEmbedder()).store  # its own connections, like another process
            while (job := store.claim_job(name, lease_s=60)) is not None:
                claimed.append(job.id)
            store.close()

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(claimed) == sorted(jobs)  # each job exactly once
    finally:
        c.close()


def test_missing_vectors_are_repaired_in_the_background_not_by_the_next_write(settings: Settings):
    c = Copilot(settings, embedder=HashEmbedder())
    try:
        c.store.create_brand("acme", "Acme", "fr")
        at = datetime(2026, 10, 1, tzinfo=timezone.utc)
        records = [MessageRecord(source_id=f"m{i}", author="u1", created_at=at, text=f"freins {i}") for i in range(200)]
        c.store.upsert_messages("acme", records, [f"h{i}" for i in range(200)])  # stored; vectors lost in an outage
        assert len(c.store.stale_messages("acme")) == 200
        report = c.ingestor.ingest("acme", [MessageRecord(source_id="new", author="u2", created_at=at, text="chaîne")])
        assert report.embedded <= 1 + 64  # the write repairs a few on its way, never the whole backlog
        c.jobs.start()
        assert wait_for(lambda: not c.store.stale_messages("acme"), 30)
        assert c.index.count("acme") == 201
    finally:
        c.close()


class _FailsOnCall(HashEmbedder):
    """Embeds until its `fail_at`-th call, which raises (a model crash in the middle of a batch)."""

    def __init__(self, fail_at: int):
        self.calls, self.fail_at = 0, fail_at

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("embedder crashed")
        return super().embed(texts)


def test_a_batch_embedded_in_chunks_marks_vectors_indexed_only_once_all_are_stored(settings: Settings):
    # A 200-message batch is embedded in chunks whose vectors are upserted while the next chunk is computed. When
    # the embedder dies on the third chunk, the rows are kept, none counts as indexed (so nothing is skipped later),
    # and a repair stores every vector exactly once.
    at = datetime(2026, 10, 1, tzinfo=timezone.utc)
    records = [MessageRecord(source_id=f"m{i}", author="u1", created_at=at, text=f"freins et chaîne {i}")
               for i in range(200)]
    failing = _FailsOnCall(fail_at=3)
    c = Copilot(settings, embedder=failing)
    try:
        c.store.create_brand("acme", "Acme", "fr")
        try:
            c.ingestor.ingest("acme", records)
        except RuntimeError as exc:
            assert "embedder crashed" in str(exc)
        else:
            raise AssertionError("the embedder's failure was swallowed")
        assert c.store.count_messages("acme") == 200
        assert c.index.count("acme") == 2 * EMBED_CHUNK  # the first two chunks' vectors were stored before it
        assert len(c.store.stale_messages("acme", limit=500)) == 200
        failing.fail_at = 0
        assert c.ingestor.repair("acme", limit=500) == 200
        assert c.index.count("acme") == 200 and not c.store.stale_messages("acme")
    finally:
        c.close()
