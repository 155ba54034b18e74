"""Markdown helpers: YAML front matter and heading-delimited sections with their paragraphs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
NOISE_RE = re.compile(r"^\s*((<[^>]+>\s*)+|\{%.*%\})\s*$")


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


def split_front_matter(source: str) -> tuple[dict[str, Any], str]:
    """(front matter mapping, body). Invalid YAML raises ValueError naming the problem."""
    if not source.startswith("---"):
        return {}, source
    m = re.match(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(\r?\n|$)", source, flags=re.S)
    if not m:
        return {}, source
    try:
        meta = yaml.safe_load(m.group(1)) or {}
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
        m = None if in_code else HEADING_RE.match(line)
        if m:
            flush()
            level, title = len(m.group(1)), clean_inline(m.group(2))
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
