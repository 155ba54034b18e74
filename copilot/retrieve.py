"""Hybrid retrieval: dense (Chroma) and lexical (BM25, in the database) rankings, each weighed by the evidence it
has for this query, fused; copies of one text collapsed; hits without evidence dropped; each hit says why.

Fusion (the three are measured side by side by `copilot eval retrieval --fusion all`, docs/retrieval.md):
- `score` (default): CombSUM of per-ranking normalised scores, each ranking weighed per query (`evidence`).
  Keyword hits score the share of the query's information they hold (each word's IDF; `LexicalResult.share`),
  dense hits their similarity min-max normalised over the candidates. The keyword weight is `LEXICAL_WEIGHT`
  times the square root of the query's coverage by the collection, so a French question about English posts,
  whose words the brand never uses, cannot let stray keyword matches outvote the embedder; the dense weight is
  the best-minus-tenth similarity gap over `DENSE_SPREAD`, so a flat list (the embedder cannot tell) weighs little.
  The spread is a property of the embedder's similarity scale: score fusion is the default only for an embedder
  measured here (the local MiniLM, the multilingual USE, the two paired); any other gets `rrf` unless asked.
- `weighted_rrf`: reciprocal rank fusion with the same weights.
- `rrf`: reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009), score(d) = Σ_r 1 / (k + rank_r(d)),
  k = 60: no calibration, but every ranking has the same say whatever it found.
Then, for a query of two words or more, the hits holding every word come first (`_complete_first`).

Near-duplicates: messages whose text is the same once case, accents, punctuation and spacing are folded are one
hit: the earliest stands for the others (`duplicate_ids`, among the candidates). The collapse runs on each
ranking before fusion, so six copies of one sentence do not push six other messages down either list.

Relevance floor (`_with_evidence`): a hit needs a keyword match holding `LEXICAL_EVIDENCE` of the query's
information, or a similarity `DENSE_EVIDENCE` of the way from the dense candidates' tail to the best one; so a
search can return fewer than `limit`. Relative, not absolute: all-MiniLM-L6-v2 gives a French text and an
English question similarities around 0.1-0.3 even when it is the right answer.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from copilot.embed import Embedder
from copilot.index import VectorIndex
from copilot.lexical import KeywordSearch, LexicalResult
from copilot.store import Store
from copilot.text import analyse, snippet

RRF_K = 60
LEXICAL_WEIGHT = 0.4    # the keyword ranking's weight when the collection holds every query word
# Best-minus-tenth similarity at which the dense ranking gets its full weight (1), per embedder: similarity scales
# differ between models, so score fusion runs only for an embedder measured here; any other gets plain RRF.
# Measured on the v2 development queries: the median best-minus-tenth gap is 0.157 for MiniLM, 0.150 for USE and
# 0.151 for the two paired (`copilot.embed.PairedEmbedder`).
DENSE_SPREAD = {"all-MiniLM-L6-v2-int8": 0.2, "use-multilingual-v3": 0.2,
                "all-MiniLM-L6-v2-int8+use-multilingual-v3": 0.2}
DENSE_OVERFETCH = (10, 50)  # a filtered dense search looks at the k x 10, then k x 50 nearest before ranking exactly
# A filter passing at most this many messages is ranked exactly over their vectors (fetched by id from Chroma: ~90 ms
# for 1,300 at 100k messages on a loaded machine, then from the index's in-memory cache: ~2 ms).
EXACT_MAX = 2000
# Filters the database counts on an index (`filtered_versions`): with one of them, the count chooses the plan first.
INDEXED_FILTERS = ("channel", "author")
PASSING_SETS = 16  # selective filters whose vectors a retriever keeps (at most EXACT_MAX x dim floats each)
MIN_WEIGHT = 0.05       # no ranking is silenced completely
DENSE_EVIDENCE = 0.3    # a dense-only hit stands at least this far from the candidates' tail to the best (0..1)
LEXICAL_EVIDENCE = 0.1  # a keyword hit matches at least this share of the query's information
COMBINING = re.compile(r"[\u0300-\u036f]")  # the accents NFKD splits off Latin letters
NON_WORD = re.compile(r"[\W_]+")
LONG_TEXT = 1200
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

    @property
    def duplicates(self) -> int:
        """How many other messages with the same text this hit stands for."""
        return len(self.duplicate_ids)


@dataclass
class Ranking:
    """One side's collapsed ranking: group keys best first, their raw scores, their scores normalised to 0..1 (what
    score fusion adds up) and the side's weight for this query."""

    keys: list[str]
    scores: list[float]
    norm: list[float] = field(default_factory=list)
    weight: float = 1.0


@dataclass
class Pool:
    """A query's candidates: both rankings over groups of copies, and for each group what matched it: the query's
    words it holds (`matched`), its share of the query's information (`share`) and its best cosine similarity to
    the query (`similarity`) — for every group of the union once `complete` ran, not only those its side found."""

    lexical: LexicalResult
    rows: dict[str, Any]
    groups: dict[str, list[str]]
    lex: Ranking
    den: Ranking
    matched: dict[str, tuple[str, ...]] = field(default_factory=dict)
    share: dict[str, float] = field(default_factory=dict)
    similarity: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        key_of = {uid: key for key, uids in self.groups.items() for uid in uids}
        for uid, _, words in self.lexical.ranked:
            key = key_of.get(uid)
            if key is not None and key not in self.matched:
                self.matched[key] = words
                self.share[key] = self.lexical.share(words)

    def complete(self, brand: str, vector: Any, dense: dict[str, float], index: VectorIndex) -> None:
        """Give every group both scores: the keyword share of those the keyword ranking missed (from their text's
        index terms) and the cosine of those the dense ranking missed (from their stored vectors)."""
        for key, uids in self.groups.items():
            if key not in self.matched:
                row = self.rows[uids[0]]
                self.matched[key] = self.lexical.matched(set(analyse(f"{row.title or ''} {row.text}", row.lang)))
                self.share[key] = self.lexical.share(self.matched[key])
        missing = [u for uids in self.groups.values() for u in uids if u not in dense]
        ids, matrix = index.vectors(brand, missing) if missing else ([], None)
        cosine = dict(dense)
        if ids:
            cosine.update(zip(ids, (matrix @ np.asarray(vector, dtype=np.float32)).tolist()))
        for key, uids in self.groups.items():
            known = [cosine[u] for u in uids if u in cosine]
            if known:
                self.similarity[key] = max(known)

    def both_scores(self, lexical_weight: float, dense_weight: float) -> tuple[Ranking, Ranking]:
        """Both sides over every group of the union (after `complete`), for score fusion: the keyword side scores
        each group's share of the query's information, the dense side its cosine min-max normalised over the dense
        ranking's range (clipped to 0..1: a keyword hit the embedder ranks below its 40th candidate scores 0)."""
        keys = list(self.groups)
        bm25 = dict(zip(self.lex.keys, self.lex.scores))
        top = max(self.lex.scores, default=1.0) or 1.0
        lexical = [self.share.get(k, 0.0) + 1e-3 * bm25.get(k, 0.0) / top for k in keys]
        high, low = (self.den.scores[0], self.den.scores[-1]) if self.den.scores else (1.0, 0.0)
        similarity = [self.similarity.get(k, low) for k in keys]
        dense = [min(1.0, max(0.0, (s - low) / (high - low))) if high > low else 1.0 for s in similarity]
        return Ranking(keys, lexical, lexical, lexical_weight), Ranking(keys, similarity, dense, dense_weight)


def fuse(rankings: list[list[str]], k: int = RRF_K, weights: list[float] | None = None) -> list[tuple[str, float]]:
    """(Weighted) reciprocal rank fusion of ranked id lists, best first."""
    scores: dict[str, float] = {}
    for i, ranking in enumerate(rankings):
        w = 1.0 if weights is None else weights[i]
        for rank, uid in enumerate(ranking, start=1):
            scores[uid] = scores.get(uid, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def fuse_scores(rankings: list[Ranking]) -> list[tuple[str, float]]:
    """Weighted CombSUM of the rankings' normalised scores, best first (ties: the earlier ranking's order)."""
    scores: dict[str, float] = {}
    order: dict[str, int] = {}
    for r in rankings:
        for i, (key, n) in enumerate(zip(r.keys, r.norm)):
            scores[key] = scores.get(key, 0.0) + r.weight * n
            order.setdefault(key, i)
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]], kv[0]))


def evidence(coverage: float, similarities: list[float], spread: float = 0.2) -> tuple[float, float]:
    """(keyword weight, dense weight) for one query: how much each ranking can tell.

    Keyword: `LEXICAL_WEIGHT` times the square root of the query's coverage by the collection (a query whose words
    the brand never uses gets nothing from keywords). Dense: the gap between the best similarity and the tenth,
    relative to the embedder's `spread` (capped at 1): when every candidate is about as similar, it cannot tell."""
    lexical = LEXICAL_WEIGHT * math.sqrt(max(coverage, 0.0))
    dense = 0.0
    if len(similarities) > 1:
        dense = min(1.0, max(0.0, similarities[0] - similarities[min(9, len(similarities) - 1)]) / spread)
    return max(lexical, MIN_WEIGHT), max(dense, MIN_WEIGHT)


def text_key(title: str | None, text: str) -> str:
    """What makes two messages copies of each other: their words, case, accents and punctuation folded. A long text
    is keyed by its first 800 and last 300 characters and its length to within 50 (folding all of a 5,000-character
    post for each of ~80 candidates would cost a search 10-30 ms)."""
    whole = f"{title or ''} {text}"
    if len(whole) > LONG_TEXT:
        return f"{_fold(whole[:800])} … {_fold(whole[-300:])} #{len(whole) // 50}"
    return _fold(whole)


def _fold(text: str) -> str:
    return NON_WORD.sub(" ", COMBINING.sub("", unicodedata.normalize("NFKD", text.lower()))).strip()


class Retriever:
    """Searches one brand's history and charter."""

    def __init__(self, store: Store, index: VectorIndex, embedder: Embedder, keywords: KeywordSearch, *,
                 fusion: Fusion | None = None, floor: bool = True):
        self.store, self.index, self.embedder, self.keywords = store, index, embedder, keywords
        self.spread = DENSE_SPREAD.get(embedder.name)
        # Score fusion needs the embedder's similarity scale (measured: docs/retrieval.md); RRF needs none.
        self.fusion: Fusion = fusion or ("score" if self.spread else "rrf")
        self.floor = floor
        # (brand, filters) -> (the brand's lexical_seq, ids, their vectors) of a selective filter, or None as the
        # vectors when too many pass: valid while the brand's keyword-relevant change sequence has not moved.
        self._passing: OrderedDict[tuple[str, str], tuple[int, list[str], np.ndarray | None]] = OrderedDict()
        self._passing_lock = threading.Lock()  # requests search from several threads

    def search(self, brand: str, query: str, *, limit: int = 10, mode: Mode = "hybrid",
               filters: dict[str, Any] | None = None) -> list[Hit]:
        """Ranked hits for `query` within the brand, honouring kind/channel/author/date filters."""
        pool = self.candidates(brand, query, depth=max(limit * 4, 40), filters=filters or {}, need=limit, mode=mode)
        lex, den = pool.lex, pool.den
        if mode == "hybrid":
            lex.weight, den.weight = evidence(pool.lexical.coverage, den.scores, self.spread or 0.2)
            if self.fusion == "union":
                lex, den = pool.both_scores(lex.weight, den.weight)
            fused = _complete_first(self._fuse(lex, den), lex, pool.lexical)
        else:
            side = lex if mode == "lexical" else den
            fused = list(zip(side.keys, side.scores))
        if self.floor:
            fused = _with_evidence(fused, lex, den)
        return self._hydrate(query, fused[:limit], pool)

    def candidates(self, brand: str, query: str, *, depth: int, filters: dict[str, Any], need: int | None = None,
                   mode: Mode = "hybrid") -> Pool:
        """Both rankings' candidates (`depth` each), copies collapsed into groups; in hybrid mode every group also
        gets the score the other side did not give it: its cosine from the stored vectors, its keyword share from
        its text's index terms."""
        lexical = LexicalResult()
        dense: list[tuple[str, float]] = []
        vector = None
        if mode in ("hybrid", "lexical"):
            lexical = self.keywords.explained(brand, query, k=depth, filters=filters)
        if mode in ("hybrid", "dense"):
            vector = self.embedder.embed([query])[0]
            dense = self._dense(brand, vector, depth, filters, need=need)
        candidates = dict.fromkeys([u for u, _, _ in lexical.ranked] + [u for u, _ in dense])
        rows = self.store.get_messages(brand, list(candidates))
        groups = _groups(rows)
        pool = Pool(lexical, rows, groups, _collapse([(u, s) for u, s, _ in lexical.ranked], groups),
                    _collapse(dense, groups))
        _normalise(pool.lex, pool.den, lexical, groups)
        if mode == "hybrid" and vector is not None and self.fusion == "union":
            pool.complete(brand, vector, dict(dense), self.index)
        return pool

    def _dense(self, brand: str, vector: Any, k: int, filters: dict[str, Any], *,
               need: int | None = None) -> list[tuple[str, float]]:
        """Up to k nearest messages passing the filters, by the cheapest exact plan the filter's selectivity allows.

        A filter on a channel or an author is counted first on an index: when at most `EXACT_MAX` messages pass, they
        are ranked exactly, by cosine over their stored vectors (`_exact`, vectors cached in memory). Otherwise the
        nearest ids are over-fetched unfiltered (cheap) and filtered in the database; when fewer than `need` (default
        k) pass even among the k x 50 nearest (a page of results needs `limit` dense candidates, the rest only feeds
        fusion), the filter is selective after all: ranked exactly if it can be. Chroma's own filtered search is the
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
        """The `wide` nearest messages (unfiltered), keeping those that pass the filters in the database."""
        ranked = self.index.query(brand, vector, k=wide, filters={})
        passing = self.store.passing_uids(brand, [u for u, _ in ranked], filters)
        return [(u, s) for u, s in ranked if u in passing]

    def _exact(self, brand: str, vector: Any, k: int, filters: dict[str, Any]) -> list[tuple[str, float]] | None:
        """The k messages passing the filters nearest to `vector`, by cosine over all of their stored vectors (unit
        norm: a dot product); None when more than `EXACT_MAX` pass."""
        ids, matrix = self._passing_vectors(brand, filters)
        if matrix is None:
            return None
        if not ids:
            return []
        similarities = matrix @ np.asarray(vector, dtype=np.float32)
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

    def _hydrate(self, query: str, fused: list[tuple[str, float]], pool: Pool) -> list[Hit]:
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
                            duplicate_ids=[rows[c].source_id for c in copies]))
        return hits


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _groups(rows: dict[str, Any]) -> dict[str, list[str]]:
    """Group key -> uids of the same text, the earliest message first (it stands for the others)."""
    out: dict[str, list[str]] = {}
    for uid, row in sorted(rows.items(), key=lambda kv: (kv[1].created_at, kv[0])):
        out.setdefault(text_key(row.title, row.text), []).append(uid)
    return out


def _collapse(ranked: list[tuple[str, float]], groups: dict[str, list[str]]) -> Ranking:
    """A ranking over group keys: each text once, at its best position; messages deleted since indexing dropped."""
    key_of = {uid: key for key, uids in groups.items() for uid in uids}
    keys: list[str] = []
    scores: list[float] = []
    seen: set[str] = set()
    for uid, score in ranked:
        key = key_of.get(uid)
        if key is not None and key not in seen:
            seen.add(key)
            keys.append(key)
            scores.append(score)
    return Ranking(keys, scores)


def _normalise(lex: Ranking, den: Ranking, lexical: LexicalResult, groups: dict[str, list[str]]) -> None:
    """Keyword hits: the share of the query's information they match (BM25 only breaks ties); dense hits: min-max
    of the similarity over the candidates (the tail of the list is 0, the best 1)."""
    key_of = {uid: key for key, uids in groups.items() for uid in uids}
    share: dict[str, float] = {}
    for uid, _, words in lexical.ranked:
        share.setdefault(key_of.get(uid, ""), lexical.share(words))
    top = lex.scores[0] if lex.scores else 1.0
    lex.norm = [share.get(k, 0.0) + 1e-3 * s / (top or 1.0) for k, s in zip(lex.keys, lex.scores)]
    if den.scores:
        high, low = den.scores[0], den.scores[-1]
        den.norm = [(s - low) / (high - low) if high > low else 1.0 for s in den.scores]


def _complete_first(fused: list[tuple[str, float]], lex: Ranking, lexical: LexicalResult) -> list[tuple[str, float]]:
    """Hits holding every word of a query of two words or more come first (in fused order): when the collection
    has each word and one message has them all, it is what was asked for (and a dense-only hit cannot outrank it)."""
    if len(lexical.weights) < 2:
        return fused
    complete = {k for k, n in zip(lex.keys, lex.norm) if n >= 1.0 - 1e-6}
    return [kv for kv in fused if kv[0] in complete] + [kv for kv in fused if kv[0] not in complete]


def _with_evidence(fused: list[tuple[str, float]], lex: Ranking, den: Ranking) -> list[tuple[str, float]]:
    """Keep hits with some evidence: a keyword match carrying `LEXICAL_EVIDENCE` of the query's information, or a
    similarity `DENSE_EVIDENCE` of the way from the dense candidates' tail to the best one."""
    lexical = {k for k, n in zip(lex.keys, lex.norm) if n >= LEXICAL_EVIDENCE}
    dense = {k for k, n in zip(den.keys, den.norm) if n >= DENSE_EVIDENCE}
    return [(k, s) for k, s in fused if k in lexical or k in dense]
