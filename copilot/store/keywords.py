"""Keyword search inside the database, updated in the same transaction as the messages it indexes.

SQLite (embedded default): one FTS5 table per brand holding each message's index terms — the same French/English
Snowball stems, accents folded, as `copilot.text.analyse` gives — plus the filter fields. A query's terms are
looked up in the brand's vocabulary first (`fts5vocab`): the rarest terms pick the candidates (FTS5 ranks at most
about `CANDIDATE_DOCS` matching documents, whatever the brand's size), then the best `CANDIDATES` are scored by
BM25 (Lucene's variant, k1 = 1.5, b = 0.75) over all the query's terms with the index's own statistics (document
count and total length from the FTS5 averages record). Documents holding only very common query terms are not
candidates: those terms weigh little, so such documents rarely beat a rare term's matches.

PostgreSQL: a `message_search` row per message with a `tsvector` built by the `copilot_fr` / `copilot_en` text
search configurations (French / English Snowball stemmers, with `unaccent` when the extension can be created; plain
copies of `french` / `english` otherwise) and a GIN index. A query is stemmed both ways; the same rare-terms-first
candidate pass runs on document frequencies counted through the GIN index (cached for `STATS_TTL_S`), and the
candidates are scored by the same BM25 in SQL from the lexemes' positions. Every replica reads the same index, and
rows go with their message (`ON DELETE CASCADE`).

Erasure: deleted rows leave FTS5 segments only when they are merged, so `optimize_keywords` merges a brand's index
after an erasure (SQLite's `secure_delete` zeroes the freed pages).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from copilot.store.base import RepoBase, message_rows, message_uid
from copilot.store.models import Message
from copilot.text import analyse, analyse_query, detect_language, words

CANDIDATE_DOCS = 5000  # at most this many documents are scored by FTS5 to pick candidates
CANDIDATES = 300       # candidates re-scored with every query term
K1, B = 1.5, 0.75      # BM25 as Lucene scores it (and the bm25s index this replaced)
STATS_TTL_S = 60.0     # how long a common term's document frequency (and PostgreSQL's totals) are reused
DF_CACHE_MIN = 1000    # a term held by fewer messages is counted by every search (`_document_frequencies`)
FILTER_SQL = {"kind": "kind = :kind", "channel": "channel = :channel", "author": "author = :author",
              "since": "created >= :since", "until": "created <= :until"}
PG_CONFIGS = {"fr": "copilot_fr", "en": "copilot_en"}
# Filters the messages table answers from an index (brand + channel + kind, brand + author): SQLite keyword search
# keeps the matches whose rowid is in that index's answer instead of reading each match's filter columns from the
# FTS5 table (0.5-0.7x the time at 100k messages for a channel and a kind, before UNRANKED_MAX).
INDEXED_FILTERS = ("channel", "author")
# With such a filter, up to this many matches are re-scored by BM25 without FTS5's own ranking of every match of the
# rare terms (which is most of a keyword search's time: 85 -> 10 ms for 616 matches of a channel and a kind at 100k).
UNRANKED_MAX = 1500


class RowFilter(Protocol):
    """A filter checked on keyword matches by rowid in memory (`copilot.facets.RowCheck`)."""

    def passes(self, rowid: int) -> bool | None:
        """Whether the message passes (None: not known, the database must check)."""

    def current(self) -> bool:
        """Whether what was checked still holds (nothing keyword search reads changed since)."""


@dataclass
class KeywordHits:
    """A keyword search's ranking with what explains it: each hit's matched index terms, the query's words and the
    terms each one stems to, the terms' document frequencies and the brand's document count."""

    ranked: list[tuple[str, float, tuple[str, ...]]] = field(default_factory=list)
    words: dict[str, list[str]] = field(default_factory=dict)
    df: dict[str, int] = field(default_factory=dict)
    docs: int = 0


def kw_table(brand_id: str) -> str:
    """The name of a brand's FTS5 table (brand ids are free text to SQLite; a digest is a safe identifier)."""
    return "kw_" + hashlib.sha1(brand_id.encode("utf-8")).hexdigest()[:16]


def index_terms(title: str | None, body: str, lang: str | None) -> str:
    """What the FTS5 table stores for a message: its stems, space-separated."""
    return " ".join(analyse(" ".join(filter(None, [title, body])), lang))


def _fts_ddl(table: str) -> list[str]:
    """A brand's FTS5 table: the index terms, and the filter fields. The kind is indexed too, so a kind filter is part
    of the MATCH (`kind : "answer" AND terms : (...)`): FTS5 then ranks only the matches of that kind, instead of
    ranking every match of the rare terms and dropping the other kinds after (SQL alone, 13.3 -> 9.0 ms mean,
    25.0 -> 13.8 ms p95 for a kind passing half of 100k messages). Every query names the `terms` column, and the
    vocabulary is read per column, so a kind's name never counts as a word of the messages."""
    return [(f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5(terms, kind, channel UNINDEXED, "
             f"author UNINDEXED, created UNINDEXED, tokenize='unicode61 remove_diacritics 0')"),
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {table}_vocab USING fts5vocab({table}, 'col')"]


def index_kinds(conn: Connection) -> None:
    """Rebuild every FTS5 table made before the kind was indexed (`_fts_ddl`): the rows are copied as they are into
    a table of the new layout, in the caller's transaction (2.7 s at 101,558 messages on SQLite)."""
    tables = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE '%fts5(%'")).all()
    for table, sql in tables:
        if not table.startswith("kw_") or "kind UNINDEXED" not in sql:
            continue
        conn.execute(text(f"DROP TABLE IF EXISTS {table}_vocab"))
        conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_old"))
        for ddl in _fts_ddl(table):
            conn.execute(text(ddl))
        conn.execute(text(f"INSERT INTO {table} (rowid, terms, kind, channel, author, created) "
                          f"SELECT rowid, terms, kind, channel, author, created FROM {table}_old"))
        conn.execute(text(f"DROP TABLE {table}_old"))


def _varints(blob: bytes) -> list[int]:
    """SQLite varints (FTS5's averages record: row count, then total tokens per column)."""
    out, value = [], 0
    for byte in blob:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            out.append(value)
            value = 0
    return out


def _message_values(row: Any) -> dict[str, Any]:
    return {"id": row.id, "terms": index_terms(row.title, row.text, row.lang), "kind": row.kind,
            "channel": row.channel or "", "author": row.author or "", "created": row.created_at.timestamp()}


def _pg_values(brand_id: str, row: Any) -> dict[str, Any]:
    lang = row.lang if row.lang in PG_CONFIGS else detect_language(row.text or "")
    return {"id": row.id, "brand": brand_id, "cfg": PG_CONFIGS[lang], "title": row.title or "", "body": row.text or "",
            "kind": row.kind, "channel": row.channel or "", "author": row.author or "",
            "created": row.created_at.timestamp()}


PG_UPSERT = text("""
INSERT INTO message_search (message_id, brand_id, tsv, kind, channel, author, created)
VALUES (:id, :brand, setweight(to_tsvector(CAST(:cfg AS regconfig), :title), 'A')
                     || to_tsvector(CAST(:cfg AS regconfig), :body), :kind, :channel, :author, :created)
ON CONFLICT (message_id) DO UPDATE SET tsv = EXCLUDED.tsv, kind = EXCLUDED.kind, channel = EXCLUDED.channel,
    author = EXCLUDED.author, created = EXCLUDED.created""")


def write_keywords(conn: Any, dialect: str, brand_id: str, rows: Sequence[Any], deleted_ids: Sequence[int], *,
                   ensured: set[str] | None = None) -> None:
    """Index `rows` (Message rows or alike) and drop `deleted_ids` from the brand's keyword index, in the caller's
    transaction (`conn` is a Session or a Connection). `ensured` remembers which FTS5 tables exist already."""
    if dialect == "postgresql":
        for i in range(0, len(rows), 500):
            conn.execute(PG_UPSERT, [_pg_values(brand_id, r) for r in rows[i:i + 500]])
        return  # deleted messages take their row with them (ON DELETE CASCADE)
    table = kw_table(brand_id)
    if ensured is None or table not in ensured:
        for ddl in _fts_ddl(table):
            conn.execute(text(ddl))
        if ensured is not None:
            ensured.add(table)
    stale = [*deleted_ids, *(r.id for r in rows)]
    for i in range(0, len(stale), 500):
        conn.execute(text(f"DELETE FROM {table} WHERE rowid IN ({','.join(str(int(x)) for x in stale[i:i + 500])})"))
    if rows:
        conn.execute(text(f"INSERT INTO {table} (rowid, terms, kind, channel, author, created) "
                          f"VALUES (:id, :terms, :kind, :channel, :author, :created)"),
                     [_message_values(r) for r in rows])


def create_pg_search(conn: Connection) -> bool:
    """Create the PostgreSQL text search configurations and the `message_search` table; True when `unaccent` is
    available (accents folded), False when the configurations had to do without it."""
    accents = True
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS unaccent"))
    except DBAPIError:
        accents = False  # not installed, or no right to create it: search still works, accents must match
    for lang, base in (("fr", "french"), ("en", "english")):
        name = PG_CONFIGS[lang]
        exists = conn.execute(text("SELECT 1 FROM pg_ts_config WHERE cfgname = :n"), {"n": name}).first()
        if not exists:
            conn.execute(text(f"CREATE TEXT SEARCH CONFIGURATION {name} (COPY = {base})"))
            if accents:
                conn.execute(text(f"ALTER TEXT SEARCH CONFIGURATION {name} ALTER MAPPING FOR hword, hword_part, word "
                                  f"WITH unaccent, {base}_stem"))
    conn.execute(text("""CREATE TABLE IF NOT EXISTS message_search (
        message_id BIGINT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        brand_id VARCHAR(40) NOT NULL, tsv tsvector NOT NULL, kind VARCHAR(16), channel VARCHAR(200),
        author VARCHAR(200), created DOUBLE PRECISION)"""))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_message_search_tsv ON message_search USING gin (tsv)"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_message_search_brand ON message_search (brand_id)"))
    return accents


def backfill_keywords(conn: Connection, *, chunk: int = 2000) -> None:
    """Index every existing message (the migration that introduced the keyword index)."""
    dialect = conn.dialect.name
    brands = [r[0] for r in conn.execute(text("SELECT id FROM brands"))]
    for brand_id in brands:
        last = 0
        while True:
            rows = conn.execute(text("SELECT id, title, text, lang, kind, channel, author, created_at FROM messages "
                                     "WHERE brand_id = :b AND id > :last ORDER BY id LIMIT :n"),
                                {"b": brand_id, "last": last, "n": chunk}).all()
            if not rows:
                break
            last = rows[-1].id
            write_keywords(conn, dialect, brand_id, [_Row(r) for r in rows], [])
        if dialect == "sqlite":
            write_keywords(conn, dialect, brand_id, [], [])  # an empty brand still gets its table


class _Row:
    """A raw result row read like a Message (created_at parsed when SQLite returns text)."""

    def __init__(self, r: Any):
        from copilot.store.base import _as_utc

        self.id, self.title, self.text, self.lang, self.kind, self.channel, self.author = r[:7]
        self.created_at = _as_utc(r[7])


class KeywordRepo(RepoBase):
    """Keyword search over a brand's messages."""

    def _write_keywords(self, s: Any, brand_id: str, rows: Sequence[Any], deleted_ids: Sequence[int]) -> None:
        """`write_keywords` in the caller's transaction, remembering which FTS5 tables exist."""
        ensured = self.__dict__.setdefault("_kw_tables", set())
        write_keywords(s, self.engine.dialect.name, brand_id, rows, deleted_ids, ensured=ensured)

    def keyword_search(self, brand_id: str, query: str, *, k: int, filters: dict[str, Any]) -> list[tuple[str, float]]:
        """Top-k (uid, score) of the brand's messages for `query`, honouring kind/channel/author/since/until."""
        return [(uid, score) for uid, score, _ in self.keyword_hits(brand_id, query, k=k, filters=filters).ranked]

    def keyword_hits(self, brand_id: str, query: str, *, k: int, filters: dict[str, Any],
                     rows: RowFilter | None = None) -> KeywordHits:
        """`keyword_search` with each hit's matched terms and the statistics that say how much to trust it; `rows`
        checks the filters on SQLite's matches in memory (the same hits, without reading each match's filter field)."""
        if self.engine.dialect.name == "postgresql":
            out, ranked = self._pg_search(brand_id, query, k, filters)
        else:
            out, ranked = self._fts_search(brand_id, query, k, filters, rows)
        if not ranked:
            return out
        with self.engine.connect() as conn:  # by primary key (a brand_id condition would make SQLite scan the brand)
            ids = conn.execute(text("SELECT id, source, source_id, brand_id FROM messages WHERE id IN "
                                    f"({','.join(str(int(i)) for i, _, _ in ranked)})")).all()
        uid = {r[0]: message_uid(r[1], r[2]) for r in ids if r[3] == brand_id}
        out.ranked = [(uid[i], score, terms) for i, score, terms in ranked if i in uid]
        return out

    def passing_uids(self, brand_id: str, uids: Sequence[str], filters: dict[str, Any]) -> set[str]:
        """The uids among `uids` whose messages pass the filters (kind, channel, author, since, until), read from the
        keyword index's filter columns: a dense over-fetch is filtered here, by primary key, rather than by asking
        Chroma for every candidate's metadata (20 ms for 400 at 100k messages) or for a filtered search (120-200 ms)."""
        params = _filters(filters)[1]
        if not params or not uids:
            return set(uids)
        where, join = self._filter_clause(brand_id, filters)
        if self.engine.dialect.name == "sqlite":
            # The ids are few, and the unique (brand, source, source_id) index finds each. Left to choose, SQLite reads
            # every message of the channel on ix_messages_brand_channel_kind instead (12,700 at 100k messages: 10 ms
            # against 2 for 400 ids); the unary + keeps the filter columns off every index.
            where = where.replace(" AND m.", " AND +m.").replace(" AND k.", " AND +k.")
        by_source: dict[str, list[str]] = {}
        for uid in uids:
            source, _, source_id = uid.partition(":")
            by_source.setdefault(source, []).append(source_id)
        # One parameter for the whole list (500 named parameters cost SQLAlchemy more than the query).
        listed = "= ANY(CAST(:ids AS text[]))" if self.engine.dialect.name == "postgresql" else \
            "IN (SELECT value FROM json_each(:ids))"
        sql = text(f"SELECT m.source_id FROM messages m{join} WHERE m.brand_id = :b AND m.source = :src "
                   f"AND m.source_id {listed}{where}")
        out: set[str] = set()
        with self.engine.connect() as conn:
            for source, ids in by_source.items():
                value: Any = ids if self.engine.dialect.name == "postgresql" else json.dumps(ids)
                try:
                    rows = conn.execute(sql, {"b": brand_id, "src": source, "ids": value, **params}).all()
                except DBAPIError:  # no keyword table yet: the brand has no message
                    return set()
                out.update(message_uid(source, r[0]) for r in rows)
        return out

    def message_facets(self, brand_id: str, keys: Sequence[tuple[str, str]] | None = None
                       ) -> Iterator[tuple[int, str, str, str | None]]:
        """(id, uid, kind, channel) of the given (source, source_id) messages that exist, or of every message of the
        brand (streamed): what `copilot.facets.Facets` keeps in memory."""
        m = Message
        if keys is None:
            query = select(m.id, m.source, m.source_id, m.kind, m.channel).where(m.brand_id == brand_id)
            with self.engine.connect() as conn:
                for part in conn.execution_options(stream_results=True, yield_per=50_000).execute(query).partitions():
                    yield from ((r[0], message_uid(r[1], r[2]), r[3], r[4]) for r in part)
            return
        with self.engine.connect() as conn:
            yield from ((r.id, message_uid(source, r.source_id), r.kind, r.channel)
                        for source, r in message_rows(conn, brand_id, keys, m.id, m.kind, m.channel))

    def filtered_uids(self, brand_id: str, filters: dict[str, Any], *, limit: int) -> list[str] | None:
        """Every uid of the brand's messages passing the filters, or None when more than `limit` pass: a selective
        filter's messages are few enough to rank exactly by their vectors (`Retriever._dense`)."""
        versions = self.filtered_versions(brand_id, filters, limit=limit)
        return None if versions is None else list(versions)

    def filtered_versions(self, brand_id: str, filters: dict[str, Any], *, limit: int) -> dict[str, str | None] | None:
        """uid -> content hash of every message passing the filters (None while its vector is pending: the index
        may still hold an older text's), or None when more than `limit` pass. Counted first (on the filter indexes
        for a channel or an author), so a broad filter costs little before the caller turns to another plan."""
        where, join = self._filter_clause(brand_id, filters)
        params = {"b": brand_id, "n": limit + 1, **_filters(filters)[1]}
        with self.engine.connect() as conn:
            try:
                if not self._passing_at_most(conn, brand_id, filters, limit):
                    return None
                rows = conn.execute(text(f"SELECT m.source, m.source_id, m.content_hash, m.embed_pending FROM messages "
                                         f"m{join} WHERE m.brand_id = :b{where} LIMIT :n"), params).all()
            except DBAPIError:  # no keyword table yet: the brand has no message
                return {}
        if len(rows) > limit:  # more arrived between the two reads
            return None
        return {message_uid(r[0], r[1]): None if r[3] else r[2] for r in rows}

    def _passing_at_most(self, conn: Connection, brand_id: str, filters: dict[str, Any], limit: int) -> bool:
        """Whether at most `limit` of the brand's messages pass the filters (counting stops past it)."""
        where, join = self._filter_clause(brand_id, filters)
        count = conn.execute(text(f"SELECT COUNT(*) FROM (SELECT 1 FROM messages m{join} WHERE m.brand_id = :b{where} "
                                  f"LIMIT :n) AS passing"), {"b": brand_id, "n": limit + 1, **_filters(filters)[1]})
        return int(count.scalar_one()) <= limit

    def _filter_clause(self, brand_id: str, filters: dict[str, Any]) -> tuple[str, str]:
        """(the filters' SQL conditions on `messages m`, the join they need): dates are read from the keyword index's
        epoch seconds, kind, channel and author from the messages' own columns."""
        where, params = _filters(filters)
        if "since" in params or "until" in params:
            join = (" JOIN message_search k ON k.message_id = m.id" if self.engine.dialect.name == "postgresql"
                    else f" JOIN {kw_table(brand_id)} k ON k.rowid = m.id")
            return where.replace(" AND ", " AND k."), join
        return where.replace(" AND ", " AND m."), ""

    def optimize_keywords(self, brand_id: str) -> None:
        """Merge a brand's FTS5 segments, so entries of deleted messages leave the file (after an erasure)."""
        if self.engine.dialect.name != "sqlite":
            return
        table = kw_table(brand_id)
        with self.engine.begin() as conn:
            for ddl in _fts_ddl(table):
                conn.execute(text(ddl))
            conn.execute(text(f"INSERT INTO {table} ({table}) VALUES ('optimize')"))

    # ------------------------------------------------------------ SQLite FTS5
    def _fts_search(self, brand_id: str, query: str, k: int, filters: dict[str, Any], check: RowFilter | None = None
                    ) -> tuple[KeywordHits, list[tuple[int, float, tuple[str, ...]]]]:
        out = KeywordHits(words=query_words(query))
        terms = list(dict.fromkeys(analyse_query(query) + [t for stems in out.words.values() for t in stems]))
        table = kw_table(brand_id)
        where, params = _filters(filters)
        with self.engine.connect() as conn:
            try:
                out.df = self._document_frequencies(brand_id, terms, lambda missing: dict(conn.execute(text(
                    f"SELECT term, doc FROM {table}_vocab WHERE col = 'terms' AND term IN "
                    f"({','.join(f':t{i}' for i in range(len(missing)))})"),
                    {f"t{i}": t for i, t in enumerate(missing)}).all())) if terms else {}
                averages = conn.execute(text(f"SELECT block FROM {table}_data WHERE id = 1")).scalar()
            except DBAPIError:  # the brand has no keyword table yet: nothing was ever written
                return out, []
            docs, tokens = (_varints(averages) + [0, 0])[:2] if averages else (0, 0)
            out.docs = docs
            terms, essential = _rare_first(terms, out.df)
            if not terms:
                return out, []
            indexed = self._fts_filter(brand_id, filters, where)
            match, rank = _match(essential), ""
            if indexed == where and "kind" in params and check is None:  # the kind is matched in its own column
                match = f'kind : {_quoted(params.pop("kind"))} AND {match}'
                indexed = where = _filters({**filters, "kind": None})[0]
                rank = " AND rank MATCH 'bm25(1.0, 0.0)'"  # the kind adds nothing to a match's score
            values = {"q": match, "b": brand_id, **params}
            # With `check` (a kind or channel filter and the brand's fields in memory), the same matches are read
            # without reading each match's filter field: 7.7 -> 3.7 ms for a channel at 100k messages (SQL alone).
            checked = None if check is None else _checked_matches(conn, table, values["q"], check,
                                                                   unranked=indexed != where, n=max(CANDIDATES, k))
            rows = checked
            if rows is None and indexed != where:  # an indexed filter: its matches are few enough to score them all
                rows = conn.execute(text(f"SELECT rowid, terms FROM {table} WHERE {table} MATCH :q{indexed} "
                                         f"LIMIT :n"), {**values, "n": UNRANKED_MAX + 1}).all()
            if rows is None or (checked is None and len(rows) > UNRANKED_MAX):
                sql = f"SELECT rowid, terms FROM {table} WHERE {table} MATCH :q{indexed}{rank} ORDER BY rank LIMIT :n"
                rows = conn.execute(text(sql), {**values, "n": max(CANDIDATES, k)}).all()
        return out, _rescore([(int(r[0]), r[1]) for r in rows], terms, out.df, docs,
                             tokens / docs if docs else 1.0)[:k]

    def _fts_filter(self, brand_id: str, filters: dict[str, Any], where: str) -> str:
        """The FTS5 query's filter: on a channel or an author (and no dates), the matches' rowids checked against
        the messages table's index (`+rowid`: a test per match, not a constraint FTS5 would drive the search by, one
        lookup per id); otherwise the FTS5 table's own filter columns (`where`)."""
        if any(filters.get(key) not in (None, "") for key in INDEXED_FILTERS) and \
                all(filters.get(key) is None for key in ("since", "until")):
            indexed = self._filter_clause(brand_id, filters)[0]
            return f" AND +rowid IN (SELECT m.id FROM messages m WHERE m.brand_id = :b{indexed})"
        return where

    # ------------------------------------------------------------ PostgreSQL full-text search
    def _pg_search(self, brand_id: str, query: str, k: int,
                   filters: dict[str, Any]) -> tuple[KeywordHits, list[tuple[int, float, tuple[str, ...]]]]:
        out = KeywordHits()
        with self.engine.connect() as conn:
            for word, lexeme in conn.execute(text(PG_QUERY_LEXEMES), {"w": list(query_words(query)) or [""]}):
                out.words.setdefault(word, [])
                if lexeme not in out.words[word]:
                    out.words[word].append(lexeme)
            lexemes = list(dict.fromkeys(x for stems in out.words.values() for x in stems))
            if not lexemes:
                return out, []
            out.df = self._pg_df(conn, brand_id, lexemes)
            out.docs, avgdl = self._pg_totals(conn, brand_id)
            lexemes, essential = _rare_first(lexemes, out.df)
            if not lexemes:
                return out, []
            where, params = _filters(filters)
            idfs = [math.log(1 + (out.docs - out.df[x] + 0.5) / (out.df[x] + 0.5)) for x in lexemes]
            rows = conn.execute(text(PG_BM25.replace("{where}", where)), {
                "b": brand_id, "qe": " | ".join(_lexeme(x) for x in essential), "p": max(CANDIDATES, k), "k": k,
                "lexemes": lexemes, "idfs": idfs, "k1": K1, "bb": B, "avgdl": avgdl or 1.0, **params}).all()
        return out, [(int(r[0]), float(r[1]), tuple(r[2])) for r in rows]

    def _pg_df(self, conn: Connection, brand_id: str, lexemes: list[str]) -> dict[str, int]:
        """How many of the brand's messages hold each lexeme (counted through the GIN index; `_document_frequencies`)."""
        def count(missing: list[str]) -> dict[str, int]:
            counts = conn.execute(text("SELECT " + ", ".join(
                f"(SELECT count(*) FROM message_search WHERE brand_id = :b AND tsv @@ CAST(:x{i} AS tsquery))"
                for i in range(len(missing)))), {"b": brand_id, **{f"x{i}": _lexeme(x) for i, x in enumerate(missing)}}).one()
            return {x: int(n) for x, n in zip(missing, counts)}

        return self._document_frequencies(brand_id, lexemes, count)

    def forget_term_counts(self) -> None:
        """Drop the remembered document frequencies (`_document_frequencies`): a benchmark measures searches that
        share only what other queries counted."""
        self.__dict__.pop("_df_cache", None)

    def _document_frequencies(self, brand_id: str, terms: list[str],
                              count: Callable[[list[str]], dict[str, int]]) -> dict[str, int]:
        """How many of the brand's messages hold each term (absent terms may be left out), a common term's count
        remembered for `STATS_TTL_S`. Counting a term costs in proportion to the messages holding it (FTS5's
        vocabulary walks its whole list: ~1 ms for a term in a third of 100k messages), and a common term's count
        moves by a small fraction in a minute; a rarer one (below `DF_CACHE_MIN`) is counted by every search, so a
        word that a message just brought in is matched the moment its write commits."""
        cache = self.__dict__.setdefault("_df_cache", {})
        now = time.monotonic()
        out, missing = {}, []
        for term in terms:
            hit = cache.get((brand_id, term))
            if hit is not None and now - hit[1] < STATS_TTL_S:
                out[term] = hit[0]
            else:
                missing.append(term)
        if missing:
            counted = count(missing)
            out.update(counted)
            if len(cache) > 100_000:
                cache.clear()
            cache.update({(brand_id, t): (n, now) for t, n in counted.items() if n >= DF_CACHE_MIN})
        return out

    def _pg_totals(self, conn: Connection, brand_id: str) -> tuple[int, float]:
        """(documents, average distinct lexemes per document) of a brand, remembered for `STATS_TTL_S`."""
        cache = self.__dict__.setdefault("_pg_totals_cache", {})
        hit = cache.get(brand_id)
        if hit is None or time.monotonic() - hit[2] >= STATS_TTL_S:
            n, avg = conn.execute(text("SELECT count(*), avg(length(tsv)) FROM message_search WHERE brand_id = :b"),
                                  {"b": brand_id}).one()
            hit = cache[brand_id] = (int(n), float(avg or 1.0), time.monotonic())
        return hit[0], hit[1]


PG_BM25 = """
WITH cand AS (
    SELECT message_id, tsv FROM message_search
    WHERE brand_id = :b AND tsv @@ CAST(:qe AS tsquery){where}
    ORDER BY ts_rank_cd(tsv, CAST(:qe AS tsquery)) DESC LIMIT :p)
SELECT c.message_id, sum(w.idf * u.tf / (u.tf + :k1 * (1 - :bb + :bb * length(c.tsv) / :avgdl))) AS score,
       array_agg(u.lexeme ORDER BY w.idf DESC) AS matched
FROM cand c
CROSS JOIN LATERAL (SELECT lexeme, array_length(positions, 1) AS tf FROM unnest(c.tsv)) AS u
JOIN unnest(CAST(:lexemes AS text[]), CAST(:idfs AS float8[])) AS w(lexeme, idf) ON w.lexeme = u.lexeme
GROUP BY c.message_id ORDER BY score DESC, c.message_id LIMIT :k"""


# Each query word with the lexemes the French and English configurations make of it (none for a stop word).
PG_QUERY_LEXEMES = """
SELECT w.word, t.lexeme FROM unnest(CAST(:w AS text[])) AS w(word)
CROSS JOIN LATERAL unnest(to_tsvector('copilot_fr', w.word) || to_tsvector('copilot_en', w.word)) AS t"""


def _checked_matches(conn: Connection, table: str, match: str, check: RowFilter, *, unranked: bool,
                     n: int) -> list[Any] | None:
    """The matches `_fts_search` would read with its SQL filter, the filter checked in memory on each match's rowid
    instead: with `unranked` (a channel), every passing match when at most `UNRANKED_MAX` pass, else (and for a kind)
    the first `n` passing in FTS5's rank order. None when a match is not known to `check` or the brand changed
    meanwhile (the caller then runs the SQL plan)."""
    query = f"SELECT rowid FROM {table} WHERE {table} MATCH :q"
    passing = _passing_matches(conn, query, match, check, UNRANKED_MAX + 1) if unranked else []
    if passing is not None and (not unranked or len(passing) > UNRANKED_MAX):
        passing = _passing_matches(conn, query + " ORDER BY rank", match, check, n)
    if passing is None:
        return None
    rows = conn.execute(text(f"SELECT rowid, terms FROM {table} WHERE rowid IN (SELECT value FROM json_each(:ids))"),
                        {"ids": json.dumps(passing)}).all()
    return rows if check.current() else None


def _passing_matches(conn: Connection, sql: str, match: str, check: RowFilter, limit: int) -> list[int] | None:
    """The rowids of the first `limit` matches that pass `check`, in the query's order (None: one is unknown)."""
    passing: list[int] = []
    # The driver's own cursor: thousands of rowids go through here, and a SQLAlchemy row costs more than the check.
    cursor = conn.connection.driver_connection.execute(sql.replace(":q", "?"), (match,))
    try:
        for (rowid,) in cursor:
            ok = check.passes(rowid)
            if ok is None:
                return None
            if ok:
                passing.append(rowid)
                if len(passing) >= limit:
                    break
    finally:
        cursor.close()
    return passing


def query_words(query: str) -> dict[str, list[str]]:
    """The query's content words, each with its French and English index terms (accents folded), in order."""
    out: dict[str, list[str]] = {}
    for word in words(query[:2000]):
        stems = list(dict.fromkeys(analyse(word, "fr") + analyse(word, "en")
                                   + [s for variant in _accented(word) for s in analyse(variant, "fr")]))
        if stems and word not in out:
            out[word] = stems
    return out


def _accented(word: str) -> list[str]:
    """A French word typed without its accents, read with the past-participle ending whose accent changes how Snowball
    stems it: 'butees' stems to 'bute' but the text's 'butées' to 'but' (stemmed first, accents folded after), so the
    query would miss every text spelling it right. PostgreSQL folds accents before stemming and needs none of this."""
    if not word.isascii() or len(word) < 4:
        return []
    for plain, accented in (("ees", "ées"), ("ee", "ée"), ("es", "és"), ("e", "é")):
        if word.endswith(plain):
            return [word[: -len(plain)] + accented]
    return []


def _lexeme(value: str) -> str:
    """A stemmed lexeme as a tsquery literal (matched as is, never parsed as query syntax)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _rare_first(terms: Sequence[str], df: dict[str, int]) -> tuple[list[str], list[str]]:
    """The terms present in the index, rarest first, and the rarest ones that pick the candidates: together they
    match at most `CANDIDATE_DOCS` documents (or the rarest alone matches more)."""
    present = sorted((t for t in terms if df.get(t)), key=lambda t: df[t])
    essential, total = [], 0
    for t in present:
        if essential and total + df[t] > CANDIDATE_DOCS:
            break
        essential.append(t)
        total += df[t]
    return present, essential


def _filters(filters: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    keys = [key for key in FILTER_SQL if filters.get(key) not in (None, "")]
    return "".join(f" AND {FILTER_SQL[key]}" for key in keys), {key: filters[key] for key in keys}


def _match(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of the terms in the `terms` column (each quoted: no FTS5 syntax can come from the
    user)."""
    return f"terms : ({' OR '.join(map(_quoted, terms))})"


def _quoted(value: str) -> str:
    """A string as an FTS5 phrase (matched as is, never parsed as query syntax)."""
    return '"' + value.replace('"', '""') + '"'


def _rescore(candidates: list[tuple[int, str]], terms: list[str], df: dict[str, int], docs: int,
             avgdl: float) -> list[tuple[int, float, tuple[str, ...]]]:
    """BM25 (Lucene's variant) of each candidate over every query term, with the index's statistics."""
    idf = {t: math.log(1 + (docs - df[t] + 0.5) / (df[t] + 0.5)) for t in terms}
    wanted = set(terms)
    scored = []
    for rowid, stored in candidates:
        tokens = stored.split()
        norm = K1 * (1 - B + B * len(tokens) / (avgdl or 1.0))
        counts: dict[str, int] = {}
        for tok in tokens:
            if tok in wanted:
                counts[tok] = counts.get(tok, 0) + 1
        score = sum(idf[t] * f / (f + norm) for t, f in counts.items())
        scored.append((rowid, score, tuple(sorted(counts, key=lambda t: -idf[t]))))
    return sorted(scored, key=lambda rs: (-rs[1], rs[0]))
