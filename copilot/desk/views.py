"""What the desk's pages show, computed from service results: highlighted spans, word diffs, ages.

Services may return dicts or pydantic models (the API's models are being typed); `plain` turns either into
plain data, so the pages read both the same way.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

WORD = re.compile(r"\s+|[^\s]+")


def plain(value: Any) -> Any:
    """A service result as plain dicts and lists, whether it came as a pydantic model, a dict or a list."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="python")
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@dataclass
class Segment:
    """A run of text and the flags covering all of it (none for plain text)."""

    text: str
    flags: list[dict[str, Any]] = field(default_factory=list)


def highlight(text: str, flags: list[Any]) -> list[Segment]:
    """Cut `text` at every flag boundary; each piece carries the flags that cover it (flags may overlap)."""
    spans = [f for f in (plain(x) for x in flags) if 0 <= f["start"] < f["end"] <= len(text)]
    cuts = sorted({0, len(text), *(f["start"] for f in spans), *(f["end"] for f in spans)})
    segments = []
    for lo, hi in zip(cuts, cuts[1:]):
        covering = [f for f in spans if f["start"] <= lo and hi <= f["end"]]
        if segments and not covering and not segments[-1].flags:
            segments[-1].text += text[lo:hi]
        else:
            segments.append(Segment(text[lo:hi], covering))
    return segments


@dataclass
class DiffPart:
    """A run of words kept, inserted or deleted between two revisions."""

    op: str  # "same", "ins" or "del"
    text: str


def word_diff(before: str, after: str) -> list[DiffPart]:
    """Word-level differences (whitespace kept with its words, so the text reads as written)."""
    a, b = WORD.findall(before), WORD.findall(after)
    parts: list[DiffPart] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(DiffPart("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            parts.append(DiffPart("del", "".join(a[i1:i2])))
        if j2 > j1:
            parts.append(DiffPart("ins", "".join(b[j1:j2])))
    return parts


def age(when: datetime | None, *, now: datetime | None = None) -> tuple[int, str]:
    """How old something is, as (number, unit) with unit one of minutes, hours, days."""
    if when is None:
        return 0, "minutes"
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    seconds = max(0.0, ((now or datetime.now(timezone.utc)) - when).total_seconds())
    if seconds < 3600:
        return int(seconds // 60), "minutes"
    if seconds < 86400 * 2:
        return int(seconds // 3600), "hours"
    return int(seconds // 86400), "days"


def split_citations(citations: list[str], passage_ids: set[str]) -> tuple[list[str], list[str]]:
    """A draft's citations as (charter passage ids, message ids)."""
    return [c for c in citations if c in passage_ids], [c for c in citations if c not in passage_ids]
