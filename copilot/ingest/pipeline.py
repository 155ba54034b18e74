"""The ingestion pipeline: normalised records -> SQL store -> dense and lexical indexes.

Order per batch: members, then messages (one transaction, with their keyword index entries and their place in the
brand's change sequence), then embeddings of the messages whose content hash differs from what is indexed, then
the Chroma upsert, then `indexed_hash` is recorded. A crash between steps leaves the message marked as needing
embedding (an indexed flag), so a later write or the job worker re-embeds exactly what is missing.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from copilot.embed import Embedder
from copilot.index import VectorIndex
from copilot.store import Store, UpsertResult
from copilot.types import MemberCounts, MemberRecord, MessageCounts, MessageRecord, RecordError, content_hash

MAX_EMBED_CHARS = 2000
INLINE_REPAIR = 64  # stale vectors a write repairs on its way
#: Texts per embedding call in a write: the vectors of one chunk are stored while the next is embedded.
EMBED_CHUNK = 64
EMBED_LAST_CHUNK = 16
EMBED_HEAD_START_S = 0.03  # see index_documents
MAX_REPORTED_ERRORS = 100


@dataclass
class IngestReport:
    """Counts of what an ingestion did, and the first errors with their locations."""

    members: MemberCounts = field(default_factory=MemberCounts)
    messages: MessageCounts = field(default_factory=MessageCounts)
    embedded: int = 0
    errors: list[RecordError] = field(default_factory=list)
    error_count: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (a job's stored counts)."""
        return {"members": self.members.model_dump(), "messages": self.messages.model_dump(),
                "embedded": self.embedded, "errors": [e.model_dump() for e in self.errors],
                "error_count": self.error_count}


def embed_text(doc: dict[str, Any]) -> str:
    """What gets embedded for a message: its title and text, capped (the model truncates anyway)."""
    return "\n".join(filter(None, [doc.get("title"), doc["text"]]))[:MAX_EMBED_CHARS]


def digest(rec: MessageRecord) -> str:
    """Content hash over every field stored in the vector index."""
    return content_hash(rec.title, rec.text, rec.kind, rec.channel, rec.author, rec.created_at.isoformat(), rec.source)


class Ingestor:
    """Writes records for one brand into the store and both indexes."""

    def __init__(self, store: Store, index: VectorIndex, embedder: Embedder, *, batch_size: int = 512):
        self.store, self.index, self.embedder, self.batch_size = store, index, embedder, batch_size
        self._ahead: ThreadPoolExecutor | None = None

    def ingest(self, brand: str, items: Iterable[MemberRecord | MessageRecord | RecordError], *,
               progress: Callable[[int], None] | None = None) -> IngestReport:
        """Ingest everything; `progress` is called with the number of records handled so far."""
        report = IngestReport()
        batch: list[MemberRecord | MessageRecord] = []
        done = 0
        self.index.ping()  # refuse before writing anything when the vector index is down
        # Repair a few vectors an earlier failure missed (the job worker drains the rest in the background), so a
        # one-message write never pays for re-embedding a backlog.
        report.embedded += self.index_documents(brand, self.store.stale_messages(brand, limit=INLINE_REPAIR))
        for item in items:
            if isinstance(item, RecordError):
                report.error_count += 1
                if len(report.errors) < MAX_REPORTED_ERRORS:
                    report.errors.append(item)
                continue
            batch.append(item)
            if len(batch) >= self.batch_size:
                done += self._flush(brand, batch, report)
                batch = []
                if progress:
                    progress(done)
        if batch:
            done += self._flush(brand, batch, report)
            if progress:
                progress(done)
        return report  # what changed is in the brand's change sequence, written with the messages

    def close(self) -> None:
        """Stop the embedding-ahead thread (after what it is doing)."""
        if self._ahead is not None:
            self._ahead.shutdown(wait=True)
            self._ahead = None

    def repair(self, brand: str, *, limit: int = 512) -> int:
        """Embed messages whose vectors are missing or outdated (a write whose indexing failed); returns how many."""
        return self.index_documents(brand, self.store.stale_messages(brand, limit=limit))

    def _flush(self, brand: str, batch: Sequence[MemberRecord | MessageRecord], report: IngestReport) -> int:
        members = [r for r in batch if isinstance(r, MemberRecord)]
        messages = [r for r in batch if isinstance(r, MessageRecord)]
        members += _implied_authors(messages, {(m.source, m.source_id) for m in members})
        if not messages:
            _count(report.members, self.store.upsert_members(brand, members))
            return len(batch)
        digests = [digest(m) for m in messages]
        ahead = self._embed_ahead(brand, messages, digests)
        try:
            members_result, result = self.store.upsert_history(brand, members, messages, digests)
        except BaseException:
            _cancel(ahead)
            raise
        _count(report.members, members_result)
        _count(report.messages, result)
        self.index.delete(brand, result.to_unindex)
        report.embedded += self.index_documents(brand, result.to_index, ahead=ahead)
        return len(batch)

    def _embed_ahead(self, brand: str, messages: Sequence[MessageRecord], digests: Sequence[str]) -> Ahead:
        """Start embedding, while the database write runs, the texts the write will need embedded (new content
        only: a reaction or a re-import of the same content needs none)."""
        live = [(m, d) for m, d in zip(messages, digests) if not m.deleted]
        wanted = self.store.needs_embedding(brand, [(m.source, m.source_id, d) for m, d in live]) if live else set()
        return self._start_embedding([embed_text({"title": m.title, "text": m.text}) for m, _ in live
                                      if (m.source, m.source_id) in wanted])

    def _start_embedding(self, texts: Sequence[str]) -> Ahead:
        """Queue `texts` (deduplicated, shortest first: chunks then pad little) for the embedding thread, one
        future per chunk, so the vectors of a chunk can be stored while the next one is computed."""
        unique = sorted(dict.fromkeys(texts), key=len)
        if not unique:
            return []
        if self._ahead is None:
            self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="copilot-embed-ahead")
        # The last chunk's vectors are upserted after every embedding is done: a small one keeps that tail short.
        head, tail = unique[:-EMBED_LAST_CHUNK], unique[-EMBED_LAST_CHUNK:]
        chunks = [head[i:i + EMBED_CHUNK] for i in range(0, len(head), EMBED_CHUNK)] + [tail]
        return [(chunk, self._ahead.submit(self.embedder.embed, chunk)) for chunk in chunks]

    def index_documents(self, brand: str, docs: Sequence[dict[str, Any]], *, ahead: Ahead = ()) -> int:
        """Embed and upsert documents into the vector index, then record their hashes as indexed. `ahead` holds
        vectors being computed for texts the write expected (by text: what is stored is what gets embedded); the
        rest are queued behind them. Each chunk's vectors are upserted as soon as they are ready, while the
        embedding thread computes the next chunk; the hashes are recorded once every vector is stored."""
        if not docs:
            _cancel(ahead)
            return 0
        waiting: dict[str, list[dict[str, Any]]] = {}
        for d in docs:
            waiting.setdefault(embed_text(d), []).append(d)
        expected = {t for chunk, _ in ahead for t in chunk}
        queued = [*ahead, *self._start_embedding([t for t in waiting if t not in expected])]
        try:
            for k, (chunk, future) in enumerate(queued):
                vectors = future.result()
                rows = [(d, v) for t, v in zip(chunk, vectors) for d in waiting.pop(t, [])]
                if rows and k + 1 < len(queued) and getattr(self.index, "holds_gil", False):
                    # An embedded vector store in this process holds the GIL for a whole upsert; the embedding thread,
                    # which has just started the next chunk, needs it once more (after tokenising) before its long
                    # model call, which runs without it. Upserting now would stall that thread for the whole upsert.
                    time.sleep(EMBED_HEAD_START_S)
                if rows:
                    self._upsert_vectors(brand, rows)
        finally:
            _cancel(queued)  # after a failure, the chunks not yet embedded are not worth computing
        self.store.mark_indexed(brand, [(d["uid"], d["hash"]) for d in docs])
        return len(docs)

    def _upsert_vectors(self, brand: str, rows: Sequence[tuple[dict[str, Any], Any]]) -> None:
        vectors = np.stack([np.asarray(v, dtype=np.float32) for _, v in rows])
        metadatas = [{"kind": d["kind"], "channel": d["channel"], "author": d["author"], "source": d["source"],
                      "created": d["created_at"].timestamp()} for d, _ in rows]
        self.index.upsert(brand, [d["uid"] for d, _ in rows], vectors, metadatas)


#: Texts and the future of their vectors, in the order the embedding thread computes them.
Ahead = Sequence[tuple[list[str], "Future[np.ndarray]"]]


def _cancel(ahead: Ahead) -> None:
    for _, future in ahead:
        future.cancel()


def _implied_authors(messages: Sequence[MessageRecord], known: set[tuple[str, str]]) -> list[MemberRecord]:
    seen: dict[tuple[str, str], MemberRecord] = {}
    for m in messages:
        key = (m.source, m.author or "")
        if m.author and key not in known and key not in seen:
            seen[key] = MemberRecord(source=m.source, source_id=m.author, name=(m.author_name or "")[:200])
    return list(seen.values())


def _count(target: MemberCounts, result: UpsertResult) -> None:
    for key in type(target).model_fields:
        setattr(target, key, getattr(target, key) + getattr(result, key))
