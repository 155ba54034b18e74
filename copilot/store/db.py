"""Engine creation and versioned schema migrations.

Each migration is an idempotent step numbered in order; `schema_version` records what ran, so an existing
data directory upgrades in place when a newer release opens it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import Connection

from copilot.store.models import Base, SchemaVersion

#: `PRAGMA user_version` of a SQLite file in which every freed byte was zeroed: created with `secure_delete` on
#: every connection, or VACUUMed since. A file without it may keep deleted rows in free space (see erasure).
SCRUBBED = 1


def make_engine(url: str, *, busy_timeout_s: float = 30.0) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys, a busy timeout and `secure_delete` (deleted rows are
    overwritten with zeros, so an erased member's words do not linger in free pages)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_s})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _create_base(conn: Connection) -> None:
    Base.metadata.create_all(conn)


def _add_message_permalink(conn: Connection) -> None:
    columns = {c["name"] for c in inspect(conn).get_columns("messages")}
    if "permalink" not in columns:
        conn.execute(text("ALTER TABLE messages ADD COLUMN permalink TEXT"))


def _add_reaction_count_and_reply_indexes(conn: Connection) -> None:
    columns = {c["name"] for c in inspect(conn).get_columns("messages")}
    if "reaction_count" not in columns:
        conn.execute(text("ALTER TABLE messages ADD COLUMN reaction_count INTEGER NOT NULL DEFAULT 0"))
        rows = conn.execute(text("SELECT id, reactions FROM messages")).all()
        for row_id, reactions in rows:
            counts = json.loads(reactions) if isinstance(reactions, str) else (reactions or {})
            total = sum(int(v) for v in counts.values()) if isinstance(counts, dict) else 0
            if total:
                conn.execute(text("UPDATE messages SET reaction_count = :n WHERE id = :i"), {"n": total, "i": row_id})
    indexes = {i["name"] for i in inspect(conn).get_indexes("messages")}
    for name, cols in (("ix_messages_brand_reply_to", "brand_id, reply_to"), ("ix_messages_brand_author", "brand_id, author")):
        if name not in indexes:
            conn.execute(text(f"CREATE INDEX {name} ON messages ({cols})"))


def _add_drafts_and_llm_usage(conn: Connection) -> None:
    from copilot.store.models import Draft, LLMUsage

    Draft.__table__.create(conn, checkfirst=True)
    LLMUsage.__table__.create(conn, checkfirst=True)


def _add_spotlight_records(conn: Connection) -> None:
    from copilot.store.models import SpotlightRecord

    SpotlightRecord.__table__.create(conn, checkfirst=True)


def _add_message_signals(conn: Connection) -> None:
    from copilot.signals import bits

    columns = {c["name"] for c in inspect(conn).get_columns("messages")}
    if "signals" not in columns:
        conn.execute(text("ALTER TABLE messages ADD COLUMN signals INTEGER NOT NULL DEFAULT 0"))
        for row_id, body in conn.execute(text("SELECT id, text FROM messages")).all():
            value = bits(body or "")
            if value:
                conn.execute(text("UPDATE messages SET signals = :s WHERE id = :i"), {"s": value, "i": row_id})


def _add_review_tables(conn: Connection) -> None:
    from copilot.store.models import DraftDecision, DraftRevision

    DraftRevision.__table__.create(conn, checkfirst=True)
    DraftDecision.__table__.create(conn, checkfirst=True)


def _add_change_tracking(conn: Connection) -> None:
    """The per-brand change sequence (brands' counters, the `changes` log) and the indexed "needs embedding"
    state of messages (pending rows were found by scanning every message before)."""
    from copilot.store.models import Change

    brand_columns = {c["name"] for c in inspect(conn).get_columns("brands")}
    for name, kind in (("change_seq", "BIGINT"), ("analytics_seq", "BIGINT"), ("lexical_seq", "BIGINT"),
                       ("snapshot_epoch", "INTEGER"), ("pruned_seq", "BIGINT")):
        if name not in brand_columns:
            conn.execute(text(f"ALTER TABLE brands ADD COLUMN {name} {kind} NOT NULL DEFAULT 0"))
    Change.__table__.create(conn, checkfirst=True)
    message_columns = {c["name"] for c in inspect(conn).get_columns("messages")}
    if "embed_pending" not in message_columns:
        conn.execute(text("ALTER TABLE messages ADD COLUMN embed_pending BOOLEAN NOT NULL DEFAULT false"))
        conn.execute(text("UPDATE messages SET embed_pending = true "
                          "WHERE indexed_hash IS NULL OR indexed_hash != content_hash"))
    if "ix_messages_embed_pending" not in {i["name"] for i in inspect(conn).get_indexes("messages")}:
        conn.execute(text("CREATE INDEX ix_messages_embed_pending ON messages (brand_id) WHERE embed_pending"))


def _add_keyword_index(conn: Connection) -> None:
    """Keyword search in the database (FTS5 per brand on SQLite, `message_search` on PostgreSQL), filled from the
    messages already stored (a one-off cost when an older data directory is opened)."""
    from copilot.store.keywords import backfill_keywords, create_pg_search

    if conn.dialect.name == "postgresql":
        create_pg_search(conn)
    backfill_keywords(conn)


def _add_job_claims(conn: Connection) -> None:
    from copilot.store.models import Job

    if not inspect(conn).has_table("jobs"):
        Job.__table__.create(conn)
        return
    columns = {c["name"] for c in inspect(conn).get_columns("jobs")}
    for name, kind in (("claimed_by", "VARCHAR(80)"), ("lease_until", "TIMESTAMP WITH TIME ZONE"),
                       ("attempts", "INTEGER NOT NULL DEFAULT 0")):
        if name not in columns:
            conn.execute(text(f"ALTER TABLE jobs ADD COLUMN {name} {kind}"))


def _add_members_seq(conn: Connection) -> None:
    if "members_seq" not in {c["name"] for c in inspect(conn).get_columns("brands")}:
        conn.execute(text("ALTER TABLE brands ADD COLUMN members_seq BIGINT NOT NULL DEFAULT 0"))


def _add_job_payloads(conn: Connection) -> None:
    """Jobs that are not imports (asynchronous drafts) keep their request and their result."""
    columns = {c["name"] for c in inspect(conn).get_columns("jobs")}
    kind = "JSONB" if conn.dialect.name == "postgresql" else "JSON"
    for name in ("request", "result"):
        if name not in columns:
            conn.execute(text(f"ALTER TABLE jobs ADD COLUMN {name} {kind}"))


def _add_filter_index(conn: Connection) -> None:
    """Filtered search counts the messages of a channel and kind on an index (`KeywordRepo.filtered_versions`)."""
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_messages_brand_channel_kind ON messages (brand_id, channel, kind)"))


def _author_time_index(conn: Connection) -> None:
    """The posts of a few accounts in a date window (a brand's own posts: earlier ritual editions, the feed audit)
    are read per author and date, not by scanning every message of the window: (brand, author) grows a date."""
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_messages_brand_author_created ON messages "
                      "(brand_id, author, created_at)"))
    conn.execute(text("DROP INDEX IF EXISTS ix_messages_brand_author"))


def _index_kinds(conn: Connection) -> None:
    """SQLite keyword tables index the kind, so a kind filter is matched by FTS5 (`copilot.store.keywords.index_kinds`):
    the tables made before are rebuilt once."""
    from copilot.store.keywords import index_kinds

    if conn.dialect.name == "sqlite":
        index_kinds(conn)


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _create_base),
    (2, _add_message_permalink),
    (3, _add_reaction_count_and_reply_indexes),
    (4, _add_drafts_and_llm_usage),
    (5, _add_spotlight_records),
    (6, _add_message_signals),
    (7, _add_review_tables),
    (8, _add_change_tracking),
    (9, _add_keyword_index),
    (10, _add_job_claims),
    (11, _add_members_seq),
    (12, _add_job_payloads),
    (13, _add_filter_index),
    (14, _author_time_index),
    (15, _index_kinds),
]
MIGRATION_LOCK = 7_242_026  # PostgreSQL advisory lock: replicas starting together migrate one at a time
LATEST_VERSION = MIGRATIONS[-1][0]


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database (0 for an empty one)."""
    if not inspect(conn).has_table("schema_version"):
        return 0
    versions = conn.execute(select(SchemaVersion.version)).scalars().all()
    return max(versions, default=0)


def mark_scrubbed(conn: Connection) -> None:
    """Record in a SQLite file that no freed byte in it holds old data (see `SCRUBBED`)."""
    conn.exec_driver_sql(f"PRAGMA user_version = {SCRUBBED}")


def migrate(engine: Engine) -> int:
    """Apply every pending migration in order, each in its own transaction; return the final version. On
    PostgreSQL a session advisory lock makes replicas that start together wait for each other."""
    if engine.dialect.name != "postgresql":
        return _migrate(engine)
    with engine.connect() as lock:
        lock.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        try:
            return _migrate(engine)
        finally:
            lock.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
            lock.commit()


def _migrate(engine: Engine) -> int:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite" and current_version(conn) == 0:
            mark_scrubbed(conn)  # a new file: every connection to it runs with secure_delete
        SchemaVersion.__table__.create(conn, checkfirst=True)
    for version, step in MIGRATIONS:
        with engine.begin() as conn:
            if current_version(conn) >= version:
                continue
            step(conn)
            conn.execute(SchemaVersion.__table__.insert().values(version=version))
    with engine.connect() as conn:
        return current_version(conn)
