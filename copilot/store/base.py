"""Shared helpers of the repositories: value shapes, identity, light rows and the repository base."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from copilot.store.models import Member, Message


MESSAGE_FIELDS = (
    "channel", "author", "author_name", "created_at", "title", "text", "reply_to", "thread",
    "reactions", "kind", "is_solution", "lang", "permalink",
)
MEMBER_FIELDS = ("name", "role", "consent_spotlight", "consent_analytics", "joined_at")


def source_parts(keys: Iterable[tuple[str, str]], size: int = 500) -> Iterator[tuple[str, list[str]]]:
    """(source, up to `size` source ids) from (source, source_id) keys: a query per part stays on the (brand, source,
    source_id) index and under the database's limit on bound parameters."""
    grouped: dict[str, list[str]] = {}
    for source, sid in keys:
        grouped.setdefault(source, []).append(sid)
    for source, sids in grouped.items():
        for i in range(0, len(sids), size):
            yield source, sids[i:i + size]


def message_rows(conn: Any, brand_id: str, keys: Iterable[tuple[str, str]], *columns: Any) -> Iterator[tuple[str, Any]]:
    """(source, row) for each of the brand's messages among the (source, source_id) keys that exists: the row holds
    `Message.source_id` then `columns`, read a `source_parts` part at a time (`conn`: a Connection or a Session)."""
    for source, sids in source_parts(keys):
        rows = conn.execute(select(Message.source_id, *columns).where(
            Message.brand_id == brand_id, Message.source == source, Message.source_id.in_(sids))).all()
        yield from ((source, row) for row in rows)


def hash_secret(secret: str) -> str:
    """Hash of an API key secret (keys are random 256-bit values, so a plain SHA-256 suffices)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()



@dataclass
class UpsertResult:
    """What an upsert did, and which rows need (re)indexing or removal from the index."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    to_index: list[dict[str, Any]] = field(default_factory=list)
    to_unindex: list[str] = field(default_factory=list)

    def add(self, other: "UpsertResult") -> None:
        """Accumulate another result into this one."""
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted


def message_uid(source: str, source_id: str) -> str:
    """The id a message has in the index (unique within a brand)."""
    return f"{source}:{source_id}"


def _indexable(row: Message) -> dict[str, Any]:
    return {
        "uid": message_uid(row.source, row.source_id), "id": row.source_id, "source": row.source,
        "kind": row.kind, "channel": row.channel, "author": row.author, "created_at": row.created_at,
        "title": row.title, "text": row.text, "lang": row.lang, "hash": row.content_hash,
    }


NON_CONVERSATION = ("charter", "doc")


class _MemberRow(NamedTuple):
    id: int
    source: str
    source_id: str
    name: str
    role: str
    consent_spotlight: str
    consent_analytics: str
    joined_at: datetime | None


def _raw_joined() -> Any:
    return type_coerce(Member.joined_at, String).label("joined_at")


def _raw_time() -> Any:
    # Skip SQLAlchemy's per-row datetime processing on bulk analytics reads; _as_utc parses in C instead.
    return type_coerce(Message.created_at, String)


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _is_default(field_name: str, value: Any) -> bool:
    # A re-import that does not state role/consent must not undo what an editor set through the API.
    return (field_name == "role" and value == "member") or (field_name.startswith("consent") and value == "unknown") \
        or (field_name in ("joined_at",) and value is None) or (field_name == "name" and value == "")


class RepoBase:
    """What every repository mixin relies on: an engine and short-lived sessions."""

    engine: Any
    _sessions: Any

    def session(self) -> Session:
        """A new session (use as a context manager)."""
        return self._sessions()

    @staticmethod
    def _existing(s: Session, model: Any, brand_id: str, keys: Sequence[tuple[str, ...]]) -> dict[tuple[str, str], Any]:
        out: dict[tuple[str, str], Any] = {}
        for source, sids in source_parts(keys):  # type: ignore[arg-type]
            rows = s.scalars(select(model).where(model.brand_id == brand_id, model.source == source,
                                                 model.source_id.in_(sids)))
            out.update({(r.source, r.source_id): r for r in rows})
        return out
