"""Each message's kind and channel, per brand, in memory and following the change sequence: a search filtered on them
checks here, rather than in the database, the ids its dense side over-fetched (and a channel's keyword matches).

A filter passing many messages (a kind, a large channel) is not ranked exactly: the dense side asks Chroma for the
k x 5 (then x 15, x 50) nearest ids unfiltered and keeps those passing (`copilot.retrieve`). The database's check of
200-2,000 ids costs 2-17 ms at 100k messages, on the same two cores as the keyword side running beside it. The
keyword side of a channel filter reads FTS5's matches by rowid and checks each here (`RowCheck`), instead of SQLite
listing the channel's ids (12,700 at 100k) for every query.

Never stale: a brand's map says which `lexical_seq` it reflects (a new, deleted, re-kinded or moved message moves it).
A check first reads where the brand stands; a map behind it catches up from the change log when a few messages changed
(their current fields, read by id), and otherwise the database answers while a background thread rebuilds the map. Ids
the map does not hold (a message written since, or one already deleted) are checked in the database too, so the answer
is always the database's; a keyword search whose brand changed while it read its matches runs its SQL plan instead (a
rowid can be reused). Without a map (the first such search of a brand, a brand larger than `MAX_MESSAGES`) every
id goes to the database, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from copilot.store import Store, message_uid

log = logging.getLogger("copilot.facets")

FACETS = ("kind", "channel")  # the filter fields kept: each message's (kind, channel), one shared tuple per pair
CATCH_UP_MAX = 2000       # logged changes a check applies itself; more and the map is rebuilt in the background
MAX_MESSAGES = 1_000_000  # a larger brand keeps no map (~200 bytes a message): its ids are checked in the database

Facet = tuple[str, str | None]


@dataclass
class _Map:
    """One brand's (kind, channel) per message as of `seq` (its `lexical_seq`) in snapshot epoch `epoch`: by database
    id (the keyword index's rowid), with each uid's id (the vector index's id)."""

    seq: int
    epoch: int
    ids: dict[str, int]
    facets: dict[int, Facet]


@dataclass
class RowCheck:
    """A filter checked on keyword matches by rowid, from a brand's map as of `seq`: `passes` says None for a rowid
    it does not know, and a caller trusts what it read only if the brand is still at `seq` afterwards (`current`),
    since a row id may be reused by a message written since."""

    store: Store
    brand: str
    seq: int
    facets: dict[int, Facet]
    kind: str | None
    channel: str | None

    def passes(self, rowid: int) -> bool | None:
        """Whether the message passes the filter (None: not known here)."""
        facet = self.facets.get(rowid)
        if facet is None:
            return None
        return (self.kind is None or facet[0] == self.kind) and (self.channel is None or facet[1] == self.channel)

    def current(self) -> bool:
        """Whether nothing keyword search reads changed in the brand since the map's `seq`."""
        seqs = self.store.brand_seqs([self.brand]).get(self.brand)
        return seqs is not None and seqs.lexical_seq == self.seq


def kept(filters: dict[str, Any]) -> bool:
    """Whether `filters` sets only fields kept here (and at least one)."""
    used = [key for key, value in filters.items() if value not in (None, "")]
    return bool(used) and all(key in FACETS for key in used)


class Facets:
    """Per-brand maps of each message's (kind, channel), caught up with the change sequence before each use."""

    def __init__(self, store: Store, *, background: bool = True):
        self.store = store
        self.background = background  # build a missing map on a thread (False: only `warm` builds one)
        self._maps: dict[str, _Map] = {}
        self._building: set[str] = set()
        self._too_large: set[str] = set()  # brands past MAX_MESSAGES: never built again by this process
        self._lock = threading.Lock()  # guards the three, and serialises catch-ups

    def passing(self, brand: str, uids: Sequence[str], filters: dict[str, Any]) -> set[str]:
        """The uids among `uids` whose message passes `filters` (a kind, a channel or both: `kept`): what
        `store.passing_uids` says, from memory when the brand's map is current."""
        known = self._current(brand)
        if known is None:
            return self.store.passing_uids(brand, uids, filters)
        check = RowCheck(self.store, brand, known.seq, known.facets, filters.get("kind") or None,
                         filters.get("channel") or None)
        ids, unknown, passing = known.ids, [], set()
        for uid in uids:
            at = ids.get(uid)
            if at is None or (ok := check.passes(at)) is None:
                unknown.append(uid)
            elif ok:
                passing.add(uid)
        return passing | self.store.passing_uids(brand, unknown, filters) if unknown else passing

    def rows(self, brand: str, filters: dict[str, Any]) -> RowCheck | None:
        """The filter (a kind, a channel or both: `kept`) to check keyword matches by rowid, or None (the database
        must check them)."""
        known = self._current(brand) if kept(filters) else None
        if known is None:
            return None
        return RowCheck(self.store, brand, known.seq, known.facets, filters.get("kind") or None,
                        filters.get("channel") or None)

    def warm(self, brand: str) -> None:
        """Build the brand's map now (at start-up, or in the background after a miss)."""
        seqs = self.store.brand_seqs([brand]).get(brand)
        if seqs is None:
            return
        ids: dict[str, int] = {}
        facets: dict[int, Facet] = {}
        shared: dict[Facet, Facet] = {}  # one tuple per (kind, channel), not one per message
        for rowid, uid, kind, channel in self.store.message_facets(brand):
            if len(facets) >= MAX_MESSAGES:
                with self._lock:
                    self._too_large.add(brand)
                return
            ids[uid] = rowid
            facets[rowid] = shared.setdefault((kind, channel), (kind, channel))
        # The rows were read after `seqs`: each is at least as new as `lexical_seq`, so the map reflects it.
        with self._lock:
            self._maps[brand] = _Map(seqs.lexical_seq, seqs.snapshot_epoch, ids, facets)

    def _current(self, brand: str) -> _Map | None:
        """The brand's map caught up with the database as it stands now, or None (the database must answer)."""
        seqs = self.store.brand_seqs([brand]).get(brand)
        known = self._maps.get(brand)
        if seqs is None or known is None or known.epoch != seqs.snapshot_epoch or known.seq < seqs.pruned_seq:
            if seqs is not None:
                self._rebuild_later(brand)
            return None
        if known.seq >= seqs.lexical_seq:
            return known
        with self._lock:  # one catch-up at a time: others wait for it rather than repeat it
            caught_up = known.seq >= seqs.lexical_seq or self._catch_up(brand, known, seqs.lexical_seq)
            if not caught_up and self._maps.get(brand) is known:
                del self._maps[brand]
        if not caught_up:
            self._rebuild_later(brand)
            return None
        return known

    def _catch_up(self, brand: str, known: _Map, upto: int) -> bool:
        """Apply the changes logged in (known.seq, upto] to the map (the caller holds the lock); False when too many
        changed for a request to apply."""
        changed = self.store.lexical_changes(brand, known.seq, upto, limit=CATCH_UP_MAX + 1)
        if len(changed) > CATCH_UP_MAX:
            return False
        now = {uid: (rowid, (kind, channel)) for rowid, uid, kind, channel
               in self.store.message_facets(brand, sorted(changed))}
        for source, source_id in changed:  # `now` was read after `upto`: each message is at least as new
            uid = message_uid(source, source_id)
            old = known.ids.pop(uid, None)
            if old is not None:
                known.facets.pop(old, None)  # deleted (the database says it passes no filter), or moved id
            if uid in now:
                rowid, facet = now[uid]
                known.ids[uid], known.facets[rowid] = rowid, facet
        known.seq = upto
        return True

    def _rebuild_later(self, brand: str) -> None:
        """Build the brand's map on a background thread (never inside the request that found it missing)."""
        with self._lock:
            if not self.background or brand in self._building or brand in self._too_large:
                return
            self._building.add(brand)

        def build() -> None:
            try:
                self.warm(brand)
            except Exception:  # noqa: BLE001 - without a map the database answers; the next miss retries
                log.warning("building the filter fields of brand %s failed", brand, exc_info=True)
            finally:
                with self._lock:
                    self._building.discard(brand)

        threading.Thread(target=build, name=f"facets-{brand}", daemon=True).start()
