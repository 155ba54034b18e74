"""The running product: store, indexes, embedder, retriever, ingestor and job runner wired together.

`Copilot.from_settings` builds the real adapters; tests pass their own (a hashing embedder, a temp dir).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from copilot import heap, phrases
from copilot.compose import Composer
from copilot.embed import Embedder, HashEmbedder, LocalMiniLM, LocalMultilingualUSE, PairedEmbedder
from copilot.errors import CopilotError, NotFound
from copilot.facets import Facets
from copilot.features.charter_reading import CharterReader, carry_over, decide
from copilot.features.drift_service import DriftService
from copilot.features.drift_judge import LLMDriftJudge
from copilot.features.rituals import RitualService
from copilot.features.snapshot import Snapshots
from copilot.features.spotlight import SpotlightService
from copilot.features.vitality import VitalityService
from copilot.llm import LLM, Usage
from copilot.index import ChromaIndex, VectorIndex
from copilot.index_process import ProcessIndex
from copilot.ingest import detect_format, parse_file
from copilot.ingest.charter import parse_charter
from copilot.ingest.pipeline import IngestReport, Ingestor
from copilot.lexical import KeywordSearch
from copilot.members import ErasureOut
from copilot.retrieve import Retriever
from copilot.review import ReviewService
from copilot.settings import Settings
from copilot.store import Store
from copilot.types import Charter, MessageRecord
from copilot.usage import tokens_used

log = logging.getLogger("copilot")
CHARTER_DATE = datetime(2000, 1, 1, tzinfo=timezone.utc)
ERASURE_PENDING = "erasure-pending.json"  # brands whose erasure still has files to scrub (ids only, no content)
# A finished job is released in the same write that finishes it: no reader sees it done and still claimed.
RELEASED: dict[str, Any] = {"claimed_by": None, "lease_until": None}
ORPHAN_MIN_AGE = timedelta(hours=1)  # an upload folder no job points to may still be receiving its upload


def make_embedder(settings: Settings) -> Embedder:
    """The embedder `COPILOT_EMBEDDER` names (hash, multilingual or paired), else a litellm one when
    `COPILOT_EMBEDDING_MODEL` is set, else the local ONNX MiniLM."""
    if settings.embedder == "hash":
        return HashEmbedder()
    if settings.embedder in ("multilingual", "paired"):
        multilingual = LocalMultilingualUSE(threads=settings.embed_threads or 1)
        return multilingual if settings.embedder == "multilingual" else PairedEmbedder(_minilm(settings), multilingual)
    if settings.embedding_model:
        from copilot.llm import LiteLLMEmbedder

        return LiteLLMEmbedder(settings.embedding_model, batch_size=settings.embed_batch_size)
    return _minilm(settings)


def _minilm(settings: Settings) -> LocalMiniLM:
    return LocalMiniLM(max_tokens=settings.embed_max_tokens, batch_size=settings.embed_batch_size,
                       threads=settings.embed_threads or None)


def make_llm(settings: Settings, store: Store) -> LLM | None:
    """The litellm client when `COPILOT_LLM_MODEL` is set; usage is recorded per brand and day."""
    if not settings.llm_model:
        return None
    from copilot.llm import LiteLLMClient

    def record(meta: dict[str, str], model: str, usage: Usage, ok: bool) -> None:
        store.record_usage(meta["brand"], feature=meta.get("feature", "llm"), model=model, ok=ok,
                           prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                           cost=usage.cost, calls=usage.calls, failures=usage.failures,
                           day=datetime.now(timezone.utc).date().isoformat())

    def budget(meta: dict[str, str]) -> str | None:
        limit = settings.llm_daily_token_budget
        if limit is None or "brand" not in meta:
            return None
        today = datetime.now(timezone.utc).date().isoformat()
        used = tokens_used(store, meta["brand"], today)
        return f"the brand's daily LLM budget is spent ({used} of {limit} tokens today)" if used >= limit else None

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LiteLLMClient(settings.llm_model, fallbacks=settings.llm_fallbacks, timeout=settings.llm_timeout,
                         attempts=settings.llm_attempts, api_key=key, api_base=settings.llm_api_base, recorder=record,
                         deadline=settings.llm_deadline, max_tokens=settings.llm_max_tokens, budget=budget)


class Copilot:
    """Everything a request handler or a CLI command needs."""

    def __init__(self, settings: Settings, *, store: Store | None = None, index: VectorIndex | None = None,
                 embedder: Embedder | None = None, llm: LLM | None = None):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = store or Store(settings.sqlalchemy_url, busy_timeout_s=settings.sqlite_busy_timeout_s)
        self.embedder = embedder or make_embedder(settings)
        if index is None and settings.chroma_url is None and settings.vector_process:
            index = ProcessIndex(path=settings.data_dir / "chroma", embedder_name=self.embedder.name)
        self.index = index or ChromaIndex(path=settings.data_dir / "chroma", url=settings.chroma_url,
                                          embedder_name=self.embedder.name)
        # Keyword search lives in the database now; an older release's BM25 files are derived data: drop them.
        shutil.rmtree(settings.data_dir / "lexical", ignore_errors=True)
        self.facets = Facets(self.store)  # kinds and channels in memory, for filtered search (both sides)
        self.keywords = KeywordSearch(self.store, facets=self.facets)
        self.retriever = Retriever(self.store, self.index, self.embedder, self.keywords, facets=self.facets)
        self.ingestor = Ingestor(self.store, self.index, self.embedder)
        self.snapshots = Snapshots(self.store, root=settings.data_dir / "snapshots",
                                   follow_interval_s=settings.snapshot_follow_interval_s,
                                   save_interval_s=settings.snapshot_save_interval_s,
                                   sync_max_rows=settings.snapshot_sync_build_max_rows,
                                   change_retention_s=settings.change_log_retention_hours * 3600)
        self.llm = llm if llm is not None else make_llm(settings, self.store)
        self.drift = DriftService(self.store, self.snapshots, judge=LLMDriftJudge(self.llm) if self.llm else None)
        self.review = ReviewService(self.store)
        self.spotlight = SpotlightService(self.store, self.snapshots, llm=self.llm)
        self.vitality = VitalityService(self.store, self.snapshots)
        self.rituals = RitualService(self.store, Composer(self.store, self.retriever, self.snapshots), llm=self.llm,
                                     budget_tokens=settings.llm_max_prompt_tokens)
        self.jobs = JobRunner(self)
        self._scrub_lock = threading.Lock()
        self.snapshots.primers.append(self._prime_reports)
        self.snapshots.primers.append(self.rituals.warm)  # also the first hybrid search: query embedder, vectors
        self.snapshots.primers.append(self.facets.warm)  # kinds and channels of a large brand, before /readyz is green
        if settings.settle_heap:
            self.snapshots.settlers.append(heap.settle)
        for lang in phrases.LANGUAGES:  # read on the first request that writes a sentence otherwise
            phrases.table(lang)

    def _prime_reports(self, brand: str) -> None:
        """The analytics reports' first requests, made before a large brand counts as warm: the member cache, author
        masks, cohorts and the feed's post scores are then ready for the first real request (no LLM is called)."""
        self.vitality.report(brand)
        self.spotlight.suggest(brand, limit=0)
        self.drift.report(brand, window_days=30)

    # ------------------------------------------------------------ charter
    def put_charter(self, brand: str, source: str, *, fmt: str | None = None, filename: str | None = None,
                    read_with_llm: bool = False) -> tuple[Any, Charter, bool]:
        """Parse, version and index a charter; its passages become searchable `charter` documents. With
        `read_with_llm` (what the API does) and an LLM configured, the model reads it too: its new findings wait
        for the CM as proposals (`copilot/features/charter_reading.py`). Findings the CM confirmed earlier are
        carried over either way; the sample loader and benchmarks read with the rules only."""
        self.store.get_brand(brand)
        charter = parse_charter(source, fmt, filename=filename)
        try:
            latest = self.store.get_charter(brand)
        except NotFound:
            latest = None
        if latest is not None and latest.source_text == source:  # unchanged: no new version, no model call
            return latest, Charter.model_validate(latest.data), False
        charter = carry_over(charter, Charter.model_validate(latest.data) if latest else None, source)
        if read_with_llm and self.llm is not None:
            charter = CharterReader(self.llm).read(brand, source, charter)
        row, created = self.store.add_charter_version(brand, charter.model_dump(mode="json"), source,
                                                      charter.source_format, decisions=_decisions(charter))
        if created:
            self._index_charter(brand, charter)
        return row, charter, created

    def decide_charter_findings(self, brand: str, *, accept: list[str], reject: list[str]) -> tuple[Any, Charter]:
        """Apply the model findings the CM confirms, dismiss the ones they reject: a new charter version."""
        latest = self.store.get_charter(brand)
        charter = decide(Charter.model_validate(latest.data), accept, reject)
        row, _ = self.store.add_charter_version(brand, charter.model_dump(mode="json"), latest.source_text,
                                                latest.source_format, decisions=_decisions(charter))
        return row, charter

    def _index_charter(self, brand: str, charter: Charter) -> None:
        records = [MessageRecord(source="charter", source_id=p.id, kind="charter", title=p.section,
                                 text=p.text[:100_000], created_at=CHARTER_DATE, channel="charter")
                   for p in charter.passages]
        self.ingestor.ingest(brand, records)
        gone = self.store.delete_messages(brand, source="charter", keep=[p.id for p in charter.passages])
        if gone:
            self.index.delete(brand, gone)
            self.store.bump_revision(brand)

    def charter(self, brand: str, version: int | None = None) -> Charter:
        """The brand's typed charter (latest unless a version is given)."""
        return Charter.model_validate(self.store.get_charter(brand, version).data)

    # ------------------------------------------------------------ history
    def ingest_file(self, brand: str, path: Path, fmt: str | None = None, *, progress: Any = None) -> IngestReport:
        """Import one file synchronously (the CLI path; the API queues a job instead)."""
        self.store.get_brand(brand)
        s = self.settings
        items = parse_file(path, fmt, max_zip_members=s.max_zip_members, max_zip_bytes=s.max_zip_uncompressed_bytes)
        return self.ingestor.ingest(brand, items, progress=progress)

    @property
    def uploads_dir(self) -> Path:
        """Where import uploads wait for their job."""
        return self.settings.data_dir / "uploads"

    def erase_member(self, brand: str, member_id: int) -> ErasureOut:
        """Right to erasure: the member, their messages (SQL store and its keyword index, vector index and its log) and
        spotlight records go; copies of their words and name are redacted from drafts, revisions, review
        comments and import reports; finished imports' uploads are deleted; then free database pages are
        scrubbed. Imports still queued or running are left alone (they need their file) and logged."""
        language = self.store.get_brand(brand).language
        member = self.store.get_member(brand, member_id)
        # Vectors first: when the vector index is down nothing has changed yet, and the request can be retried.
        self.index.delete(brand, self.store.member_uids(brand, member_id))
        out = self.store.erase_member(brand, member_id, placeholder="[membre effacé]" if language == "fr" else "[erased member]")
        self.store.bump_revision(brand)
        self.snapshots.erase(brand, (member.source, member.source_id))  # its saved file goes now, a rebuild follows
        for upload in out["uploads"]:
            delete_upload(Path(upload), self.uploads_dir)
        if out["pending_jobs"]:
            log.warning("erasure in brand %s: imports %s are still pending; erase the member again once they ran "
                        "if their files contain them", brand, ", ".join(out["pending_jobs"]))
        self.scrub_after_erasure(brand, uids=out["uids"])
        return ErasureOut(member_id=member_id, messages=out["messages"], drafts_redacted=out["drafts_redacted"])

    def scrub_after_erasure(self, brand: str | None = None, *, uids: list[str] | None = None) -> bool:
        """Remove what deleting rows leaves in files: the vector index's log and free pages (for a brand whose
        vectors were deleted) and the database's free pages and WAL. What fails stays listed in the data dir
        (ids only) and is retried by the job worker; returns True when nothing is left pending."""
        path = self.settings.data_dir / ERASURE_PENDING
        with self._scrub_lock:
            pending = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"vectors": [], "database": False}
            if brand is not None:
                pending = {"vectors": sorted(set(pending["vectors"]) | ({brand} if uids else set())), "database": True}
                path.write_text(json.dumps(pending), encoding="utf-8")
            left = {"vectors": [b for b in pending["vectors"] if not self._purge_vectors(b, uids if b == brand else None)],
                    "database": pending["database"] and not self._scrub_database()}
            if left["vectors"] or left["database"]:
                path.write_text(json.dumps(left), encoding="utf-8")
                return False
            path.unlink(missing_ok=True)
            return True

    def _purge_vectors(self, brand: str, uids: list[str] | None) -> bool:
        try:
            self.index.delete(brand, uids or [])  # messages the member wrote while the erasure ran
            self.index.purge_deleted(brand)
            return True
        except Exception:  # noqa: BLE001 - retried by the job worker
            log.warning("erasure in brand %s: the vector index could not be purged yet; will retry", brand, exc_info=True)
            return False

    def _scrub_database(self) -> bool:
        try:
            if self.store.scrub_free_space():
                return True
            log.warning("erasure: the database WAL is in use and could not be truncated yet; will retry")
        except Exception:  # noqa: BLE001 - retried by the job worker
            log.warning("erasure: the database could not be scrubbed yet; will retry", exc_info=True)
        return False

    def start(self) -> None:
        """Serve: warm the analytics snapshots and follow the change sequence, run the job worker."""
        self.snapshots.start()
        self.jobs.start()

    def close(self) -> None:
        """Stop the worker and the follower (saving the snapshots) and release connections."""
        self.jobs.stop()
        self.ingestor.close()
        self.snapshots.stop()
        self.store.close()
        close_index = getattr(self.index, "close", None)
        if close_index is not None:
            close_index()


class JobRunner:
    """A background worker over the jobs table, one per process; any number of processes may share the database.

    Jobs are claimed from the database (`Store.claim_job`: row locks with SKIP LOCKED on PostgreSQL), so a job
    submitted to one replica may run on another, and a job whose worker died is claimed again once its lease ran
    out (the lease is renewed while the job runs); ingestion is idempotent, so a re-run neither duplicates nor
    loses records. A worker only runs jobs whose upload it can read (the replica that received it, or any replica
    when the uploads directory is shared). At start-up and then periodically it also does upkeep (`maintain`):
    expired uploads go, unfinished erasure scrubs are retried; and it re-embeds messages an earlier failure left
    without vectors."""

    POLL_S = 1.0      # how often an idle worker looks for jobs submitted to other replicas
    REPAIR_S = 30.0   # how often missing vectors are looked for
    SKIP_S = 60.0     # how long a job whose upload is elsewhere is left to the other replicas

    def __init__(self, copilot: Copilot):
        self.copilot = copilot
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._skip: dict[str, float] = {}
        retention_s = copilot.settings.failed_upload_retention_hours * 3600
        self.maintenance_interval_s = min(3600.0, max(60.0, retention_s / 4))
        self._maintain_at = self._repair_at = 0.0

    def start(self) -> None:
        """Start the worker; its first acts are upkeep and claiming the jobs left queued or interrupted."""
        if self._thread is None:
            self._maintain_at = self._repair_at = 0.0
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="copilot-jobs", daemon=True)
            self._thread.start()

    def submit(self, job_id: str) -> None:
        """Wake the worker: a job was queued (in the database)."""
        self._wake.set()

    def stop(self) -> None:
        """Ask the worker to finish after the current job."""
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= self._maintain_at:
                self.maintain()
            if now >= self._repair_at:
                self._repair_at = now + self.REPAIR_S
                self._repair()
            try:
                ran = self.run_next()
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the worker; the next round retries
                log.exception("claiming an import job failed")
                ran = False
            if not ran:
                self._wake.wait(max(0.0, min(self.POLL_S, self._maintain_at - time.monotonic())))
                self._wake.clear()

    def run_next(self) -> bool:
        """Claim and run the next job this worker can run; False when there is none."""
        store, lease = self.copilot.store, self.copilot.settings.job_lease_s
        now = time.monotonic()
        self._skip = {j: t for j, t in self._skip.items() if t > now}
        job = store.claim_job(self.worker, lease_s=lease, skip=list(self._skip))
        if job is None:
            return False
        if job.status != "running":  # failed for stopping too many times
            return True
        if job.file_path and not Path(job.file_path).exists():
            store.unclaim_job(job.id, self.worker)  # its upload is on another replica: leave it to that one
            self._skip[job.id] = now + self.SKIP_S
            return True
        self.run(job.id)
        return True

    def _repair(self) -> None:
        """Re-embed messages an earlier failure left without vectors (in every brand)."""
        for brand in self.copilot.store.brands_needing_embeddings():
            try:
                self.copilot.ingestor.repair(brand)
            except Exception:  # noqa: BLE001 - the vector index may be down; the next round retries
                log.warning("re-embedding missing vectors of brand %s failed; will retry", brand, exc_info=True)

    def maintain(self) -> None:
        """Upkeep: delete expired uploads, retry unfinished erasure scrubs. Never raises."""
        self._maintain_at = time.monotonic() + self.maintenance_interval_s
        for step in (self.sweep_uploads, self.copilot.scrub_after_erasure):
            try:
                step()
            except Exception:  # noqa: BLE001 - upkeep must not stop the worker; the next round retries
                log.exception("upkeep step %s failed", getattr(step, "__name__", step))

    def sweep_uploads(self, *, now: datetime | None = None) -> int:
        """Delete the uploads of succeeded imports, of imports that failed more than
        `failed_upload_retention_hours` ago, and upload folders no job points to that are as old (at least an
        hour: one may still be receiving its upload). Returns how many went."""
        c = self.copilot
        now = now or datetime.now(timezone.utc)
        cutoff = now - timedelta(hours=c.settings.failed_upload_retention_hours)
        expired = c.store.expired_uploads(cutoff)
        for _, upload in expired:
            delete_upload(Path(upload), c.uploads_dir)
        c.store.forget_uploads([job_id for job_id, _ in expired])
        in_use = {Path(p).parent.resolve() for p in c.store.upload_paths()}
        oldest = min(cutoff, now - ORPHAN_MIN_AGE).timestamp()
        orphans = [p for p in (c.uploads_dir.iterdir() if c.uploads_dir.is_dir() else [])
                   if p.resolve() not in in_use and p.stat().st_mtime < oldest]
        for orphan in orphans:
            if orphan.is_dir():
                shutil.rmtree(orphan, ignore_errors=True)
            else:
                orphan.unlink(missing_ok=True)
        return len(expired) + len(orphans)

    def run(self, job_id: str) -> None:
        """Run one claimed job to completion (an import: progress, counts and errors; an asynchronous draft: the
        draft's id), renewing the claim while it runs (a worker that lost its claim stops: another one has it)."""
        store, lease = self.copilot.store, self.copilot.settings.job_lease_s
        job = store.get_job(job_id)
        if job is None or job.status in ("succeeded", "failed"):
            return
        store.update_job(job_id, status="running", processed=0)
        stop_renewing = threading.Event()

        def renew() -> None:
            while not stop_renewing.wait(lease / 3):
                try:
                    if not store.renew_claim(job_id, self.worker, lease_s=lease):
                        return
                except Exception:  # noqa: BLE001 - a missed renewal is retried; the lease has slack
                    log.warning("renewing the claim on job %s failed", job_id, exc_info=True)

        renewer = threading.Thread(target=renew, name=f"lease-{job_id[:8]}", daemon=True)
        renewer.start()
        try:
            if job.kind == "ritual_draft":
                self._run_draft(job)
                return
            s = self.copilot.settings
            fmt = job.format
            if fmt == "auto":  # the job says what was detected, not 'auto'
                fmt = detect_format(Path(job.file_path or ""))
                store.update_job(job_id, format=fmt)
            items = list(parse_file(Path(job.file_path or ""), fmt,
                                    max_zip_members=s.max_zip_members, max_zip_bytes=s.max_zip_uncompressed_bytes))
            store.update_job(job_id, total=len(items))
            report = self.copilot.ingestor.ingest(job.brand_id, items,
                                                  progress=lambda n: store.update_job(job_id, processed=n))
            store.update_job(job_id, status="succeeded", processed=len(items), counts=report.as_dict(), **RELEASED,
                             errors=[e.model_dump() for e in report.errors], error_count=report.error_count)
            delete_upload(Path(job.file_path or ""), self.copilot.uploads_dir)  # a left-over goes at the next sweep
            store.forget_uploads([job_id])
        except CopilotError as exc:
            store.update_job(job_id, status="failed", detail=exc.detail, **RELEASED)
        except Exception:
            log.exception("%s job %s failed", job.kind, job_id)
            store.update_job(job_id, status="failed", **RELEASED,
                             detail=f"internal error while running the {job.kind} job; see the server log")
        finally:
            stop_renewing.set()
            store.release_claim(job_id)


    def _run_draft(self, job: Any) -> None:
        """An asynchronous ritual draft: the same drafting as the synchronous route, with the longer LLM deadline
        of `llm_async_deadline` (nobody waits on the HTTP request)."""
        from copilot.features.rituals import RitualRequest

        asked = dict(job.request or {})
        actor = asked.pop("actor", "api")
        if asked.get("scheduled_at"):
            asked["scheduled_at"] = datetime.fromisoformat(asked["scheduled_at"])
        draft = self.copilot.rituals.draft(job.brand_id, RitualRequest(**asked), actor=actor,
                                           deadline=self.copilot.settings.llm_async_deadline)
        self.copilot.store.update_job(job.id, status="succeeded", total=1, processed=1, counts={"drafts": 1}, **RELEASED,
                                      result={"draft_id": draft.id})


def _decisions(charter: Charter) -> str:
    """What the CM decided on model findings, for the version digest (a decision makes a new version)."""
    return ",".join(sorted(f.id for f in charter.confirmed)) + "|" + ",".join(sorted(p.id for p in charter.proposals))


def delete_upload(path: Path, root: Path) -> None:
    """Delete an import upload and its per-upload folder; nothing outside `root` is ever touched."""
    root = root.resolve()
    target = path.resolve()
    if not target.is_relative_to(root) or target == root:
        return
    folder = target.parent
    if folder.parent == root:
        shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        target.unlink(missing_ok=True)
    except OSError:  # the sweep retries; a finished import must not turn into a failed one over its upload
        log.warning("could not delete upload %s", target, exc_info=True)
