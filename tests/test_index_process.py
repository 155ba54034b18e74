"""The embedded vector index in a child process (`copilot.index_process`), as servers run it by default: the same
answers as the index in process, the member's erasure through it, a child that dies, a parent that dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from copilot import index_process
from copilot.api.app import create_app
from copilot.embed import HashEmbedder
from copilot.errors import ServiceUnavailable
from copilot.index import ChromaIndex
from copilot.index_process import ProcessIndex
from copilot.runtime import Copilot
from copilot.settings import Settings
from tests import test_erasure
from tests.conftest import ADMIN, ROOT

META = [{"kind": k, "channel": c, "author": f"u{i % 5}", "source": "s", "created": float(i)}
        for i, (k, c) in enumerate(zip(["post", "question", "answer"] * 40, ["a", "b"] * 60))]


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 32)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _gone(pid: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie (exited, not yet reaped by its parent) counts as gone
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True
        except (FileNotFoundError, IndexError):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[ChromaIndex, ProcessIndex]]:
    here, there = ChromaIndex(path=tmp_path / "here"), ProcessIndex(path=tmp_path / "there")
    yield here, there
    there.close()


def test_the_child_answers_as_the_index_in_process_does(pair: tuple[ChromaIndex, ProcessIndex]):
    here, there = pair
    ids, vectors = [f"s:{i}" for i in range(120)], _vectors(120)
    for index in pair:
        index.upsert("b", ids, vectors, META)
        index.delete("b", ids[:10])
    assert there.pid not in (None, os.getpid())
    assert here.count("b") == there.count("b") == 110
    probe = _vectors(3, seed=1)
    for vector in probe:
        for filters in ({}, {"kind": "answer"}, {"channel": "b", "kind": "post"}, {"author": "u3", "since": 50.0}):
            near, far = here.query("b", vector, k=7, filters=filters), there.query("b", vector, k=7, filters=filters)
            assert [i for i, _ in near] == [i for i, _ in far] and len(near) > 0, filters
            assert np.allclose([s for _, s in near], [s for _, s in far])
    got_here, got_there = here.vectors("b", ids[5:20]), there.vectors("b", ids[5:20])
    assert got_here[0] == got_there[0] == ids[10:20]
    assert np.array_equal(got_here[1], got_there[1])
    with pytest.raises(ValueError, match="unknown vector index method"):
        there._call("client")  # only the index's own operations cross the pipe
    there.ping()


def test_a_new_childs_first_calls_may_arrive_together(tmp_path: Path):
    """The child runs calls on several threads from the start: their first calls open one Chroma client and one
    collection between them (a second client on the same directory raises)."""
    seed = ChromaIndex(path=tmp_path / "chroma")
    seed.upsert("b", [f"s:{i}" for i in range(30)], _vectors(30), META[:30])
    del seed
    for _ in range(3):
        index = ProcessIndex(path=tmp_path / "chroma")
        with ThreadPoolExecutor(8) as pool:
            counts = list(pool.map(lambda _: index.count("b"), range(16)))
        assert counts == [30] * 16
        index.close()


def test_a_child_that_dies_fails_its_calls_with_service_unavailable_and_the_next_call_starts_another(
        pair: tuple[ChromaIndex, ProcessIndex], monkeypatch: pytest.MonkeyPatch):
    _, there = pair
    there.upsert("b", ["s:1"], _vectors(1), META[:1])
    first = there.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert _gone(first)
    # A call already on its way when the child died (it looked alive when the call started)...
    monkeypatch.setattr(index_process._Child, "alive", lambda self: True)
    with pytest.raises(ServiceUnavailable, match="vector index process unavailable"):
        there.count("b")
    monkeypatch.undo()
    # ...and the next one runs on a new child, on the same files.
    assert there.count("b") == 1
    assert there.pid not in (None, first)


def test_ctrl_c_in_a_terminal_stops_the_server_not_its_child(pair: tuple[ChromaIndex, ProcessIndex]):
    """SIGINT reaches the whole process group; the child ignores it and ends when its parent closes the pipe."""
    _, there = pair
    there.upsert("b", ["s:1"], _vectors(1), META[:1])
    pid = there.pid
    assert pid is not None
    os.kill(pid, signal.SIGINT)
    time.sleep(0.5)
    assert there.count("b") == 1 and there.pid == pid


def test_the_child_exits_when_its_parent_dies_without_closing_it(tmp_path: Path):
    code = ("import os, sys; from pathlib import Path; from copilot.index_process import ProcessIndex; "
            "i = ProcessIndex(path=Path(sys.argv[1])); i.ping(); print(i.pid, flush=True); os._exit(0)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "chroma")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert _gone(int(done.stdout.split()[-1]))


def test_a_runtime_on_default_settings_runs_its_embedded_index_in_a_child_and_stops_it(tmp_path: Path):
    settings = Settings(env="test", data_dir=tmp_path / "data", admin_key="test-admin-key")  # type: ignore[arg-type]
    assert settings.vector_process and settings.chroma_url is None
    runtime = Copilot(settings, embedder=HashEmbedder())
    assert isinstance(runtime.index, ProcessIndex)
    runtime.index.ping()
    pid = runtime.index.pid
    assert pid is not None and pid != os.getpid()
    runtime.close()
    assert runtime.index.pid is None and _gone(pid)


def test_runtimes_on_one_directory_share_one_child_until_the_last_one_closes(tmp_path: Path):
    first, second = ProcessIndex(path=tmp_path / "chroma"), ProcessIndex(path=tmp_path / "chroma", embedder_name="x")
    first.upsert("b", ["s:1"], _vectors(1), META[:1])
    assert first.pid == second.pid is not None
    assert second.count("b") == 0 and first.count("b") == 1  # one store, a collection per embedder
    pid = first.pid
    first.close()
    with pytest.raises(ServiceUnavailable, match="closed"):
        first.count("b")
    second.upsert("b", ["s:2"], _vectors(1), META[:1])
    assert second.pid == pid and second.count("b") == 1
    second.close()
    assert _gone(pid)
    again = ProcessIndex(path=tmp_path / "chroma")
    assert again.count("b") == 1 and again.pid != pid  # a new child, on the same files
    again.close()


@pytest.fixture
def child_copilot(settings: Settings) -> Iterator[Copilot]:
    runtime = Copilot(settings.model_copy(update={"vector_process": True}), embedder=HashEmbedder())
    assert isinstance(runtime.index, ProcessIndex)
    yield runtime
    runtime.close()


def test_erasure_through_the_child_leaves_no_copy_of_the_member_anywhere(child_copilot: Copilot, tmp_path: Path):
    """The whole erasure test (imports, a draft, search, erasure, every file of the data directory read back) with
    the vector index in its child process: the purge and the segment scrub run there."""
    with TestClient(create_app(child_copilot.settings, copilot=child_copilot)) as client:
        r = client.post("/v1/brands", json={"id": "acme", "name": "Acme", "language": "fr"}, headers=ADMIN)
        assert r.status_code == 201, r.text
        test_erasure.test_erasure_leaves_no_copy_of_the_member_anywhere(client, child_copilot, "acme", tmp_path)
