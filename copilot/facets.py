"""Each message's kind and channel, per brand, in memory and following the change sequence: a dense search filtered on
them checks the ids it over-fetched here rather than in the database.

A filter passing many messages (a kind, a large channel) is not ranked exactly: the dense side asks Chroma for the
k x 5 (then x 15, x 50) nearest ids unfiltered and keeps those passing (`copilot.retrieve`). The database's check of
200-2,000 ids costs 2-17 ms at 100k messages, on the same two cores as the keyword side running beside it.

Never stale: a brand's map says which `lexical_seq` it reflects (a new, deleted, re-kinded or moved message moves it).
A check first reads where the brand stands; a map behind it catches up from the change log when a few messages changed
(their current fields, read by id), and otherwise the database answers while a background thread rebuilds the map. Ids
the map does not hold (a message written since, or one already deleted) are checked in the database too, so the answer
is always the database's. Without a map (the first such search of a brand, a brand larger than `MAX_MESSAGES`) every
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
MAX_MESSAGES = 1_000_000  # a larger brand keeps no map (~100 bytes a message): its ids are checked in the database

Facet = tuple[str, str | None]


@dataclass
class _Map:
    """One brand's (kind, channel) per uid as of `seq` (its `lexical_seq`) in snapshot epoch `epoch`."""

    seq: int
    epoch: int
    facets: dict[str, Facet]


def kept(filters: dict[str, Any]) -> bool:
    """Whether `filters` sets only fields kept here (and at least one)."""
    used = [key for key, value in filters.items() if value not in (None, "")]
    return bool(used) and all(key in FACETS for key in used)


class Facets:
    """Per-brand uid -> (kind, channel) maps, caught up with the change sequence before each use."""

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
        facets = self._current(brand)
        if facets is None:
            return self.store.passing_uids(brand, uids, filters)
        kind, channel = filters.get("kind") or None, filters.get("channel") or None
        unknown = [u for u in uids if u not in facets]
        passing = {u for u in uids if (f := facets.get(u)) is not None and (kind is None or f[0] == kind)
                   and (channel is None or f[1] == channel)}
        return passing | self.store.passing_uids(brand, unknown, filters) if unknown else passing

    def warm(self, brand: str) -> None:
        """Build the brand's map now (at start-up, or in the background after a miss)."""
        seqs = self.store.brand_seqs([brand]).get(brand)
        if seqs is None:
            return
        facets: dict[str, Facet] = {}
        shared: dict[Facet, Facet] = {}  # one tuple per (kind, channel), not one per message
        for uid, kind, channel in self.store.message_facets(brand):
            if len(facets) >= MAX_MESSAGES:
                with self._lock:
                    self._too_large.add(brand)
                return
            facets[uid] = shared.setdefault((kind, channel), (kind, channel))
        # The rows were read after `seqs`: each is at least as new as `lexical_seq`, so the map reflects it.
        with self._lock:
            self._maps[brand] = _Map(seqs.lexical_seq, seqs.snapshot_epoch, facets)

    def _current(self, brand: str) -> dict[str, Facet] | None:
        """The brand's map caught up with the database as it stands now, or None (the database must answer)."""
        seqs = self.store.brand_seqs([brand]).get(brand)
        known = self._maps.get(brand)
        if seqs is None or known is None or known.epoch != seqs.snapshot_epoch or known.seq < seqs.pruned_seq:
            if seqs is not None:
                self._rebuild_later(brand)
            return None
        if known.seq >= seqs.lexical_seq:
            return known.facets
        with self._lock:  # one catch-up at a time: others wait for it rather than repeat it
            caught_up = known.seq >= seqs.lexical_seq or self._catch_up(brand, known, seqs.lexical_seq)
            if not caught_up and self._maps.get(brand) is known:
                del self._maps[brand]
        if not caught_up:
            self._rebuild_later(brand)
            return None
        return known.facets

    def _catch_up(self, brand: str, known: _Map, upto: int) -> bool:
        """Apply the changes logged in (known.seq, upto] to the map (the caller holds the lock); False when too many
        changed for a request to apply."""
        changed = self.store.lexical_changes(brand, known.seq, upto, limit=CATCH_UP_MAX + 1)
        if len(changed) > CATCH_UP_MAX:
            return False
        now = {uid: (kind, channel) for uid, kind, channel in self.store.message_facets(brand, sorted(changed))}
        for source, source_id in changed:  # `now` was read after `upto`: each message is at least as new
            uid = message_uid(source, source_id)
            if uid in now:
                known.facets[uid] = now[uid]
            else:
                known.facets.pop(uid, None)  # deleted: the database says it passes no filter
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
