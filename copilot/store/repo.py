"""Repositories over the SQL store: brands, keys, charter versions, members, messages, jobs."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

from sqlalchemy import String, delete, func, insert, select, type_coerce, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from copilot.errors import AlreadyExists, NotFound, ServiceUnavailable
from copilot.store.db import make_engine, migrate
from copilot.store.models import (ApiKey, Brand, Channel, CharterVersion, Draft, DraftDecision, DraftRevision, Job,
                                   LLMUsage, Member, Message, SpotlightRecord, now_utc)
from copilot.signals import bits as signal_bits
from copilot.types import MemberRecord, MessageRecord

MESSAGE_FIELDS = (
    "channel", "author", "author_name", "created_at", "title", "text", "reply_to", "thread",
    "reactions", "kind", "is_solution", "lang", "permalink",
)
MEMBER_FIELDS = ("name", "role", "consent_spotlight", "consent_analytics", "joined_at")


def hash_secret(secret: str) -> str:
    """Hash of an API key secret (keys are random 256-bit values, so a plain SHA-256 suffices)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass
class UpsertResult:
    """What an upsert did, and which rows need (re)indexing or removal from the index."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    to_index: list[dict[str, Any]] = field(default_factory=list)
    to_unindex: list[str] = field(default_factory=list)

    def add(self, other: "UpsertResult") -> None:
        """Accumulate another result into this one."""
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted


def message_uid(source: str, source_id: str) -> str:
    """The id a message has in the index (unique within a brand)."""
    return f"{source}:{source_id}"


def _indexable(row: Message) -> dict[str, Any]:
    return {
        "uid": message_uid(row.source, row.source_id), "id": row.source_id, "source": row.source,
        "kind": row.kind, "channel": row.channel, "author": row.author, "created_at": row.created_at,
        "title": row.title, "text": row.text, "lang": row.lang, "hash": row.content_hash,
    }


class Store:
    """The relational store. Every method runs in its own short transaction."""

    def __init__(self, url: str, *, busy_timeout_s: float = 30.0):
        self.url, self.busy_timeout_s = url, busy_timeout_s
        self.engine = make_engine(url, busy_timeout_s=busy_timeout_s)
        self.schema_version = migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        """A new session (use as a context manager)."""
        return self._sessions()

    def ping(self) -> None:
        """Raise ServiceUnavailable when the database cannot answer or cannot take a write right now (a SQLite
        file locked by another writer is not ready, even though reads still work under WAL)."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
                if self.engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA busy_timeout = 200")
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    conn.exec_driver_sql("ROLLBACK")
                    conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        except OperationalError as exc:
            raise ServiceUnavailable("database unavailable (locked or unreachable)") from exc

    #: Exceptions meaning the database cannot answer now (locked, gone): a 503, not a 500.
    unavailable_errors: tuple[type[BaseException], ...] = (OperationalError,)

    def stale_messages(self, brand_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Messages whose indexed content is missing or outdated (a write whose indexing failed)."""
        with self.session() as s:
            rows = list(s.scalars(select(Message).where(
                Message.brand_id == brand_id,
                (Message.indexed_hash.is_(None)) | (Message.indexed_hash != Message.content_hash)).limit(limit)))
        return [_indexable(r) for r in rows]

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    # ------------------------------------------------------------ brands
    def create_brand(self, brand_id: str, name: str, language: str) -> Brand:
        """Create a brand; AlreadyExists if the id is taken."""
        with self.session() as s, s.begin():
            if s.get(Brand, brand_id):
                raise AlreadyExists(f"brand '{brand_id}' already exists", field="id")
            brand = Brand(id=brand_id, name=name, language=language)
            s.add(brand)
        return brand

    def get_brand(self, brand_id: str) -> Brand:
        """The brand, or NotFound."""
        with self.session() as s:
            brand = s.get(Brand, brand_id)
        if brand is None:
            raise NotFound(f"brand '{brand_id}' not found")
        return brand

    def find_brand(self, brand_id: str) -> Brand | None:
        """The brand or None."""
        with self.session() as s:
            return s.get(Brand, brand_id)

    def list_brands(self) -> list[Brand]:
        """All brands, by id."""
        with self.session() as s:
            return list(s.scalars(select(Brand).order_by(Brand.id)))

    def bump_revision(self, brand_id: str) -> int:
        """Mark the brand's searchable content as changed; returns the new revision."""
        with self.session() as s, s.begin():
            s.execute(update(Brand).where(Brand.id == brand_id).values(index_revision=Brand.index_revision + 1))
            return int(s.scalar(select(Brand.index_revision).where(Brand.id == brand_id)) or 0)

    # ------------------------------------------------------------ keys
    def create_key(self, brand_id: str, actor: str, scopes: Sequence[str]) -> tuple[ApiKey, str]:
        """Create a key; returns the row and the plaintext (shown once, stored hashed)."""
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        row = ApiKey(id=key_id, brand_id=brand_id, actor=actor, scopes=",".join(sorted(set(scopes))),
                     secret_hash=hash_secret(secret))
        with self.session() as s, s.begin():
            s.add(row)
        return row, f"cpk_{key_id}_{secret}"

    def verify_key(self, token: str) -> ApiKey | None:
        """The live key matching `token`, compared in constant time; None otherwise."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "cpk":
            return None
        with self.session() as s:
            row = s.get(ApiKey, parts[1][:32])
        candidate = row.secret_hash if row else hash_secret("")
        ok = hmac.compare_digest(candidate, hash_secret(parts[2]))
        return row if ok and row is not None and row.revoked_at is None else None

    def list_keys(self, brand_id: str) -> list[ApiKey]:
        """A brand's keys (hashes never leave the store layer in responses)."""
        with self.session() as s:
            return list(s.scalars(select(ApiKey).where(ApiKey.brand_id == brand_id).order_by(ApiKey.created_at)))

    def revoke_key(self, brand_id: str, key_id: str) -> ApiKey:
        """Revoke a key of this brand."""
        with self.session() as s, s.begin():
            row = s.get(ApiKey, key_id)
            if row is None or row.brand_id != brand_id:
                raise NotFound(f"key '{key_id}' not found")
            if row.revoked_at is None:
                row.revoked_at = now_utc()
        return row

    # ------------------------------------------------------------ charter
    def add_charter_version(self, brand_id: str, data: dict[str, Any], source_text: str, fmt: str) -> tuple[CharterVersion, bool]:
        """Store a charter version; the same content as the latest returns it unchanged (created=False)."""
        digest = hashlib.sha256(source_text.encode("utf-8")).hexdigest()
        with self.session() as s, s.begin():
            latest = s.scalars(select(CharterVersion).where(CharterVersion.brand_id == brand_id)
                               .order_by(CharterVersion.version.desc()).limit(1)).first()
            if latest is not None and latest.digest == digest:
                return latest, False
            row = CharterVersion(brand_id=brand_id, version=(latest.version + 1) if latest else 1,
                                 source_format=fmt, source_text=source_text, data=data, digest=digest)
            s.add(row)
        return row, True

    def get_charter(self, brand_id: str, version: int | None = None) -> CharterVersion:
        """The given (or latest) charter version, or NotFound."""
        with self.session() as s:
            q = select(CharterVersion).where(CharterVersion.brand_id == brand_id)
            q = q.where(CharterVersion.version == version) if version else q.order_by(CharterVersion.version.desc())
            row = s.scalars(q.limit(1)).first()
        if row is None:
            raise NotFound(f"brand '{brand_id}' has no charter" + (f" version {version}" if version else ""))
        return row

    def list_charter_versions(self, brand_id: str) -> list[CharterVersion]:
        """All versions, oldest first."""
        with self.session() as s:
            return list(s.scalars(select(CharterVersion).where(CharterVersion.brand_id == brand_id)
                                  .order_by(CharterVersion.version)))

    # ------------------------------------------------------------ members
    def upsert_members(self, brand_id: str, records: Sequence[MemberRecord]) -> UpsertResult:
        """Insert or update members keyed by (source, source_id); role/consent set by the API are kept
        unless the record states them explicitly (non-default)."""
        result = UpsertResult()
        latest = {(r.source, r.source_id): r for r in records}
        with self.session() as s, s.begin():
            existing = self._existing(s, Member, brand_id, list(latest))
            for key, rec in latest.items():
                row = existing.get(key)
                values = rec.model_dump(include=set(MEMBER_FIELDS))
                if row is None:
                    s.add(Member(brand_id=brand_id, source=rec.source, source_id=rec.source_id, **values))
                    result.inserted += 1
                    continue
                changes = {k: v for k, v in values.items() if v != getattr(row, k) and not _is_default(k, v)}
                if changes:
                    for k, v in changes.items():
                        setattr(row, k, v)
                    result.updated += 1
                else:
                    result.unchanged += 1
        return result

    def list_members(self, brand_id: str, *, role: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Member], int]:
        """A page of members and the total count."""
        with self.session() as s:
            q = select(Member).where(Member.brand_id == brand_id)
            if role:
                q = q.where(Member.role == role)
            total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            rows = list(s.scalars(q.order_by(Member.id).limit(limit).offset(offset)))
        return rows, int(total)

    def get_member(self, brand_id: str, member_id: int) -> Member:
        """One member of this brand, or NotFound."""
        with self.session() as s:
            row = s.get(Member, member_id)
        if row is None or row.brand_id != brand_id:
            raise NotFound(f"member {member_id} not found")
        return row

    def update_member(self, brand_id: str, member_id: int, changes: dict[str, Any]) -> Member:
        """Set role and/or consent on one member."""
        with self.session() as s, s.begin():
            row = s.get(Member, member_id)
            if row is None or row.brand_id != brand_id:
                raise NotFound(f"member {member_id} not found")
            for k, v in changes.items():
                setattr(row, k, v)
        return row

    def erase_member(self, brand_id: str, member_id: int, *, placeholder: str) -> dict[str, Any]:
        """Delete a member, their messages and spotlight records, and redact their name in drafts; one transaction.
        Returns the uids of the deleted messages (for the indexes) and counts."""
        with self.session() as s, s.begin():
            member = s.get(Member, member_id)
            if member is None or member.brand_id != brand_id:
                raise NotFound(f"member {member_id} not found")
            rows = s.execute(select(Message.source, Message.source_id).where(
                Message.brand_id == brand_id, Message.source == member.source, Message.author == member.source_id)).all()
            s.execute(delete(Message).where(Message.brand_id == brand_id, Message.source == member.source,
                                            Message.author == member.source_id))
            s.execute(delete(SpotlightRecord).where(SpotlightRecord.member_id == member_id))
            names = [n for n in {member.name, member.source_id} if n and len(n) >= 2]
            redacted = 0
            for draft in s.scalars(select(Draft).where(Draft.brand_id == brand_id)):
                changed = False
                for attr in ("title", "body"):
                    value = getattr(draft, attr)
                    for n in names:
                        if n.lower() in value.lower():
                            value = re.sub(re.escape(n), placeholder, value, flags=re.I)
                            changed = True
                    setattr(draft, attr, value)
                if changed:
                    redacted += 1
                    for rev in s.scalars(select(DraftRevision).where(DraftRevision.draft_id == draft.id)):
                        for n in names:
                            rev.title = re.sub(re.escape(n), placeholder, rev.title, flags=re.I)
                            rev.body = re.sub(re.escape(n), placeholder, rev.body, flags=re.I)
                    draft.payload = {**(draft.payload or {}), "redacted": True}
            s.delete(member)
        return {"uids": [message_uid(src, sid) for src, sid in rows], "messages": len(rows), "drafts_redacted": redacted}

    def export_member(self, brand_id: str, member_id: int) -> dict[str, Any]:
        """Everything stored about a member: profile, messages and spotlight records."""
        member = self.get_member(brand_id, member_id)
        with self.session() as s:
            messages = list(s.scalars(select(Message).where(Message.brand_id == brand_id, Message.source == member.source,
                                                            Message.author == member.source_id).order_by(Message.created_at)))
            records = list(s.scalars(select(SpotlightRecord).where(SpotlightRecord.member_id == member_id)))
        return {"member": {k: getattr(member, k) for k in ("id", "source", "source_id", "name", "role",
                                                           "consent_spotlight", "consent_analytics", "joined_at")},
                "messages": [{"id": m.source_id, "source": m.source, "channel": m.channel, "created_at": m.created_at,
                              "kind": m.kind, "title": m.title, "text": m.text, "reply_to": m.reply_to,
                              "reactions": m.reactions, "permalink": m.permalink} for m in messages],
                "spotlight_records": [{"featured_at": r.featured_at, "channel": r.channel, "note": r.note}
                                      for r in records]}

    # ------------------------------------------------------------ channels and messages
    def upsert_channels(self, brand_id: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Make sure each (source, channel name) exists."""
        wanted = set(pairs)
        if not wanted:
            return
        with self.session() as s, s.begin():
            have = set(s.execute(select(Channel.source, Channel.name).where(Channel.brand_id == brand_id)).tuples())
            for source, name in wanted - have:
                s.add(Channel(brand_id=brand_id, source=source, name=name))

    def list_channels(self, brand_id: str) -> list[Channel]:
        """A brand's channels."""
        with self.session() as s:
            return list(s.scalars(select(Channel).where(Channel.brand_id == brand_id).order_by(Channel.name)))

    def upsert_messages(self, brand_id: str, records: Sequence[MessageRecord], digests: Sequence[str]) -> UpsertResult:
        """Insert, update or delete messages keyed by (source, source_id) in one transaction."""
        result = UpsertResult()
        latest = {(r.source, r.source_id): (r, d) for r, d in zip(records, digests)}
        with self.session() as s, s.begin():
            existing = self._existing(s, Message, brand_id, list(latest))
            new_rows: list[dict[str, Any]] = []
            for key, (rec, digest) in latest.items():
                row = existing.get(key)
                if rec.deleted:
                    if row is not None:
                        s.delete(row)
                        result.deleted += 1
                        result.to_unindex.append(message_uid(*key))
                    continue
                values = rec.model_dump(include=set(MESSAGE_FIELDS))
                values["reaction_count"] = sum(rec.reactions.values())
                values["signals"] = signal_bits(rec.text)
                if row is None:
                    new_rows.append({"brand_id": brand_id, "source": rec.source, "source_id": rec.source_id,
                                     "content_hash": digest, **values})
                    continue
                changes = {k: v for k, v in values.items() if v != getattr(row, k)}
                if changes or row.content_hash != digest:
                    for k, v in changes.items():
                        setattr(row, k, v)
                    row.content_hash = digest
                    result.updated += 1
                else:
                    result.unchanged += 1
                if row.indexed_hash != digest:
                    result.to_index.append(_indexable(row))
            if new_rows:
                s.execute(insert(Message), new_rows)
                result.inserted += len(new_rows)
                fresh = self._existing(s, Message, brand_id, [(r["source"], r["source_id"]) for r in new_rows])
                result.to_index.extend(_indexable(r) for r in fresh.values())
        return result

    def mark_indexed(self, brand_id: str, pairs: Sequence[tuple[str, str]]) -> None:
        """Record which content hash of each message (by uid) is now in the index."""
        if not pairs:
            return
        by_uid = dict(pairs)
        with self.session() as s, s.begin():
            keys = [tuple(uid.split(":", 1)) for uid in by_uid]
            for key, row in self._existing(s, Message, brand_id, keys).items():
                row.indexed_hash = by_uid[message_uid(*key)]

    def delete_messages(self, brand_id: str, *, source: str, keep: Iterable[str] = ()) -> list[str]:
        """Delete a source's messages except `keep`; returns the deleted uids."""
        keep_set = set(keep)
        with self.session() as s, s.begin():
            ids = s.execute(select(Message.id, Message.source_id).where(
                Message.brand_id == brand_id, Message.source == source)).tuples().all()
            gone = [(i, sid) for i, sid in ids if sid not in keep_set]
            if gone:
                s.execute(delete(Message).where(Message.id.in_([i for i, _ in gone])))
        return [message_uid(source, sid) for _, sid in gone]

    def count_messages(self, brand_id: str) -> int:
        """Number of stored messages of a brand."""
        with self.session() as s:
            return int(s.scalar(select(func.count(Message.id)).where(Message.brand_id == brand_id)) or 0)

    def iter_messages(self, brand_id: str, *, chunk: int = 5000) -> Iterator[dict[str, Any]]:
        """Every message of a brand as plain dicts, in id order (for index rebuilds)."""
        last = 0
        while True:
            with self.session() as s:
                rows = list(s.scalars(select(Message).where(Message.brand_id == brand_id, Message.id > last)
                                      .order_by(Message.id).limit(chunk)))
            if not rows:
                return
            last = rows[-1].id
            yield from (_indexable(r) for r in rows)

    def get_messages(self, brand_id: str, uids: Sequence[str]) -> dict[str, Message]:
        """Messages by uid."""
        keys = [tuple(u.split(":", 1)) for u in uids]
        with self.session() as s:
            found = self._existing(s, Message, brand_id, keys)
        return {message_uid(*k): v for k, v in found.items()}

    @staticmethod
    def _existing(s: Session, model: Any, brand_id: str, keys: Sequence[tuple[str, ...]]) -> dict[tuple[str, str], Any]:
        out: dict[tuple[str, str], Any] = {}
        by_source: dict[str, list[str]] = {}
        for source, sid in keys:
            by_source.setdefault(source, []).append(sid)
        for source, sids in by_source.items():
            for i in range(0, len(sids), 500):
                rows = s.scalars(select(model).where(model.brand_id == brand_id, model.source == source,
                                                     model.source_id.in_(sids[i:i + 500])))
                out.update({(r.source, r.source_id): r for r in rows})
        return out

    # ------------------------------------------------------------ analytics reads
    def member_roles(self, brand_id: str) -> dict[str, Any]:
        """Authors by role and consent, as (source, source_id) pairs."""
        out: dict[str, set[tuple[str, str]]] = {"staff": set(), "bot": set(), "no_analytics": set(), "no_spotlight": set()}
        with self.session() as s:
            rows = s.execute(select(Member.source, Member.source_id, Member.role, Member.consent_spotlight,
                                    Member.consent_analytics).where(Member.brand_id == brand_id)).tuples()
            for source, sid, role, spot, analytics in rows:
                if role in ("staff", "bot"):
                    out[role].add((source, sid))
                if analytics == "opt_out":
                    out["no_analytics"].add((source, sid))
                if spot == "opt_out":
                    out["no_spotlight"].add((source, sid))
        return out

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

    def find_posts(self, brand_id: str, authors: Iterable[tuple[str, str]], contains: str, since: datetime,
                   *, limit: int = 20) -> list[tuple[Any, ...]]:
        """Top-level posts of the given authors whose text contains a phrase (case-insensitive), newest first:
        (source, source_id, channel, created_at, text)."""
        sids = [sid for _, sid in authors]
        if not sids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(Message.source, Message.source_id, Message.channel, Message.created_at,
                                       Message.text)
                                .where(Message.brand_id == brand_id, Message.author.in_(sids),
                                       Message.reply_to.is_(None), Message.created_at >= since,
                                       func.lower(Message.text).contains(contains.lower()))
                                .order_by(Message.created_at.desc()).limit(limit)).fetchall()
        return [tuple(r) for r in rows]

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
        out: dict[tuple[str, str], str] = {}
        by_source: dict[str, list[str]] = {}
        for source, sid in keys:
            by_source.setdefault(source, []).append(sid)
        with self.engine.connect() as conn:
            for source, sids in by_source.items():
                for i in range(0, len(sids), 500):
                    rows = conn.execute(select(Message.source_id, Message.text).where(
                        Message.brand_id == brand_id, Message.source == source, Message.source_id.in_(sids[i:i + 500])))
                    out.update({(source, sid): text for sid, text in rows})
        return out

    def members_by_key(self, brand_id: str) -> dict[tuple[str, str], Any]:
        """Every member of a brand by (source, source_id), as light rows (id, name, role, consents, joined_at)."""
        query = select(Member.id, Member.source, Member.source_id, Member.name, Member.role, Member.consent_spotlight,
                       Member.consent_analytics, _raw_joined()).where(Member.brand_id == brand_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).fetchall()
        return {(r.source, r.source_id): _MemberRow(r.id, r.source, r.source_id, r.name, r.role, r.consent_spotlight,
                                                     r.consent_analytics, _as_utc(r.joined_at) if r.joined_at else None)
                for r in rows}

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

    # ------------------------------------------------------------ drafts and LLM usage
    def create_draft(self, brand_id: str, *, kind: str, ritual: str | None, title: str, body: str,
                     payload: dict[str, Any], actor: str) -> Draft:
        """Save a new draft (status drafted, version 1)."""
        row = Draft(id=uuid.uuid4().hex, brand_id=brand_id, kind=kind, ritual=ritual, title=title, body=body,
                    payload=payload, created_by=actor, status="drafted", version=1)
        with self.session() as s, s.begin():
            s.add(row)
            s.flush()
            s.add(DraftRevision(draft_id=row.id, version=1, title=title, body=body,
                                variants=list(payload.get("variants") or []), actor=actor, note=f"drafted ({kind})"))
        return row

    def get_draft(self, draft_id: str) -> Draft | None:
        """A draft or None."""
        with self.session() as s:
            return s.get(Draft, draft_id)

    def list_drafts(self, brand_id: str, *, status: str | None = None, kind: str | None = None, ritual: str | None = None,
                    limit: int = 50, offset: int = 0) -> tuple[list[Draft], int]:
        """A page of drafts, newest first, and the total."""
        with self.session() as s:
            q = select(Draft).where(Draft.brand_id == brand_id)
            for column, value in ((Draft.status, status), (Draft.kind, kind), (Draft.ritual, ritual)):
                if value is not None:
                    q = q.where(column == value)
            total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            rows = list(s.scalars(q.order_by(Draft.created_at.desc(), Draft.id).limit(limit).offset(offset)))
        return rows, int(total)

    def revise_draft(self, draft_id: str, *, expected_version: int, title: str, body: str, variants: list[str],
                     actor: str, note: str | None) -> Draft | None:
        """Write a new revision if the draft is still at `expected_version` (compare-and-set); None otherwise."""
        with self.session() as s, s.begin():
            result = s.execute(update(Draft).where(Draft.id == draft_id, Draft.version == expected_version)
                               .values(version=expected_version + 1, title=title, body=body, updated_at=now_utc()))
            if result.rowcount != 1:
                return None
            s.add(DraftRevision(draft_id=draft_id, version=expected_version + 1, title=title, body=body,
                                variants=variants, actor=actor, note=note))
            row = s.get(Draft, draft_id)
            assert row is not None
            row.payload = {**(row.payload or {}), "variants": variants}
        return self.get_draft(draft_id)

    def decide_draft(self, draft_id: str, *, action: str, from_status: str, to_status: str, version: int, actor: str,
                     comment: str | None, extra: dict[str, Any] | None = None) -> Draft | None:
        """Move a draft between states if it is still in `from_status` at `version`; None otherwise."""
        with self.session() as s, s.begin():
            result = s.execute(update(Draft).where(Draft.id == draft_id, Draft.status == from_status,
                                                   Draft.version == version)
                               .values(status=to_status, updated_at=now_utc()))
            if result.rowcount != 1:
                return None
            s.add(DraftDecision(draft_id=draft_id, action=action, from_status=from_status, to_status=to_status,
                                version=version, actor=actor, comment=comment))
            if extra:
                row = s.get(Draft, draft_id)
                assert row is not None
                row.payload = {**(row.payload or {}), **extra}
        return self.get_draft(draft_id)

    def set_draft_payload(self, draft_id: str, values: dict[str, Any]) -> None:
        """Merge keys into a draft's payload (e.g. where it was posted for review)."""
        with self.session() as s, s.begin():
            row = s.get(Draft, draft_id)
            if row is not None:
                row.payload = {**(row.payload or {}), **values}

    def draft_history(self, draft_id: str) -> tuple[list[DraftRevision], list[DraftDecision]]:
        """Every revision and decision of a draft, oldest first."""
        with self.session() as s:
            revisions = list(s.scalars(select(DraftRevision).where(DraftRevision.draft_id == draft_id)
                                       .order_by(DraftRevision.version)))
            decisions = list(s.scalars(select(DraftDecision).where(DraftDecision.draft_id == draft_id)
                                       .order_by(DraftDecision.id)))
        return revisions, decisions

    def reviewed_drafts(self, brand_id: str, *, ritual: str, statuses: Sequence[str], limit: int = 5) -> list[tuple[Draft, str | None]]:
        """Drafts of a ritual that reached one of the statuses, newest first, with the last decision's comment."""
        with self.session() as s:
            rows = list(s.scalars(select(Draft).where(Draft.brand_id == brand_id, Draft.ritual == ritual,
                                                      Draft.status.in_(list(statuses)))
                                  .order_by(Draft.updated_at.desc()).limit(limit)))
            out = []
            for row in rows:
                comment = s.scalar(select(DraftDecision.comment).where(DraftDecision.draft_id == row.id)
                                   .order_by(DraftDecision.id.desc()).limit(1))
                out.append((row, comment))
        return out

    def record_usage(self, brand_id: str, *, feature: str, model: str, prompt_tokens: int, completion_tokens: int,
                     cost: float, calls: int, failures: int, ok: bool, day: str) -> None:
        """One logical LLM call's tokens, cost and failures."""
        with self.session() as s, s.begin():
            s.add(LLMUsage(brand_id=brand_id, day=day, feature=feature, model=model, prompt_tokens=prompt_tokens,
                           completion_tokens=completion_tokens, cost=cost, calls=calls, failures=failures, ok=ok))

    def usage_by_day(self, brand_id: str, since_day: str) -> list[tuple[Any, ...]]:
        """(day, calls, failures, prompt_tokens, completion_tokens, cost) per day, oldest first."""
        with self.session() as s:
            return list(s.execute(
                select(LLMUsage.day, func.sum(LLMUsage.calls), func.sum(LLMUsage.failures),
                       func.sum(LLMUsage.prompt_tokens), func.sum(LLMUsage.completion_tokens), func.sum(LLMUsage.cost))
                .where(LLMUsage.brand_id == brand_id, LLMUsage.day >= since_day)
                .group_by(LLMUsage.day).order_by(LLMUsage.day)).tuples())

    # ------------------------------------------------------------ jobs
    def create_job(self, brand_id: str, *, kind: str, fmt: str, file_path: str | None, file_name: str | None) -> Job:
        """Queue a job."""
        row = Job(id=uuid.uuid4().hex, brand_id=brand_id, kind=kind, format=fmt, file_path=file_path,
                  file_name=file_name, status="queued", counts={}, errors=[])
        with self.session() as s, s.begin():
            s.add(row)
        return row

    def get_job(self, job_id: str) -> Job | None:
        """A job or None."""
        with self.session() as s:
            return s.get(Job, job_id)

    def update_job(self, job_id: str, **values: Any) -> None:
        """Set fields of a job."""
        with self.session() as s, s.begin():
            s.execute(update(Job).where(Job.id == job_id).values(updated_at=now_utc(), **values))

    def unfinished_jobs(self) -> list[Job]:
        """Jobs queued or interrupted while running (to resume at start-up)."""
        with self.session() as s:
            return list(s.scalars(select(Job).where(Job.status.in_(["queued", "running"])).order_by(Job.created_at)))


NON_CONVERSATION = ("charter", "doc")


class _MemberRow(NamedTuple):
    id: int
    source: str
    source_id: str
    name: str
    role: str
    consent_spotlight: str
    consent_analytics: str
    joined_at: datetime | None


def _raw_joined() -> Any:
    return type_coerce(Member.joined_at, String).label("joined_at")


def _raw_time() -> Any:
    # Skip SQLAlchemy's per-row datetime processing on bulk analytics reads; _as_utc parses in C instead.
    return type_coerce(Message.created_at, String)


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _is_default(field_name: str, value: Any) -> bool:
    # A re-import that does not state role/consent must not undo what an editor set through the API.
    return (field_name == "role" and value == "member") or (field_name.startswith("consent") and value == "unknown") \
        or (field_name in ("joined_at",) and value is None) or (field_name == "name" and value == "")


__all__ = ["Store", "UpsertResult", "message_uid", "hash_secret", "IntegrityError", "datetime"]
