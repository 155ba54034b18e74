"""Discord channel export in DiscordChatExporter's JSON format (`guild`, `channel`, `messages[]`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError

from copilot.errors import ImportFormatInvalid
from copilot.ingest import Item
from copilot.ingest.conversation import Person, names_of, type_threads
from copilot.ingest.jsonsafe import NestingError, TooDeep, load_records
from copilot.ingest.native import describe
from copilot.types import MemberRecord, MessageRecord, RecordError

CONVERSATION_TYPES = {"Default", "Reply", "ThreadStarterMessage", None}


def parse_export(path: Path) -> Iterator[Item]:
    """Records of one exported channel."""
    try:
        doc = load_records(path.read_bytes().decode("utf-8-sig"), key="messages")
    except (UnicodeDecodeError, json.JSONDecodeError, NestingError) as exc:
        raise ImportFormatInvalid(f"'{path.name}' is not a DiscordChatExporter JSON file: {exc}", field="file") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
        raise ImportFormatInvalid(f"'{path.name}' has no 'messages' list", field="file")
    channel_info = doc.get("channel")
    channel = str((channel_info.get("name") if isinstance(channel_info, dict) else None) or path.stem)
    seen_authors: set[str] = set()
    people: dict[str, Person] = {}
    messages: list[MessageRecord] = []
    for i, m in enumerate(doc["messages"]):
        where = f"{path.name}:messages[{i}]"
        if isinstance(m, TooDeep):
            yield RecordError(location=where, message=str(m))
            continue
        try:
            if m.get("type") not in CONVERSATION_TYPES:
                continue
            author = m.get("author") or {}
            aid = str(author["id"]) if author.get("id") is not None else None
            if aid and aid not in seen_authors:
                seen_authors.add(aid)
                people[aid] = names_of(aid, author.get("nickname"), author.get("name"))
                yield MemberRecord(source="discord", source_id=aid,
                                   name=(author.get("nickname") or author.get("name") or "")[:200],
                                   role="bot" if author.get("isBot") else "member")
            messages.append(_message(m, channel, aid))
        except ValidationError as exc:
            yield RecordError(location=where, message=describe(exc))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            yield RecordError(location=where, message=f"invalid message: {exc}")
    yield from type_threads(_rooted(messages), people)


def _rooted(messages: list[MessageRecord]) -> list[MessageRecord]:
    """Replies point at the message they answer; their thread is the chain's first message."""
    parent = {m.source_id: m.reply_to for m in messages}

    def root(sid: str) -> str:
        seen = {sid}
        while parent.get(sid) and parent[sid] in parent and parent[sid] not in seen:
            sid = parent[sid]  # type: ignore[assignment]
            seen.add(sid)
        return sid

    return [m.model_copy(update={"thread": root(m.source_id)}) if m.reply_to else m for m in messages]


def _message(m: dict[str, Any], channel: str, author: str | None) -> MessageRecord:
    ref = (m.get("reference") or {}).get("messageId")
    reactions = {((r.get("emoji") or {}).get("name") or "?"): int(r.get("count", 0)) for r in m.get("reactions", [])}
    text = m.get("content") or ""
    if not text and m.get("attachments"):
        text = " ".join(a.get("fileName", "") for a in m["attachments"])
    return MessageRecord(
        source="discord", source_id=str(m["id"]), channel=channel, author=author,
        author_name=((m.get("author") or {}).get("nickname") or (m.get("author") or {}).get("name")),
        created_at=m["timestamp"], text=text, reply_to=str(ref) if ref else None,
        thread=str(ref) if ref else str(m["id"]), reactions=reactions, kind="comment" if ref else "post",
    )
