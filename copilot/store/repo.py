"""The relational store: one class assembled from the repositories of each part of the schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from copilot.errors import ServiceUnavailable
from copilot.store.db import make_engine, migrate
from copilot.store.models import Message
from copilot.store.base import UpsertResult, _indexable, hash_secret, message_uid
from copilot.store.accounts import AccountsRepo
from copilot.store.analytics import AnalyticsRepo
from copilot.store.changes import ChangesRepo, Listener
from copilot.store.claims import ClaimsRepo
from copilot.store.erasure import ErasureRepo
from copilot.store.history import HistoryRepo
from copilot.store.keywords import KeywordRepo
from copilot.store.workflow import WorkflowRepo


class Store(AccountsRepo, HistoryRepo, AnalyticsRepo, WorkflowRepo, ErasureRepo, ChangesRepo, KeywordRepo, ClaimsRepo):
    """The relational store. Every method runs in its own short transaction."""

    def __init__(self, url: str, *, busy_timeout_s: float = 30.0):
        self.url, self.busy_timeout_s = url, busy_timeout_s
        self.engine = make_engine(url, busy_timeout_s=busy_timeout_s)
        self.schema_version = migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        """Call `listener(brand, seq)` after every committed change to a brand's messages (in this process)."""
        self.listeners.append(listener)

    def ping(self) -> None:
        """Raise ServiceUnavailable when the database cannot answer or cannot take a write right now (a SQLite
        file locked by another writer is not ready, even though reads still work under WAL)."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
                if self.engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA busy_timeout = 200")
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    conn.exec_driver_sql("ROLLBACK")
                    conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        except OperationalError as exc:
            raise ServiceUnavailable("database unavailable (locked or unreachable)") from exc

    #: Exceptions meaning the database cannot answer now (locked, gone): a 503, not a 500.
    unavailable_errors: tuple[type[BaseException], ...] = (OperationalError,)

    def stale_messages(self, brand_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Messages whose vectors are missing or outdated (new, edited, or a write whose indexing failed), found
        through the small partial index of pending rows rather than a scan. Every ingest asks (its inline repair):
        SQLite, which has no statistics, took the (brand, created_at) index instead, walking every message of the
        brand (60-90 ms per ingest at 100k messages, on the write path of every message and reaction); it is told."""
        query: Any = select(Message).where(Message.brand_id == brand_id, text("embed_pending")).limit(limit)
        if self.engine.dialect.name == "sqlite":
            query = select(Message).from_statement(text(
                "SELECT * FROM messages INDEXED BY ix_messages_embed_pending WHERE brand_id = :b AND embed_pending "
                "LIMIT :n").bindparams(b=brand_id, n=limit))
        with self.session() as s:
            rows = list(s.scalars(query))
        return [_indexable(r) for r in rows]

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


__all__ = ["Store", "UpsertResult", "message_uid", "hash_secret"]
