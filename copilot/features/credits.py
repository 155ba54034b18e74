"""Who each thanks credits, read once, when the thanks enters the analytics snapshot.

A thanks is credited to everyone it names ('merci à vous deux', 'thanks Nadia and Antoine'), not only to the
author of the message it replies to (`copilot.ingest.conversation.thanked`). Reading that needs the thanks' text,
the authors of its thread before it and their names, so it is done when a row enters the snapshot (built, appended,
patched, re-laid out) and kept there as author codes; a report over a window then only counts codes.

What a thanks' credits depend on, and so when they are read again:
- its text (an edit reaches the snapshot as a patch of the row);
- the authors of its thread *before* it: a message landing in a thread before an existing thanks (out of order,
  or a thread moved) re-reads the thread's thanks; a message after it changes nothing;
- the author of the message it replies to (credited when the text names nobody): a parent arriving late re-reads
  the replies waiting for it;
- the names members had when it was read. A later rename does not re-read past thanks (they named the person as
  they were called then); a rebuild reads every thanks again with the names of that time.
Each thanks is read on its own: a mention resolves among the people of its own thread, as if the thanks were the
only one in a report's window. Every thanks is read, however many a window holds (a report used to read them per
request and credited only the replied-to author above 3,000 thanks in a window).

An erased member's codes are blanked (-1) at once in the served snapshot; the rebuild that follows an erasure reads
every thanks again without their messages, and nothing is saved in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from copilot.ingest.conversation import Person, names_of, thanked
from copilot.store import Store


class ThanksReader(Protocol):
    """What reading thanks needs from outside the snapshot: texts and members' names."""

    def texts(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Texts of messages by (source, source_id)."""

    def members(self) -> Mapping[tuple[str, str], Any]:
        """Members by (source, source_id), with a `name`."""


class StoreThanks:
    """A brand's texts and members, read from the store."""

    def __init__(self, store: Store, brand: str):
        self.store, self.brand = store, brand

    def texts(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Texts of messages by (source, source_id)."""
        return self.store.texts(self.brand, keys)

    def members(self) -> Mapping[tuple[str, str], Any]:
        """Members by (source, source_id)."""
        return self.store.members_by_key(self.brand)


def read_credits(rows: np.ndarray, cols: Mapping[str, np.ndarray], authors: list[tuple[str, str]],
                 reader: ThanksReader) -> list[list[int]]:
    """The author codes each thanks row credits, without repeats (rows are thanks with a known author; `cols` are
    the snapshot's columns over its rows, in time order)."""
    sources, ids, author, created, thread, parent = (cols[k] for k in ("sources", "ids", "author", "created",
                                                                         "thread", "parent"))
    texts = reader.texts([(sources[r], ids[r]) for r in rows])
    members = reader.members()
    threads = _thread_rows(thread, rows)
    people: dict[str, Person] = {}
    out: list[list[int]] = []
    for r in rows.tolist():
        seg = threads[int(thread[r])]
        before = seg[(created[seg] < created[r]) & (author[seg] >= 0)]
        earlier = [(str(author[x]), str(x)) for x in before.tolist()]
        for code, _ in earlier:
            if code not in people:
                m = members.get(authors[int(code)])
                people[code] = names_of(code, m.name if m else None, authors[int(code)][1])
        text = texts.get((sources[r], ids[r]))
        mine = {code: people[code] for code, _ in earlier}
        named = thanked(text, author=str(author[r]), earlier=earlier, people=mine) if text else []
        p = int(parent[r])
        if not named and p >= 0 and author[p] != author[r]:
            named = [str(author[p])]  # what the snapshot's reply count credits
        out.append([int(c) for c in dict.fromkeys(named) if int(c) >= 0])
    return out


def _thread_rows(thread: np.ndarray, rows: np.ndarray) -> dict[int, np.ndarray]:
    """Every row of the threads of `rows`, per thread, in time order."""
    in_threads = np.flatnonzero(np.isin(thread, np.unique(thread[rows])))
    grouped = in_threads[np.argsort(thread[in_threads], kind="stable")]  # stable: time order within a thread
    codes = thread[grouped]
    cuts = np.flatnonzero(np.diff(codes)) + 1
    return {int(seg_codes[0]): seg for seg, seg_codes in zip(np.split(grouped, cuts), np.split(codes, cuts))
            if len(seg)}
