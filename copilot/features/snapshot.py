"""A columnar snapshot of a brand's conversation for analytics (drift audit, spotlight, vitality), followed live.

Rows are messages (charter and documents excluded) in time order, as numpy arrays, so a report over a window is
vectorised work. A snapshot never goes stale by being rebuilt on every write: it follows the brand's change
sequence (`copilot.store.changes`) and

- **appends** new messages (the usual case: they are the newest) into spare capacity, without copying;
- **patches** reaction counts, solutions, signals, channels, threads and kinds of messages it holds (copy on
  write, so a report already reading the previous snapshot sees consistent arrays);
- **masks** deleted messages and re-places moved or late (out-of-order) ones by re-laying the arrays out in memory;
- is **rebuilt** from the database only when it cannot follow: after an erasure (the brand's snapshot epoch moves),
  when the log was pruned past it, or for a large out-of-order import. A rebuild runs in the background while the
  previous snapshot keeps answering; every snapshot says what it reflects (`revision`, `as_of`).

Each thanks row also carries who it credits (everyone it names, `copilot.features.credits`), read when the row enters
and again when its text, its thread before it or the message it replies to changes, so a spotlight only counts.

`Snapshots` keeps one per brand, saves it with its high-water mark (`data_dir/snapshots`, numpy arrays, no pickle)
so a restart is warm, and follows the change sequence in a background thread; reads never wait on a rebuild.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from copilot import signals
from copilot.errors import ServiceUnavailable
from copilot.features.credits import StoreThanks, ThanksReader, read_credits
from copilot.store import Store

log = logging.getLogger("copilot.snapshot")
KINDS = ("question", "answer", "post", "comment", "doc", "charter")
COLUMNS = (("mid", np.int64), ("author", np.int32), ("created", np.float64), ("kind", np.int8), ("parent", np.int32),
           ("is_reply", np.bool_), ("thread", np.int32), ("reactions", np.int64), ("solution", np.bool_),
           ("channel", np.int32), ("thanks", np.bool_), ("advocacy", np.bool_), ("tension", np.bool_),
           ("answered", np.bool_), ("credit_at", np.int64), ("credit_n", np.int32))
OBJECTS = ("sources", "ids", "reply_key")
FORMAT = 2  # 2: thanks credits (credit_at, credit_n, credited); a file of format 1 is rebuilt
_KIND = {k: i for i, k in enumerate(KINDS)}
_GENERATIONS = itertools.count(1)  # unique across lineages, so caches keyed by generation never mix two of them


@dataclass(eq=False)
class Snapshot:
    """Row-aligned arrays, oldest first (read-only views: never write into them)."""

    revision: int            # the brand's change sequence number this snapshot reflects
    epoch: int               # the brand's snapshot epoch it was built in
    generation: int          # moves when rows it already held changed in a way derived arrays depend on
    as_of: datetime          # when the database was at `revision`
    sources: np.ndarray      # object: source per row
    ids: np.ndarray          # object: source_id per row
    reply_key: np.ndarray    # object: the source_id replied to (None when not a reply)
    mid: np.ndarray          # int64: the message's database id (ties in time are ordered by it)
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
    answered: np.ndarray     # bool: another author replied to the row
    credit_at: np.ndarray    # int64: where a thanks row's credited author codes start in `credited`
    credit_n: np.ndarray     # int32: how many codes it credits (see copilot.features.credits)
    credited: np.ndarray     # int32: author codes credited by thanks, -1 for an erased member
    first_seen: np.ndarray   # float64 per author: time of their first message
    keys: dict[tuple[str, str], int] = field(repr=False)  # shared with later snapshots of the lineage
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)  # derived arrays, shared by the lineage

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.created)

    def author_mask(self, pairs: Iterable[tuple[str, str]]) -> np.ndarray:
        """Rows written by any of the (source, author) pairs (read-only; shared by the lineage's snapshots).

        Within one generation rows only get appended and author codes only get added, so a mask computed for an
        earlier snapshot is extended by the rows and codes added since rather than computed again: a live
        community's reports do not rescan the history for each message."""
        wanted = pairs if isinstance(pairs, frozenset) else frozenset(pairs)
        key = ("author_mask", self.generation, wanted)
        by_code, mask = self.memo.get(key) or (np.zeros(0, dtype=bool), np.zeros(0, dtype=bool))
        if len(by_code) < len(self.authors):
            more = np.fromiter((a in wanted for a in self.authors[len(by_code):]), dtype=bool)
            by_code = np.concatenate([by_code, more])
        if len(mask) < self.n:
            codes = self.author[len(mask):]
            # -1 (unknown author) reads the extra False slot at the end
            grown = np.concatenate([by_code, np.zeros(1, dtype=bool)])[np.where(codes >= 0, codes, len(by_code))]
            mask = np.concatenate([mask, grown])
        _remember(self.memo, key, (by_code, mask))
        return mask[:self.n]

    def author_code(self, key: tuple[str, str]) -> int:
        """The code of an author in `authors`, or -1 (found through a lookup table kept per generation)."""
        memo_key = ("author_codes", self.generation)
        table, count = self.memo.get(memo_key) or ({}, 0)
        if count < len(self.authors):
            table = dict(table) if count else {}
            for i in range(count, len(self.authors)):
                table.setdefault(self.authors[i], i)
            count = len(self.authors)
            _remember(self.memo, memo_key, (table, count))
        code = table.get(key, -1)
        return code if code < len(self.authors) else -1

    def row_of(self, source: str, source_id: str) -> int | None:
        """Row index of a message."""
        row = self.keys.get((source, source_id))
        return row if row is not None and row < self.n and self.ids[row] == source_id else None

    def derived(self, name: str) -> np.ndarray:
        """`answered_by_other` (a row got a reply from another author) or `first_seen` (per author)."""
        return {"answered_by_other": self.answered, "first_seen": self.first_seen}[name]

    def window(self, since: float, until: float) -> slice:
        """Row slice of the messages created in [since, until) (rows are sorted by time)."""
        return slice(int(np.searchsorted(self.created, since, "left")), int(np.searchsorted(self.created, until, "left")))

    def kind_is(self, *kinds: str) -> np.ndarray:
        """Rows of the given kinds."""
        return np.isin(self.kind, [KINDS.index(k) for k in kinds])

    def credits(self, rows: np.ndarray) -> np.ndarray:
        """The author codes the thanks among `rows` credit, one per (thanks, person) (-1 for an erased member)."""
        return _gather(self.credit_at[rows], self.credit_n[rows], self.credited)


def _gather(starts: np.ndarray, counts: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """The segments flat[start:start + count], concatenated (vectorised)."""
    counts = counts.astype(np.int64)
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int32)
    ends = np.cumsum(counts)
    return flat[np.repeat(starts - (ends - counts), counts) + np.arange(total)]


MEMO_SIZE = 32


def _remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    """Store a derived value, dropping the oldest beyond MEMO_SIZE (roles change, generations move on)."""
    memo.pop(key, None)
    memo[key] = value
    while len(memo) > MEMO_SIZE:
        try:
            memo.pop(next(iter(memo)))
        except (StopIteration, KeyError, RuntimeError):  # another reader trimmed it meanwhile
            break


class Lineage:
    """The mutable arrays behind a brand's successive snapshots: capacity beyond the published rows takes appends
    without copying; a write to a published row copies that column first."""

    def __init__(self, epoch: int, hwm: int, *, codes: "Lineage | None" = None):
        self.epoch, self.hwm, self.generation = epoch, hwm, next(_GENERATIONS)
        self.as_of = datetime.now(timezone.utc)
        self.n = self.n_pub = 0
        self.bufs: dict[str, np.ndarray] = {name: np.empty(0, dtype) for name, dtype in COLUMNS}
        self.bufs.update({name: np.empty(0, dtype=object) for name in OBJECTS})
        self.first_seen = np.full(1, np.inf)
        self._owned: set[str] = set()
        self.keys: dict[tuple[str, str], int] = {}
        self.memo: dict[Any, Any] = {}
        self.orphans: dict[tuple[str, str], list[int]] = {}
        self.published: Snapshot | None = None
        # Thanks credits: an append-only array of author codes (a row re-read gets a new segment), and the thanks
        # rows to read (again) before the next publication.
        self.credited = np.empty(0, dtype=np.int32)
        self.n_credited = 0
        self.pending: set[int] = set()
        # Codes are append-only, so a re-laid-out lineage keeps its predecessor's.
        self.authors: list[tuple[str, str]] = codes.authors if codes else []
        self.author_codes: dict[tuple[str, str], int] = codes.author_codes if codes else {}
        self.channels: list[str] = codes.channels if codes else []
        self.channel_codes: dict[str, int] = codes.channel_codes if codes else {}
        self.threads: dict[tuple[str, str], int] = codes.threads if codes else {}

    # ------------------------------------------------------------ buffers
    def _reserve(self, m: int) -> None:
        cap = len(self.bufs["created"])
        if self.n + m <= cap:
            return
        new_cap = max(2 * cap, self.n + m, 1024)
        for name, buf in self.bufs.items():
            grown = np.empty(new_cap, dtype=buf.dtype)
            grown[:self.n] = buf[:self.n]
            self.bufs[name] = grown
            self._owned.add(name)

    def _w(self, name: str) -> np.ndarray:
        """A column safe to write below the published rows (copied once per publication)."""
        if name not in self._owned:
            self.bufs[name] = self.bufs[name].copy()
            self._owned.add(name)
        return self.bufs[name]

    def _seen(self, codes: np.ndarray, created: np.ndarray) -> None:
        """Record first-seen times of authors met for the first time (rows arrive in time order)."""
        need = len(self.authors)
        if need > len(self.first_seen):
            grown = np.full(max(need, 2 * len(self.first_seen)), np.inf)
            grown[:len(self.first_seen)] = self.first_seen
            self.first_seen = grown  # a new array: published snapshots keep their own view
        valid = codes >= 0
        if valid.any():
            uniq, first = np.unique(codes[valid], return_index=True)
            fresh = np.isinf(self.first_seen[uniq])
            self.first_seen[uniq[fresh]] = created[valid][first[fresh]]

    # ------------------------------------------------------------ encoding store rows
    def encode(self, rows: list[tuple[Any, ...]]) -> dict[str, np.ndarray]:
        """Columns for store rows (see `Store.snapshot_rows`), extending the code tables; no parents yet."""
        cols: dict[str, list[Any]] = {k: [] for k in ("mid", "sources", "ids", "reply_key", "author", "created", "kind",
                                                       "thread", "reactions", "solution", "channel", "bits")}
        a_codes, c_codes, t_codes = self.author_codes, self.channel_codes, self.threads
        for mid, source, sid, a, created, kind, reply_to, th, reactions, solution, ch, bits in rows:
            cols["mid"].append(mid)
            cols["sources"].append(source)
            cols["ids"].append(sid)
            cols["reply_key"].append(reply_to)
            if a:
                code = a_codes.get((source, a))
                if code is None:
                    code = a_codes[(source, a)] = len(self.authors)
                    self.authors.append((source, a))
                cols["author"].append(code)
            else:
                cols["author"].append(-1)
            cols["created"].append(created.timestamp())
            cols["kind"].append(_KIND.get(kind, 2))
            tkey = (source, th or sid)
            cols["thread"].append(t_codes.setdefault(tkey, len(t_codes)))
            cols["reactions"].append(reactions or 0)
            cols["solution"].append(bool(solution))
            if ch:
                code = c_codes.get(ch)
                if code is None:
                    code = c_codes[ch] = len(self.channels)
                    self.channels.append(ch)
                cols["channel"].append(code)
            else:
                cols["channel"].append(-1)
            cols["bits"].append(bits or 0)
        out = {name: np.array(cols[name], dtype=dtype) for name, dtype in COLUMNS if name in cols}
        out.update({name: _objects(cols[name]) for name in OBJECTS})
        bits = np.array(cols["bits"], dtype=np.int64)
        out["thanks"], out["advocacy"] = (bits & signals.THANKS) != 0, (bits & signals.ADVOCACY) != 0
        out["tension"] = (bits & signals.TENSION) != 0
        out["is_reply"] = np.array([r is not None for r in cols["reply_key"]], dtype=bool)
        out["parent"] = np.full(len(rows), -1, dtype=np.int32)
        out["answered"] = np.zeros(len(rows), dtype=bool)
        out["credit_at"] = np.zeros(len(rows), dtype=np.int64)
        out["credit_n"] = np.zeros(len(rows), dtype=np.int32)
        return out

    # ------------------------------------------------------------ incremental changes
    def fits_tail(self, enc: dict[str, np.ndarray]) -> bool:
        """Whether encoded rows (sorted) come after every row held, so they can be appended."""
        if not len(enc["created"]):
            return True
        order_ok = bool(np.all(np.diff(enc["created"]) >= 0))
        if not order_ok or not self.n:
            return order_ok
        last_t, last_id = self.bufs["created"][self.n - 1], self.bufs["mid"][self.n - 1]
        first_t, first_id = enc["created"][0], enc["mid"][0]
        return bool(first_t > last_t or (first_t == last_t and first_id > last_id))

    def append(self, enc: dict[str, np.ndarray]) -> None:
        """Add encoded rows that `fits_tail`: parents found, orphans waiting for them linked, derived arrays kept."""
        m = len(enc["created"])
        if not m:
            return
        self._reserve(m)
        n0 = self.n
        for name in self.bufs:
            self.bufs[name][n0:n0 + m] = enc[name]
        keys = self.keys
        for i, key in enumerate(zip(enc["sources"].tolist(), enc["ids"].tolist())):
            keys[key] = n0 + i
        self.n = n0 + m
        for i in np.flatnonzero(enc["is_reply"]).tolist():
            row, key = n0 + i, (enc["sources"][i], enc["reply_key"][i])
            parent = keys.get(key, -1)
            if parent >= 0 and parent != row:
                self.bufs["parent"][row] = parent
            else:
                self.orphans.setdefault(key, []).append(row)
        self._link_orphans(range(n0, self.n))
        self._mark_answered(np.arange(n0, self.n))
        self._seen(enc["author"], enc["created"])
        # New rows come after every row held: only their own thanks are read (earlier thanks never see them).
        self.pending.update((n0 + np.flatnonzero(enc["thanks"])).tolist())

    def _link_orphans(self, rows: Iterable[int]) -> None:
        """Replies that arrived before the message they answer point at it now it is here."""
        if not self.orphans:
            return
        src, ids = self.bufs["sources"], self.bufs["ids"]
        for row in rows:
            waiting = self.orphans.pop((src[row], ids[row]), None)
            for r in waiting or ():
                if r == row:
                    continue
                if r < self.n_pub:
                    self.generation = next(_GENERATIONS)
                self._w("parent")[r] = row
                self._mark_answered(np.array([r]))
                self.pending.add(r)  # a thanks naming nobody is credited to the message it replies to

    def _mark_answered(self, rows: np.ndarray) -> None:
        parent, author = self.bufs["parent"], self.bufs["author"]
        rows = rows[parent[rows] >= 0]
        rows = rows[author[rows] != author[parent[rows]]]
        if len(rows):
            targets = parent[rows]
            buf = self._w("answered") if (targets < self.n_pub).any() else self.bufs["answered"]
            buf[targets] = True

    def patch(self, row: int, enc: dict[str, np.ndarray], i: int) -> None:
        """Update a held row's light fields (reactions, solution, signals, channel, thread, kind) in place."""
        if self.bufs["thanks"][row] or enc["thanks"][i]:
            self.pending.add(row)  # the text may have changed: read the thanks again
        if self.bufs["thread"][row] != enc["thread"][i]:  # the thanks after it in both threads saw another thread
            self.touch_threads([int(self.bufs["thread"][row]), int(enc["thread"][i])])
        for name in ("reactions", "solution", "thanks", "advocacy", "tension", "channel", "thread", "kind"):
            if self.bufs[name][row] != enc[name][i]:
                if name == "kind":
                    self.generation = next(_GENERATIONS)  # first answers depend on kinds
                self._w(name)[row] = enc[name][i]

    def touch_threads(self, threads: Iterable[int]) -> None:
        """Read the thanks of these threads again (a message was added to, moved in or removed from them)."""
        n = self.n
        hit = np.isin(self.bufs["thread"][:n], np.fromiter(threads, dtype=np.int64)) & self.bufs["thanks"][:n]
        self.pending.update(np.flatnonzero(hit).tolist())

    def credit(self, reader: ThanksReader | None) -> None:
        """Read the pending thanks rows (who each credits) and record their credits; nothing without a reader."""
        if reader is None or not self.pending:
            return
        rows = np.fromiter(sorted(self.pending), dtype=np.int64)
        self.pending = set()
        rows = rows[rows < self.n]
        rows = rows[self.bufs["thanks"][rows] & (self.bufs["author"][rows] >= 0)]
        if not len(rows):
            return
        cols = {name: self.bufs[name][:self.n] for name in ("sources", "ids", "author", "created", "thread", "parent")}
        named = read_credits(rows, cols, self.authors, reader)
        counts = np.fromiter((len(c) for c in named), dtype=np.int32, count=len(named))
        flat = np.fromiter((c for cs in named for c in cs), dtype=np.int32, count=int(counts.sum()))
        need = self.n_credited + len(flat)
        if need > len(self.credited):  # a new array: published snapshots keep their view of the old one
            grown = np.empty(max(need, 2 * len(self.credited), 1024), dtype=np.int32)
            grown[:self.n_credited] = self.credited[:self.n_credited]
            self.credited = grown
        self.credited[self.n_credited:need] = flat
        starts = self.n_credited + np.cumsum(counts) - counts
        self.n_credited = need
        published = bool((rows < self.n_pub).any())
        for name, values in (("credit_at", starts), ("credit_n", counts)):
            (self._w(name) if published else self.bufs[name])[rows] = values

    def same_place(self, row: int, enc: dict[str, np.ndarray], i: int) -> bool:
        """Whether an updated message keeps its row (same time, author and reply): then it is patched."""
        b = self.bufs
        return bool(b["created"][row] == enc["created"][i] and b["author"][row] == enc["author"][i]
                    and b["reply_key"][row] == enc["reply_key"][i])

    def forget_author(self, key: tuple[str, str]) -> bool:
        """Detach an erased member from every row at once (until the rebuild drops their rows and code)."""
        code = self.author_codes.pop(key, None)
        if code is None:
            return False
        rows = np.flatnonzero(self.bufs["author"][:self.n] == code)
        self._w("author")[rows] = -1
        self.authors[code] = ("", "")
        hit = self.credited[:self.n_credited] == code
        if hit.any():  # their credits go too (a copy: the served snapshot is replaced right after)
            self.credited = self.credited.copy()
            self.credited[np.flatnonzero(hit)] = -1
        self.generation = next(_GENERATIONS)
        return True

    def publish(self) -> Snapshot:
        """An immutable view of the rows held now; later writes to these rows go to copies."""
        n, b = self.n, self.bufs
        prev = self.published
        authors = prev.authors if prev is not None and len(prev.authors) == len(self.authors) and \
            prev.generation == self.generation else list(self.authors)
        channels = prev.channels if prev is not None and len(prev.channels) == len(self.channels) else list(self.channels)
        if len(self.first_seen) < max(1, len(authors)):  # authors met in rows not applied yet
            grown = np.full(max(1, len(authors)), np.inf)
            grown[:len(self.first_seen)] = self.first_seen
            self.first_seen = grown
        seen = self.first_seen[:max(1, len(authors))]
        snap = Snapshot(revision=self.hwm, epoch=self.epoch, generation=self.generation, as_of=self.as_of,
                        authors=authors, channels=channels, first_seen=seen, keys=self.keys, memo=self.memo,
                        credited=self.credited[:self.n_credited],
                        **{name: b[name][:n] for name in self.bufs})
        self._owned.clear()
        self.first_seen = self.first_seen.copy()
        self.n_pub, self.published = n, snap
        return snap


def relayout(old: Lineage, removed: set[int], enc: dict[str, np.ndarray]) -> Lineage:
    """A new lineage without the `removed` rows and with the encoded rows placed in time order (in memory)."""
    keep = np.ones(old.n, dtype=bool)
    keep[list(removed)] = False
    kept = np.flatnonzero(keep)
    new = Lineage(old.epoch, old.hwm, codes=old)
    new.as_of = old.as_of
    new.credited, new.n_credited = old.credited, old.n_credited  # append-only: shared
    combined = {name: np.concatenate([old.bufs[name][kept], enc[name]]) for name in old.bufs}
    old_pos = np.full(old.n + 1, -1, dtype=np.int64)
    old_pos[kept] = np.arange(len(kept))
    old_parent = old.bufs["parent"][kept].astype(np.int64)
    combined["parent"][:len(kept)] = np.where(old_parent >= 0, old_pos[old_parent], -1)
    order = np.lexsort((combined["mid"], combined["created"]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    parent = combined["parent"].astype(np.int64)
    combined["parent"] = np.where(parent >= 0, rank[np.maximum(parent, 0)], -1).astype(np.int32)
    new._reserve(len(order))
    for name, column in combined.items():
        new.bufs[name][:len(order)] = column[order]
    new.n = len(order)
    _derive(new)
    # Thanks to read again: those waiting already, those of every thread a row left or joined (their earlier
    # messages changed), and replies to a removed or an added row (the message they reply to left or arrived).
    orphaned = kept[np.isin(old.bufs["parent"][kept], np.fromiter(removed, dtype=np.int64, count=len(removed)))]
    pending = [int(rank[old_pos[r]]) for r in [*old.pending, *orphaned.tolist()] if r < old.n and keep[r]]
    added = rank[len(kept):]
    touched = np.concatenate([old.bufs["thread"][sorted(removed)], enc["thread"]]).astype(np.int64)
    parent = new.bufs["parent"][:new.n]
    new.pending = set(pending) | set(np.flatnonzero(new.bufs["thanks"][:new.n] & np.isin(parent, added)).tolist())
    if len(touched):
        new.touch_threads(np.unique(touched).tolist())
    return new


def _derive(lin: Lineage) -> None:
    """Keys, parents of unlinked replies, orphans, `answered` and first-seen times, from the rows' columns."""
    n, b = lin.n, lin.bufs
    lin.keys = dict(zip(zip(b["sources"][:n].tolist(), b["ids"][:n].tolist()), range(n)))
    lin.orphans = {}
    parent = b["parent"]
    for row in np.flatnonzero(b["is_reply"][:n] & (parent[:n] < 0)).tolist():
        key = (b["sources"][row], b["reply_key"][row])
        target = lin.keys.get(key, -1)
        if 0 <= target != row:
            parent[row] = target
        else:
            lin.orphans.setdefault(key, []).append(row)
    b["answered"][:n] = False
    replies = np.flatnonzero(parent[:n] >= 0)
    replies = replies[b["author"][replies] != b["author"][parent[replies]]]
    b["answered"][parent[replies]] = True
    lin.first_seen = np.full(max(1, len(lin.authors)), np.inf)
    lin._seen(b["author"][:n], b["created"][:n])


def build(rows: Iterable[tuple[Any, ...]], *, epoch: int, hwm: int, chunk: int = 50_000,
          reader: ThanksReader | None = None) -> Lineage:
    """A lineage from store rows in time order (`Store.snapshot_rows`), its thanks read with `reader`."""
    lin = Lineage(epoch, hwm)
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            _add_sorted(lin, batch)
            batch = []
    _add_sorted(lin, batch)
    lin.credit(reader)
    return lin


def _add_sorted(lin: Lineage, rows: list[tuple[Any, ...]]) -> None:
    enc = lin.encode(rows)
    if lin.fits_tail(enc):
        lin.append(enc)
    else:  # the database's order and ours disagree (equal times): place them properly
        other = relayout(lin, set(), enc)
        lin.__dict__.update(other.__dict__)


def _objects(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


# ---------------------------------------------------------------- persistence
def save(snap: Snapshot, lin: Lineage, path: Path) -> None:
    """Write a snapshot and what following it needs (codes) to `path`, atomically; no pickle."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: getattr(snap, name) for name, _ in COLUMNS}
    arrays["first_seen"] = snap.first_seen
    # Credits compacted in row order (segments replaced by a later reading are left out).
    arrays["credited"] = snap.credits(np.arange(snap.n))
    arrays["credit_at"] = np.cumsum(snap.credit_n, dtype=np.int64) - snap.credit_n
    strings = {"sources": snap.sources.tolist(), "ids": snap.ids.tolist(),
               "reply_key": [k if r else "" for k, r in zip(snap.reply_key.tolist(), snap.is_reply.tolist())],
               "author_src": [a[0] for a in snap.authors], "author_id": [a[1] for a in snap.authors],
               "channels": list(snap.channels)}
    threads = list(lin.threads)
    strings["thread_src"], strings["thread_id"] = [t[0] for t in threads], [t[1] for t in threads]
    for name, values in strings.items():
        arrays["s_" + name] = np.frombuffer("\x00".join(values).encode("utf-8"), dtype=np.uint8)
    meta = {"format": FORMAT, "revision": snap.revision, "epoch": snap.epoch, "as_of": snap.as_of.isoformat(),
            "counts": {k: len(v) for k, v in strings.items()}}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    # One temporary file per writer: replicas sharing a data directory (or two runtimes in one process) save the
    # same brand at once, and a shared ".tmp" name made one writer's rename fail after the other's.
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: Path) -> Lineage | None:
    """A lineage from a saved snapshot, or None when the file is missing, unreadable or of another format."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            if meta.get("format") != FORMAT:
                return None
            strings = {}
            for name, count in meta["counts"].items():
                raw = bytes(data["s_" + name]).decode("utf-8")
                strings[name] = raw.split("\x00") if count else []
                if len(strings[name]) != count:
                    return None
            arrays = {name: data[name] for name, _ in COLUMNS}
            first_seen = data["first_seen"]
            credited = data["credited"].astype(np.int32)
    except (OSError, ValueError, KeyError, UnicodeDecodeError):
        return None
    lin = Lineage(int(meta["epoch"]), int(meta["revision"]))
    lin.as_of = datetime.fromisoformat(meta["as_of"])
    lin.authors = list(zip(strings["author_src"], strings["author_id"]))
    lin.author_codes = {a: i for i, a in enumerate(lin.authors) if a != ("", "")}
    lin.channels = strings["channels"]
    lin.channel_codes = {c: i for i, c in enumerate(lin.channels)}
    lin.threads = {t: i for i, t in enumerate(zip(strings["thread_src"], strings["thread_id"]))}
    n = len(arrays["created"])
    lin._reserve(n)
    for name, column in arrays.items():
        lin.bufs[name][:n] = column
    lin.bufs["sources"][:n] = strings["sources"]
    lin.bufs["ids"][:n] = strings["ids"]
    lin.bufs["reply_key"][:n] = [k if r else None for k, r in zip(strings["reply_key"], arrays["is_reply"].tolist())]
    lin.n = n
    lin.credited, lin.n_credited = credited, len(credited)
    lin.keys = dict(zip(zip(strings["sources"], strings["ids"]), range(n)))
    lin.orphans = {}
    for row in np.flatnonzero(arrays["is_reply"] & (arrays["parent"] < 0)).tolist():
        lin.orphans.setdefault((strings["sources"][row], strings["reply_key"][row]), []).append(row)
    lin.first_seen = np.full(max(1, len(lin.authors)), np.inf)
    lin.first_seen[:len(first_seen)] = first_seen[:len(lin.first_seen)]
    return lin


# ---------------------------------------------------------------- following the change sequence
def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (row[4], row[0])


def _subset(enc: dict[str, np.ndarray], idx: list[int]) -> dict[str, np.ndarray]:
    take = np.asarray(idx, dtype=np.int64)
    return {name: column[take] for name, column in enc.items()}


class _State:
    """One brand's lineage, its published snapshot and what the follower owes it."""

    def __init__(self, lin: Lineage, *, caught_up: bool):
        self.lineage = lin
        self.current = lin.publish()
        self.lock = threading.Lock()        # one writer of the lineage at a time
        self.save_lock = threading.Lock()   # a save and an erasure's file deletion never overlap
        self.tainted = False                # may hold an erased member: never saved until rebuilt
        self.rebuild = False                # cannot be followed any more: rebuild in the background
        self.caught_up = caught_up
        self.saved_revision = -1
        self.saved_at = 0.0


class Snapshots:
    """Per-brand snapshots that follow the change sequence. `get` never waits on a rebuild once `start`ed: it
    catches up a few changes itself when it can, and otherwise serves the previous snapshot."""

    def __init__(self, store: Store, *, root: Path | None = None, follow_interval_s: float = 0.5,
                 save_interval_s: float = 60.0, sync_max_rows: int = 20_000, read_wait_s: float = 0.5,
                 max_incremental: int = 50_000, change_retention_s: float = 7 * 86400,
                 settle_interval_s: float = 900.0):
        self.store, self.root = store, root
        self.follow_interval_s, self.save_interval_s = follow_interval_s, save_interval_s
        self.sync_max_rows, self.read_wait_s, self.max_incremental = sync_max_rows, read_wait_s, max_incremental
        self.change_retention_s = change_retention_s
        self.settle_interval_s = settle_interval_s
        self._states: dict[str, _State] = {}
        self._known: dict[str, int] = {}
        self._brands: set[str] = set()
        self._guard = threading.Lock()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at = 0.0
        self.started = False
        self.primers: list[Callable[[str], None]] = []  # called with a large brand once its snapshot is caught up
        # Called once the long-lived data is in memory (at start, when a large brand is warm, after a rebuild) and
        # every `settle_interval_s`, from the thread that warmed it: `copilot.heap.settle` in a server.
        self.settlers: list[Callable[[], None]] = []
        self._settled_at = time.monotonic()
        store.listen(self._on_change)

    # ------------------------------------------------------------ reading
    def get(self, brand: str) -> Snapshot:
        """The brand's snapshot, caught up with this process's writes when that is a matter of a few changes."""
        st = self._states.get(brand) or self._cold(brand)
        if st.current.revision < self._known.get(brand, 0) and st.lock.acquire(timeout=self.read_wait_s):
            try:
                self._follow(brand, st, in_request=True)
            finally:
                st.lock.release()
        return st.current

    def status(self) -> tuple[bool, dict[str, str]]:
        """Whether every brand's snapshot is warm, and each one's state."""
        out, ready = {}, True
        for brand in sorted(self._brands | set(self._states)):
            st = self._states.get(brand)
            if st is None or not st.caught_up:
                ready = False
                out[brand] = "warming"
            else:
                snap = st.current
                lag = max(0, self._known.get(brand, 0) - snap.revision)
                out[brand] = f"revision {snap.revision} as of {snap.as_of.isoformat(timespec='seconds')}" + \
                    (f", {lag} behind" if lag else "") + (", rebuilding" if st.rebuild else "")
        return ready, out

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Warm every brand — small ones now, large ones in the background (from their saved snapshot when there is
        one) while /readyz stays red — and follow the change sequence."""
        if self._thread is not None:
            return
        self.started = True
        self._stop.clear()
        counts = self.store.conversation_counts()
        self._brands = set(counts)
        for brand, rows in counts.items():
            if brand not in self._states and rows <= self.sync_max_rows:
                self._warm(brand)
        self._settle()
        self._thread = threading.Thread(target=self._run, name="copilot-snapshots", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following and save what moved since the last save."""
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout=60)
            self._thread = None
        self.started = False
        for brand, st in list(self._states.items()):
            self._save(brand, st, force=True)

    def erase(self, brand: str, author: tuple[str, str]) -> None:
        """After an erasure: the saved file goes now, the member leaves every row of the served snapshot now,
        their rows go as the deletions are followed, and a rebuild drops what is left of them."""
        st = self._states.get(brand)
        if st is None:
            self._drop_file(brand)
            return
        with st.save_lock:
            st.tainted = True
            self._drop_file(brand)
            st.saved_revision = -1  # the file is gone: whatever is served next is worth saving
        with st.lock:
            if st.lineage.forget_author(author):
                st.current = st.lineage.publish()
            self._follow(brand, st, in_request=True)
            # The follower may have rebuilt from the database after the erasure committed and before this call (its
            # lineage then carries the erasure's epoch): nothing of the member is left, and waiting for another
            # rebuild would leave the brand unsaved until the next erasure.
            rebuilt = not st.rebuild and st.lineage.epoch == self.store.brand_seqs([brand])[brand].snapshot_epoch
        if rebuilt:
            with st.save_lock:
                st.tainted = False
            self._save(brand, st, force=True)

    # ------------------------------------------------------------ warming
    def _cold(self, brand: str) -> _State:
        seqs = self.store.brand_seqs([brand]).get(brand)
        if seqs is None:
            self.store.get_brand(brand)  # NotFound
        if self.started and brand not in self._states:
            if self.store.count_messages(brand) > self.sync_max_rows:
                self._wake.set()
                raise ServiceUnavailable(f"the analytics of brand '{brand}' are warming up; retry shortly")
        return self._warm(brand)

    def _warm(self, brand: str) -> _State:
        """Load the saved snapshot (or build one) and catch it up."""
        with self._guard:
            st = self._states.get(brand)
        if st is not None:
            return st
        seqs = self.store.brand_seqs([brand])[brand]
        lin = self._load(brand)
        if lin is not None and (lin.epoch != seqs.snapshot_epoch or lin.hwm < seqs.pruned_seq):
            self._drop_file(brand)  # an erasure (or a long absence) happened since it was saved
            lin = None
        fresh = lin is None
        if lin is None:
            lin = build(self.store.snapshot_rows(brand), epoch=seqs.snapshot_epoch, hwm=seqs.change_seq,
                        reader=StoreThanks(self.store, brand))
        with self._guard:
            st = self._states.setdefault(brand, _State(lin, caught_up=False))
        with st.lock:
            self._follow(brand, st, in_request=False)
        if st.current.n > self.sync_max_rows:
            self._prime(brand)
            self._settle()  # before the brand counts as warm: its first requests find a settled heap
        # A fresh build is saved before the brand counts as warm: the save (numpy and string work, GIL-bound) would
        # otherwise run beside the first requests after /readyz turns green.
        if fresh:
            self._save(brand, st, force=True)
        else:
            st.saved_revision, st.saved_at = lin.hwm, time.monotonic()
        st.caught_up = True
        self._brands.add(brand)
        return st

    def _prime(self, brand: str) -> None:
        """Run the primers (the reports' own first requests) on a large brand before it counts as warm, so the
        first request after /readyz turns green finds member caches, masks and cohorts ready."""
        for primer in list(self.primers):
            try:
                primer(brand)
            except Exception:  # noqa: BLE001 - a report that cannot be primed is computed by its first request
                log.warning("priming the reports of brand %s failed", brand, exc_info=True)

    # ------------------------------------------------------------ following
    def _on_change(self, brand: str, seq: int) -> None:
        if seq > self._known.get(brand, 0):
            self._known[brand] = seq
        self._wake.set()

    def _follow(self, brand: str, st: _State, *, in_request: bool) -> None:
        """Apply the brand's changes since the lineage's high-water mark (caller holds `st.lock`)."""
        seqs = self.store.brand_seqs([brand]).get(brand)
        if seqs is None:
            return
        lin = st.lineage
        if seqs.snapshot_epoch != lin.epoch or seqs.pruned_seq > lin.hwm:
            if seqs.snapshot_epoch != lin.epoch:
                with st.save_lock:
                    st.tainted = True
                    self._drop_file(brand)
            st.rebuild = True
            if not self.started:
                self._rebuild(brand, st, locked=True)
                return
            self._wake.set()
            if seqs.pruned_seq > lin.hwm:
                return  # the log no longer holds what it missed
        if seqs.change_seq <= lin.hwm:
            return
        changes = self.store.analytics_changes(brand, lin.hwm, seqs.change_seq, limit=self.max_incremental + 1)
        new = self._apply(st, changes, in_request=in_request) if len(changes) <= self.max_incremental else None
        if new is None:
            if len(changes) > self.max_incremental:
                st.rebuild = True
                if not self.started:
                    self._rebuild(brand, st, locked=True)
            return
        new.credit(StoreThanks(self.store, brand))
        new.hwm, new.as_of = seqs.change_seq, datetime.now(timezone.utc)
        st.lineage, st.current = new, new.publish()
        if seqs.change_seq > self._known.get(brand, 0):
            self._known[brand] = seqs.change_seq

    def _apply(self, st: _State, changes: list[Any], *, in_request: bool) -> Lineage | None:
        """Append, patch or re-lay out; None when the work is left to the background (or to a rebuild)."""
        lin = st.lineage
        present = sorted((c.row for c in changes if c.row is not None), key=_sort_key)
        enc = lin.encode(present)
        removed: set[int] = set()
        inserts: list[int] = []
        patches: list[tuple[int, int]] = []
        for i, row in enumerate(present):
            held = lin.keys.get((row[1], row[2]))
            if held is None or held >= lin.n:
                inserts.append(i)
            elif lin.same_place(held, enc, i):
                patches.append((held, i))
            else:
                removed.add(held)
                inserts.append(i)
        for c in changes:
            held = lin.keys.get((c.source, c.source_id)) if c.row is None else None
            if held is not None and held < lin.n:
                removed.add(held)
        added = _subset(enc, inserts)
        if not removed and lin.fits_tail(added):
            for held, i in patches:
                lin.patch(held, enc, i)
            lin.append(added)
            return lin
        if self.started and len(inserts) > max(10_000, lin.n // 10):
            st.rebuild = True  # a large out-of-order import: rebuilding from the database is as cheap
            self._wake.set()
            return None
        if self.started and in_request and lin.n > self.sync_max_rows:
            self._wake.set()  # re-laying out a large snapshot is the follower's job, not a request's
            return None
        for held, i in patches:
            lin.patch(held, enc, i)
        return relayout(lin, removed, added)

    def _rebuild(self, brand: str, st: _State, *, locked: bool = False) -> None:
        """Build the brand's snapshot from the database (without holding the lock unless the caller does), then
        catch it up and swap it in."""
        seqs = self.store.brand_seqs([brand])[brand]
        lin = build(self.store.snapshot_rows(brand), epoch=seqs.snapshot_epoch, hwm=seqs.change_seq,
                    reader=StoreThanks(self.store, brand))

        def swap() -> None:
            st.lineage, st.current, st.rebuild = lin, lin.publish(), False
            with st.save_lock:
                st.tainted = False
            self._follow(brand, st, in_request=False)

        if locked:
            swap()
        else:
            with st.lock:
                swap()
        self._save(brand, st, force=True)
        self._settle()  # the previous lineage is garbage now

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the follower must survive a database hiccup; the next tick retries
                log.exception("snapshot follower tick failed")
            self._wake.wait(self.follow_interval_s)
            self._wake.clear()

    def _tick(self) -> None:
        seqs = self.store.brand_seqs()
        self._brands = set(seqs)
        for brand, sq in seqs.items():
            if self._stop.is_set():
                return
            if sq.change_seq > self._known.get(brand, 0):
                self._known[brand] = sq.change_seq
            st = self._states.get(brand) or self._warm(brand)
            if st.rebuild:
                self._rebuild(brand, st)
            elif st.current.revision < sq.change_seq or sq.snapshot_epoch != st.lineage.epoch:
                with st.lock:
                    self._follow(brand, st, in_request=False)
            self._save(brand, st)
        if time.monotonic() - self._settled_at > self.settle_interval_s:
            self._settle()
        if time.monotonic() - self._pruned_at > 3600:
            self._pruned_at = time.monotonic()
            cutoff = datetime.now(timezone.utc).timestamp() - self.change_retention_s
            self.store.prune_changes(datetime.fromtimestamp(cutoff, tz=timezone.utc))

    def _settle(self) -> None:
        self._settled_at = time.monotonic()
        for settler in list(self.settlers):
            try:
                settler()
            except Exception:  # noqa: BLE001 - settling is an optimisation: never fail a warm-up for it
                log.warning("settling the heap failed", exc_info=True)

    # ------------------------------------------------------------ files
    def _path(self, brand: str) -> Path | None:
        if self.root is None:
            return None
        import hashlib

        return self.root / f"{hashlib.sha1(brand.encode('utf-8')).hexdigest()[:20]}.npz"

    def _load(self, brand: str) -> Lineage | None:
        path = self._path(brand)
        return load(path) if path is not None and path.exists() else None

    def _drop_file(self, brand: str) -> None:
        path = self._path(brand)
        if path is not None:
            path.unlink(missing_ok=True)
            for tmp in path.parent.glob(path.name + ".*tmp"):
                tmp.unlink(missing_ok=True)

    def _save(self, brand: str, st: _State, *, force: bool = False) -> None:
        path = self._path(brand)
        snap = st.current
        if path is None or snap.revision <= st.saved_revision:
            return
        if not force and time.monotonic() - st.saved_at < self.save_interval_s:
            return
        with st.save_lock:
            if st.tainted:
                return
            try:
                save(snap, st.lineage, path)
            except OSError:
                log.warning("could not save the snapshot of brand %s", brand, exc_info=True)
                return
        st.saved_revision, st.saved_at = snap.revision, time.monotonic()
