"""JSON documents from untrusted exports: a record nested absurdly deep costs that record, not the file.

`json.loads` raises RecursionError on deep nesting (a few thousand levels). For an export whose records sit
in one array (a Slack day file, a Discord channel's `messages`), `load_records` then cuts the array into its
elements with a linear, string-aware scan and parses each on its own: the deep ones come back as `TooDeep`
(the parser reports them with their position), the others are imported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 64  # what a record may nest once its array is cut out; real exports stay under ~8
TOKEN = re.compile(r'["\[\]{},]')
STRING_TAIL = re.compile(r'(?:[^"\\]++|\\.)*+"', re.S)  # possessive: linear, no backtracking


@dataclass(frozen=True)
class TooDeep:
    """An array element that could not be parsed because it nests too deep."""

    depth: int

    def __str__(self) -> str:
        return f"nested more than {MAX_DEPTH} levels deep ({self.depth}); record skipped"


class NestingError(ValueError):
    """The document itself (outside its records array) nests too deep, or the array is missing."""


def _end_of_string(text: str, start: int) -> int:
    m = STRING_TAIL.match(text, start + 1)
    if not m:
        raise NestingError("unterminated string")
    return m.end()


def depth_of(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (linear, no recursion)."""
    depth = deepest = 0
    pos = 0
    while (m := TOKEN.search(text, pos)) is not None:
        ch = m.group(0)
        if ch == '"':
            pos = _end_of_string(text, m.start())
            continue
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
        pos = m.end()
    return deepest


def _array_elements(text: str, open_at: int) -> tuple[list[tuple[int, int]], int]:
    """Spans of the elements of the array opening at `open_at`, and the index just past its `]`."""
    spans, depth, start, pos = [], 0, open_at + 1, open_at
    while (m := TOKEN.search(text, pos)) is not None:
        ch, at = m.group(0), m.start()
        if ch == '"':
            pos = _end_of_string(text, at)
            continue
        pos = m.end()
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                if text[start:at].strip():
                    spans.append((start, at))
                return spans, at + 1
        elif ch == "," and depth == 1:
            spans.append((start, at))
            start = at + 1
    raise NestingError("unterminated array")


def _records_array(text: str, key: str | None) -> int:
    """Where the records array opens: the top-level array, or the value of `key` in the top-level object."""
    first = len(text) - len(text.lstrip())
    if key is None:
        if text[first:first + 1] != "[":
            raise NestingError("expected a top-level array")
        return first
    m = re.compile(r'"' + re.escape(key) + r'"\s*:\s*\[').search(text)
    if not m:
        raise NestingError(f"no '{key}' array")
    return m.end() - 1


def load_records(text: str, *, key: str | None = None) -> Any:
    """Parse a JSON export; when it nests too deep for `json.loads`, parse the records array element by element
    (too-deep elements become `TooDeep`). Raises NestingError when the rest of the document is itself too deep."""
    try:
        return json.loads(text)
    except RecursionError:
        pass
    open_at = _records_array(text, key)
    spans, close = _array_elements(text, open_at)
    rest = text[:open_at] + "[]" + text[close:]
    if depth_of(rest) > MAX_DEPTH:
        raise NestingError(f"the document nests more than {MAX_DEPTH} levels deep outside its records")
    records: list[Any] = []
    for start, end in spans:
        piece = text[start:end]
        depth = depth_of(piece)
        records.append(TooDeep(depth) if depth > MAX_DEPTH else json.loads(piece))
    doc = json.loads(rest)
    if key is None:
        return records
    doc[key] = records
    return doc
