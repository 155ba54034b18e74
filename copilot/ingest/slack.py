"""Slack workspace export (zip): users.json, channels.json and one folder of daily JSON files per channel.

Threads come from `thread_ts`, reactions from `reactions[].count`, bots from `bot_id`/`subtype: bot_message`
and users' `is_bot`. Join/leave and other system subtypes are skipped (they are not conversation).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError

from copilot.ingest import Item
from copilot.ingest.conversation import Person, names_of, type_threads
from copilot.ingest.jsonsafe import NestingError, TooDeep, load_records
from copilot.ingest.native import describe
from copilot.ingest.safezip import SafeZip
from copilot.types import MemberRecord, MessageRecord, RecordError

SKIP_SUBTYPES = {"channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name",
                 "channel_archive", "pinned_item", "group_join", "group_leave"}


def ts_to_datetime(ts: str) -> datetime:
    """Slack `ts` ("1712345678.000200") to an aware datetime."""
    return datetime.fromtimestamp(float(ts), tz=timezone.utc)


def user_record(u: dict[str, Any]) -> MemberRecord:
    """A Slack user object as a member: named as people see them (real name, else display name, else handle)."""
    profile = u.get("profile") or {}
    name = (profile.get("real_name") or u.get("real_name") or profile.get("display_name") or u.get("name") or "")
    role = "bot" if u.get("is_bot") or u.get("id") == "USLACKBOT" else \
        ("staff" if u.get("is_admin") or u.get("is_owner") else "member")
    return MemberRecord(source="slack", source_id=u["id"], name=str(name)[:200], role=role)


def message_record(m: dict[str, Any], channel: str, *, bot_users: dict[str, str] | None = None,
                   names: dict[str, str] | None = None) -> MessageRecord:
    """A Slack message object (from an export or an event) as a message record. A bot's messages are authored
    by its bot user when one is known (one member per bot, not two)."""
    ts = m["ts"]
    thread_ts = m.get("thread_ts")
    is_reply = bool(thread_ts and thread_ts != ts)
    reactions = {r["name"]: int(r.get("count", len(r.get("users", [])))) for r in m.get("reactions", []) if "name" in r}
    author = m.get("user") or (bot_users or {}).get(m.get("bot_id") or "") or m.get("bot_id")
    profile = m.get("user_profile") or {}
    author_name = ((names or {}).get(author or "") or profile.get("real_name") or profile.get("display_name")
                   or m.get("username"))
    return MessageRecord(
        source="slack", source_id=f"{channel}/{ts}", channel=channel, author=author,
        author_name=author_name[:200] if author_name else None,
        created_at=ts_to_datetime(ts), text=m.get("text") or "",
        reply_to=f"{channel}/{thread_ts}" if is_reply else None,
        thread=f"{channel}/{thread_ts}" if thread_ts else f"{channel}/{ts}",
        reactions=reactions, kind="comment" if is_reply else "post",
    )


def _root(names: list[str]) -> str:
    """The folder an export sits in inside the zip ('' when users.json is at the top)."""
    holder = min((n for n in names if n.rsplit("/", 1)[-1] == "users.json"), key=len, default="users.json")
    return holder[: -len("users.json")]


def parse_export(path: Path, *, max_members: int, max_bytes: int) -> Iterator[Item]:
    """Records of a Slack export archive: members first, then every message typed like a forum thread."""
    archive = SafeZip(path, max_members=max_members, max_bytes=max_bytes)
    try:
        names = archive.names()
        root = _root(names)
        users = _load(archive, root + "users.json") if root + "users.json" in names else []
        people: dict[str, Person] = {}
        bot_users: dict[str, str] = {}  # bot id -> the bot's user id
        display: dict[str, str] = {}
        for i, u in enumerate(users if isinstance(users, list) else []):
            try:
                rec = user_record(u)
            except (ValidationError, KeyError, TypeError, AttributeError) as exc:
                yield RecordError(location=f"users.json:[{i}]", message=str(exc)[:300])
                continue
            profile = u.get("profile") or {}
            if profile.get("bot_id"):
                bot_users[str(profile["bot_id"])] = rec.source_id
            display[rec.source_id] = rec.name
            people[rec.source_id] = names_of(rec.source_id, rec.name, profile.get("display_name"), u.get("name"))
            yield rec
        known_bots = {sid for sid, _ in bot_users.items()}
        messages: list[MessageRecord] = []
        inner = sorted(n for n in names if n.startswith(root) and n[len(root):].count("/") == 1 and n.endswith(".json"))
        for name in inner:
            channel = name[len(root):].split("/", 1)[0]
            try:
                day = _load(archive, name)
            except ValueError as exc:
                yield RecordError(location=name, message=str(exc))
                continue
            for i, m in enumerate(day if isinstance(day, list) else []):
                where = f"{name}:[{i}]"
                if isinstance(m, TooDeep):
                    yield RecordError(location=where, message=str(m))
                    continue
                if not isinstance(m, dict) or m.get("subtype") in SKIP_SUBTYPES:
                    continue
                try:
                    rec = message_record(m, channel, bot_users=bot_users, names=display)
                except ValidationError as exc:
                    yield RecordError(location=where, message=describe(exc))
                    continue
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    yield RecordError(location=where, message=f"invalid message: {exc}")
                    continue
                is_bot = m.get("bot_id") or m.get("subtype") == "bot_message"
                if is_bot and rec.author and rec.author not in display and rec.author not in known_bots:
                    known_bots.add(rec.author)
                    display[rec.author] = m.get("username") or ""
                    yield MemberRecord(source="slack", source_id=rec.author, name=(m.get("username") or "")[:200],
                                       role="bot")
                messages.append(rec)
        yield from type_threads(messages, people)
    finally:
        archive.close()


def _load(archive: SafeZip, name: str) -> Any:
    try:
        return load_records(archive.read(name).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, NestingError) as exc:
        raise ValueError(f"invalid JSON in {name}: {exc}") from exc
