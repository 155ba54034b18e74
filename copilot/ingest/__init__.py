"""Ingestion: one parser per source format, each yielding normalised records or located errors.

Rule for malformed input: a record that cannot be read (bad JSON line, missing field, wrong type) is skipped
and reported with its file, line or position and the reason; every valid record around it is imported.
A file that cannot be opened as its format at all (not a zip, not JSON, unsafe archive) is rejected whole
with `ImportFormatInvalid` before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Union

from copilot.errors import ImportFormatInvalid
from copilot.types import MemberRecord, MessageRecord, RecordError

Item = Union[MemberRecord, MessageRecord, RecordError]
FORMATS = ("jsonl", "slack", "discord", "stackexchange", "markdown")


def detect_format(path: Path) -> str:
    """Guess the format from the file name and first bytes."""
    name = path.name.lower()
    if path.is_dir():
        return "stackexchange"
    head = path.read_bytes()[:4096] if path.is_file() else b""
    if head.startswith(b"PK"):
        import zipfile

        try:
            with zipfile.ZipFile(path) as zf:
                names = {n.rsplit("/", 1)[-1].lower() for n in zf.namelist()}
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImportFormatInvalid(f"'{path.name}' starts like a zip archive but cannot be read as one: {exc}",
                                      field="file") from exc
        return "stackexchange" if "posts.xml" in names else "slack"
    if name.endswith(".xml"):
        return "stackexchange"
    if name.endswith((".md", ".markdown")):
        return "markdown"
    if name.endswith(".json") and b'"messages"' in head and (b'"guild"' in head or b'"channel"' in head):
        return "discord"
    if name.endswith((".jsonl", ".ndjson")) or head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
        return "jsonl"
    raise ImportFormatInvalid(f"cannot tell the format of '{path.name}'; pass one of {', '.join(FORMATS)}",
                              field="format")


def parse_file(path: Path, fmt: str | None = None, *, source: str | None = None,
               max_zip_members: int = 20_000, max_zip_bytes: int = 1_000_000_000) -> Iterator[Item]:
    """Records of one file in the given (or detected) format."""
    from copilot.ingest import discord, docs, native, slack, stackexchange

    fmt = fmt or detect_format(path)
    if fmt == "jsonl":
        return native.parse_jsonl(path, source=source)
    if fmt == "slack":
        return slack.parse_export(path, max_members=max_zip_members, max_bytes=max_zip_bytes)
    if fmt == "discord":
        return discord.parse_export(path)
    if fmt == "stackexchange":
        return stackexchange.parse_dump(path, max_members=max_zip_members, max_bytes=max_zip_bytes)
    if fmt == "markdown":
        return docs.parse_markdown(path)
    raise ImportFormatInvalid(f"unknown format '{fmt}'; expected one of {', '.join(FORMATS)}", field="format")
