"""A columnar snapshot of a brand's conversation for analytics (drift audit, spotlight, vitality).

Built once per brand `index_revision` from the store (any replica can rebuild it) and kept in memory as numpy
arrays, so a report over a window is vectorised work over the rows instead of a fresh scan of the database.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from copilot.store import Store

KINDS = ("question", "answer", "post", "comment", "doc", "charter")


@dataclass
class Snapshot:
    """Row-aligned arrays, oldest first."""

    revision: int
    sources: np.ndarray      # object: source per row
    ids: np.ndarray          # object: source_id per row
    author: np.ndarray       # int32: index into `authors`, -1 when unknown
    authors: list[tuple[str, str]]
    created: np.ndarray      # float64 epoch seconds
    kind: np.ndarray         # int8: index into KINDS
    parent: np.ndarray       # int32: row index of the message replied to, -1 when none or unknown
    is_reply: np.ndarray     # bool: the message replies to something (even outside the history)
    thread: np.ndarray       # int32: thread code
    reactions: np.ndarray    # int32
    solution: np.ndarray     # bool
    channel: np.ndarray      # int32: index into `channels`, -1 when none
    channels: list[str]

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.created)

    def author_mask(self, pairs: set[tuple[str, str]]) -> np.ndarray:
        """Rows written by any of the (source, author) pairs."""
        codes = [i for i, a in enumerate(self.authors) if a in pairs]
        return np.isin(self.author, np.asarray(codes, dtype=np.int32)) if codes else np.zeros(self.n, dtype=bool)

    def window(self, since: float, until: float) -> slice:
        """Row slice of the messages created in [since, until) (rows are sorted by time)."""
        return slice(int(np.searchsorted(self.created, since, "left")), int(np.searchsorted(self.created, until, "left")))

    def kind_is(self, *kinds: str) -> np.ndarray:
        """Rows of the given kinds."""
        return np.isin(self.kind, [KINDS.index(k) for k in kinds])


def build(rows: list[tuple[Any, ...]], revision: int) -> Snapshot:
    """Arrays from store rows (see `Store.conversation_rows`)."""
    n = len(rows)
    author_codes: dict[tuple[str, str], int] = {}
    channel_codes: dict[str, int] = {}
    thread_codes: dict[tuple[str, str], int] = {}
    index = {(r[0], r[1]): i for i, r in enumerate(rows)}
    author = np.full(n, -1, dtype=np.int32)
    parent = np.full(n, -1, dtype=np.int32)
    channel = np.full(n, -1, dtype=np.int32)
    thread = np.zeros(n, dtype=np.int32)
    for i, (source, sid, a, _c, _k, reply_to, th, _r, _s, ch) in enumerate(rows):
        if a:
            author[i] = author_codes.setdefault((source, a), len(author_codes))
        if reply_to:
            parent[i] = index.get((source, reply_to), -1)
        if ch:
            channel[i] = channel_codes.setdefault(ch, len(channel_codes))
        thread[i] = thread_codes.setdefault((source, th or sid), len(thread_codes))
    kind_index = {k: i for i, k in enumerate(KINDS)}
    return Snapshot(
        revision=revision, sources=np.array([r[0] for r in rows], dtype=object),
        ids=np.array([r[1] for r in rows], dtype=object), author=author, authors=list(author_codes),
        is_reply=np.array([r[5] is not None for r in rows], dtype=bool),
        created=np.array([r[3].timestamp() for r in rows], dtype=np.float64),
        kind=np.array([kind_index.get(r[4], 2) for r in rows], dtype=np.int8), parent=parent, thread=thread,
        reactions=np.array([r[7] or 0 for r in rows], dtype=np.int32),
        solution=np.array([bool(r[8]) for r in rows], dtype=bool), channel=channel, channels=list(channel_codes))


class Snapshots:
    """Per-brand snapshots, rebuilt when the brand's revision moves."""

    def __init__(self, store: Store):
        self.store = store
        self._cache: dict[str, Snapshot] = {}
        self._lock = threading.Lock()

    def get(self, brand: str) -> Snapshot:
        """The brand's current snapshot."""
        revision = self.store.get_brand(brand).index_revision
        snap = self._cache.get(brand)
        if snap is not None and snap.revision == revision:
            return snap
        with self._lock:
            snap = self._cache.get(brand)
            if snap is None or snap.revision != revision:
                snap = build(self.store.conversation_rows(brand), revision)
                self._cache[brand] = snap
            return snap
