"""The per-brand change sequence: what derived state (analytics snapshots, caches of other replicas) follows.

Every transaction that changes a brand's messages takes the next number of the brand's sequence
(`brands.change_seq`, incremented under the brand row's lock, so numbers become visible in the order they were
given) and logs one `changes` row per message it touched, with flags saying what changed:

- `ANALYTICS`: a field the analytics snapshot reads (time, author, kind, reply, thread, channel, reactions,
  solution, signals, and the text: who a thanks credits is read from it) — a reaction bumps only this, so a
  snapshot patches one number instead of rebuilding;
- `LEXICAL`: what keyword search reads (title, text, language, or a filter field) — the keyword index itself is
  updated in the same transaction;
- `DELETED`: the message is gone.

`brands.analytics_seq` / `lexical_seq` keep the last number of each kind, so a follower knows in one primary-key
read whether it has anything to do. `snapshot_epoch` moves when every follower must rebuild from scratch (an
erasure). Rows older than the retention are pruned (`pruned_seq` remembers how far), and a follower whose
high-water mark is below it rebuilds instead of replaying.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from copilot.store.base import NON_CONVERSATION, RepoBase, _as_utc, _raw_time
from copilot.store.models import Brand, Change, Message

log = logging.getLogger("copilot.store")

ANALYTICS, LEXICAL, DELETED = 1, 2, 4
#: Message fields the analytics snapshot reads (a change to any of them is an ANALYTICS change).
ANALYTICS_FIELDS = frozenset({"channel", "author", "created_at", "kind", "reply_to", "thread", "reactions",
                              "reaction_count", "is_solution", "signals", "text"})
#: Fields whose change alone (the content hash aside) makes the keyword index re-analyse a message.
LEXICAL_FIELDS = frozenset({"title", "text", "lang", "kind", "channel", "author", "created_at"})

Listener = Callable[[str, int], None]


# Statements read on every follow of a live brand, built once: building a SELECT of a dozen columns costs SQLAlchemy
# more Python time (~3 ms here) than SQLite takes to answer it.
BRAND_SEQS = select(Brand.id, Brand.change_seq, Brand.analytics_seq, Brand.lexical_seq, Brand.snapshot_epoch,
                    Brand.pruned_seq)
BRAND_SEQS_OF = BRAND_SEQS.where(Brand.id.in_(bindparam("ids", expanding=True)))
ANALYTICS_CHANGES = (
    select(Change.seq, Change.source, Change.source_id, Message.id, Message.author, _raw_time(), Message.kind,
           Message.reply_to, Message.thread, Message.reaction_count, Message.is_solution, Message.channel,
           Message.signals)
    .select_from(Change)
    .outerjoin(Message, (Message.brand_id == Change.brand_id) & (Message.source == Change.source)
               & (Message.source_id == Change.source_id))
    .where(Change.brand_id == bindparam("b"), Change.seq > bindparam("after"), Change.seq <= bindparam("upto"),
           Change.flags.op("&")(ANALYTICS) != 0, Change.source.not_in(NON_CONVERSATION))
    .order_by(Change.seq, Change.id).limit(bindparam("n")))


@dataclass(frozen=True)
class BrandSeqs:
    """Where a brand's change sequence stands."""

    change_seq: int
    analytics_seq: int
    lexical_seq: int
    snapshot_epoch: int
    pruned_seq: int


@dataclass(frozen=True)
class MessageChange:
    """The current state of one changed message, as the analytics snapshot stores it (`row` is None when the
    message is gone): (id, source, source_id, author, created_at, kind, reply_to, thread, reaction_count,
    is_solution, channel, signals)."""

    seq: int
    source: str
    source_id: str
    row: tuple[Any, ...] | None


class ChangesRepo(RepoBase):
    """Writing to and reading from the change sequence."""

    listeners: list[Listener]

    def _record_changes(self, s: Session, brand_id: str, changed: Sequence[tuple[tuple[str, str], int]], *,
                        new_epoch: bool = False) -> int | None:
        """Take the brand's next sequence number and log the changed messages under it (in the caller's
        transaction); None when nothing changed."""
        changed = [(key, flags) for key, flags in changed if flags]
        if not changed and not new_epoch:
            return None
        # One statement takes the number and moves what it covers (every right-hand side reads the old row); the
        # brand row stays locked until commit, so numbers become visible in the order they were given.
        taken = Brand.change_seq + 1
        values: dict[str, Any] = {"change_seq": taken}
        if any(flags & ANALYTICS for _, flags in changed) or new_epoch:
            values["analytics_seq"] = taken
        if any(flags & LEXICAL for _, flags in changed):
            values["lexical_seq"] = taken
        if new_epoch:
            values["snapshot_epoch"] = Brand.snapshot_epoch + 1
        seq = int(s.scalar(update(Brand).where(Brand.id == brand_id).values(**values).returning(Brand.change_seq)) or 0)
        if changed:
            s.execute(insert(Change), [{"brand_id": brand_id, "seq": seq, "source": src, "source_id": sid,
                                        "flags": flags} for (src, sid), flags in changed])
        return seq

    @staticmethod
    def _members_changed(s: Session, brand_id: str) -> None:
        """Record (in the caller's transaction) that the brand's members changed: cached roles are reloaded."""
        s.execute(update(Brand).where(Brand.id == brand_id).values(members_seq=Brand.members_seq + 1))

    def _notify(self, brand_id: str, seq: int | None) -> None:
        """Tell in-process followers (after the commit) that the brand moved to `seq`."""
        if seq is None:
            return
        for listener in list(getattr(self, "listeners", ())):
            try:
                listener(brand_id, seq)
            except Exception:  # noqa: BLE001 - a follower's failure must not fail the write that committed
                log.exception("change listener failed for brand %s", brand_id)

    def brand_seqs(self, brand_ids: Iterable[str] | None = None) -> dict[str, BrandSeqs]:
        """Where each brand's sequence stands (every brand, or the given ones)."""
        query, params = (BRAND_SEQS, {}) if brand_ids is None else (BRAND_SEQS_OF, {"ids": list(brand_ids)})
        with self.engine.connect() as conn:
            return {r[0]: BrandSeqs(*(int(v or 0) for v in r[1:])) for r in conn.execute(query, params)}

    def analytics_changes(self, brand_id: str, after: int, upto: int, *, limit: int = 100_000) -> list[MessageChange]:
        """The conversation messages whose analytics fields changed in (after, upto], each once with its current
        state, in sequence order; at most `limit` log rows are read (a caller seeing that many rebuilds instead)."""
        latest: dict[tuple[str, str], MessageChange] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(ANALYTICS_CHANGES, {"b": brand_id, "after": after, "upto": upto, "n": limit}):
                row = None if r[3] is None else (r[3], r[1], r[2], r[4], _as_utc(r[5]), *r[6:])
                key = (r[1], r[2])
                latest.pop(key, None)  # keep sequence order of the last change
                latest[key] = MessageChange(int(r[0]), r[1], r[2], row)
        return list(latest.values())

    def lexical_changes(self, brand_id: str, after: int, upto: int, *, limit: int) -> set[tuple[str, str]]:
        """The (source, source_id) of the messages added, deleted or changed in what keyword search reads (a kind
        among the filter fields) in (after, upto]; at most `limit` log rows are read (a caller seeing that many
        rebuilds instead)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(Change.source, Change.source_id).where(
                Change.brand_id == brand_id, Change.seq > after, Change.seq <= upto,
                Change.flags.op("&")(LEXICAL) != 0).limit(limit)).all()
        return {(r[0], r[1]) for r in rows}

    def count_changes(self, brand_id: str, after: int, upto: int) -> int:
        """How many log rows a follower at `after` would read to reach `upto`."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Change).where(
                Change.brand_id == brand_id, Change.seq > after, Change.seq <= upto)).scalar() or 0)

    def prune_changes(self, before: datetime) -> int:
        """Drop log rows written before `before`, remembering per brand how far the log is gone."""
        with self.session() as s, s.begin():
            upto = dict(s.execute(select(Change.brand_id, func.max(Change.seq)).where(Change.at < before)
                                  .group_by(Change.brand_id)).tuples().all())
            for brand_id, seq in upto.items():
                s.execute(update(Brand).where(Brand.id == brand_id, Brand.pruned_seq < seq).values(pruned_seq=seq))
            result = s.execute(delete(Change).where(Change.at < before))
        return int(result.rowcount or 0)

    def snapshot_rows(self, brand_id: str, *, chunk: int = 50_000) -> Any:
        """Every conversation message of a brand as the analytics snapshot stores it, oldest first (ties by id):
        (id, source, source_id, author, created_at, kind, reply_to, thread, reaction_count, is_solution, channel,
        signals). Streamed, so a large history never sits in memory twice."""
        m = Message
        query = (select(m.id, m.source, m.source_id, m.author, _raw_time(), m.kind, m.reply_to, m.thread,
                        m.reaction_count, m.is_solution, m.channel, m.signals)
                 .where(m.brand_id == brand_id, m.source.not_in(NON_CONVERSATION))
                 .order_by(m.created_at, m.id))
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
            for part in result.partitions(chunk):
                for r in part:
                    yield (r[0], r[1], r[2], r[3], _as_utc(r[4]), *r[5:])

    def conversation_counts(self) -> dict[str, int]:
        """Conversation messages per brand (to decide which snapshots are cheap enough to build at start-up)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(Brand.id, func.count(Message.id)).select_from(Brand)
                                .outerjoin(Message, (Message.brand_id == Brand.id)
                                           & Message.source.not_in(NON_CONVERSATION))
                                .group_by(Brand.id)).all()
        return {r[0]: int(r[1]) for r in rows}
