"""What an embedded Chroma leaves in its HNSW segment files beyond the vectors: the process's uninitialised memory.

Chroma's HNSW index (chroma-core's hnswlib fork, behind Chroma's Rust bindings) allocates the element buffers of a
new index with `malloc` for its whole initial capacity and writes them out in full when it creates the segment
(`initPersistentIndex`: `data_level0.bin` and `length.bin`); later writes only rewrite the slots of elements that
changed, each zeroed when its element is added. So until a slot is used, the file holds whatever that heap memory
held before: any text the process handled, another brand's or an erased member's included. `scrub_segment` zeroes
every byte past the last element the header counts. Elements are never removed (deleted ones stay as tombstones),
so a scrubbed tail can only be written again with a real element's bytes, zeroed first by hnswlib.

The header layout is hnswlib's persisted one (`persistHeader`, persistence version 1): an int, then size_t fields
offsetLevel0, max_elements, cur_element_count, size_data_per_element.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

HEADER = struct.Struct("<iQQQQ")  # version, offsetLevel0, max_elements, cur_element_count, size_data_per_element
VERSION = 1
LENGTH_BYTES = 4  # length.bin: one float per element
CHUNK = 1 << 20


class UnknownSegmentFormat(RuntimeError):
    """A segment's header is not the hnswlib layout this module knows: its tail cannot be scrubbed safely."""


class ScrubGate:
    """Chroma calls run together; a scrub of the embedded Chroma's files runs alone (no call may write a segment
    while its tail is zeroed). A waiting scrub holds back new calls, so a stream of reads cannot starve it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls, self._scrubbing = 0, False

    @contextmanager
    def call(self) -> Iterator[None]:
        """Around one Chroma call."""
        with self._cond:
            self._cond.wait_for(lambda: not self._scrubbing)
            self._calls += 1
        try:
            yield
        finally:
            with self._cond:
                self._calls -= 1
                self._cond.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        """Around a scrub: waits for the calls running to end."""
        with self._cond:
            self._cond.wait_for(lambda: not self._scrubbing)
            self._scrubbing = True
            self._cond.wait_for(lambda: self._calls == 0)
        try:
            yield
        finally:
            with self._cond:
                self._scrubbing = False
                self._cond.notify_all()


def segments(root: Path, *, known: Collection[str] = ()) -> list[Path]:
    """The HNSW segment folders of an embedded Chroma at `root` (those with a header file), but the `known` ones."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.name not in known and p.is_dir() and (p / "header.bin").is_file())


def scrub_segment(folder: Path) -> int:
    """Zero what lies past the last element in a segment's `data_level0.bin` and `length.bin`; the bytes changed.
    The caller makes sure Chroma does not write the segment meanwhile."""
    raw = (folder / "header.bin").read_bytes()
    if len(raw) < HEADER.size:
        raise UnknownSegmentFormat(f"{folder.name}: header of {len(raw)} bytes")
    version, offset_level0, _, count, per_element = HEADER.unpack_from(raw)
    if version != VERSION or offset_level0 != 0 or not 0 < per_element < 1 << 24:
        raise UnknownSegmentFormat(f"{folder.name}: version {version}, offset {offset_level0}, element {per_element}")
    return _zero_from(folder / "data_level0.bin", count * per_element) + _zero_from(folder / "length.bin",
                                                                                   count * LENGTH_BYTES)


def scrub_segments(folders: Iterable[Path]) -> int:
    """`scrub_segment` on each folder; the bytes changed in all."""
    return sum(scrub_segment(folder) for folder in folders)


def _zero_from(path: Path, start: int) -> int:
    """Overwrite with zeros the non-zero chunks of `path` from byte `start` on (in place, then fsync)."""
    if not path.exists():
        return 0
    changed = 0
    with path.open("r+b") as f:
        f.seek(start)
        at = start
        while chunk := f.read(CHUNK):
            if chunk.count(0) != len(chunk):
                f.seek(at)
                f.write(bytes(len(chunk)))
                changed += len(chunk)
            at += len(chunk)
        if changed:
            f.flush()
            os.fsync(f.fileno())
    return changed
