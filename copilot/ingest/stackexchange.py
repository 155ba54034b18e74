"""Stack Exchange data dumps: Posts.xml, Comments.xml and Users.xml (a folder, a zip, or one file)."""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import Callable, Iterator

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as ET
from pydantic import ValidationError

from copilot.errors import ImportFormatInvalid
from copilot.ingest import Item
from copilot.ingest.native import describe
from copilot.ingest.safezip import SafeZip
from copilot.types import MemberRecord, MessageRecord, RecordError

TAG_RE = re.compile(r"<[^<>]{0,2000}>")  # bounded and stops at the next "<": linear on a run of "<"


def html_to_text(body: str) -> str:
    """Plain text of an HTML body (paragraph breaks kept)."""
    body = re.sub(r"</(p|li|h\d|pre|blockquote)>|<br\s*/?>", "\n", body, flags=re.I)
    return html.unescape(TAG_RE.sub("", body)).strip()


def _rows(name: str, data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        # defusedxml: no entity expansion, no external entities or DTD fetches.
        for i, (_, elem) in enumerate(ET.iterparse(io.BytesIO(data), events=("end",), forbid_dtd=False,
                                                   forbid_entities=True, forbid_external=True)):
            if elem.tag == "row":
                yield i, dict(elem.attrib)
                elem.clear()
    except ET.ParseError as exc:
        raise ImportFormatInvalid(f"{name} is not well-formed XML: {exc}", field="file") from exc
    except DefusedXmlException as exc:
        raise ImportFormatInvalid(f"{name} declares XML entities, which are refused: {exc}", field="file") from exc


def parse_dump(path: Path, *, max_members: int, max_bytes: int) -> Iterator[Item]:
    """Records of a dump; Users first, then Posts (to learn threads), then Comments."""
    files: dict[str, Callable[[], bytes]] = {}
    archive = None
    if path.is_dir():
        files = {p.name.lower(): p.read_bytes for p in path.iterdir() if p.suffix.lower() == ".xml"}
    elif path.read_bytes()[:2] == b"PK":
        archive = SafeZip(path, max_members=max_members, max_bytes=max_bytes)
        files = {n.rsplit("/", 1)[-1].lower(): (lambda n=n: archive.read(n)) for n in archive.names()}  # type: ignore[misc]
    else:
        files = {path.name.lower(): path.read_bytes}
    if not files.keys() & {"posts.xml", "comments.xml", "users.xml"}:
        raise ImportFormatInvalid("no Posts.xml, Comments.xml or Users.xml found", field="file")
    try:
        yield from _users(files)
        threads: dict[str, str] = {}
        yield from _posts(files, threads)
        yield from _comments(files, threads)
    finally:
        if archive:
            archive.close()


def _users(files: dict[str, Callable[[], bytes]]) -> Iterator[Item]:
    if "users.xml" not in files:
        return
    for pos, row in _rows("Users.xml", files["users.xml"]()):
        try:
            uid = f"u{row['Id']}"
            yield MemberRecord(source="stackexchange", source_id=uid, name=row.get("DisplayName", "")[:200],
                               role="bot" if uid == "u-1" else "member", joined_at=row.get("CreationDate"))
        except (KeyError, ValidationError) as exc:
            yield RecordError(location=f"Users.xml:row {pos}", message=str(exc)[:300])


def _posts(files: dict[str, Callable[[], bytes]], threads: dict[str, str]) -> Iterator[Item]:
    if "posts.xml" not in files:
        return
    accepted: set[str] = set()
    rows = list(_rows("Posts.xml", files["posts.xml"]()))
    for _, row in rows:
        if row.get("AcceptedAnswerId"):
            accepted.add(f"p{row['AcceptedAnswerId']}")
    for pos, row in rows:
        try:
            pid = f"p{row['Id']}"
            ptype = row.get("PostTypeId")
            parent = f"p{row['ParentId']}" if row.get("ParentId") else None
            threads[pid] = parent or pid
            score = int(row.get("Score", "0") or 0)
            yield MessageRecord(
                source="stackexchange", source_id=pid, kind="question" if ptype == "1" else "answer" if ptype == "2" else "doc",
                author=f"u{row['OwnerUserId']}" if row.get("OwnerUserId") else None,
                author_name=row.get("OwnerDisplayName"), created_at=row["CreationDate"], title=row.get("Title"),
                text=html_to_text(row.get("Body", "")), reply_to=parent, thread=parent or pid,
                reactions={"score": score} if score > 0 else {}, is_solution=pid in accepted,
            )
        except ValidationError as exc:
            yield RecordError(location=f"Posts.xml:row {pos}", message=describe(exc))
        except (KeyError, ValueError) as exc:
            yield RecordError(location=f"Posts.xml:row {pos}", message=f"invalid post: {exc}")


def _comments(files: dict[str, Callable[[], bytes]], threads: dict[str, str]) -> Iterator[Item]:
    if "comments.xml" not in files:
        return
    for pos, row in _rows("Comments.xml", files["comments.xml"]()):
        try:
            post = f"p{row['PostId']}"
            score = int(row.get("Score", "0") or 0)
            yield MessageRecord(
                source="stackexchange", source_id=f"c{row['Id']}", kind="comment",
                author=f"u{row['UserId']}" if row.get("UserId") else None, author_name=row.get("UserDisplayName"),
                created_at=row["CreationDate"], text=html.unescape(row.get("Text", "")), reply_to=post,
                thread=threads.get(post, post), reactions={"score": score} if score > 0 else {},
            )
        except ValidationError as exc:
            yield RecordError(location=f"Comments.xml:row {pos}", message=describe(exc))
        except (KeyError, ValueError) as exc:
            yield RecordError(location=f"Comments.xml:row {pos}", message=f"invalid comment: {exc}")
