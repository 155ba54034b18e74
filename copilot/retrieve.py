"""Hybrid retrieval: dense (Chroma) and lexical (BM25, in the database) rankings, each weighed by the evidence it
has for this query, fused; copies of one text collapsed; hits without evidence dropped; each hit says why.

Fusion (the four are measured side by side by `copilot eval retrieval --fusion all`, docs/retrieval.md):
- `score` (default): CombSUM of per-ranking normalised scores, each ranking weighed per query (`evidence`).
  Keyword hits score the share of the query's information they hold (each word's IDF; `LexicalResult.share`),
  dense hits their similarity min-max normalised over the candidates. The keyword weight is `LEXICAL_WEIGHT`
  times the square root of the query's coverage by the collection, so a French question about English posts,
  whose words the brand never uses, cannot let stray keyword matches outvote the embedder; the dense weight is
  the best-minus-tenth similarity gap over `DENSE_SPREAD`, so a flat list (the embedder cannot tell) weighs little.
  The spread is a property of the embedder's similarity scale: score fusion is the default only for an embedder
  measured here (the local MiniLM, the multilingual USE, the two paired); any other gets `rrf` unless asked.
- `union`: score fusion where every candidate of either ranking gets both scores (`Pool.complete`: the cosine of a
  keyword-only hit from its stored vector, the keyword share of a dense-only hit from its text's index terms).
  Measured beside `score` on the development and held-out queries: no better (docs/retrieval.md), so not the default.
- `weighted_rrf`: reciprocal rank fusion with the same weights.
- `rrf`: reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009), score(d) = Σ_r 1 / (k + rank_r(d)),
  k = 60: no calibration, but every ranking has the same say whatever it found.
Then each hit inherits a share (`CONTEXT_SHARE`) of the best fused score among its thread neighbours among the
candidates, the message it replies to and its replies (`copilot.fusion.with_context`): a question and its answers share
relevance, and an answer rarely restates the words of the question it answers. `context_id` says which neighbour lifted
a hit. Then, for a query of two words or more, the hits holding every word come first (`copilot.fusion.complete_first`).

Near-duplicates: messages whose text is the same once case, accents, punctuation and spacing are folded are one
hit: the earliest stands for the others (`duplicate_ids`, among the candidates). The collapse runs on each
ranking before fusion, so six copies of one sentence do not push six other messages down either list.

Relevance floor (`copilot.fusion.with_evidence`): a hit needs a keyword match holding `LEXICAL_EVIDENCE` of the
query's information, or a similarity `DENSE_EVIDENCE` of the way from the dense candidates' tail to the best one; so
a search can return fewer than `limit`. Relative, not absolute: all-MiniLM-L6-v2 gives a French text and an
English question similarities around 0.1-0.3 even when it is the right answer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from copilot.embed import Embedder
from copilot.facets import Facets, kept
from copilot.fusion import (Pool, Ranking, collapse, complete_first, cosines, evidence, fuse, fuse_scores,
                            group_copies, keyword_rescue, normalise, thread_neighbours, with_context, with_evidence)
from copilot.index import VectorIndex
from copilot.lexical import KeywordSearch, LexicalResult
from copilot.store import Store
from copilot.text import snippet

# Best-minus-tenth similarity at which the dense ranking gets its full weight (1), per embedder: similarity scales
# differ between models, so score fusion runs only for an embedder measured here; any other gets plain RRF.
# Measured on the v2 development queries: the median best-minus-tenth gap is 0.157 for MiniLM, 0.150 for USE and
# 0.151 for the two paired (`copilot.embed.PairedEmbedder`).
DENSE_SPREAD = {"all-MiniLM-L6-v2-int8": 0.2, "use-multilingual-v3": 0.2,
                "all-MiniLM-L6-v2-int8+use-multilingual-v3": 0.2}
# A filtered dense search looks at the k x 5, k x 15, then k x 50 nearest before ranking exactly: each step costs
# about 3x the one before (Chroma's query and the database's check of the ids), so the middle one keeps most filters
# that miss at x 5 off the x 50 step.
DENSE_OVERFETCH = (5, 15, 50)
# A filter passing at most this many messages is ranked exactly over their vectors (fetched by id from Chroma: ~90 ms
# for 1,300 at 100k messages on a loaded machine, then from the index's in-memory cache: ~2 ms).
EXACT_MAX = 2000
# A hybrid search runs its keyword side on a worker thread while the caller embeds the query and asks Chroma:
# SQLite, onnxruntime and Chroma release the GIL, so the two sides overlap on two cores (mean -15 % at 100k messages,
# bench/search.py). When every worker is busy (many concurrent searches), the side runs inline rather than queue.
PARALLEL_SIDES = True
SIDE_WORKERS = 4
_SIDES = ThreadPoolExecutor(max_workers=SIDE_WORKERS, thread_name_prefix="keyword-side")
_SIDE_SLOTS = threading.BoundedSemaphore(SIDE_WORKERS)
# Filters the database counts on an index (`filtered_versions`): with one of them, the count chooses the plan first.
INDEXED_FILTERS = ("channel", "author")
PASSING_SETS = 16  # selective filters whose vectors a retriever keeps (at most EXACT_MAX x dim floats each)
Mode = Literal["hybrid", "lexical", "dense"]
Fusion = Literal["rrf", "weighted_rrf", "score", "union"]
FUSIONS: tuple[Fusion, ...] = ("rrf", "weighted_rrf", "score", "union")


@dataclass
class Hit:
    """One search result, with why it matched."""

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
    matched_terms: list[str] = field(default_factory=list)
    lexical_score: float | None = None
    dense_similarity: float | None = None
    duplicate_ids: list[str] = field(default_factory=list)
    context_id: str | None = None  # the thread neighbour (parent or reply) whose score this hit inherited a share of

    @property
    def duplicates(self) -> int:
        """How many other messages with the same text this hit stands for."""
        return len(self.duplicate_ids)


class Retriever:
    """Searches one brand's history and charter."""

    def __init__(self, store: Store, index: VectorIndex, embedder: Embedder, keywords: KeywordSearch, *,
                 fusion: Fusion | None = None, floor: bool = True, context: bool = True,
                 facets: Facets | None = None):
        self.store, self.index, self.embedder, self.keywords = store, index, embedder, keywords
        self.facets = facets or Facets(store)  # a kind or channel filter's over-fetched ids are checked in memory
        self.spread = DENSE_SPREAD.get(embedder.name)
        # Score fusion needs the embedder's similarity scale (measured: docs/retrieval.md); RRF needs none.
        self.fusion: Fusion = fusion or ("score" if self.spread else "rrf")
        self.floor = floor
        self.context = context  # hybrid hits inherit a share of their thread neighbours' scores (`with_context`)
        # (brand, filters) -> (the brand's lexical_seq, ids, their vectors) of a selective filter, or None as the
        # vectors when too many pass: valid while the brand's keyword-relevant change sequence has not moved.
        self._passing: OrderedDict[tuple[str, str], tuple[int, list[str], np.ndarray | None]] = OrderedDict()
        self._passing_lock = threading.Lock()  # requests search from several threads

    def search(self, brand: str, query: str, *, limit: int = 10, mode: Mode = "hybrid",
               filters: dict[str, Any] | None = None) -> list[Hit]:
        """Ranked hits for `query` within the brand, honouring kind/channel/author/date filters."""
        pool = self.candidates(brand, query, depth=max(limit * 4, 40), filters=filters or {}, need=limit, mode=mode)
        lex, den = pool.lex, pool.den
        lifted: dict[str, str] = {}
        if mode == "hybrid":
            lex.weight, den.weight = evidence(pool.lexical.coverage, den.scores, self.spread or 0.2)
            if self.fusion == "union":
                lex, den = pool.both_scores(lex.weight, den.weight)
            fused = self._fuse(lex, den)
            if self.context:
                fused, lifted = with_context(fused, thread_neighbours(pool.rows, pool.groups))
            fused = keyword_rescue(complete_first(fused, lex, pool.lexical), lex)
        else:
            side = lex if mode == "lexical" else den
            fused = list(zip(side.keys, side.scores))
        if self.floor:
            fused = with_evidence(fused, lex, den, words=len(pool.lexical.weights) if mode == "hybrid" else 0)
        return self._hydrate(query, fused[:limit], pool, lifted)

    def candidates(self, brand: str, query: str, *, depth: int, filters: dict[str, Any], need: int | None = None,
                   mode: Mode = "hybrid") -> Pool:
        """Both rankings' candidates (`depth` each), copies collapsed into groups; with the `union` fusion every group
        also gets the score the other side did not give it: its cosine from the stored vectors, its keyword share
        from its text's index terms."""
        lexical = LexicalResult()
        dense: list[tuple[str, float]] = []
        vector = None
        keyword_side = self._keyword_side(brand, query, depth, filters) if mode == "hybrid" else None
        if mode == "lexical" or (mode == "hybrid" and keyword_side is None):
            lexical = self.keywords.explained(brand, query, k=depth, filters=filters)
        if mode in ("hybrid", "dense"):
            vector = self.embedder.embed([query])[0]
            dense = self._dense(brand, vector, depth, filters, need=need)
        if keyword_side is not None:
            lexical = keyword_side.result()
        candidates = dict.fromkeys([u for u, _, _ in lexical.ranked] + [u for u, _ in dense])
        rows = self.store.search_rows(brand, list(candidates))
        groups = group_copies(rows)
        pool = Pool(lexical, rows, groups, collapse([(u, s) for u, s, _ in lexical.ranked], groups),
                    collapse(dense, groups))
        normalise(pool.lex, pool.den, pool.share)
        if mode == "hybrid" and vector is not None and self.fusion == "union":
            pool.complete(brand, vector, dict(dense), self.index)
        return pool

    def _keyword_side(self, brand: str, query: str, depth: int, filters: dict[str, Any]) -> Future | None:
        """The keyword ranking, started on a worker thread; None when parallel sides are off or every worker is busy
        (the caller then ranks inline)."""
        if not PARALLEL_SIDES or not _SIDE_SLOTS.acquire(blocking=False):
            return None
        try:
            side = _SIDES.submit(self.keywords.explained, brand, query, k=depth, filters=filters)
        except BaseException:
            _SIDE_SLOTS.release()
            raise
        side.add_done_callback(lambda _: _SIDE_SLOTS.release())
        return side

    def _dense(self, brand: str, vector: Any, k: int, filters: dict[str, Any], *,
               need: int | None = None) -> list[tuple[str, float]]:
        """Up to k nearest messages passing the filters, by the cheapest exact plan the filter's selectivity allows.

        A filter on a channel or an author is counted first on an index: when at most `EXACT_MAX` messages pass, they
        are ranked exactly, by cosine over their stored vectors (`_exact`, vectors cached in memory). Otherwise the
        nearest ids are over-fetched unfiltered (cheap), widening in steps (`DENSE_OVERFETCH`), and filtered in the
        database; when fewer than `need` (default k) pass even among the k x 50 nearest (a page of results needs
        `limit` dense candidates, the rest only feeds fusion), the filter is selective after all: ranked exactly if
        it can be. Chroma's own filtered search is the
        last resort, for a filter passing more than `EXACT_MAX` messages yet few of the nearest: it is slow at scale,
        and approximate (it returned nothing in 2 of 12 trials where 1 message of 61 passed; Chroma 1.5.9)."""
        if all(v in (None, "") for v in filters.values()):
            return self.index.query(brand, vector, k=k, filters={})
        counted = any(filters.get(key) not in (None, "") for key in INDEXED_FILTERS)
        exact = self._exact(brand, vector, k, filters) if counted else None
        if exact is not None:
            return exact
        for factor in DENSE_OVERFETCH:
            kept = self._nearest_passing(brand, vector, k * factor, filters)
            if len(kept) >= (need or k):
                return kept[:k]
        exact = None if counted else self._exact(brand, vector, k, filters)
        return exact if exact is not None else self.index.query(brand, vector, k=k, filters=filters)

    def _nearest_passing(self, brand: str, vector: Any, wide: int, filters: dict[str, Any]) -> list[tuple[str, float]]:
        """The `wide` nearest messages (unfiltered), keeping those that pass the filters in the database (a kind or a
        channel: in the fields kept in memory, which answer as the database would)."""
        ranked = self.index.query(brand, vector, k=wide, filters={})
        uids = [u for u, _ in ranked]
        check = self.facets.passing if kept(filters) else self.store.passing_uids
        passing = check(brand, uids, filters)
        return [(u, s) for u, s in ranked if u in passing]

    def _exact(self, brand: str, vector: Any, k: int, filters: dict[str, Any]) -> list[tuple[str, float]] | None:
        """The k messages passing the filters nearest to `vector`, by cosine over all of their stored vectors (unit
        norm: a dot product); None when more than `EXACT_MAX` pass."""
        ids, matrix = self._passing_vectors(brand, filters)
        if matrix is None:
            return None
        if not ids:
            return []
        similarities = cosines(matrix, vector)
        order = np.argsort(-similarities, kind="stable")[:k]
        return [(ids[i], float(similarities[i])) for i in order]

    def _passing_vectors(self, brand: str, filters: dict[str, Any]) -> tuple[list[str], np.ndarray | None]:
        """The ids and vectors of the messages passing a filter (None as vectors when more than `EXACT_MAX` pass),
        remembered until the brand's messages change in a way keyword search sees (`lexical_seq`: texts, filter
        fields, deletions); a set with a pending vector is not remembered (its vector will change)."""
        key = (brand, repr(sorted((f, str(v)) for f, v in filters.items() if v not in (None, ""))))
        seqs = self.store.brand_seqs([brand]).get(brand)
        seq = seqs.lexical_seq if seqs else -1
        with self._passing_lock:
            known = self._passing.get(key)
            if known is not None and known[0] == seq:
                self._passing.move_to_end(key)
                return known[1], known[2]
        versions = self.store.filtered_versions(brand, filters, limit=EXACT_MAX)
        if versions is None:
            ids, matrix = [], None
        else:
            ids, matrix = self.index.vectors(brand, list(versions), versions=versions)
            matrix = matrix if ids else np.zeros((0, 0), dtype=np.float32)
        if versions is None or None not in versions.values():
            with self._passing_lock:
                self._passing[key] = (seq, ids, matrix)
                while len(self._passing) > PASSING_SETS:
                    self._passing.popitem(last=False)
        return ids, matrix

    def _fuse(self, lex: Ranking, den: Ranking) -> list[tuple[str, float]]:
        sides = [r for r in (lex, den) if r.keys]
        if self.fusion in ("score", "union"):
            return fuse_scores(sides)
        weights = [r.weight for r in sides] if self.fusion == "weighted_rrf" else None
        return fuse([r.keys for r in sides], weights=weights)

    def _hydrate(self, query: str, fused: list[tuple[str, float]], pool: Pool, lifted: dict[str, str]) -> list[Hit]:
        lex, den, rows = pool.lex, pool.den, pool.rows
        lex_rank = {k: i + 1 for i, k in enumerate(lex.keys)}
        dense_rank = {k: i + 1 for i, k in enumerate(den.keys)}
        lex_score, similarity = dict(zip(lex.keys, lex.scores)), dict(zip(den.keys, den.scores))
        similarity = {**pool.similarity, **similarity}
        hits = []
        for key, score in fused:
            uid, *copies = pool.groups[key]
            row = rows[uid]
            hits.append(Hit(id=row.source_id, uid=uid, source=row.source, kind=row.kind, channel=row.channel,
                            author=row.author, author_name=row.author_name, created_at=row.created_at,
                            title=row.title, snippet=snippet(row.text, query), permalink=row.permalink,
                            score=round(score, 6), lexical_rank=lex_rank.get(key), dense_rank=dense_rank.get(key),
                            matched_terms=list(pool.matched.get(key, ())),
                            lexical_score=_rounded(lex_score.get(key)), dense_similarity=_rounded(similarity.get(key)),
                            duplicate_ids=[rows[c].source_id for c in copies],
                            context_id=rows[pool.groups[lifted[key]][0]].source_id if key in lifted else None))
        return hits


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)

