"""Lexical index: BM25 (bm25s) over French/English stemmed tokens, one per brand, persisted in the data dir.

The index is derived from the SQL store, so any replica can rebuild it; it is tagged with the brand's
`index_revision` and rebuilt when that moves.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import bm25s
import numpy as np

from copilot.text import analyse, analyse_query

OVERFETCH = 10  # filtered queries look this many times deeper before falling back to an exact masked query


@dataclass
class LexicalIndex:
    """A built BM25 index plus per-document metadata arrays used for filtering."""

    revision: int
    uids: list[str]
    kinds: np.ndarray
    channels: np.ndarray
    authors: np.ndarray
    created: np.ndarray  # epoch seconds
    retriever: bm25s.BM25 | None

    def search(self, query: str, *, k: int, filters: dict[str, Any]) -> list[tuple[str, float]]:
        """Top-k (uid, bm25 score) among documents passing the filters.

        Filtered queries first over-fetch unfiltered results (bm25s's fast path) and keep those that pass;
        only when too few pass is the exact masked query run (it scores every document)."""
        if self.retriever is None or not self.uids:
            return []
        tokens = [t for t in analyse_query(query) if t in self.retriever.vocab_dict]
        if not tokens:
            return []
        mask = self._mask(filters)
        if mask is None:
            return self._retrieve(tokens, k, None)
        if not mask.any():
            return []
        wide = self._retrieve_idx(tokens, min(len(self.uids), k * OVERFETCH), None)
        kept = [(d, s) for d, s in wide if mask[d]]
        if len(kept) >= k or len(wide) < k * OVERFETCH:
            return [(self.uids[d], s) for d, s in kept[:k]]
        return self._retrieve(tokens, k, mask.astype(np.float32))

    def _retrieve(self, tokens: list[str], k: int, weights: np.ndarray | None) -> list[tuple[str, float]]:
        return [(self.uids[d], s) for d, s in self._retrieve_idx(tokens, k, weights)]

    def _retrieve_idx(self, tokens: list[str], k: int, weights: np.ndarray | None) -> list[tuple[int, float]]:
        assert self.retriever is not None
        k = min(k, len(self.uids))
        docs, scores = self.retriever.retrieve([tokens], k=k, show_progress=False, weight_mask=weights, n_threads=1)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def _mask(self, f: dict[str, Any]) -> np.ndarray | None:
        mask: np.ndarray | None = None
        for key, arr in (("kind", self.kinds), ("channel", self.channels), ("author", self.authors)):
            if f.get(key):
                hit = arr == f[key]
                mask = hit if mask is None else mask & hit
        for key, op in (("since", np.greater_equal), ("until", np.less_equal)):
            if f.get(key) is not None:
                hit = op(self.created, f[key])
                mask = hit if mask is None else mask & hit
        return mask


def build(docs: Iterable[dict[str, Any]], revision: int) -> LexicalIndex:
    """Build an index from store rows (uid, kind, channel, author, created_at, title, text, lang)."""
    uids, kinds, channels, authors, created, corpus = [], [], [], [], [], []
    for d in docs:
        uids.append(d["uid"])
        kinds.append(d["kind"])
        channels.append(d["channel"] or "")
        authors.append(d["author"] or "")
        created.append(d["created_at"].timestamp())
        corpus.append(analyse(" ".join(filter(None, [d.get("title"), d["text"]])), d.get("lang")) or ["\x00"])
    retriever = None
    if corpus:
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
    return LexicalIndex(revision, uids, np.array(kinds, dtype=object), np.array(channels, dtype=object),
                        np.array(authors, dtype=object), np.array(created, dtype=np.float64), retriever)


class LexicalIndexes:
    """Per-brand lexical indexes kept in memory and persisted under `root`."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: dict[str, LexicalIndex] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, brand: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(brand, threading.Lock())

    def get(self, brand: str) -> LexicalIndex | None:
        """The brand's index in memory or on disk, whatever its revision."""
        if brand in self._cache:
            return self._cache[brand]
        loaded = self._load(brand)
        if loaded is not None:
            self._cache[brand] = loaded
        return loaded

    def rebuild(self, brand: str, docs: Iterable[dict[str, Any]], revision: int) -> LexicalIndex:
        """Build, persist and cache the brand's index (one build at a time per brand)."""
        with self._lock(brand):
            current = self._cache.get(brand)
            if current is not None and current.revision >= revision:
                return current
            index = build(docs, revision)
            self._save(brand, index)
            self._cache[brand] = index
            return index

    def drop(self, brand: str) -> None:
        """Forget the brand's in-memory index (tests)."""
        self._cache.pop(brand, None)

    def erase(self, brand: str) -> None:
        """Delete the brand's index from memory and disk (erasure: its vocabulary and metadata hold members'
        words and ids); the next search rebuilds it from the store. Waits for a rebuild in progress, which may
        have read rows that are now erased."""
        with self._lock(brand):
            self._cache.pop(brand, None)
            shutil.rmtree(self._dir(brand), ignore_errors=True)

    def _dir(self, brand: str) -> Path:
        return self.root / brand

    def _save(self, brand: str, index: LexicalIndex) -> None:
        d = self._dir(brand)
        d.mkdir(parents=True, exist_ok=True)
        meta = {"revision": index.revision, "uids": index.uids, "kinds": index.kinds.tolist(),
                "channels": index.channels.tolist(), "authors": index.authors.tolist(),
                "created": index.created.tolist()}
        if index.retriever is not None:
            index.retriever.save(str(d / "bm25"))
        tmp = d / "meta.json.tmp"
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        tmp.replace(d / "meta.json")

    def _load(self, brand: str) -> LexicalIndex | None:
        d = self._dir(brand)
        try:
            meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
            retriever = bm25s.BM25.load(str(d / "bm25")) if meta["uids"] else None
        except (OSError, ValueError, KeyError):
            return None
        return LexicalIndex(meta["revision"], meta["uids"], np.array(meta["kinds"], dtype=object),
                            np.array(meta["channels"], dtype=object), np.array(meta["authors"], dtype=object),
                            np.array(meta["created"], dtype=np.float64), retriever)
