"""The pieces of hybrid fusion (`copilot.retrieve` runs them): both rankings collapsed over copies of one text, each
normalised and weighed by its evidence for the query, fused (score fusion or reciprocal rank fusion), the complete
keyword matches first and the hits without evidence dropped. `Pool` holds one query's candidates with what matched
them, and can give every candidate both scores (`Pool.complete`, the `union` fusion)."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from copilot.index import VectorIndex
from copilot.lexical import LexicalResult
from copilot.text import analyse

RRF_K = 60
LEXICAL_WEIGHT = 0.4    # the keyword ranking's weight when the collection holds every query word
MIN_WEIGHT = 0.05       # no ranking is silenced completely
DENSE_EVIDENCE = 0.3    # a dense-only hit stands at least this far from the candidates' tail to the best (0..1)
LEXICAL_EVIDENCE = 0.1  # a keyword hit matches at least this share of the query's information
COMBINING = re.compile(r"[\u0300-\u036f]")  # the accents NFKD splits off Latin letters
NON_WORD = re.compile(r"[\W_]+")
ASCII_NON_WORD = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})  # NON_WORD's ASCII
LONG_TEXT = 1200
# A hit inherits this share of the best fused score among its thread neighbours (the message it replies to, its
# replies): a question and its answers share relevance, while an answer rarely restates the question's words.
# Chosen on v1 + v2 + v3 (0.1, 0.2, 0.3 and 0.5 within 0.01 recall@5 of each other; docs/retrieval.md).
CONTEXT_SHARE = 0.2
# The keyword side rescues its best hit when it holds clearly more of the query's information than any other: at
# least RESCUE_SHARE of it, RESCUE_MARGIN more than the next hit; it is then shown within the first RESCUE_AT.
RESCUE_SHARE, RESCUE_MARGIN, RESCUE_AT = 0.5, 0.15, 3


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
        self.share.update(self.lexical.exact_shares({key: (words, self._text(key))
                                                     for key, words in self.matched.items()}))

    def _text(self, key: str) -> str:
        row = self.rows[self.groups[key][0]]
        return f"{row.title or ''} {row.text}"

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
            cosine.update(zip(ids, cosines(matrix, vector).tolist()))
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


def cosines(matrix: np.ndarray, vector: Any) -> np.ndarray:
    """Each row of `matrix` (unit vectors) dotted with `vector`, without BLAS: after a BLAS product OpenBLAS's worker
    threads spin, waiting for the next one, and on a 2-core machine they took the CPU from the rest of the search (a
    kind + channel filtered search at 100k messages, p50 29 -> 11 ms with BLAS held to one thread; bench/search.py).
    A search's products are small (at most `EXACT_MAX` x the embedder's dimension): one thread costs ~0.1 ms."""
    return np.einsum("ij,j->i", matrix, np.asarray(vector, dtype=np.float32))


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
    lowered = text.lower()
    if lowered.isascii():  # most posts: what NON_WORD does, by a translation table (~3x faster than the pattern)
        return " ".join(lowered.translate(ASCII_NON_WORD).split())
    lowered = COMBINING.sub("", unicodedata.normalize("NFKD", lowered))
    return NON_WORD.sub(" ", lowered).strip()


def group_copies(rows: dict[str, Any]) -> dict[str, list[str]]:
    """Group key -> uids of the same text, the earliest message first (it stands for the others)."""
    out: dict[str, list[str]] = {}
    for uid, row in sorted(rows.items(), key=lambda kv: (kv[1].created_at, kv[0])):
        out.setdefault(text_key(row.title, row.text), []).append(uid)
    return out


def collapse(ranked: list[tuple[str, float]], groups: dict[str, list[str]]) -> Ranking:
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


def normalise(lex: Ranking, den: Ranking, share: dict[str, float]) -> None:
    """Keyword hits: the share of the query's information they match (`Pool.share`; BM25 only breaks ties); dense
    hits: min-max of the similarity over the candidates (the tail of the list is 0, the best 1)."""
    top = lex.scores[0] if lex.scores else 1.0
    lex.norm = [share.get(k, 0.0) + 1e-3 * s / (top or 1.0) for k, s in zip(lex.keys, lex.scores)]
    if den.scores:
        high, low = den.scores[0], den.scores[-1]
        den.norm = [(s - low) / (high - low) if high > low else 1.0 for s in den.scores]


def complete_first(fused: list[tuple[str, float]], lex: Ranking, lexical: LexicalResult) -> list[tuple[str, float]]:
    """Hits holding every word of a query of two words or more come first (in fused order): when the collection
    has each word and one message has them all, it is what was asked for (and a dense-only hit cannot outrank it)."""
    if len(lexical.weights) < 2:
        return fused
    complete = {k for k, n in zip(lex.keys, lex.norm) if n >= 1.0 - 1e-6}
    return [kv for kv in fused if kv[0] in complete] + [kv for kv in fused if kv[0] not in complete]


def thread_neighbours(rows: dict[str, Any], groups: dict[str, list[str]]) -> dict[str, set[str]]:
    """Group key -> the keys of the candidate groups it is linked to by a reply (its parent, its replies), both ways;
    a message's parent is the message of the same source whose id its `reply_to` names."""
    key_of = {uid: key for key, uids in groups.items() for uid in uids}
    links: dict[str, set[str]] = {}
    for uid, key in key_of.items():
        row = rows[uid]
        parent = key_of.get(f"{row.source}:{row.reply_to}") if row.reply_to else None
        if parent is not None and parent != key:
            links.setdefault(key, set()).add(parent)
            links.setdefault(parent, set()).add(key)
    return links


def with_context(fused: list[tuple[str, float]], links: dict[str, set[str]], *,
                 share: float = CONTEXT_SHARE) -> tuple[list[tuple[str, float]], dict[str, str]]:
    """Each hit's fused score plus `share` of its best-scoring thread neighbour's (the scores before this step, so
    nothing snowballs along a thread), re-ranked; and which neighbour lifted each hit that inherited something."""
    score = dict(fused)
    lifted: dict[str, str] = {}
    out = []
    for key, own in fused:
        best = max(links.get(key, ()), key=lambda n: (score.get(n, 0.0), n), default=None)
        bonus = share * score.get(best, 0.0) if best is not None else 0.0
        if bonus > 0.0:
            lifted[key] = best  # type: ignore[assignment]
        out.append((key, own + bonus))
    order = {key: i for i, (key, _) in enumerate(fused)}
    return sorted(out, key=lambda kv: (-kv[1], order[kv[0]])), lifted


def keyword_rescue(fused: list[tuple[str, float]], lex: Ranking) -> list[tuple[str, float]]:
    """The keyword side's best hit within the first `RESCUE_AT` when it holds clearly more of the query's information
    than any other hit (the one message holding a rare word of the query, say): the keyword side is confident, even
    when the embedder ranks that message among many close ones."""
    shares = sorted(zip(lex.norm, lex.keys), reverse=True)[:2]
    if not shares or shares[0][0] < RESCUE_SHARE or len(shares) > 1 and shares[0][0] - shares[1][0] < RESCUE_MARGIN:
        return fused
    best = shares[0][1]
    keys = [k for k, _ in fused]
    if best not in keys or keys.index(best) < RESCUE_AT:
        return fused
    rest = [kv for kv in fused if kv[0] != best]
    return rest[:RESCUE_AT - 1] + [fused[keys.index(best)]] + rest[RESCUE_AT - 1:]


def with_evidence(fused: list[tuple[str, float]], lex: Ranking, den: Ranking, *,
                  words: int = 0) -> list[tuple[str, float]]:
    """Keep hits with some evidence: a keyword match carrying `LEXICAL_EVIDENCE` of the query's information, or a
    similarity `DENSE_EVIDENCE` of the way from the dense candidates' tail to the best one.

    When hits hold every word of a query of `words` >= 2 words, they show what relevance looks like for it: a hit with
    no keyword evidence must then be at least as similar to the query as the least similar of them. Otherwise short
    courtesy messages ("Merci, c'est parfait."), which an embedder places near any query, fill the rest of the list."""
    lexical = {k for k, n in zip(lex.keys, lex.norm) if n >= LEXICAL_EVIDENCE}
    dense = {k for k, n in zip(den.keys, den.norm) if n >= DENSE_EVIDENCE}
    if words >= 2:
        similarity = dict(zip(den.keys, den.scores))
        anchors = [similarity[k] for k, n in zip(lex.keys, lex.norm) if n >= 1.0 - 1e-6 and k in similarity]
        if anchors:
            dense = {k for k in dense if similarity[k] >= min(anchors)}
    return [(k, s) for k, s in fused if k in lexical or k in dense]
