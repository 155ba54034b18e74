"""A columnar snapshot of a brand's conversation for analytics (drift audit, spotlight, vitality).

Built once per brand `index_revision` from the store (any replica can rebuild it) and kept in memory as numpy
arrays, so a report over a window is vectorised work over the rows instead of a fresh scan of the database.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from copilot import signals
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
    reactions: np.ndarray    # int64
    solution: np.ndarray     # bool
    channel: np.ndarray      # int32: index into `channels`, -1 when none
    channels: list[str]
    thanks: np.ndarray       # bool: the text thanks someone (copilot.signals)
    advocacy: np.ndarray     # bool: a spontaneous recommendation (signals.ADVOCACY)
    tension: np.ndarray      # bool: conflict or negative sentiment (signals.TENSION)

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.created)

    def author_mask(self, pairs: set[tuple[str, str]]) -> np.ndarray:
        """Rows written by any of the (source, author) pairs."""
        codes = [i for i, a in enumerate(self.authors) if a in pairs]
        return np.isin(self.author, np.asarray(codes, dtype=np.int32)) if codes else np.zeros(self.n, dtype=bool)

    def row_of(self, source: str, source_id: str) -> int | None:
        """Row index of a message (the lookup table is built on first use and kept with the snapshot)."""
        index = self.__dict__.get("_row_index")
        if index is None:
            index = {(s, i): k for k, (s, i) in enumerate(zip(self.sources.tolist(), self.ids.tolist()))}
            self.__dict__["_row_index"] = index
        return index.get((source, source_id))

    def derived(self, name: str) -> np.ndarray:
        """Arrays every report needs, computed once per snapshot: `answered_by_other` (a row got a reply from
        another author) and `first_seen` (each author's first message time)."""
        cache = self.__dict__.setdefault("_derived", {})
        if name not in cache:
            if name == "answered_by_other":
                replies = np.flatnonzero(self.parent >= 0)
                replies = replies[self.author[replies] != self.author[self.parent[replies]]]
                out = np.zeros(self.n, dtype=bool)
                out[self.parent[replies]] = True
            elif name == "first_seen":
                out = np.full(max(1, len(self.authors)), np.inf)
                valid = np.flatnonzero(self.author >= 0)
                # rows are in time order: an author's first row is their first message
                codes, first = np.unique(self.author[valid], return_index=True)
                out[codes] = self.created[valid[first]]
            else:
                raise KeyError(name)
            cache[name] = out
        return cache[name]

    def window(self, since: float, until: float) -> slice:
        """Row slice of the messages created in [since, until) (rows are sorted by time)."""
        return slice(int(np.searchsorted(self.created, since, "left")), int(np.searchsorted(self.created, until, "left")))

    def kind_is(self, *kinds: str) -> np.ndarray:
        """Rows of the given kinds."""
        return np.isin(self.kind, [KINDS.index(k) for k in kinds])


def build(rows: Iterable[tuple[Any, ...]], revision: int) -> Snapshot:
    """Arrays from store rows (see `Store.conversation_rows`)."""
    author_codes: dict[tuple[str, str], int] = {}
    channel_codes: dict[str, int] = {}
    thread_codes: dict[tuple[str, str], int] = {}
    kind_index = {k: i for i, k in enumerate(KINDS)}
    cols: dict[str, list[Any]] = {k: [] for k in ("source", "id", "author", "created", "kind", "reply_to", "thread",
                                                   "reactions", "solution", "channel", "thanks", "advocacy", "tension")}
    for source, sid, a, created, kind, reply_to, th, reactions, solution, ch, bits in rows:
        cols["source"].append(source)
        cols["id"].append(sid)
        cols["author"].append(author_codes.setdefault((source, a), len(author_codes)) if a else -1)
        cols["created"].append(created.timestamp())
        cols["kind"].append(kind_index.get(kind, 2))
        cols["reply_to"].append(reply_to)
        cols["thread"].append(thread_codes.setdefault((source, th or sid), len(thread_codes)))
        cols["reactions"].append(reactions or 0)
        cols["solution"].append(bool(solution))
        cols["channel"].append(channel_codes.setdefault(ch, len(channel_codes)) if ch else -1)
        bits = bits or 0
        cols["thanks"].append(bool(bits & signals.THANKS))
        cols["advocacy"].append(bool(bits & signals.ADVOCACY))
        cols["tension"].append(bool(bits & signals.TENSION))
    index = {(s, i): k for k, (s, i) in enumerate(zip(cols["source"], cols["id"]))}
    parent = np.array([index.get((s, r), -1) if r else -1 for s, r in zip(cols["source"], cols["reply_to"])],
                      dtype=np.int32)
    return Snapshot(
        revision=revision, sources=np.array(cols["source"], dtype=object), ids=np.array(cols["id"], dtype=object),
        author=np.array(cols["author"], dtype=np.int32), authors=list(author_codes),
        is_reply=np.array([r is not None for r in cols["reply_to"]], dtype=bool),
        created=np.array(cols["created"], dtype=np.float64), kind=np.array(cols["kind"], dtype=np.int8),
        parent=parent, thread=np.array(cols["thread"], dtype=np.int32),
        reactions=np.array(cols["reactions"], dtype=np.int64), solution=np.array(cols["solution"], dtype=bool),
        channel=np.array(cols["channel"], dtype=np.int32), channels=list(channel_codes),
        thanks=np.array(cols["thanks"], dtype=bool), advocacy=np.array(cols["advocacy"], dtype=bool),
        tension=np.array(cols["tension"], dtype=bool))


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
