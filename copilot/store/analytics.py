"""Bulk reads for analytics and grounding (Core, not the ORM)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from sqlalchemy import select

from copilot.store.models import Brand, Member, Message, SpotlightRecord
from copilot.store.base import (NON_CONVERSATION, RepoBase, _MemberRow, _as_utc, _raw_joined, _raw_time,
                                message_rows)


MEMBERS_SKEW = timedelta(seconds=30)  # replicas' clocks differ: members updated this long before are read again


class MembersView:
    """A brand's members at `seq` of its members sequence (in snapshot epoch `epoch`): light rows by key and the
    role/consent sets.

    A view read on top of an earlier one (`base`) says which keys it read again (`changed`), so the role sets
    and what callers derive from the rows are patched rather than rebuilt over every member."""

    def __init__(self, seq: Any, epoch: Any, since: datetime, rows: dict[tuple[str, str], _MemberRow], *,
                 base: "MembersView | None" = None, changed: Iterable[tuple[str, str]] | None = None):
        self.seq, self.epoch, self.since, self.rows = seq, epoch, since, rows
        self.by_key = MappingProxyType(rows)
        self.base = base.by_key if base is not None and changed is not None else None
        self.changed = frozenset(changed) if self.base is not None and changed is not None else None
        if base is not None and self.changed is not None:
            out = {k: set(v) for k, v in base.roles.items()}
            for key in self.changed:
                for found in out.values():
                    found.discard(key)
                _add_roles(out, key, rows[key])
        else:
            out = {"staff": set(), "bot": set(), "no_analytics": set(), "no_spotlight": set()}
            for key, m in rows.items():
                _add_roles(out, key, m)
        self.roles = {k: frozenset(v) for k, v in out.items()}


def _add_roles(out: dict[str, set[tuple[str, str]]], key: tuple[str, str], m: _MemberRow) -> None:
    if m.role in ("staff", "bot"):
        out[m.role].add(key)
    if m.consent_analytics == "opt_out":
        out["no_analytics"].add(key)
    if m.consent_spotlight == "opt_out":
        out["no_spotlight"].add(key)


class AnalyticsRepo(RepoBase):
    """Window, conversation and author reads."""

    # ------------------------------------------------------------ analytics reads
    def _members_view(self, brand_id: str) -> "MembersView":
        """The brand's members as light rows plus the role/consent sets, kept per brand and brought up to date when
        `brands.members_seq` moved (any member added, changed or erased, by any replica): only the members updated
        since are read again, so a report never re-reads thousands. Erasing a member (the only way a member row
        goes) also moves the brand's snapshot epoch: a view from another epoch is read again whole, since a gone
        row cannot show up among the updated ones."""
        cache: dict[str, MembersView] = self.__dict__.setdefault("_member_cache", {})
        with self.engine.connect() as conn:
            seq, epoch = conn.execute(select(Brand.members_seq, Brand.snapshot_epoch).where(Brand.id == brand_id)) \
                .one_or_none() or (None, None)
            view = cache.get(brand_id)
            if view is not None and (view.seq, view.epoch) == (seq, epoch):
                return view
            started = datetime.now(timezone.utc)
            query = self._member_rows(brand_id)
            base = view if view is not None and view.epoch == epoch else None  # new here, or members erased: all
            rows: dict[tuple[str, str], _MemberRow] = dict(base.rows) if base is not None else {}
            if base is not None:
                query = query.where(Member.updated_at >= base.since - MEMBERS_SKEW)
            changed = []
            for r in conn.execute(query):
                key = (r.source, r.source_id)
                rows[key] = _MemberRow(r.id, r.source, r.source_id, r.name, r.role, r.consent_spotlight,
                                       r.consent_analytics, _as_utc(r.joined_at) if r.joined_at else None)
                changed.append(key)
        # read after the sequence numbers: at least as new as they are
        fresh = MembersView(seq, epoch, started, rows, base=base, changed=changed if base is not None else None)
        cache[brand_id] = fresh
        return fresh

    @staticmethod
    def _member_rows(brand_id: str) -> Any:
        return select(Member.id, Member.source, Member.source_id, Member.name, Member.role, Member.consent_spotlight,
                      Member.consent_analytics, _raw_joined()).where(Member.brand_id == brand_id)

    def member_roles(self, brand_id: str) -> dict[str, frozenset[tuple[str, str]]]:
        """Authors by role and consent, as (source, source_id) pairs (shared: do not modify)."""
        return self._members_view(brand_id).roles

    def members_by_key(self, brand_id: str) -> Mapping[tuple[str, str], Any]:
        """Every member of a brand by (source, source_id), as light rows (id, name, role, consents, joined_at);
        read-only and shared between requests."""
        return self._members_view(brand_id).by_key

    def members_view(self, brand_id: str) -> MembersView:
        """The members (`by_key`), their role/consent sets (`roles`) and, when it was read on top of an earlier
        view, that view's mapping (`base`) and the keys read again since (`changed`): one consistent read, and what
        lets a caller patch what it derived from the members instead of going over all of them (shared: read only)."""
        return self._members_view(brand_id)

    def conversation_rows(self, brand_id: str, *, chunk: int = 50_000) -> Iterator[tuple[Any, ...]]:
        """Every conversation message of a brand (charter and documents excluded), oldest first:
        (source, source_id, author, created_at, kind, reply_to, thread, reaction_count, is_solution, channel, signals).
        Streamed in chunks so a large history never sits in memory twice."""
        query = (select(Message.source, Message.source_id, Message.author, _raw_time(), Message.kind,
                        Message.reply_to, Message.thread, Message.reaction_count, Message.is_solution, Message.channel,
                        Message.signals)
                 .where(Message.brand_id == brand_id, Message.source.not_in(NON_CONVERSATION))
                 .order_by(Message.created_at, Message.id))
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
            for part in result.partitions(chunk):
                for r in part:
                    yield (r[0], r[1], r[2], _as_utc(r[3]), *r[4:])

    def recent_messages(self, brand_id: str, since: datetime, *, limit: int = 300,
                        exclude_authors: Iterable[tuple[str, str]] = ()) -> list[tuple[Any, ...]]:
        """Newest conversation messages since a date: (source, source_id, author, author_name, created_at, kind, text)."""
        skip = set(exclude_authors)
        with self.engine.connect() as conn:
            rows = conn.execute(select(Message.source, Message.source_id, Message.author, Message.author_name,
                                       Message.created_at, Message.kind, Message.text)
                                .where(Message.brand_id == brand_id, Message.created_at >= since,
                                       Message.source.not_in(NON_CONVERSATION))
                                .order_by(Message.created_at.desc()).limit(limit * 2 if skip else limit)).fetchall()
        return [tuple(r) for r in rows if (r[0], r[2]) not in skip][:limit]

    def recent_posts(self, brand_id: str, authors: Iterable[tuple[str, str]], since: datetime, *,
                     limit: int = 400) -> list[tuple[Any, ...]]:
        """Top-level posts of the given authors since a date, newest first: (source, source_id, channel,
        created_at, text with the title first when there is one)."""
        sids = sorted({sid for _, sid in authors})
        if not sids:
            return []
        wanted = set(authors)
        # One query per account, an equality on the author: with `author IN (…)` and `ORDER BY … LIMIT`, SQLite (no
        # statistics) may walk the (brand, created_at) index through every message of the window to find a few
        # accounts' posts (0.5 s at 1M messages); on (brand, author, created_at) each account's posts in the window
        # are a range. A brand has a few staff and bot accounts, whose posts are few; they are sorted here.
        rows: list[Any] = []
        with self.engine.connect() as conn:
            for sid in sids:
                rows += conn.execute(select(Message.source, Message.source_id, Message.channel, Message.created_at,
                                            Message.text, Message.author, Message.title)
                                     .where(Message.brand_id == brand_id, Message.author == sid,
                                            Message.reply_to.is_(None), Message.created_at >= since)).fetchall()
        rows = sorted(rows, key=lambda r: _as_utc(r[3]), reverse=True)[:limit]
        # A forum post's title names it ("Weekly challenge #12: …"): it counts as the start of its text.
        return [(*r[:4], f"{r[6]}\n{r[4]}" if r[6] else r[4]) for r in rows if (r[0], r[5]) in wanted]

    def posts_by_author(self, brand_id: str, authors: Iterable[tuple[str, str]], since: datetime,
                        until: datetime) -> list[tuple[Any, ...]]:
        """Top-level messages of the given authors in a window, without their text, oldest first:
        (source, source_id, author, created_at, kind, content_hash, permalink)."""
        by_source: dict[str, list[str]] = {}
        for source, sid in authors:
            by_source.setdefault(source, []).append(sid)
        out: list[Any] = []
        with self.engine.connect() as conn:
            for source, sids in by_source.items():
                out += [tuple(r) for r in conn.execute(
                    select(Message.source, Message.source_id, Message.author, Message.created_at, Message.kind,
                           Message.content_hash, Message.permalink)
                    .where(Message.brand_id == brand_id, Message.source == source, Message.author.in_(sids),
                           Message.reply_to.is_(None), Message.created_at >= since, Message.created_at < until))]
        return sorted(out, key=lambda r: r[3])

    def texts(self, brand_id: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Texts of messages by (source, source_id)."""
        with self.engine.connect() as conn:
            return {(source, r.source_id): r.text for source, r in message_rows(conn, brand_id, keys, Message.text)}

    def resolve_author(self, brand_id: str, label: str) -> str:
        """The author id a search filter means: an id as is, else the one member whose name (or first name) is
        `label` (case and accents ignored); the label itself when nothing or several match."""
        from copilot.text import strip_accents

        with self.engine.connect() as conn:
            if conn.execute(select(Member.id).where(Member.brand_id == brand_id, Member.source_id == label)
                            .limit(1)).first():
                return label
            rows = conn.execute(select(Member.source_id, Member.name).where(Member.brand_id == brand_id)).fetchall()
        wanted = strip_accents(label.strip().lstrip("@").lower())
        exact = [r.source_id for r in rows if strip_accents((r.name or "").lower()) == wanted]
        first = [r.source_id for r in rows if strip_accents((r.name or "").lower()).split(" ")[:1] == [wanted]]
        matches = exact or first
        return matches[0] if len(matches) == 1 else label

    def member_names(self, brand_id: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Display names of the given authors, by (source, source_id); authors without a member row are absent."""
        wanted = set(keys)
        if not wanted:
            return {}
        query = select(Member.source, Member.source_id, Member.name).where(
            Member.brand_id == brand_id, Member.source_id.in_(sorted({sid for _, sid in wanted})))
        with self.engine.connect() as conn:
            rows = conn.execute(query).fetchall()
        return {(r.source, r.source_id): r.name for r in rows if (r.source, r.source_id) in wanted and r.name}

    def add_spotlight(self, brand_id: str, member_id: int, *, featured_at: datetime, channel: str | None,
                      note: str | None, actor: str) -> SpotlightRecord:
        """Record that a member was featured."""
        self.get_member(brand_id, member_id)
        row = SpotlightRecord(brand_id=brand_id, member_id=member_id, featured_at=featured_at, channel=channel,
                              note=note, created_by=actor)
        with self.session() as s, s.begin():
            s.add(row)
        return row

    def spotlighted_since(self, brand_id: str, since: datetime) -> set[int]:
        """Member ids featured on or after a date."""
        with self.session() as s:
            return set(s.scalars(select(SpotlightRecord.member_id).where(
                SpotlightRecord.brand_id == brand_id, SpotlightRecord.featured_at >= since)))
