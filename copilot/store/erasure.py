"""Right to erasure in the relational store: the member, their messages and spotlight records, and every copy the
product made of their words or name (drafts, draft revisions, review comments, import job reports), then the
database's free pages.

What counts as a copy of a member's words (`Redactor`):
- their identifiers: display name, source id, and the author names their messages carried;
- a verbatim run of at least `RUN` words of one of their messages (a quote), or the whole of a short but
  distinctive message;
- a topic (key phrase) the drafts were grounded in (`grounding.topics`) that only their messages contained;
- in import error reports, a quoted input value holding one of their words (those reports excerpt uploads).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from copilot.errors import NotFound
from copilot.store.base import message_uid
from copilot.store.changes import ANALYTICS, DELETED, LEXICAL, ChangesRepo
from copilot.store.keywords import KeywordRepo
from copilot.store.db import SCRUBBED, mark_scrubbed
from copilot.store.models import Draft, DraftDecision, DraftRevision, Job, Member, Message, SpotlightRecord
from copilot.text import WORD_RE

RUN = 4  # words: shorter shared runs are everyday phrases ("est-ce que le"), not quotes
SHORT_DISTINCTIVE_CHARS = 20  # a message shorter than RUN words is only a quote of it when this long
QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|input_value=[^,\]\n]*")
FINISHED = ("succeeded", "failed")
TOUCHED_TABLES = ("messages", "members", "spotlight_records", "drafts", "draft_revisions", "draft_decisions", "jobs",
                  "changes")
PG_TOUCHED_TABLES = ("message_search",)  # PostgreSQL's keyword index (SQLite's lives in per-brand FTS5 tables)


def _tokens(text: str) -> list[re.Match[str]]:
    return list(WORD_RE.finditer(text))


@dataclass
class Redactor:
    """Replaces copies of an erased member's words and names with a placeholder."""

    placeholder: str
    names: list[str] = field(default_factory=list)
    quotes: dict[int, set[tuple[str, ...]]] = field(default_factory=dict)  # word runs by length
    vocabulary: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)  # topic phrases only this member's messages held

    @classmethod
    def of(cls, placeholder: str, names: Iterable[str | None], texts: Iterable[str | None]) -> "Redactor":
        """A redactor for a member known by `names` who wrote `texts`."""
        # A bare number ("1234", a Stack Exchange id) in a draft or a report is not a reference to the member.
        ids = {n.strip() for n in names if n and len(n.strip()) >= 2 and re.search(r"[^\W\d_]", n)}
        r = cls(placeholder, names=sorted(ids, key=len, reverse=True))
        for text in filter(None, texts):
            folded = [t.group().casefold() for t in _tokens(text)]
            r.vocabulary.update(folded)
            r.quotes.setdefault(RUN, set()).update(tuple(folded[i:i + RUN]) for i in range(len(folded) - RUN + 1))
            if 0 < len(folded) < RUN and len(text.strip()) >= SHORT_DISTINCTIVE_CHARS:
                r.quotes.setdefault(len(folded), set()).add(tuple(folded))
        return r

    def __call__(self, text: str) -> str:
        """`text` without the member's quotes, names and exclusive words."""
        if not text:
            return text
        out = self._quotes(text)
        for pattern in [*self.names, *sorted(self.words, key=len, reverse=True)]:
            loose = r"\s+".join(re.escape(part) for part in pattern.split())
            out = re.sub(r"(?<!\w)" + loose + r"(?!\w)", self.placeholder, out, flags=re.I)
        return self._squeeze(out)

    def excerpt(self, text: str) -> str:
        """An error report line: also drops quoted input values that hold one of the member's words."""
        def scrub(m: re.Match[str]) -> str:
            words = {t.group().casefold() for t in _tokens(m.group())}
            return self.placeholder if any(len(w) >= 4 and w in self.vocabulary for w in words) else m.group()

        return self(QUOTED.sub(scrub, text)) if text else text

    def value(self, obj: Any, *, excerpt: bool = False) -> Any:
        """A JSON value with every string redacted."""
        if isinstance(obj, str):
            return self.excerpt(obj) if excerpt else self(obj)
        if isinstance(obj, list):
            return [self.value(v, excerpt=excerpt) for v in obj]
        if isinstance(obj, dict):
            return {k: self.value(v, excerpt=excerpt) for k, v in obj.items()}
        return obj

    def _quotes(self, text: str) -> str:
        tokens = _tokens(text)
        folded = [t.group().casefold() for t in tokens]
        hit = [False] * len(tokens)
        for n, grams in self.quotes.items():
            for i in range(len(folded) - n + 1):
                if tuple(folded[i:i + n]) in grams:
                    hit[i:i + n] = [True] * n
        spans: list[list[int]] = []
        for i, t in enumerate(tokens):
            if hit[i]:
                if spans and hit[i - 1]:
                    spans[-1][1] = t.end()
                else:
                    spans.append([t.start(), t.end()])
        for start, end in reversed(spans):
            text = text[:start] + self.placeholder + text[end:]
        return text

    def _squeeze(self, text: str) -> str:
        p = re.escape(self.placeholder)
        return re.sub(rf"{p}(?:[\s,;:]*{p})+", self.placeholder, text)


class ErasureRepo(ChangesRepo, KeywordRepo):
    """Erasing a member and scrubbing the database file afterwards."""

    def member_uids(self, brand_id: str, member_id: int) -> list[str]:
        """The index ids of a member's messages (NotFound for an unknown member)."""
        with self.session() as s:
            member = self._member(s, brand_id, member_id)
            rows = s.execute(select(Message.source, Message.source_id).where(*_authored_by(brand_id, member))).all()
        return [message_uid(src, sid) for src, sid in rows]

    def erase_member(self, brand_id: str, member_id: int, *, placeholder: str) -> dict[str, Any]:
        """Delete a member, their messages and spotlight records, and redact every copy of their words and name
        in drafts, revisions, review comments and import reports; one transaction. Returns the deleted messages'
        uids, counts, the uploads of finished imports (to delete) and the imports still pending. The messages
        leave the keyword index in the same transaction, and the brand's snapshot epoch moves (every replica
        rebuilds its analytics snapshot); the brand's keyword index is then merged so no segment keeps them."""
        with self.session() as s, s.begin():
            member = self._member(s, brand_id, member_id)
            rows = s.execute(select(Message.id, Message.source_id, Message.title, Message.text, Message.author_name)
                             .where(*_authored_by(brand_id, member))).all()
            self._write_keywords(s, brand_id, [], [r.id for r in rows])
            s.execute(delete(Message).where(*_authored_by(brand_id, member)))
            seq = self._record_changes(s, brand_id, [((member.source, r.source_id), ANALYTICS | LEXICAL | DELETED)
                                                     for r in rows], new_epoch=True)
            s.execute(delete(SpotlightRecord).where(SpotlightRecord.member_id == member_id))
            redact = Redactor.of(placeholder, [member.name, member.source_id, *(r.author_name for r in rows)],
                                 [t for r in rows for t in (r.title, r.text)])
            drafts = list(s.scalars(select(Draft).where(Draft.brand_id == brand_id)))
            redact.words = self._exclusive_topics(s, brand_id, drafts, redact.vocabulary)
            erased_ids = {r.source_id for r in rows}
            redacted = _redact_drafts(s, brand_id, drafts, redact, erased_ids, member_id)
            uploads, pending = _scrub_jobs(s, brand_id, redact)
            s.delete(member)
            self._members_changed(s, brand_id)
        self._notify(brand_id, seq)
        self.optimize_keywords(brand_id)
        return {"uids": [message_uid(member.source, sid) for sid in erased_ids], "messages": len(rows),
                "drafts_redacted": redacted, "uploads": uploads, "pending_jobs": pending}

    def scrub_free_space(self) -> bool:
        """Make deleted rows unrecoverable from the database files; False when it could not finish now.

        SQLite: every connection runs with `secure_delete`, so freed space is zeroed as rows go; a file that
        predates that (or was restored) is VACUUMed once; then the WAL, which still holds the old pages, is
        checkpointed and truncated. PostgreSQL: VACUUM of the touched tables marks the dead rows' space free;
        the bytes stay in the files until overwritten, and in WAL archives and backups until they expire."""
        with self.engine.connect() as raw:
            conn = raw.execution_options(isolation_level="AUTOCOMMIT")
            if self.engine.dialect.name == "sqlite":
                return _scrub_sqlite(conn)
            if self.engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"VACUUM {', '.join(TOUCHED_TABLES + PG_TOUCHED_TABLES)}")
            return True

    # ------------------------------------------------------------ uploads of import jobs
    def expired_uploads(self, failed_before: Any) -> list[tuple[str, str]]:
        """(job id, upload path) of finished imports whose upload should go: every succeeded one, and the failed
        ones that failed before `failed_before`."""
        with self.session() as s:
            return [(i, p) for i, p in s.execute(select(Job.id, Job.file_path).where(
                Job.file_path.is_not(None),
                or_(Job.status == "succeeded", (Job.status == "failed") & (Job.updated_at < failed_before))))]

    def upload_paths(self) -> set[str]:
        """Every upload path a job still points to."""
        with self.session() as s:
            return {p for p in s.scalars(select(Job.file_path).where(Job.file_path.is_not(None)))}

    def forget_uploads(self, job_ids: Sequence[str]) -> None:
        """Record that these jobs' uploads are deleted (`updated_at` keeps the time the job finished)."""
        if job_ids:
            with self.session() as s, s.begin():
                s.execute(update(Job).where(Job.id.in_(list(job_ids))).values(file_path=None, updated_at=Job.updated_at))

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _member(s: Session, brand_id: str, member_id: int) -> Member:
        member = s.get(Member, member_id)
        if member is None or member.brand_id != brand_id:
            raise NotFound(f"member {member_id} not found")
        return member

    @staticmethod
    def _exclusive_topics(s: Session, brand_id: str, drafts: list[Draft], vocabulary: set[str]) -> set[str]:
        """The drafts' topics (key phrases) made of the member's words that, now their messages are gone, no
        message contains any more: the drafts were grounded in what only this member said."""
        topics = {str(t).casefold() for d in drafts for t in ((d.payload or {}).get("grounding") or {}).get("topics") or []}
        haystack = func.lower(func.coalesce(Message.title, "") + " " + Message.text)
        exclusive = set()
        for topic in topics:
            tokens = {t.group() for t in _tokens(topic)}
            if not tokens or not tokens <= vocabulary:
                continue
            still = s.scalar(select(Message.id).where(Message.brand_id == brand_id,
                                                      *(haystack.contains(t, autoescape=True) for t in tokens)).limit(1))
            if still is None:
                exclusive.add(topic)
        return exclusive


def _authored_by(brand_id: str, member: Member) -> tuple[Any, ...]:
    return Message.brand_id == brand_id, Message.source == member.source, Message.author == member.source_id


def _redact_drafts(s: Session, brand_id: str, drafts: list[Draft], redact: Redactor, erased_ids: set[str],
                   member_id: int) -> int:
    """Redact the brand's drafts, their revisions and their decisions' comments; returns how many drafts changed."""
    changed: set[str] = set()
    for draft in drafts:
        payload = _without_erased(dict(draft.payload or {}), erased_ids, member_id, redact.words)
        new = (redact(draft.title), redact(draft.body), redact.value(payload))
        if new != (draft.title, draft.body, draft.payload or {}):
            draft.title, draft.body, draft.payload = new[0], new[1], {**new[2], "redacted": True}
            changed.add(draft.id)
    for rev in s.scalars(select(DraftRevision).join(Draft).where(Draft.brand_id == brand_id)):
        new_rev = (redact(rev.title), redact(rev.body), redact.value(list(rev.variants or [])),
                   redact(rev.note) if rev.note else rev.note)
        if new_rev != (rev.title, rev.body, list(rev.variants or []), rev.note):
            rev.title, rev.body, rev.variants, rev.note = new_rev
            changed.add(rev.draft_id)
    for decision in s.scalars(select(DraftDecision).join(Draft).where(Draft.brand_id == brand_id,
                                                                      DraftDecision.comment.is_not(None))):
        comment = redact(decision.comment or "")
        if comment != decision.comment:
            decision.comment = comment
            changed.add(decision.draft_id)
    return len(changed)


def _without_erased(payload: dict[str, Any], erased_ids: set[str], member_id: int, words: set[str]) -> dict[str, Any]:
    """The payload without citations of erased messages, topics only they held, nor the link to the member."""
    if payload.get("citations"):
        payload["citations"] = [c for c in payload["citations"] if c not in erased_ids]
    if isinstance(payload.get("grounding"), dict):
        grounding = payload["grounding"] = dict(payload["grounding"])
        if isinstance(grounding.get("topics"), list):
            grounding["topics"] = [t for t in grounding["topics"] if str(t).casefold() not in words]
        if isinstance(grounding.get("past_editions"), list):
            grounding["past_editions"] = [p for p in grounding["past_editions"]
                                          if not (isinstance(p, dict) and p.get("id") in erased_ids)]
    if payload.get("member_id") == member_id:
        payload.pop("member_id")
        payload.pop("consent", None)
    return payload


def _scrub_jobs(s: Session, brand_id: str, redact: Redactor) -> tuple[list[str], list[str]]:
    """Redact the brand's import reports; forget the uploads of finished imports and return their paths, and the
    ids of imports still queued or running (their file is needed to run them)."""
    uploads, pending = [], []
    for job in s.scalars(select(Job).where(Job.brand_id == brand_id)):
        errors = redact.value(list(job.errors or []), excerpt=True)
        counts = redact.value(dict(job.counts or {}), excerpt=True)
        detail = redact.excerpt(job.detail) if job.detail else job.detail
        if (errors, counts, detail) != (job.errors, job.counts, job.detail):
            job.errors, job.counts, job.detail = errors, counts, detail
        if job.file_path and job.status in FINISHED:
            uploads.append(job.file_path)
            job.file_path = None
        elif job.status not in FINISHED:
            pending.append(job.id)
    return uploads, pending


def _scrub_sqlite(conn: Connection) -> bool:
    if conn.exec_driver_sql("PRAGMA user_version").scalar() != SCRUBBED:
        conn.exec_driver_sql("VACUUM")  # space freed before secure_delete was on may still hold old rows
        mark_scrubbed(conn)
    busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    return not busy
