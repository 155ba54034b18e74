"""JSONL: the native format, plus the community JSONL shape of Stack Exchange / chat exports.

Native lines are `{"type": "member", ...MemberRecord}` or `{"type": "message", ...MessageRecord}`; `type`
may be omitted (a line with `text` is a message). Lines shaped like the shared community datasets
(`id`, `author_id`, `thread_id`, `display_name`, `is_bot` …) are mapped onto the same records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError

from copilot.ingest import Item
from copilot.ingest.conversation import Person, names_of, type_threads
from copilot.types import MemberRecord, MessageRecord, RecordError

SE_KINDS = {"question": "question", "answer": "answer", "comment": "comment", "tag_wiki": "doc",
            "tag_wiki_excerpt": "doc"}


def describe(exc: ValidationError) -> str:
    """One line naming each invalid field."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()[:5])


def _community_message(obj: dict[str, Any], source: str) -> dict[str, Any]:
    kind = SE_KINDS.get(obj.get("kind") or "", "post")
    score = obj.get("score")
    return {
        "source": source, "source_id": str(obj["id"]), "channel": obj.get("channel"),
        "author": obj.get("author_id"), "author_name": obj.get("author_name"), "created_at": obj["created_at"],
        "title": obj.get("title"), "text": obj.get("text") or "", "reply_to": obj.get("reply_to"),
        "thread": obj.get("thread_id"), "kind": kind, "is_solution": bool(obj.get("is_accepted_answer")),
        "reactions": {"score": int(score)} if isinstance(score, int) and score > 0 else {},
        "lang": obj.get("lang"),
    }


def record_from_obj(obj: Any, *, source: str | None = None) -> list[Item]:
    """Map one JSON object to records (a community message may also yield its author as a member)."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    kind = obj.get("type")
    if kind == "member" or (kind is None and "text" not in obj and ("source_id" in obj or "display_name" in obj)):
        if "display_name" in obj and "source_id" not in obj:
            sid = str(obj["id"])
            consent = obj.get("consent", "unknown")  # one consent field covers spotlight and analytics
            return [MemberRecord(source=source or "stackexchange", source_id=sid, name=obj.get("display_name") or "",
                                 role=obj.get("role") or ("bot" if sid == "u-1" else "member"),
                                 consent_spotlight=consent, consent_analytics=consent, joined_at=obj.get("created_at"))]
        return [MemberRecord.model_validate({k: v for k, v in obj.items() if k != "type"})]
    if kind in (None, "message") and "source_id" in obj:
        return [MessageRecord.model_validate({k: v for k, v in obj.items() if k != "type"})]
    if kind is None and "id" in obj and "text" in obj:
        src = source or ("stackexchange" if "thread_id" in obj and obj.get("kind") in SE_KINDS else "chat")
        out: list[Item] = [MessageRecord.model_validate(_community_message(obj, src))]
        if obj.get("is_bot") and obj.get("author_id"):
            out.append(MemberRecord(source=src, source_id=str(obj["author_id"]), name=obj.get("author_name") or "",
                                    role="bot"))
        return out
    raise ValueError("not a member or message record (set \"type\" to \"member\" or \"message\")")


def parse_jsonl(path: Path, *, source: str | None = None) -> Iterator[Item]:
    """Records of a JSONL file; a bad line becomes a RecordError naming the file and line. Messages that carry
    no `kind` are typed like a forum thread (questions, answers, thanks) once the whole file is read."""
    untyped: list[MessageRecord] = []
    people: dict[str, Person] = {}
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path.name}:{lineno}"
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8").removeprefix("\ufeff")  # a BOM, usually on the first line
                obj = json.loads(line)
                records = record_from_obj(obj, source=source)
            except UnicodeDecodeError as exc:
                yield RecordError(location=f"{where}:{exc.start + 1}", message="invalid UTF-8")
                continue
            except json.JSONDecodeError as exc:
                yield RecordError(location=f"{where}:{exc.colno}", message=f"invalid JSON: {exc.msg}")
                continue
            except ValidationError as exc:
                yield RecordError(location=where, message=describe(exc))
                continue
            except (ValueError, KeyError, TypeError) as exc:
                yield RecordError(location=where, message=f"invalid record: {exc}")
                continue
            except RecursionError:
                yield RecordError(location=where, message="invalid JSON: nested too deep")
                continue
            for rec in records:
                if isinstance(rec, MemberRecord):
                    people[rec.source_id] = names_of(rec.source_id, rec.name)
                    yield rec
                elif "kind" not in obj and rec.source != "charter":
                    untyped.append(rec)
                    if rec.author and rec.author not in people and rec.author_name:
                        people[rec.author] = names_of(rec.author, rec.author_name)
                else:
                    yield rec
    yield from type_threads(untyped, people)
