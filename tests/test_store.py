import sqlite3
from pathlib import Path

from copilot.store import Store
from copilot.store.db import LATEST_VERSION
from copilot.store.repo import hash_secret


def test_fresh_database_is_wal_and_at_latest_version(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    assert store.schema_version == LATEST_VERSION
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_an_older_data_directory_upgrades_in_place(tmp_path: Path):
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    # A version-1 database as an earlier release wrote it: messages had no permalink column.
    con.executescript("""
        CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at DATETIME);
        INSERT INTO schema_version VALUES (1, '2026-01-01');
        CREATE TABLE brands (id VARCHAR(40) PRIMARY KEY, name VARCHAR(200), language VARCHAR(8),
                             index_revision INTEGER, created_at DATETIME);
        INSERT INTO brands VALUES ('old', 'Old brand', 'fr', 3, '2026-01-01 00:00:00');
        CREATE TABLE messages (id INTEGER PRIMARY KEY, brand_id VARCHAR(40), source VARCHAR(200), source_id VARCHAR(200),
            channel VARCHAR(200), author VARCHAR(200), author_name VARCHAR(200), created_at DATETIME, title TEXT,
            text TEXT, reply_to VARCHAR(200), thread VARCHAR(200), reactions JSON, kind VARCHAR(16), is_solution BOOLEAN,
            lang VARCHAR(8), content_hash VARCHAR(64), indexed_hash VARCHAR(64));
        INSERT INTO messages VALUES (1, 'old', 'native', 'm1', NULL, 'u1', NULL, '2026-01-01 00:00:00', NULL,
            'bonjour', NULL, 'm1', '{}', 'post', 0, 'fr', 'h', 'h');
    """)
    con.commit()
    con.close()
    store = Store(f"sqlite:///{db}")
    assert store.schema_version == LATEST_VERSION
    assert store.get_brand("old").index_revision == 3
    row = store.get_messages("old", ["native:m1"])["native:m1"]
    assert row.text == "bonjour" and row.permalink is None
    with store.engine.connect() as conn:  # filtered search counts a channel's messages on an index
        assert "ix_messages_brand_channel_kind" in {r[1] for r in conn.exec_driver_sql("PRAGMA index_list(messages)")}
    store.close()


def test_keys_are_stored_hashed_and_checked(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    store.create_brand("acme", "Acme", "fr")
    row, secret = store.create_key("acme", "ana", ["read"])
    assert secret not in row.secret_hash and row.secret_hash == hash_secret(secret.split("_", 2)[2])
    assert store.verify_key(secret).id == row.id
    assert store.verify_key(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert store.verify_key("cpk_nope_nope") is None and store.verify_key("garbage") is None
    store.revoke_key("acme", row.id)
    assert store.verify_key(secret) is None
    raw = (tmp_path / "c.db").read_bytes()
    assert secret.encode() not in raw
    store.close()


def test_a_few_accounts_posts_are_read_on_their_own_index_not_by_scanning_the_window(tmp_path: Path):
    """The brand's own recent posts (earlier ritual editions) among many members' messages: the right posts,
    newest first and capped, read through (brand, author, created_at). With ORDER BY ... LIMIT in SQL, SQLite
    walked every message of the window instead (0.5 s per ritual draft at 1M messages)."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import event

    from copilot.ingest.pipeline import digest
    from copilot.types import MessageRecord

    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    store.create_brand("b", "B", "en")
    t0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
    records = [MessageRecord(source_id=f"m{i}", author=f"member{i % 50}", created_at=t0 + timedelta(minutes=i),
                             text=f"member message {i}") for i in range(3000)]
    team = [f"team{k}" for k in range(20)]  # staff and bot accounts, as an export may hold many
    records += [MessageRecord(source_id=f"s{i}", author=team[i % 20], created_at=t0 + timedelta(days=i),
                              text=f"post {i}") for i in range(40)]
    records += [MessageRecord(source_id="r1", author="team1", created_at=t0 + timedelta(days=41), text="a reply",
                              reply_to="m5")]
    store.upsert_messages("b", records, [digest(r) for r in records])
    plans: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def explain(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "reply_to IS NULL" in statement:
            plans.extend(row[3] for row in cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters))

    posts = store.recent_posts("b", [("native", a) for a in team], t0 + timedelta(days=10), limit=5)
    event.remove(store.engine, "before_cursor_execute", explain)
    assert [p[1] for p in posts] == ["s39", "s38", "s37", "s36", "s35"]  # newest first, no reply, capped
    assert store.recent_posts("b", [("native", "nobody")], t0) == []
    assert any("ix_messages_brand_author_created" in p for p in plans), plans
    assert not any("ix_messages_brand_created" in p for p in plans), plans
    store.close()


def test_messages_waiting_for_vectors_are_read_on_the_partial_index_not_by_scanning_the_brand(tmp_path: Path):
    """Every ingest asks for the brand's pending messages (its inline repair). Without statistics SQLite took the
    (brand, created_at) index and walked every message of the brand: 60-90 ms per write at 100k messages."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import event

    from copilot.ingest.pipeline import digest
    from copilot.types import MessageRecord

    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    store.create_brand("b", "B", "en")
    t0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
    records = [MessageRecord(source_id=f"m{i}", author=f"member{i % 50}", created_at=t0 + timedelta(minutes=i),
                             text=f"member message {i}") for i in range(500)]
    store.upsert_messages("b", records, [digest(r) for r in records])
    store.mark_indexed("b", [(f"native:m{i}", digest(r)) for i, r in enumerate(records) if i % 100])  # 5 pending
    plans: list[str] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def explain(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "embed_pending" in statement:
            plans.extend(row[3] for row in cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters))

    pending = store.stale_messages("b", limit=3)
    everything = store.stale_messages("b")
    event.remove(store.engine, "before_cursor_execute", explain)
    assert len(pending) == 3 and {m["id"] for m in pending} < {"m0", "m100", "m200", "m300", "m400"}
    assert sorted(m["id"] for m in everything) == ["m0", "m100", "m200", "m300", "m400"]
    assert plans and all("ix_messages_embed_pending" in p for p in plans), plans
    store.close()



def _old_keyword_layout(db: Path, table: str) -> None:
    """Turn a brand's FTS5 table back into the layout of releases before schema 15 (the kind not indexed)."""
    con = sqlite3.connect(db)
    con.executescript(f"""
        DROP TABLE {table}_vocab;
        ALTER TABLE {table} RENAME TO {table}_new;
        CREATE VIRTUAL TABLE {table} USING fts5(terms, kind UNINDEXED, channel UNINDEXED, author UNINDEXED,
            created UNINDEXED, tokenize='unicode61 remove_diacritics 0');
        CREATE VIRTUAL TABLE {table}_vocab USING fts5vocab({table}, 'row');
        INSERT INTO {table} (rowid, terms, kind, channel, author, created)
            SELECT rowid, terms, kind, channel, author, created FROM {table}_new;
        DROP TABLE {table}_new;
        DELETE FROM schema_version WHERE version >= 15;
    """)
    con.commit()
    con.close()


def test_keyword_tables_of_an_older_release_index_the_kind_and_keep_every_hit(tmp_path: Path):
    from datetime import datetime, timezone

    from copilot.store.keywords import kw_table
    from copilot.types import MessageRecord

    db = tmp_path / "c.db"
    store = Store(f"sqlite:///{db}")
    store.create_brand("acme", "Acme", "en")
    kinds = ("question", "answer", "comment")
    texts = ("my chain keeps slipping", "the answer is a new chain", "which answer do you mean",
             "brake pads squeal in the rain", "tubeless tyre went flat again")
    records = [MessageRecord(source_id=f"m{i}", author="u1", created_at=datetime(2026, 10, i % 28 + 1, tzinfo=timezone.utc),
                             text=texts[i % 5], kind=kinds[i % 3]) for i in range(60)]
    store.upsert_messages("acme", records, [f"h{i}" for i in range(60)])
    queries = [("chain", {}), ("chain", {"kind": "answer"}), ("answer", {}), ("answer", {"kind": "question"}),
               ("rain brake", {"kind": "comment"}), ("flat", {"kind": "doc"})]
    before = [store.keyword_hits("acme", q, k=50, filters=f).ranked for q, f in queries]
    store.close()
    table = kw_table("acme")
    _old_keyword_layout(db, table)

    store = Store(f"sqlite:///{db}")  # the migration rebuilds the table
    assert store.schema_version == LATEST_VERSION
    with store.engine.connect() as conn:
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).scalar()
    assert "kind UNINDEXED" not in sql and "kind," in sql
    after = [store.keyword_hits("acme", q, k=50, filters=f).ranked for q, f in queries]
    assert after == before
    chain, chain_answers, answer, answer_questions, rain, docs = after
    assert len(chain) == 24 and len(chain_answers) == 8 and docs == []  # 2 texts of 5; and 2 of those 15 answers
    assert {u for u, _, _ in chain_answers} < {u for u, _, _ in chain}
    # The word 'answer' is found in the texts that hold it, never because a message's kind is 'answer'.
    assert len(answer) == 24 and len(answer_questions) == 8 and len(rain) == 4
    hits = store.keyword_hits("acme", "answer", k=50, filters={})
    assert hits.df == {"answer": 24}
    store.close()
