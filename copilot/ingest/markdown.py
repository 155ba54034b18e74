"""Markdown helpers: YAML front matter and heading-delimited sections with their paragraphs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from copilot.ingest import safeyaml

# Every pattern here is linear in the line or block it reads. The heading's closing '#'s are stripped in
# Python: `(.*?)\s*#*\s*$` retried both whitespace runs at every lazy step (cubic on "# a" + spaces + "b").
HEADING_RE = re.compile(r"(#{1,6})\s+(.*)")
# Link text stops at the next '[' and the target at the next '[' too, so a run of '[' or of "[a](" is read
# once, not once per bracket.
LINK_RE = re.compile(r"\[([^\[\]]*)\]\([^)\[]*\)")
# Possessive: the whitespace after a tag belongs to the tag, not shared (quadratically) with the final \s*.
NOISE_RE = re.compile(r"^\s*+(?:(?:<[^>]++>\s*+)++|\{%.*%\})\s*$")


@dataclass
class Section:
    """A heading and the blocks (paragraphs, list items) under it."""

    heading: str
    level: int
    blocks: list[str] = field(default_factory=list)
    path: list[str] = field(default_factory=list)


def clean_inline(text: str) -> str:
    """Heading text without links' targets, emphasis markers or anchors."""
    text = LINK_RE.sub(r"\1", text)
    return re.sub(r"[*_`]+", "", text).strip()


def heading(line: str) -> tuple[int, str] | None:
    """(level, raw title) of an ATX heading line ("## Title ##"), else None."""
    m = HEADING_RE.match(line)
    return (len(m.group(1)), m.group(2).rstrip().rstrip("#").rstrip()) if m else None


def split_front_matter(source: str) -> tuple[dict[str, Any], str]:
    """(front matter mapping, body). Invalid YAML raises ValueError naming the problem."""
    if not source.startswith("---"):
        return {}, source
    m = re.match(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|$)", source, flags=re.S)
    if not m:
        return {}, source
    try:
        meta = safeyaml.load(m.group(1)) or {}  # aliases refused: a few bytes could expand to gigabytes
    except yaml.YAMLError as exc:
        raise ValueError(f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError("front matter must be a mapping")
    return meta, source[m.end():]


def sections(body: str) -> list[Section]:
    """Split a Markdown body into sections; text before the first heading goes to a '' section."""
    out = [Section(heading="", level=0)]
    stack: list[tuple[int, str]] = []
    buf: list[str] = []
    in_code = False

    def flush() -> None:
        text = "\n".join(buf).strip()
        buf.clear()
        if text and not NOISE_RE.match(text):
            out[-1].blocks.append(text)

    for line in body.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        found = None if in_code else heading(line)
        if found:
            flush()
            level, title = found[0], clean_inline(found[1])
            stack = [(lv, t) for lv, t in stack if lv < level] + [(level, title)]
            out.append(Section(heading=title, level=level, path=[t for _, t in stack]))
        elif not line.strip() or re.match(r"^\s*([-*+]|\d+[.)])\s+", line) or NOISE_RE.match(line):
            flush()
            if line.strip() and not NOISE_RE.match(line):
                buf.append(line)
        else:
            buf.append(line)
    flush()
    return [s for s in out if s.blocks or s.heading]
