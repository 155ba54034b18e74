"""The embedded vector index in a child process.

An embedded Chroma runs its writes in Rust without releasing the GIL: at 100,000 messages, upserting one message's
vector held it ~15-30 ms (`bench/live.py`, py-spy: 58 % of the GIL time of the live writer), stopping every request
of the process meanwhile, reads of the analytics included. `ProcessIndex` keeps the same embedded store (the same
files, `ChromaIndex` with its erasure guarantees, `copilot.index_files`), but in a child process of its own: the API
process only pickles calls and results over a pipe, and waits for them without the GIL.

One duplex pipe carries every call, tagged with a number: the child runs each on a thread of its own pool (Chroma's
reads release the GIL there, so searches still overlap), and a reader thread in the parent hands each answer to its
caller. The child is a fresh interpreter (`python -c CHILD_MAIN`, never a fork of a threaded process nor
a re-import of the caller's main module); it starts when the runtime is built, so its ~1-2 s import of chromadb
overlaps the server's own warm-up. If the child dies, calls in flight fail with ServiceUnavailable (a
write then leaves its messages pending, re-embedded later, as for any vector index failure) and the next call starts
a new child. The child exits when the parent closes the pipe, or dies.
"""

from __future__ import annotations

import builtins
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from copilot.errors import ServiceUnavailable

log = logging.getLogger("copilot.index")

CALL_TIMEOUT_S = 900.0  # an erasure's purge of a large brand is the longest call
CHILD_THREADS = 8


class ProcessIndex:
    """`VectorIndex` over an embedded Chroma owned by a child process (see the module docstring). Every
    `ProcessIndex` of this process on one directory shares one child: two embedded stores on the same files would
    each keep their own in-memory index and overwrite each other's."""

    holds_gil = False  # the caller waits on a pipe: other threads run

    def __init__(self, *, path: Path, embedder_name: str = "default"):
        self.path, self.embedder_name = path, embedder_name
        path.mkdir(parents=True, exist_ok=True)
        self._host = _Host.acquire(path)
        # A runtime dropped without close() still lets the child go.
        self._release = weakref.finalize(self, self._host.release)

    # ------------------------------------------------------------ the VectorIndex protocol
    def upsert(self, brand: str, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        """Insert or replace vectors with their filterable metadata."""
        if len(ids):
            self._call("upsert", brand, list(ids), np.asarray(vectors, dtype=np.float32), list(metadatas))

    def delete(self, brand: str, ids: Sequence[str]) -> None:
        """Remove vectors by id (missing ids are ignored)."""
        if ids:
            self._call("delete", brand, list(ids))

    def purge_deleted(self, brand: str) -> None:
        """Make deleted vectors unrecoverable from the store's files (`ChromaIndex.purge_deleted`)."""
        self._call("purge_deleted", brand)

    def query(self, brand: str, vector: np.ndarray, *, k: int, filters: dict[str, Any]) -> list[tuple[str, float]]:
        """Nearest (id, cosine similarity) pairs among vectors passing the filters."""
        return self._call("query", brand, np.asarray(vector, dtype=np.float32), k=k, filters=filters)

    def vectors(self, brand: str, ids: Sequence[str], *,
                versions: dict[str, str | None] | None = None) -> tuple[list[str], np.ndarray]:
        """The stored vectors of `ids` (cached in the child by content hash, see `ChromaIndex.vectors`)."""
        return self._call("vectors", brand, list(ids), versions=versions)

    def count(self, brand: str) -> int:
        """Number of vectors of a brand."""
        return self._call("count", brand)

    def ping(self) -> None:
        """Raise ServiceUnavailable when the child (or its Chroma) does not answer."""
        self._call("ping")

    def drop_brand(self, brand: str) -> None:
        """Delete a brand's collection."""
        self._call("drop_brand", brand)

    def close(self) -> None:
        """Let go of the child: the last handle on a directory stops it (it finishes the calls it is running)."""
        self._release()

    @property
    def pid(self) -> int | None:
        """The child's process id, when one runs for this handle."""
        child = self._host.child
        return child.process.pid if self._release.alive and child is not None and child.alive() else None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if not self._release.alive:
            raise ServiceUnavailable("vector index closed")
        return self._host.call(self.embedder_name, method, args, kwargs)


class _Host:
    """The child serving one directory for this process, shared by its handles, started again when it died."""

    _hosts: dict[Path, "_Host"] = {}
    _hosts_lock = threading.Lock()

    def __init__(self, path: Path):
        self.path, self.refs = path, 0
        self.lock = threading.Lock()        # one start or stop at a time
        self.send_lock = threading.Lock()   # whole messages on the pipe
        self.child: _Child | None = None

    @classmethod
    def acquire(cls, path: Path) -> "_Host":
        key = path.resolve()
        with cls._hosts_lock:
            host = cls._hosts.get(key)
            if host is None:
                host = cls._hosts[key] = cls(key)
            host.refs += 1
        try:
            host.running()  # starts the child now: it imports chromadb while the caller warms up
        except ServiceUnavailable:
            log.warning("vector index process could not start; the first call retries", exc_info=True)
        return host

    def release(self) -> None:
        with self._hosts_lock:
            self.refs -= 1
            if self.refs > 0:
                return
            self._hosts.pop(self.path, None)
        with self.lock:
            child, self.child = self.child, None
        if child is not None:
            child.stop()

    def call(self, embedder_name: str, method: str, args: tuple, kwargs: dict) -> Any:
        child = self.running()
        future: Future = Future()
        rid = next(child.ids)
        child.pending[rid] = future
        try:
            with self.send_lock:
                child.conn.send((rid, embedder_name, method, args, kwargs))
        except (OSError, ValueError) as exc:
            child.pending.pop(rid, None)
            self.lost(child)
            raise ServiceUnavailable(f"vector index process unavailable: {type(exc).__name__}") from exc
        try:
            ok, value = future.result(timeout=CALL_TIMEOUT_S)
        except FutureTimeout as exc:
            child.pending.pop(rid, None)
            self.lost(child)
            raise ServiceUnavailable(f"vector index process did not answer {method} in {CALL_TIMEOUT_S:.0f} s") from exc
        if ok:
            return value
        kind, text = value
        if kind == "ServiceUnavailable":
            raise ServiceUnavailable(text)
        error = getattr(builtins, kind, None)
        if isinstance(error, type) and issubclass(error, Exception):
            raise error(text)
        raise RuntimeError(f"vector index {method} failed: {kind}: {text}")

    def running(self) -> "_Child":
        child = self.child
        if child is not None and child.alive():
            return child
        with self.lock:
            child = self.child
            if child is None or not child.alive():
                if child is not None:
                    log.warning("vector index process %s is gone; starting a new one", child.process.pid)
                    child.fail_pending()
                child = self.child = _Child.start(self.path)
            return child

    def lost(self, child: "_Child") -> None:
        with self.lock:
            if self.child is child:
                self.child = None
        child.stop(kill=True)


class _Child:
    """A started child: its process, the parent's end of the pipe and the calls waiting for an answer."""

    def __init__(self, process: Any, sock: socket.socket):
        self.process, self.sock = process, sock
        self.conn = Connection(os.dup(sock.fileno()))  # framing and pickling; `sock` is kept to shut it down
        self.ids = itertools.count()
        self.pending: dict[int, Future] = {}
        self.closed = False
        self.reader = threading.Thread(target=self._read, name="copilot-vectors-reader", daemon=True)
        self.reader.start()

    @classmethod
    def start(cls, path: Path) -> "_Child":
        parent_end, child_end = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", CHILD_MAIN, str(child_end.fileno()), str(path)],
                pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL)
        except OSError as exc:  # no child: the index is unavailable, the API still starts
            parent_end.close()
            raise ServiceUnavailable(f"vector index process could not start: {type(exc).__name__}") from exc
        finally:
            child_end.close()
        return cls(process, parent_end)

    def alive(self) -> bool:
        return not self.closed and self.process.poll() is None

    def _read(self) -> None:
        while True:
            try:
                rid, ok, value = self.conn.recv()
            except (EOFError, OSError, ValueError):
                break
            future = self.pending.pop(rid, None)
            if future is not None:
                future.set_result((ok, value))
        self.closed = True
        self.fail_pending()

    def fail_pending(self) -> None:
        for rid in list(self.pending):
            future = self.pending.pop(rid, None)
            if future is not None and not future.done():
                future.set_result((False, ("ServiceUnavailable", "vector index process unavailable: it stopped")))

    def stop(self, *, kill: bool = False) -> None:
        if kill and self.process.poll() is None:
            self.process.kill()
        try:
            # The child sees the end of the pipe, finishes its calls and exits. A shutdown, not only a close: the
            # reader thread blocked in recv() holds the socket open until it returns.
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            self.conn.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.closed = True


def serve(path: str, conn: Connection) -> None:
    """The child: a `ChromaIndex` on the data directory per embedder, each call run on a pool thread, answers
    tagged with the call's number; returns (and the process exits) once the parent's end of the pipe is closed."""
    from copilot.index import ChromaIndex

    # Ctrl-C in a terminal reaches the whole process group: the parent stops, closes the pipe, and this loop ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    indexes: dict[str, ChromaIndex] = {}
    indexes_lock, send_lock = threading.Lock(), threading.Lock()

    def index_for(embedder_name: str) -> ChromaIndex:
        with indexes_lock:
            if embedder_name not in indexes:
                indexes[embedder_name] = ChromaIndex(path=Path(path), embedder_name=embedder_name)
            return indexes[embedder_name]

    def answer(rid: int, value: tuple[bool, Any]) -> None:
        try:
            with send_lock:
                conn.send((rid, *value))
        except (OSError, ValueError):  # the parent is gone
            pass

    def run(rid: int, embedder_name: str, method: str, args: tuple, kwargs: dict) -> None:
        try:
            value: tuple[bool, Any] = (True, getattr(index_for(embedder_name), method)(*args, **kwargs))
        except ServiceUnavailable as exc:
            value = (False, ("ServiceUnavailable", str(exc)))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller, named
            value = (False, (type(exc).__name__, str(exc)))
        answer(rid, value)

    with ThreadPoolExecutor(max_workers=CHILD_THREADS, thread_name_prefix="copilot-vectors") as pool:
        while True:
            try:
                rid, embedder_name, method, args, kwargs = conn.recv()
            except (EOFError, OSError):
                break
            if method in PUBLIC:
                pool.submit(run, rid, embedder_name, method, args, kwargs)
            else:
                answer(rid, (False, ("ValueError", f"unknown vector index method {method!r}")))
    conn.close()


PUBLIC = frozenset({"upsert", "delete", "purge_deleted", "query", "vectors", "count", "ping", "drop_brand"})

#: The child's entry point (not `-m copilot.index_process`: runpy would warn that the package imported it first).
CHILD_MAIN = ("import sys; from multiprocessing.connection import Connection; from copilot.index_process import serve; "
              "serve(sys.argv[2], Connection(int(sys.argv[1])))")
