"""The scrub of embedded Chroma's HNSW files: it zeroes only what lies past the last element, refuses a header it
does not know, and never runs while a Chroma call does."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from copilot.index_files import HEADER, ScrubGate, UnknownSegmentFormat, scrub_segment

PER_ELEMENT = 16


def _segment(folder: Path, *, count: int, capacity: int, version: int = 1) -> Path:
    folder.mkdir()
    (folder / "header.bin").write_bytes(HEADER.pack(version, 0, capacity, count, PER_ELEMENT) + bytes(52))
    (folder / "data_level0.bin").write_bytes(b"E" * count * PER_ELEMENT + b"heap!" * (capacity - count) * 3
                                             + b"h" * (capacity - count))
    (folder / "length.bin").write_bytes(b"L" * count * 4 + b"heap" * (capacity - count))
    return folder


def test_only_the_bytes_past_the_last_element_are_zeroed(tmp_path: Path):
    segment = _segment(tmp_path / "seg", count=3, capacity=100)
    assert scrub_segment(segment) == 97 * PER_ELEMENT + 97 * 4
    assert (segment / "data_level0.bin").read_bytes() == b"E" * 3 * PER_ELEMENT + bytes(97 * PER_ELEMENT)
    assert (segment / "length.bin").read_bytes() == b"L" * 12 + bytes(97 * 4)
    assert scrub_segment(segment) == 0  # nothing left to change: nothing written


def test_an_unknown_header_is_refused_untouched(tmp_path: Path):
    segment = _segment(tmp_path / "seg", count=3, capacity=10, version=2)
    before = (segment / "data_level0.bin").read_bytes()
    with pytest.raises(UnknownSegmentFormat):
        scrub_segment(segment)
    assert (segment / "data_level0.bin").read_bytes() == before


def test_a_scrub_waits_for_the_calls_running_and_holds_back_new_ones():
    gate, events = ScrubGate(), []
    in_call, release_call, scrub_waiting = threading.Event(), threading.Event(), threading.Event()

    def running_call() -> None:
        with gate.call():
            in_call.set()
            release_call.wait(5)
            events.append("call ends")

    def scrub() -> None:
        scrub_waiting.set()
        with gate.alone():
            events.append("scrub")

    def later_call() -> None:
        with gate.call():
            events.append("later call")

    threads = [threading.Thread(target=running_call)]
    threads[0].start()
    assert in_call.wait(5)
    threads.append(threading.Thread(target=scrub))
    threads[1].start()
    assert scrub_waiting.wait(5)
    for _ in range(200):  # until the scrub has claimed the gate
        if gate._scrubbing:
            break
        threading.Event().wait(0.01)
    threads.append(threading.Thread(target=later_call))
    threads[2].start()
    threading.Event().wait(0.1)
    assert events == []  # the scrub waits for the running call; the later call waits for the scrub
    release_call.set()
    for t in threads:
        t.join(5)
    assert events == ["call ends", "scrub", "later call"]
