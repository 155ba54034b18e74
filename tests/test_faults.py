"""Real servers and faults: Chroma in server mode (HttpClient), Chroma going down and coming back, a locked
SQLite database, and an import killed halfway."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.embed import HashEmbedder
from copilot.runtime import Copilot
from copilot.settings import Settings
from tests.chroma_server import CHROMA, ChromaServer, free_port
from tests.conftest import ADMIN, ROOT, missing

@pytest.fixture
def chroma(tmp_path: Path):
    if not CHROMA.exists():
        missing("the chroma CLI is not installed")
    server = ChromaServer(tmp_path / "chroma-server", free_port()).start()
    yield server
    server.stop()


def batch(prefix: str, n: int = 5) -> dict:
    return {"messages": [{"source_id": f"{prefix}{i}", "created_at": "2026-10-01T10:00:00Z", "kind": "question",
                          "text": f"{prefix} question {i} sur les freins hydrauliques", "channel": "atelier"}
                         for i in range(n)]}


def test_chroma_server_mode_outage_and_recovery(tmp_path: Path, chroma: ChromaServer):
    settings = Settings(env="test", data_dir=tmp_path / "data", admin_key="test-admin-key",  # type: ignore[arg-type]
                        chroma_url=f"http://127.0.0.1:{chroma.port}")
    runtime = Copilot(settings, embedder=HashEmbedder())
    with TestClient(create_app(settings, copilot=runtime)) as client:
        assert client.post("/v1/brands", json={"id": "acme", "name": "Acme"}, headers=ADMIN).status_code == 201
        assert client.post("/v1/brands/acme/history/batch", json=batch("a"), headers=ADMIN).json()["embedded"] == 5
        for mode in ("dense", "hybrid"):
            hits = client.get("/v1/brands/acme/search", headers=ADMIN,
                              params={"q": "freins hydrauliques", "mode": mode, "channel": "atelier"}).json()["results"]
            assert {h["id"] for h in hits} == {f"a{i}" for i in range(5)}
        assert runtime.index.count("acme") == 5 and client.get("/readyz").status_code == 200

        chroma.stop()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["retry-after"] == "5"
        down = client.get("/v1/brands/acme/search", headers=ADMIN, params={"q": "freins", "mode": "dense"})
        assert down.status_code == 503 and down.headers["retry-after"] and down.json()["type"].endswith("/service-unavailable")
        before = runtime.store.count_messages("acme")
        refused = client.post("/v1/brands/acme/history/batch", json=batch("b"), headers=ADMIN)
        assert refused.status_code == 503 and runtime.store.count_messages("acme") == before  # nothing half written

        chroma.start()
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/brands/acme/history/batch", json=batch("b"), headers=ADMIN).json()["embedded"] == 5
        hits = client.get("/v1/brands/acme/search", headers=ADMIN, params={"q": "b question", "mode": "dense"}).json()
        assert runtime.index.count("acme") == 10 and hits["results"]
    runtime.close()


def test_locked_database_gets_503_and_resumes(tmp_path: Path):
    settings = Settings(env="test", data_dir=tmp_path / "data", admin_key="test-admin-key",  # type: ignore[arg-type]
                        sqlite_busy_timeout_s=0.3)
    runtime = Copilot(settings, embedder=HashEmbedder())
    with TestClient(create_app(settings, copilot=runtime)) as client:
        client.post("/v1/brands", json={"id": "acme", "name": "Acme"}, headers=ADMIN)
        locker = sqlite3.connect(tmp_path / "data" / "copilot.db", timeout=1)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            r = client.post("/v1/brands/acme/history/batch", json=batch("a"), headers=ADMIN)
            assert r.status_code == 503 and r.headers["retry-after"] == "5"
            assert "database" in r.json()["detail"] and "Traceback" not in r.text
            ready = client.get("/readyz")
            assert ready.status_code == 503 and "locked" in ready.json()["detail"]
        finally:
            locker.rollback()
            locker.close()
        assert runtime.store.count_messages("acme") == 0 and client.get("/readyz").status_code == 200
        assert client.post("/v1/brands/acme/history/batch", json=batch("a"), headers=ADMIN).json()["embedded"] == 5
        assert runtime.store.count_messages("acme") == 5 and runtime.index.count("acme") == 5
    runtime.close()


def test_import_killed_halfway_restarts_without_duplicates_or_loss(tmp_path: Path):
    data = tmp_path / "data"
    big = tmp_path / "big.jsonl"
    rows = [{"type": "message", "source_id": f"m{i}", "author": f"u{i % 50}", "created_at": "2026-10-01T10:00:00Z",
             "text": f"message {i} sur la chaîne et les freins, numéro {i}"} for i in range(6000)]
    big.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = {**os.environ, "COPILOT_DATA_DIR": str(data), "COPILOT_ENV": "test", "COPILOT_EMBEDDER": "hash"}
    cli = [sys.executable, "-m", "copilot.cli"]
    subprocess.run(cli + ["ingest", str(ROOT / "knowledge" / "history.jsonl"), "--brand", "acme", "--create"],
                   env=env, check=True, capture_output=True, timeout=300)
    proc = subprocess.Popen(cli + ["ingest", str(big), "--brand", "acme"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = data / "copilot.db"
    deadline = time.time() + 120
    acknowledged = 0
    while time.time() < deadline:
        with sqlite3.connect(db) as con:
            acknowledged = con.execute("SELECT count(*) FROM messages WHERE source_id LIKE 'm%' "
                                       "AND source_id NOT LIKE 'm0%'").fetchone()[0]
        if acknowledged >= 1000:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert 1000 <= acknowledged < 6000, acknowledged
    with sqlite3.connect(db) as con:
        committed = {r[0] for r in con.execute("SELECT source_id FROM messages WHERE source='native'")}
    subprocess.run(cli + ["ingest", str(big), "--brand", "acme"], env=env, check=True, capture_output=True, timeout=600)
    with sqlite3.connect(db) as con:
        ids = [r[0] for r in con.execute("SELECT source_id FROM messages WHERE source='native' AND source_id LIKE 'm%'")]
        stale = con.execute("SELECT count(*) FROM messages WHERE indexed_hash IS NULL OR indexed_hash != content_hash").fetchone()[0]
    assert len(ids) == len(set(ids)) and {f"m{i}" for i in range(6000)} <= set(ids)
    assert committed <= set(ids) and stale == 0
