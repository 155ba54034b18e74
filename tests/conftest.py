"""Shared fixtures: a real SQLite file and a real embedded Chroma in a temp dir, a deterministic embedder,
and no network beyond loopback."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Iterator

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["DISABLE_AIOHTTP_TRANSPORT"] = "True"

import pytest
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.embed import HashEmbedder
from copilot.runtime import Copilot
from copilot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# The live-model suite needs a running model server: `make test-llm` (tests/live_llm/run.sh) runs it.
collect_ignore = [] if os.environ.get("COPILOT_LIVE_LLM") else ["live_llm"]
SHARED = ROOT.parent / "shared" / "data"
ADMIN = {"Authorization": "Bearer test-admin-key"}

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    # "\0": an abstract unix socket (multiprocessing's fork server)
    if isinstance(host, str) and not (host.startswith(("127.", "/", "\0")) or host in ("localhost", "::1")):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unmocked network access fails the test."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


def _reset_database(url: str) -> None:
    """With COPILOT_DATABASE_URL set (e.g. PostgreSQL), every test starts from an empty schema."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def fresh_settings(data_dir: Path) -> Settings:
    """Test settings on `data_dir`, on an empty database (see `_reset_database`)."""
    # The vector index runs in this process (tests patch and inspect it; tests/test_index_process.py covers the
    # child process servers use); COPILOT_TEST_VECTOR_PROCESS=1 runs every test through the child instead.
    s = Settings(env="test", data_dir=data_dir, admin_key="test-admin-key",  # type: ignore[arg-type]
                 vector_process=os.environ.get("COPILOT_TEST_VECTOR_PROCESS") == "1")
    if s.database_url:
        _reset_database(s.database_url)
    return s


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fresh_settings(tmp_path / "data")


@pytest.fixture
def copilot(settings: Settings) -> Iterator[Copilot]:
    runtime = Copilot(settings, embedder=HashEmbedder())
    yield runtime
    runtime.close()


@pytest.fixture
def client(copilot: Copilot) -> Iterator[TestClient]:
    with TestClient(create_app(copilot.settings, copilot=copilot)) as c:
        yield c


@pytest.fixture
def brand(client: TestClient) -> str:
    r = client.post("/v1/brands", json={"id": "acme", "name": "Acme", "language": "fr"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return "acme"


def wait_job(client: TestClient, job_id: str, headers: dict[str, str] | None = None, seconds: float = 30.0) -> dict:
    """The job once it has succeeded or failed; an AssertionError naming it if it is still running after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        job = client.get(f"/v1/jobs/{job_id}", headers=headers or ADMIN).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not finish in {seconds:.0f} s: {job}")
        time.sleep(0.025)


def make_key(client: TestClient, brand: str, *scopes: str) -> dict[str, str]:
    r = client.post(f"/v1/brands/{brand}/keys", json={"actor": f"{brand}-bot", "scopes": list(scopes)}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['key']}"}


ALLOW_SKIP = "COPILOT_TEST_ALLOW_SKIP"


def missing(reason: str) -> None:
    """A test cannot run here (a dataset or a tool is missing): it fails, unless COPILOT_TEST_ALLOW_SKIP=1 asks
    for a skip (the run then lists every skip and its reason, `-rs`). A silent pass would hide a broken CI."""
    if os.environ.get(ALLOW_SKIP) == "1":
        pytest.skip(reason)
    pytest.fail(f"{reason} (set {ALLOW_SKIP}=1 to skip instead)", pytrace=False)


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        missing(f"shared dataset missing: {path}")
    return path
