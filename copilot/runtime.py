"""The running product: store, indexes, embedder, retriever, ingestor and job runner wired together.

`Copilot.from_settings` builds the real adapters; tests pass their own (a hashing embedder, a temp dir).
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from copilot.compose import Composer
from copilot.embed import Embedder, HashEmbedder, LocalMiniLM
from copilot.errors import CopilotError
from copilot.features.drift_service import DriftService
from copilot.features.drift_judge import LLMDriftJudge
from copilot.features.rituals import RitualService
from copilot.features.snapshot import Snapshots
from copilot.features.spotlight import SpotlightService
from copilot.features.vitality import VitalityService
from copilot.llm import LLM, Usage
from copilot.index import ChromaIndex, VectorIndex
from copilot.ingest import parse_file
from copilot.ingest.charter import parse_charter
from copilot.ingest.pipeline import IngestReport, Ingestor
from copilot.lexical import LexicalIndexes
from copilot.retrieve import Retriever
from copilot.review import ReviewService
from copilot.settings import Settings
from copilot.store import Store
from copilot.types import Charter, MessageRecord

log = logging.getLogger("copilot")
CHARTER_DATE = datetime(2000, 1, 1, tzinfo=timezone.utc)


def make_embedder(settings: Settings) -> Embedder:
    """The local ONNX embedder, or a litellm one when `COPILOT_EMBEDDING_MODEL` is set."""
    if settings.embedder == "hash":
        return HashEmbedder()
    if settings.embedding_model:
        from copilot.llm import LiteLLMEmbedder

        return LiteLLMEmbedder(settings.embedding_model, batch_size=settings.embed_batch_size)
    return LocalMiniLM(max_tokens=settings.embed_max_tokens, batch_size=settings.embed_batch_size)


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

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LiteLLMClient(settings.llm_model, fallbacks=settings.llm_fallbacks, timeout=settings.llm_timeout,
                         attempts=settings.llm_attempts, api_key=key, api_base=settings.llm_api_base, recorder=record)


class Copilot:
    """Everything a request handler or a CLI command needs."""

    def __init__(self, settings: Settings, *, store: Store | None = None, index: VectorIndex | None = None,
                 embedder: Embedder | None = None, llm: LLM | None = None):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = store or Store(settings.sqlalchemy_url, busy_timeout_s=settings.sqlite_busy_timeout_s)
        self.embedder = embedder or make_embedder(settings)
        self.index = index or ChromaIndex(path=settings.data_dir / "chroma", url=settings.chroma_url,
                                          embedder_name=self.embedder.name)
        self.lexical = LexicalIndexes(settings.data_dir / "lexical")
        self.retriever = Retriever(self.store, self.index, self.embedder, self.lexical,
                                   sync_rebuild_max_docs=settings.lexical_sync_rebuild_max_docs)
        self.ingestor = Ingestor(self.store, self.index, self.embedder)
        self.snapshots = Snapshots(self.store)
        self.llm = llm if llm is not None else make_llm(settings, self.store)
        self.drift = DriftService(self.store, self.snapshots, judge=LLMDriftJudge(self.llm) if self.llm else None)
        self.review = ReviewService(self.store)
        self.spotlight = SpotlightService(self.store, self.snapshots, llm=self.llm)
        self.vitality = VitalityService(self.store, self.snapshots)
        self.rituals = RitualService(self.store, Composer(self.store, self.retriever, self.snapshots), llm=self.llm,
                                     budget_tokens=settings.llm_max_prompt_tokens)
        self.jobs = JobRunner(self)

    # ------------------------------------------------------------ charter
    def put_charter(self, brand: str, source: str, *, fmt: str | None = None, filename: str | None = None) -> tuple[Any, Charter, bool]:
        """Parse, version and index a charter; its passages become searchable `charter` documents."""
        self.store.get_brand(brand)
        charter = parse_charter(source, fmt, filename=filename)
        row, created = self.store.add_charter_version(brand, charter.model_dump(mode="json"), source,
                                                      charter.source_format)
        if created:
            self._index_charter(brand, charter)
        return row, charter, created

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

    def erase_member(self, brand: str, member_id: int) -> dict[str, Any]:
        """Right to erasure: the member's messages leave the SQL store, the vector index and (by revision) the
        lexical index; their name is redacted from drafts; the member row is deleted."""
        language = self.store.get_brand(brand).language
        out = self.store.erase_member(brand, member_id, placeholder="[membre effacé]" if language == "fr" else "[erased member]")
        self.index.delete(brand, out["uids"])
        self.store.bump_revision(brand)
        self.lexical.drop(brand)
        return {"messages": out["messages"], "drafts_redacted": out["drafts_redacted"]}

    def close(self) -> None:
        """Stop the worker and release connections."""
        self.jobs.stop()
        self.store.close()


class JobRunner:
    """One background worker over the jobs table. Interrupted jobs are re-run from the start at start-up;
    ingestion is idempotent, so a re-run neither duplicates nor loses records."""

    def __init__(self, copilot: Copilot):
        self.copilot = copilot
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker and re-queue unfinished jobs."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="copilot-jobs", daemon=True)
            self._thread.start()
            for job in self.copilot.store.unfinished_jobs():
                self._queue.put(job.id)

    def submit(self, job_id: str) -> None:
        """Queue a job for the worker."""
        self._queue.put(job_id)

    def stop(self) -> None:
        """Ask the worker to finish after the current job."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None


    def _loop(self) -> None:
        while True:
            job_id = self._queue.get()
            try:
                if job_id is None:
                    return
                self.run(job_id)
            finally:
                self._queue.task_done()

    def run(self, job_id: str) -> None:
        """Run one import job to completion, recording progress, counts and errors."""
        store = self.copilot.store
        job = store.get_job(job_id)
        if job is None or job.status in ("succeeded", "failed"):
            return
        store.update_job(job_id, status="running", processed=0)
        try:
            s = self.copilot.settings
            items = list(parse_file(Path(job.file_path or ""), job.format if job.format != "auto" else None,
                                    max_zip_members=s.max_zip_members, max_zip_bytes=s.max_zip_uncompressed_bytes))
            store.update_job(job_id, total=len(items))
            report = self.copilot.ingestor.ingest(job.brand_id, items,
                                                  progress=lambda n: store.update_job(job_id, processed=n))
            store.update_job(job_id, status="succeeded", processed=len(items), counts=report.as_dict(),
                             errors=report.errors, error_count=report.error_count)
            upload = Path(job.file_path or "")
            upload.unlink(missing_ok=True)
            if upload.parent.name != "uploads" and upload.parent.parent.name == "uploads":
                upload.parent.rmdir()
        except CopilotError as exc:
            store.update_job(job_id, status="failed", detail=exc.detail)
        except Exception:
            log.exception("import job %s failed", job_id)
            store.update_job(job_id, status="failed", detail="internal error while importing; see the server log")
