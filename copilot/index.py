"""Vector index: one Chroma collection per brand (the only module that imports chromadb).

Embedded `PersistentClient` in the data dir by default, `HttpClient` when a Chroma URL is configured.
Vectors always come from our own embedder: Chroma's default embedder would download a model.

Deleting vectors is not enough for erasure: Chroma first appends every write to a log (`embeddings_queue` in its
SQLite file, with the vector and metadata) and drops log rows only once its HNSW index was persisted past them,
which happens every `hnsw:sync_threshold` (1000) records; and SQLite keeps deleted rows in free pages.
`purge_deleted` forces both (see there). An embedded Chroma also writes uninitialised process memory into the unused
capacity of a new HNSW segment (`copilot.index_files`): new segments are zeroed past their last element after the
write that created them, and every segment again on each purge.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator, Protocol, Sequence
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings

from copilot.errors import ServiceUnavailable
from copilot.index_files import ScrubGate, UnknownSegmentFormat, scrub_segments, segments

log = logging.getLogger("copilot.index")

OVERFETCH = 10
FLUSH_ID = "copilot-flush/{}"  # ids of the no-op deletes that make Chroma persist its index and purge its log
FLUSH_BATCH = 1000
# Vectors kept in memory for exact filtered ranking: fetching 1,300 by id from Chroma costs ~90 ms at 100k messages.
VECTOR_CACHE_BYTES = 64 << 20


class VectorIndex(Protocol):
    """What retrieval and ingestion need from a vector store."""

    def upsert(self, brand: str, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None: ...
    def delete(self, brand: str, ids: Sequence[str]) -> None: ...
    def purge_deleted(self, brand: str) -> None: ...
    def query(self, brand: str, vector: np.ndarray, *, k: int, filters: dict[str, Any]) -> list[tuple[str, float]]: ...
    def vectors(self, brand: str, ids: Sequence[str], *,
                versions: dict[str, str | None] | None = None) -> tuple[list[str], np.ndarray]:
        ...
    def count(self, brand: str) -> int: ...
    def ping(self) -> None: ...


def _where(filters: dict[str, Any]) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = [{k: filters[k]} for k in ("kind", "channel", "author") if filters.get(k)]
    if filters.get("since") is not None:
        clauses.append({"created": {"$gte": float(filters["since"])}})
    if filters.get("until") is not None:
        clauses.append({"created": {"$lte": float(filters["until"])}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _passes(meta: dict[str, Any], filters: dict[str, Any]) -> bool:
    if any(filters.get(k) and meta.get(k) != filters[k] for k in ("kind", "channel", "author")):
        return False
    created = float(meta.get("created", 0.0))
    if filters.get("since") is not None and created < float(filters["since"]):
        return False
    return not (filters.get("until") is not None and created > float(filters["until"]))


class VectorCache:
    """Stored vectors by (brand, id, content hash), the least recently used dropped past `max_bytes`. Keyed by the
    text's hash, an entry cannot outlive an edit of its message: the edited text has another key, and nothing is
    cached for a message whose new vector is still pending (its hash is then given as None). Deletes drop entries."""

    def __init__(self, max_bytes: int = VECTOR_CACHE_BYTES):
        self.max_bytes, self.size = max_bytes, 0
        self._entries: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, brand: str, versions: dict[str, str | None]) -> dict[str, np.ndarray]:
        """The cached vectors among `versions` (id -> content hash)."""
        found = {}
        with self._lock:
            for uid, version in versions.items():
                vector = self._entries.get((brand, uid, version)) if version is not None else None
                if vector is not None:
                    self._entries.move_to_end((brand, uid, version))
                    found[uid] = vector
        return found

    def put(self, brand: str, ids: Sequence[str], matrix: np.ndarray, versions: dict[str, str | None]) -> None:
        """Remember the vectors of `ids` (rows of `matrix`) whose content hash is known."""
        with self._lock:
            for uid, vector in zip(ids, matrix):
                version = versions.get(uid)
                if version is not None and (brand, uid, version) not in self._entries:
                    self._entries[(brand, uid, version)] = vector
                    self.size += vector.nbytes
            while self.size > self.max_bytes and self._entries:
                self.size -= self._entries.popitem(last=False)[1].nbytes

    def drop(self, brand: str, ids: Sequence[str] | None = None) -> None:
        """Forget a brand's vectors (or only those of `ids`)."""
        gone = None if ids is None else set(ids)
        with self._lock:
            for key in [k for k in self._entries if k[0] == brand and (gone is None or k[1] in gone)]:
                self.size -= self._entries.pop(key).nbytes


@contextmanager
def _available(what: str = "vector index") -> Iterator[None]:
    """Translate any Chroma or transport failure into ServiceUnavailable (503 with Retry-After)."""
    try:
        yield
    except ServiceUnavailable:
        raise
    except Exception as exc:  # chromadb raises many transport and server errors
        raise ServiceUnavailable(f"{what} unavailable: {type(exc).__name__}") from exc


class ChromaIndex:
    """Chroma-backed vector index; collections are named per brand and per embedder. The client is created on
    first use, so the API starts (and reports not-ready) while a Chroma server is down."""

    def __init__(self, *, path: Path | None = None, url: str | None = None, embedder_name: str = "default"):
        self.path, self.url = path, url
        if url is None:
            assert path is not None, "a path or a url is required"
            path.mkdir(parents=True, exist_ok=True)
        # Different embedders produce incompatible vectors: never mix them in one collection.
        self.suffix = hashlib.sha1(embedder_name.encode()).hexdigest()[:8]
        self._client: Any = None
        self._collections: dict[str, Any] = {}
        self._init_lock = threading.Lock()
        self.cache = VectorCache()
        self._gate = ScrubGate()
        self._clean: set[str] = set()  # embedded segments whose unused capacity was zeroed by this process
        self.holds_gil = url is None  # an embedded store's writes run in Rust without releasing the GIL

    @property
    def client(self) -> Any:
        """The Chroma client (HttpClient for a server URL, PersistentClient otherwise)."""
        if self._client is not None:
            return self._client
        with self._init_lock, _available():  # two threads' first calls at once: one client (a second one raises)
            if self._client is None:
                settings = ChromaSettings(anonymized_telemetry=False)
                if self.url:
                    parsed = urlparse(self.url)
                    self._client = chromadb.HttpClient(host=parsed.hostname or "127.0.0.1", port=parsed.port or 8000,
                                                       ssl=parsed.scheme == "https", settings=settings)
                else:
                    self._client = chromadb.PersistentClient(path=str(self.path), settings=settings)
        return self._client

    def _collection(self, brand: str) -> Any:
        col = self._collections.get(brand)
        if col is None:
            client = self.client
            with self._init_lock, _available():
                col = self._collections.get(brand)
                if col is None:
                    col = client.get_or_create_collection(
                        f"cp-{brand}-{self.suffix}", embedding_function=None, metadata={"hnsw:space": "cosine"})
                    self._collections[brand] = col
        return col

    @contextmanager
    def _call(self) -> Iterator[None]:
        """Around a public method's Chroma calls (never nested: a waiting scrub would hold the inner one back)."""
        with self._gate.call(), _available():
            yield

    def _scrub_new_segments(self) -> None:
        """After a write: zero the unused capacity of the embedded segments it created (`copilot.index_files`)."""
        if self.url is not None or self.path is None:
            return
        fresh = segments(self.path, known=self._clean)
        if fresh:
            try:
                with self._gate.alone():
                    scrub_segments(fresh)
            except (OSError, UnknownSegmentFormat):  # the write itself succeeded; an erasure's purge retries
                log.warning("vector index: could not zero the unused capacity of %s", fresh, exc_info=True)
            self._clean.update(s.name for s in fresh)

    def upsert(self, brand: str, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        """Insert or replace vectors with their filterable metadata."""
        if len(ids):
            self.cache.drop(brand, ids)
            clean = [{k: v for k, v in m.items() if v is not None} for m in metadatas]
            with self._call():
                self._collection(brand).upsert(ids=list(ids), embeddings=vectors, metadatas=clean)
            self._scrub_new_segments()

    def delete(self, brand: str, ids: Sequence[str]) -> None:
        """Remove vectors by id (missing ids are ignored)."""
        if ids:
            self.cache.drop(brand, ids)
            with self._call():
                self._collection(brand).delete(ids=list(ids))
            self._scrub_new_segments()

    def purge_deleted(self, brand: str) -> None:
        """Make deleted vectors unrecoverable from Chroma's files: its log and, when embedded, its SQLite file.

        Chroma purges log rows below the sequence id its HNSW index was last persisted at, and persists after
        `sync_threshold` applied records; so that many deletes of ids that do not exist make it persist and purge
        everything written before them. They are processed in order, so once the extra one-record delete returns,
        the purge has run. An embedded store is then VACUUMed, because Chroma deletes without `secure_delete`,
        and the unused capacity of every brand's HNSW segment is zeroed (it may hold any text the process once had
        in memory, the member's among them: `copilot.index_files`), with no Chroma call running meanwhile.
        A Chroma server purges its log the same way, but its file can only be VACUUMed and its segments scrubbed on
        its host (docs/deploy.md), and the HNSW files of both keep deleted vectors' numbers (not their text) in
        tombstoned slots until the collection is rebuilt."""
        with self._call():
            col = self._collection(brand)
            threshold = int(((getattr(col, "configuration", None) or {}).get("hnsw") or {}).get("sync_threshold") or 0)
            pads = [FLUSH_ID.format(i) for i in range(threshold)]
            for i in range(0, len(pads), FLUSH_BATCH):
                col.delete(ids=pads[i:i + FLUSH_BATCH])
            if pads:
                col.delete(ids=pads[:1])
        if self.url is None and self.path is not None:
            with self._gate.alone(), _available("vector index file"):
                found = segments(self.path)
                scrub_segments(found)
                self._clean.update(s.name for s in found)
                _vacuum(self.path / "chroma.sqlite3")

    def query(self, brand: str, vector: np.ndarray, *, k: int, filters: dict[str, Any]) -> list[tuple[str, float]]:
        """Nearest (id, cosine similarity) pairs among vectors passing the filters."""
        where = _where(filters)
        if where is None:
            return self._query(brand, vector, k, None)
        # Chroma's filtered search is slow for broad filters: over-fetch unfiltered and keep what passes,
        # and run the exact filtered query only when too few pass.
        wide = self._query(brand, vector, k * OVERFETCH, None, with_metadata=True)
        kept = [(i, s) for i, s, meta in wide if _passes(meta, filters)]
        if len(kept) >= k or len(wide) < k * OVERFETCH:
            return kept[:k]
        return self._query(brand, vector, k, where)

    def _query(self, brand: str, vector: np.ndarray, k: int, where: dict[str, Any] | None,
               with_metadata: bool = False) -> list[Any]:
        with self._call():
            res = self._collection(brand).query(query_embeddings=[vector.tolist()], n_results=max(1, k), where=where,
                                                include=["distances", "metadatas"] if with_metadata else ["distances"])
        pairs = zip(res["ids"][0], res["distances"][0])
        if with_metadata:
            return [(i, 1.0 - float(d), m or {}) for (i, d), m in zip(pairs, res["metadatas"][0])]
        return [(i, 1.0 - float(d)) for i, d in pairs]

    def vectors(self, brand: str, ids: Sequence[str], *,
                versions: dict[str, str | None] | None = None) -> tuple[list[str], np.ndarray]:
        """The stored vectors of `ids` (those the index holds) as a float32 matrix, one row each. With `versions`
        (id -> content hash), vectors come from and go to the in-memory cache (`VectorCache`)."""
        cached = self.cache.get(brand, versions) if versions else {}
        fetched, matrix = self._fetch(brand, [u for u in ids if u not in cached])
        if versions and fetched:
            self.cache.put(brand, fetched, matrix, versions)
        if not cached:
            return fetched, matrix
        rows = [*cached.values(), *matrix] if fetched else list(cached.values())
        return [*cached, *fetched], np.stack(rows).astype(np.float32, copy=False)

    def _fetch(self, brand: str, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
        if not ids:
            return [], np.zeros((0, 0), dtype=np.float32)
        with self._call():
            res = self._collection(brand).get(ids=list(ids), include=["embeddings"])
        return list(res["ids"]), np.asarray(res["embeddings"], dtype=np.float32)

    def count(self, brand: str) -> int:
        """Number of vectors of a brand."""
        with self._call():
            return int(self._collection(brand).count())

    def ping(self) -> None:
        """Raise ServiceUnavailable when Chroma does not answer."""
        with self._call():
            self.client.heartbeat()

    def drop_brand(self, brand: str) -> None:
        """Delete a brand's collection."""
        self._collections.pop(brand, None)
        self.cache.drop(brand)
        try:
            with self._gate.call():
                self.client.delete_collection(f"cp-{brand}-{self.suffix}")
        except Exception:  # already absent
            pass


def _vacuum(db: Path) -> None:
    """Rebuild an embedded Chroma's SQLite file without its free pages (as `chroma utils vacuum` does)."""
    if not db.exists():
        return
    con = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        con.execute("VACUUM")
        if con.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
