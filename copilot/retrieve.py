"""Hybrid retrieval: dense (Chroma) and lexical (BM25, in the database) rankings fused by reciprocal rank fusion.

RRF (Cormack, Clarke & Büttcher, SIGIR 2009): score(d) = Σ_r 1 / (k + rank_r(d)), k = 60. It needs no score
calibration between the cosine and BM25 scales, which is why it is the default here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from copilot.embed import Embedder
from copilot.index import VectorIndex
from copilot.lexical import KeywordSearch
from copilot.store import Store
from copilot.text import snippet

RRF_K = 60
Mode = Literal["hybrid", "lexical", "dense"]


@dataclass
class Hit:
    """One search result."""

    id: str
    uid: str
    source: str
    kind: str
    channel: str | None
    author: str | None
    author_name: str | None
    created_at: datetime
    title: str | None
    snippet: str
    permalink: str | None
    score: float
    lexical_rank: int | None
    dense_rank: int | None


def fuse(rankings: list[list[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of ranked id lists, best first."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, uid in enumerate(ranking, start=1):
            scores[uid] = scores.get(uid, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


class Retriever:
    """Searches one brand's history and charter."""

    def __init__(self, store: Store, index: VectorIndex, embedder: Embedder, keywords: KeywordSearch):
        self.store, self.index, self.embedder, self.keywords = store, index, embedder, keywords

    def search(self, brand: str, query: str, *, limit: int = 10, mode: Mode = "hybrid",
               filters: dict[str, Any] | None = None) -> list[Hit]:
        """Ranked hits for `query` within the brand, honouring kind/channel/author/date filters."""
        filters = filters or {}
        depth = max(limit * 4, 40)
        lexical_ids: list[str] = []
        dense_ids: list[str] = []
        if mode in ("hybrid", "lexical"):
            lexical_ids = [u for u, _ in self.keywords.search(brand, query, k=depth, filters=filters)]
        if mode in ("hybrid", "dense"):
            vector = self.embedder.embed([query])[0]
            dense_ids = [u for u, _ in self.index.query(brand, vector, k=depth, filters=filters)]
        fused = fuse([r for r in (lexical_ids, dense_ids) if r])[:limit]
        return self._hydrate(brand, query, fused, lexical_ids, dense_ids)

    def _hydrate(self, brand: str, query: str, fused: list[tuple[str, float]], lexical_ids: list[str],
                 dense_ids: list[str]) -> list[Hit]:
        rows = self.store.get_messages(brand, [u for u, _ in fused])
        lex_rank = {u: i + 1 for i, u in enumerate(lexical_ids)}
        dense_rank = {u: i + 1 for i, u in enumerate(dense_ids)}
        hits = []
        for uid, score in fused:
            row = rows.get(uid)
            if row is None:  # deleted since it was indexed
                continue
            hits.append(Hit(id=row.source_id, uid=uid, source=row.source, kind=row.kind, channel=row.channel,
                            author=row.author, author_name=row.author_name, created_at=row.created_at,
                            title=row.title, snippet=snippet(row.text, query), permalink=row.permalink,
                            score=round(score, 6), lexical_rank=lex_rank.get(uid), dense_rank=dense_rank.get(uid)))
        return hits
