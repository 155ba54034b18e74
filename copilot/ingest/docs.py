"""Markdown documents (guides, FAQs, published charters) as searchable `doc` records, one per section."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from copilot.ingest import Item
from copilot.ingest.markdown import sections, split_front_matter
from copilot.types import MessageRecord, RecordError


def parse_markdown(path: Path) -> Iterator[Item]:
    """One `doc` message per section, id `<file stem>#<n>`."""
    try:
        source = path.read_bytes().decode("utf-8")
        meta, body = split_front_matter(source)
    except (UnicodeDecodeError, ValueError) as exc:
        yield RecordError(location=path.name, message=str(exc))
        return
    # A fixed date unless the front matter gives one, so re-importing the same file changes nothing.
    created = meta.get("date") or datetime(2000, 1, 1, tzinfo=timezone.utc)
    for n, sec in enumerate(sections(body)):
        text = "\n\n".join(sec.blocks).strip()
        if not text:
            continue
        yield MessageRecord(source="doc", source_id=f"{path.stem}#{n}", channel=path.stem, kind="doc",
                            title=" / ".join(sec.path) or path.stem, text=text[:100_000], created_at=created,
                            thread=path.stem, lang=None)


def slug(text: str) -> str:
    """URL-ish slug of a heading."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "section"
