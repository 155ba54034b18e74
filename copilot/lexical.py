"""Keyword (lexical) search: BM25 over French/English Snowball stems with accents folded, one index per brand,
kept in the database and updated in the same transaction as the messages (`copilot.store.keywords`).

A message is searchable by keyword the moment its write commits, on every replica, and nothing is rebuilt: there is
no in-memory index to warm, persist or invalidate. SQLite uses FTS5 (BM25 with a rare-terms-first candidate pass);
PostgreSQL uses its full-text search (`tsvector`, French/English configurations, `unaccent` when available).
"""

from __future__ import annotations

from typing import Any, Protocol


class KeywordStore(Protocol):
    """What keyword search needs from the store."""

    def keyword_search(self, brand_id: str, query: str, *, k: int,
                       filters: dict[str, Any]) -> list[tuple[str, float]]: ...


class KeywordSearch:
    """Ranks a brand's messages for a keyword query."""

    def __init__(self, store: KeywordStore):
        self.store = store

    def search(self, brand: str, query: str, *, k: int, filters: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """Top-k (uid, score) among messages passing the filters (kind, channel, author, since, until)."""
        if not query.strip() or k <= 0:
            return []
        return self.store.keyword_search(brand, query, k=k, filters=filters or {})
