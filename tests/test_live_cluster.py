"""Scale-out for real: two `copilot serve` processes on one PostgreSQL and one `chroma run` server, each with its
own data directory, behind nothing but their ports. What one writes, the other searches and reports on within 2 s;
an import job survives its process being killed; an erasure through one reaches the other's analytics.

These are the commands of docs/deploy.md (a throwaway PostgreSQL cluster as tests/postgres.sh starts one), and its
nginx configuration, read from the page itself, in front of the two replicas.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.chroma_server import CHROMA, ChromaServer, free_port
from tests.conftest import ROOT, missing

KEY = "cluster-admin-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
CONSISTENT_S = 2.0


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: [int(x) for x in p.parts[-3].split(".") if x.isdigit()])
    initdb = found[-1] if found else (Path(shutil.which("initdb")) if shutil.which("initdb") else None)
    return initdb.parent if initdb else None


class Postgres:
    """A throwaway cluster on loopback (initdb refuses root: it then runs as the `postgres` user)."""

    def __init__(self, work: Path, port: int):
        self.bin, self.work, self.port = _pg_bin(), work, port
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []

    def start(self) -> "Postgres":
        assert self.bin is not None
        if self.as_user:
            subprocess.run(["id", "postgres"], check=False, capture_output=True).returncode == 0 or \
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
            shutil.chown(self.work, "postgres")
        run = lambda *cmd: subprocess.run([*self.as_user, *cmd], check=True, capture_output=True)  # noqa: E731
        run(str(self.bin / "initdb"), "-D", str(self.work / "data"), "-A", "trust", "-U", "copilot")
        run(str(self.bin / "pg_ctl"), "-D", str(self.work / "data"), "-l", str(self.work / "log"), "-w", "-o",
            f"-p {self.port} -k {self.work} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "copilot", "copilot"],
                       check=True, capture_output=True)
        return self

    def url(self, db: str = "copilot") -> str:
        return f"postgresql+psycopg://copilot@127.0.0.1:{self.port}/{db}"

    def createdb(self, name: str) -> str:
        assert self.bin is not None
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "copilot", name],
                       check=True, capture_output=True)
        return self.url(name)

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.work / "data"), "-m", "fast", "stop"],
                       check=False, capture_output=True)


class Replica:
    """One `copilot serve` process."""

    def __init__(self, name: str, data_dir: Path, env: dict[str, str]):
        self.name, self.data_dir, self.env = name, data_dir, env
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self) -> "Replica":
        env = {**os.environ, **self.env, "COPILOT_DATA_DIR": str(self.data_dir)}
        log = open(self.data_dir.parent / f"{self.name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen([sys.executable, "-m", "copilot.cli", "serve", "--host", "127.0.0.1", "--port",
                                      str(self.port)], env=env, stdout=log, stderr=log)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, (self.data_dir.parent / f"{self.name}.log").read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError(f"replica {self.name} never became ready")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.base + path, headers=AUTH, timeout=30, **kw)

    def post(self, path: str, *, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return httpx.post(self.base + path, headers={**AUTH, **(headers or {})}, timeout=60, **kw)


def within(seconds: float, check: Any) -> float:
    """Seconds until `check()` is true (fails after `seconds`)."""
    started = time.perf_counter()
    while True:
        if check():
            return time.perf_counter() - started
        if time.perf_counter() - started > seconds:
            raise AssertionError(f"not consistent within {seconds} s")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    if _pg_bin() is None:
        missing("PostgreSQL is not installed (apt-get install postgresql)")
    work = Path(tempfile.mkdtemp(prefix="copilot-pg-"))
    pg = Postgres(work, free_port()).start()
    yield pg
    pg.stop()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(postgres: Postgres) -> Iterator[tuple[Replica, Replica]]:
    if not CHROMA.exists():
        missing("the chroma CLI is not installed")
    work = Path(tempfile.mkdtemp(prefix="copilot-cluster-"))
    chroma = ChromaServer(work / "chroma", free_port()).start()
    env = {"COPILOT_DATABASE_URL": postgres.url(), "COPILOT_CHROMA_URL": f"http://127.0.0.1:{chroma.port}",
           "COPILOT_ADMIN_KEY": KEY, "COPILOT_ENV": "test", "COPILOT_EMBEDDER": "hash",
           "COPILOT_JOB_LEASE_S": "3", "COPILOT_SNAPSHOT_FOLLOW_INTERVAL_S": "0.25"}
    a = Replica("a", work / "a", env)
    b = Replica("b", work / "b", env)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        for replica in (a, b):
            replica.stop()
        chroma.stop()
        shutil.rmtree(work, ignore_errors=True)


def history(prefix: str, n: int, *, author: str = "ana") -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    return {"members": [{"source_id": author, "name": author.title()}],
            "messages": [{"source_id": f"{prefix}{i}", "author": author, "kind": "question", "channel": "atelier",
                          "created_at": (now - timedelta(days=1, minutes=i)).isoformat(),
                          "text": f"Ma roue {prefix} voile après la sortie numéro {i}, une idée ?"} for i in range(n)]}


def messages_in_vitality(replica: Replica, brand: str) -> int:
    r = replica.get(f"/v1/brands/{brand}/vitality", params={"window_days": 28})
    return r.json()["kpis"]["messages"] if r.status_code == 200 else -1


def test_what_one_replica_writes_the_other_serves_within_two_seconds(cluster: tuple[Replica, Replica]):
    a, b = cluster
    assert a.post("/v1/brands", json={"id": "duo", "name": "Duo"}).status_code == 201
    assert within(CONSISTENT_S, lambda: b.get("/v1/brands/duo").status_code == 200) >= 0
    assert a.post("/v1/brands/duo/history/batch", json=history("velo", 30)).status_code == 200
    for mode in ("lexical", "dense", "hybrid"):  # the keyword index and the vectors are shared: at once
        hits = b.get("/v1/brands/duo/search", params={"q": "roue velo voile", "mode": mode}).json()["results"]
        assert hits, mode
    lag = within(CONSISTENT_S, lambda: messages_in_vitality(b, "duo") == 30)  # B's snapshot follows the sequence
    assert b.post("/v1/brands/duo/history/batch", json=history("pneu", 10, author="max")).status_code == 200
    lag = max(lag, within(CONSISTENT_S, lambda: messages_in_vitality(a, "duo") == 40))
    assert messages_in_vitality(b, "duo") == 40
    print(f"cross-replica analytics lag: {lag:.2f} s")


def test_an_import_survives_its_replica_being_killed(cluster: tuple[Replica, Replica]):
    a, b = cluster
    a.post("/v1/brands", json={"id": "bulk", "name": "Bulk"})
    lines = [json.dumps({"type": "message", "source_id": f"m{i}", "author": f"u{i % 40}", "kind": "post",
                         "created_at": (datetime.now(timezone.utc) - timedelta(days=2)).isoformat(),
                         "text": f"message {i} sur la chaîne et les freins"})
             for i in range(20_000)]
    r = a.post("/v1/brands/bulk/imports", params={"format": "jsonl", "filename": "h.jsonl"},
               content="\n".join(lines).encode(), headers={"content-type": "application/octet-stream"})
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    within(60, lambda: a.get(f"/v1/jobs/{job}").json()["processed"] > 0)
    a.kill()  # mid-import: the job stays claimed by a dead worker until its lease runs out
    assert b.get(f"/v1/jobs/{job}").json()["status"] == "running"
    a.start()  # the upload is in A's data directory: A takes its job back once the lease ran out
    within(180, lambda: b.get(f"/v1/jobs/{job}").json()["status"] in ("succeeded", "failed"))
    done = b.get(f"/v1/jobs/{job}").json()
    assert done["status"] == "succeeded", done
    within(CONSISTENT_S, lambda: messages_in_vitality(b, "bulk") == 20_000)  # no duplicates, nothing lost


def test_an_erasure_through_one_replica_reaches_the_others_analytics(cluster: tuple[Replica, Replica]):
    a, b = cluster
    a.post("/v1/brands", json={"id": "gdpr", "name": "Gdpr"})
    a.post("/v1/brands/gdpr/history/batch", json=history("a", 6, author="zoe"))
    a.post("/v1/brands/gdpr/history/batch", json=history("b", 4, author="max"))
    within(CONSISTENT_S, lambda: messages_in_vitality(b, "gdpr") == 10)
    zoe = next(m for m in a.get("/v1/brands/gdpr/members").json()["items"] if m["source_id"] == "zoe")
    assert httpx.delete(f"{a.base}/v1/brands/gdpr/members/{zoe['id']}", headers=AUTH, timeout=60).status_code == 200
    within(CONSISTENT_S, lambda: messages_in_vitality(b, "gdpr") == 4)
    hits = b.get("/v1/brands/gdpr/search", params={"q": "roue voile sortie", "mode": "hybrid"}).json()["results"]
    assert hits and {h["author"] for h in hits} == {"max"}


class Nginx:
    """nginx with the configuration block of docs/deploy.md, every file under its own prefix directory."""

    def __init__(self, work: Path, upstreams: list[int]):
        self.work, self.port = work, free_port()
        self.bin = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
        doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
        self.conf = re.search(r"```nginx\n(.*?)```", doc, re.S).group(1)  # type: ignore[union-attr]
        # The page's loopback ports become free ones; each must be there, or the page and the test have drifted.
        for documented, port in (("127.0.0.1:8101", upstreams[0]), ("127.0.0.1:8102", upstreams[1]),
                                 ("127.0.0.1:8443", self.port)):
            assert documented in self.conf, documented
            self.conf = self.conf.replace(documented, f"127.0.0.1:{port}")
        self.base = f"https://127.0.0.1:{self.port}"

    def command(self, *extra: str) -> list[str]:
        assert self.bin is not None
        return [self.bin, "-p", str(self.work), "-c", str(self.work / "nginx.conf"), "-e", str(self.work / "error.log"),
                *extra]

    def start(self) -> "Nginx":
        self.work.mkdir(parents=True, exist_ok=True)
        for folder in (self.work.parent, self.work):  # as root, the workers run as nobody and must enter it
            folder.chmod(0o755)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(self.work / "copilot.key"), "-out", str(self.work / "copilot.crt")],
                       check=True, capture_output=True)
        (self.work / "nginx.conf").write_text(self.conf, encoding="utf-8")
        started = subprocess.run(self.command(), capture_output=True, text=True)
        assert started.returncode == 0, started.stderr + self.error_log()
        self.client = httpx.Client(base_url=self.base, headers=AUTH, timeout=60,
                                   verify=ssl.create_default_context(cafile=str(self.work / "copilot.crt")))
        within(30, lambda: self._answers("/readyz"))
        return self

    def _answers(self, path: str) -> bool:
        try:
            return self.client.get(path).status_code == 200
        except httpx.HTTPError:
            return False

    def error_log(self) -> str:
        path = self.work / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def upstreams_seen(self) -> set[str]:
        """The replicas that answered, from the page's access log format (`upstream=host:port`)."""
        return set(re.findall(r"upstream=(\S+)", (self.work / "access.log").read_text(errors="replace")))

    def stop(self) -> None:
        if (self.work / "nginx.pid").exists():
            subprocess.run(self.command("-s", "quit"), check=False, capture_output=True)
            within(30, lambda: not (self.work / "nginx.pid").exists())


@pytest.fixture(scope="module")
def proxy(cluster: tuple[Replica, Replica]) -> Iterator[Nginx]:
    nginx = Nginx(Path(tempfile.mkdtemp(prefix="copilot-proxy-")) / "nginx", [cluster[0].port, cluster[1].port])
    if nginx.bin is None:
        missing("nginx is not installed (apt-get install nginx)")
    if shutil.which("openssl") is None:
        missing("openssl is not installed (apt-get install openssl)")
    try:
        yield nginx.start()
    finally:
        nginx.stop()
        shutil.rmtree(nginx.work.parent, ignore_errors=True)


def test_the_documented_nginx_serves_both_replicas_and_survives_one_going_down(cluster: tuple[Replica, Replica],
                                                                               proxy: Nginx):
    a, b = cluster
    web = proxy.client
    assert web.post("/v1/brands", json={"id": "proxied", "name": "Proxied"}).status_code == 201
    assert web.post("/v1/brands/proxied/history/batch", json=history("via", 12)).status_code == 200
    assert a.post("/v1/brands/proxied/history/batch", json=history("direct", 8, author="max")).status_code == 200
    lines = [json.dumps({"type": "message", "source_id": f"imp{i}", "author": f"u{i % 7}", "kind": "post",
                         "created_at": (datetime.now(timezone.utc) - timedelta(days=3)).isoformat(),
                         "text": f"message importé {i} " + "à travers le proxy " * 20}) for i in range(2_000)]
    body = "\n".join(lines).encode()
    assert len(body) > 1_000_000  # far above nginx's 1 MB default client_max_body_size and its body buffer
    r = web.post("/v1/brands/proxied/imports", params={"format": "jsonl", "filename": "h.jsonl"}, content=body,
                 headers={"content-type": "application/octet-stream"})
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    within(120, lambda: web.get(f"/v1/jobs/{job}").json()["status"] in ("succeeded", "failed"))
    assert web.get(f"/v1/jobs/{job}").json()["status"] == "succeeded"
    # Whichever replica answers, it reads every write: the batch through the proxy, the one sent to A, the import.
    for _ in range(6):
        hits = web.get("/v1/brands/proxied/search", params={"q": "roue voile sortie", "mode": "lexical",
                                                            "limit": 50}).json()["results"]
        assert {h["id"][:3] for h in hits} >= {"via", "dir"}, hits
    within(CONSISTENT_S, lambda: all(messages_in_vitality(replica, "proxied") == 2_020 for replica in (a, b)))
    assert proxy.upstreams_seen() >= {f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"}, proxy.upstreams_seen()
    a.stop()
    try:  # a replica down: every request is retried on the other one, reads and writes alike
        for i in range(6):
            assert web.get("/v1/brands/proxied").status_code == 200
            assert web.post("/v1/brands/proxied/history/batch", json=history(f"down{i}-", 1)).status_code == 200
        within(CONSISTENT_S, lambda: messages_in_vitality(b, "proxied") == 2_020 + 6)
    finally:
        a.start()


def test_two_workers_never_claim_the_same_job(postgres: Postgres):
    """Row locks with SKIP LOCKED: concurrent claims on PostgreSQL hand each job to exactly one worker."""
    from copilot.store import Store

    url = postgres.createdb("claims")
    stores = [Store(url) for _ in range(3)]
    try:
        stores[0].create_brand("duo", "Duo", "fr")
        ids = {stores[0].create_job("duo", kind="import", fmt="jsonl", file_path=None, file_name=None).id
               for _ in range(30)}
        claimed: list[str] = []

        def worker(store: Store, name: str) -> None:
            while (job := store.claim_job(name, lease_s=600)) is not None:
                claimed.append(job.id)

        threads = [threading.Thread(target=worker, args=(s, f"w{i}")) for i, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(claimed) == sorted(ids)
    finally:
        for store in stores:
            store.close()
