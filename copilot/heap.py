"""The process heap, settled once the long-lived data is loaded.

A warm replica holds a few hundred thousand long-lived container objects (snapshot code tables, member caches, ORM
metadata, modules). CPython's cyclic collector walks every one of them on each full (oldest-generation) collection,
and requests and writes promote enough short-lived objects to start one every ten seconds or so: measured at 100,000
messages (`bench/live.py`'s history, in process), 7 full collections in 90 s of reads and writes, 102 ms each (p50),
stopping every thread that wanted the GIL meanwhile. Frozen (`gc.freeze`), the objects that exist once the caches
are warm are left out of those walks: the same run's full collections took 7 ms (p50).

`settle()` first unfreezes and collects everything, so garbage cycles among earlier frozen objects (a snapshot
replaced by a rebuild) are still reclaimed: freezing never leaks more than what dies between two settles.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

log = logging.getLogger("copilot.heap")

_lock = threading.Lock()


def settle() -> float:
    """Collect every generation, frozen ones included, then freeze what survives; returns the seconds it took."""
    started = time.perf_counter()
    with _lock:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
    took = time.perf_counter() - started
    log.info("heap settled: %d objects frozen in %.0f ms", gc.get_freeze_count(), took * 1000)
    return took
