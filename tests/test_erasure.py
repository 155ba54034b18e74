"""Right to erasure: after `DELETE /members/{id}` no copy of the member's words or identity is left, neither
behind the API nor in any byte of the data directory (SQLite file, its WAL, Chroma and its log, the lexical
index, uploads); failed imports' uploads are deleted after the retention period."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import zipfile
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from copilot.cli import app
from copilot.embed import HashEmbedder
from copilot.errors import ServiceUnavailable
from copilot.index import ChromaIndex
from copilot.index_files import HEADER, LENGTH_BYTES, segments
from copilot.runtime import Copilot
from copilot.settings import Settings
from copilot.store import Store
from copilot.store.db import SCRUBBED
from copilot.store.models import Job
from copilot.types import MemberRecord, MessageRecord
from tests.chroma_server import CHROMA, ChromaServer, free_port
from tests.conftest import ADMIN, ROOT, make_key, missing, wait_job

WORD = "zyxquorblat"
MEMBER, NAME = "vlorpquenx", "Vlorpa Quenx"
NEEDLES = (WORD, MEMBER, "vlorpa")  # the member's words, id and name
QUESTION = f"Comment régler le dérailleur {WORD} de mon vélo de ville avant la sortie de dimanche ?"


def _history(now: datetime) -> bytes:
    at = lambda days: (now - timedelta(days=days)).isoformat()  # noqa: E731
    lines: list[dict[str, Any]] = [
        {"type": "member", "source_id": MEMBER, "name": NAME},
        {"type": "member", "source_id": "max", "name": "Max"},
        {"type": "message", "source_id": "q1", "author": MEMBER, "author_name": NAME, "created_at": at(3),
         "kind": "question", "channel": "atelier", "text": QUESTION},
        {"type": "message", "source_id": "q2", "author": MEMBER, "author_name": NAME, "created_at": at(2),
         "kind": "question", "channel": "atelier",
         "text": f"Est-ce que le dérailleur {WORD} supporte la pluie ou faut-il le graisser chaque semaine ?"},
        {"type": "message", "source_id": "a1", "author": "max", "created_at": at(2), "kind": "answer",
         "channel": "atelier", "reply_to": "q1", "text": "Resserre la vis de butée et vérifie la tension du câble."},
        {"type": "message", "source_id": "a2", "author": "max", "created_at": at(1), "kind": "answer",
         "channel": "atelier", "reply_to": "q2", "text": "Un peu de graisse une fois par mois suffit largement."},
    ]
    return "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode("utf-8")


def _age(copilot: Copilot, job_id: str, updated_at: datetime) -> None:
    """Pretend the job last changed at `updated_at`."""
    with copilot.store.session() as s, s.begin():
        s.execute(update(Job).where(Job.id == job_id).values(updated_at=updated_at))


_wait = wait_job


def _import(client: TestClient, brand: str, content: bytes, fmt: str, filename: str) -> dict[str, Any]:
    r = client.post(f"/v1/brands/{brand}/imports", params={"format": fmt, "filename": filename}, content=content,
                    headers=ADMIN | {"content-type": "application/octet-stream"})
    assert r.status_code == 202, r.text
    return _wait(client, r.json()["id"])


def _slack_export_with_a_bad_record(path: Path) -> bytes:
    """A Slack export whose one unreadable message is reported with an excerpt quoting the member's word."""
    day = [{"type": "message", "user": "U1", "text": "Bonjour à tous", "ts": "1760000000.000100"},
           {"type": "message", "user": "U1", "text": "réponse", "ts": f"{WORD}-1"}]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("users.json", json.dumps([{"id": "U1", "name": "ana"}]))
        zf.writestr("channels.json", json.dumps([{"id": "C1", "name": "atelier"}]))
        zf.writestr("atelier/2025-10-09.json", json.dumps(day))
    return path.read_bytes()


def files_holding(root: Path, needles: tuple[str, ...] = NEEDLES) -> dict[str, list[str]]:
    """Every file under `root` whose raw bytes contain a needle (case-insensitive), with the needles found. A file
    that disappears while the tree is read (a snapshot's temporary file renamed into place by a background save)
    is skipped: what it held is in the file it became, which is read too."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            raw = path.read_bytes().lower()
        except FileNotFoundError:
            continue
        hits = [n for n in needles if n.lower().encode("utf-8") in raw]
        if hits:
            found[path.relative_to(root).as_posix()] = hits
    return found


def _api_texts(client: TestClient, brand: str, draft_id: str, job_ids: list[str], other: int) -> list[str]:
    """Everything the API answers about the brand's search, drafts, jobs, members and the other member."""
    out = [json.dumps(client.get(f"/v1/brands/{brand}/search", headers=ADMIN, params={"q": q, "mode": mode})
                      .json()["results"], ensure_ascii=False)  # the answer echoes the query: look at the results
           for q in (WORD, QUESTION) for mode in ("lexical", "dense", "hybrid")]
    out += [client.get(f"/v1/brands/{brand}/drafts", headers=ADMIN).text,
            client.get(f"/v1/drafts/{draft_id}", headers=ADMIN).text,
            client.get(f"/v1/drafts/{draft_id}/history", headers=ADMIN).text,
            client.get(f"/v1/brands/{brand}/members", headers=ADMIN).text,
            client.get(f"/v1/brands/{brand}/members/{other}/export", headers=ADMIN).text]
    out += [client.get(f"/v1/jobs/{j}", headers=ADMIN).text for j in job_ids]
    return out


def test_erasure_leaves_no_copy_of_the_member_anywhere(client: TestClient, copilot: Copilot, brand: str,
                                                       tmp_path: Path):
    data_dir = copilot.settings.data_dir
    history = _import(client, brand, _history(datetime.now(timezone.utc)), "jsonl", "history.jsonl")
    assert history["status"] == "succeeded" and history["counts"]["messages"]["inserted"] == 4, history
    partial = _import(client, brand, _slack_export_with_a_bad_record(tmp_path / "export.zip"), "slack", "export.zip")
    assert partial["status"] == "succeeded" and WORD in json.dumps(partial["errors"]), partial
    failed = _import(client, brand, f"pas un zip : {QUESTION}".encode("utf-8"), "slack", "broken.zip")
    assert failed["status"] == "failed"

    drafter, reviewer = make_key(client, brand, "draft"), make_key(client, brand, "review")
    draft = client.post(f"/v1/brands/{brand}/rituals/drafts", json={"ritual": "qa_session", "variants": 2},
                        headers=drafter).json()
    assert WORD in draft["body"] and {"q1", "q2"} & set(draft["citations"]), draft
    assert any(WORD in topic for topic in draft["grounding"]["topics"]), draft["grounding"]  # their words, as a topic
    url = f"/v1/drafts/{draft['id']}"
    edited = client.patch(url, headers=drafter | {"If-Match": '"1"'}, json={
        "body": draft["body"] + "\n\nÀ jeudi !", "variants": [draft["body"].replace("Qui a", "Et vous, qui a")],
        "note": f"garde « le dérailleur {WORD} de mon vélo »"})
    assert edited.status_code == 200, edited.text
    decided = client.post(f"{url}/decisions", headers=drafter, json={
        "action": "submit", "comment": f"On cite « {QUESTION[:60]} », c'est parfait."})
    assert decided.status_code == 200, decided.text
    client.post(f"{url}/decisions", headers=reviewer, json={"action": "request_changes",
                                                           "comment": f"Demander à {NAME} avant publication"})
    assert any(h["id"] in ("q1", "q2") for h in client.get(
        f"/v1/brands/{brand}/search", headers=ADMIN, params={"q": WORD, "mode": "hybrid"}).json()["results"])
    members = {m["source_id"]: m["id"] for m in client.get(f"/v1/brands/{brand}/members", headers=ADMIN).json()["items"]}
    assert files_holding(data_dir), "the member's words should be on disk before erasure"

    r = client.delete(f"/v1/brands/{brand}/members/{members[MEMBER]}", headers=ADMIN)
    assert r.status_code == 200 and r.json()["messages"] == 2 and r.json()["drafts_redacted"] == 1, r.text
    assert files_holding(data_dir) == {}  # at once, not only after the indexes were rebuilt by later searches

    texts = _api_texts(client, brand, draft["id"], [history["id"], partial["id"], failed["id"]], members["max"])
    leaks = [t[max(0, i - 150):i + 50] for t in texts for n in NEEDLES if (i := t.lower().find(n.lower())) >= 0]
    assert not leaks, leaks
    after = client.get(url, headers=ADMIN).json()
    assert not {"q1", "q2"} & set(after["citations"]) and "[membre effacé]" in after["body"]
    assert client.get(f"/v1/brands/{brand}/members/{members[MEMBER]}/export", headers=ADMIN).status_code == 404
    assert "Resserre la vis" in client.get(f"/v1/brands/{brand}/search", headers=ADMIN,
                                           params={"q": "vis de butée", "mode": "hybrid"}).text
    assert files_holding(data_dir) == {}
    assert not any((data_dir / "uploads").rglob("*.zip")), "finished imports' uploads are deleted on erasure"


def test_failed_uploads_are_deleted_after_the_retention_period(client: TestClient, copilot: Copilot, brand: str):
    old = _import(client, brand, b"pas un zip, ancien", "slack", "old.zip")
    young = _import(client, brand, b"pas un zip, recent", "slack", "young.zip")
    assert old["status"] == young["status"] == "failed"
    paths = {j["id"]: Path(copilot.store.get_job(j["id"]).file_path) for j in (old, young)}
    assert all(p.exists() for p in paths.values())
    retention = timedelta(hours=copilot.settings.failed_upload_retention_hours)
    failed_at = copilot.store.get_job(young["id"]).updated_at
    # The sweep runs with a pinned clock: `old` failed longer ago than the retention period, `young` did not.
    _age(copilot, old["id"], failed_at - retention - timedelta(minutes=5))
    assert copilot.jobs.sweep_uploads(now=failed_at + timedelta(minutes=1)) == 1
    assert not paths[old["id"]].exists() and not paths[old["id"]].parent.exists()
    assert paths[young["id"]].exists()
    assert copilot.store.get_job(old["id"]).file_path is None
    assert client.get(f"/v1/jobs/{old['id']}", headers=ADMIN).json()["status"] == "failed"


def test_the_job_worker_sweeps_expired_uploads_at_start_up(copilot: Copilot, brand: str):
    copilot.jobs.stop()  # the API's start-up started it; start it again below, as a restarted server does
    folder = copilot.settings.data_dir / "uploads" / "stale"
    folder.mkdir(parents=True)
    (folder / "export.zip").write_bytes(b"not a zip")
    job = copilot.store.create_job(brand, kind="import", fmt="slack", file_path=str(folder / "export.zip"),
                                   file_name="export.zip")
    long_ago = datetime.now(timezone.utc) - timedelta(hours=copilot.settings.failed_upload_retention_hours + 1)
    copilot.store.update_job(job.id, status="failed", detail="not a zip")
    _age(copilot, job.id, long_ago)
    copilot.jobs.start()
    try:
        for _ in range(200):
            if not folder.exists():
                break
            time.sleep(0.01)
        assert not folder.exists()
    finally:
        copilot.jobs.stop()


def test_a_database_file_from_before_secure_delete_is_vacuumed_once(tmp_path: Path):
    db = tmp_path / "old.db"
    Store(f"sqlite:///{db}").close()
    legacy = sqlite3.connect(db, isolation_level=None)  # an older release: no secure_delete, no marker
    legacy.execute("PRAGMA secure_delete=OFF")
    legacy.execute("PRAGMA user_version=0")
    legacy.execute("INSERT INTO brands (id, name, language, index_revision, created_at) "
                   "VALUES ('acme', 'Acme', 'fr', 0, '2026-01-01 00:00:00')")
    legacy.execute("INSERT INTO members (brand_id, source, source_id, name, role, consent_spotlight, consent_analytics,"
                   " updated_at) VALUES ('acme', 'native', ?, ?, 'member', 'unknown', 'unknown', '2026-01-01 00:00:00')",
                   (MEMBER, NAME))
    legacy.execute("DELETE FROM members")
    legacy.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    legacy.close()
    assert files_holding(tmp_path), "the deleted row should linger in a free page"
    store = Store(f"sqlite:///{db}")
    assert store.scrub_free_space()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA user_version").scalar() == SCRUBBED
    store.close()
    assert files_holding(tmp_path) == {}


class FlakyIndex(ChromaIndex):
    """The real embedded Chroma, whose first log purge fails (a server briefly down)."""

    failures = 1

    def purge_deleted(self, brand: str) -> None:
        if self.failures:
            self.failures -= 1
            raise ServiceUnavailable("vector index unavailable: ConnectionError")
        super().purge_deleted(brand)


def _fill_unused_capacity(chroma: Path, text: str) -> None:
    """Write `text` over every segment's unused capacity: where hnswlib leaves the heap memory it allocated for
    elements not added yet, which holds whatever the process had there (`copilot.index_files`)."""
    for segment in segments(chroma):
        _, _, _, count, per_element = HEADER.unpack_from((segment / "header.bin").read_bytes())
        for name, start in (("data_level0.bin", count * per_element), ("length.bin", count * LENGTH_BYTES)):
            path = segment / name
            size = path.stat().st_size
            with path.open("r+b") as f:
                f.seek(start)
                f.write((text.encode() * (size // len(text) + 1))[:size - start])


def test_an_unfinished_scrub_is_retried_by_the_job_worker(settings: Settings):
    embedder = HashEmbedder()
    c = Copilot(settings, embedder=embedder,
                index=FlakyIndex(path=settings.data_dir / "chroma", embedder_name=embedder.name))
    try:
        for brand in ("acme", "other"):
            c.store.create_brand(brand, brand.title(), "fr")
        c.ingestor.ingest("acme", [MemberRecord(source_id=MEMBER, name=NAME), MessageRecord(
            source_id="q1", author=MEMBER, created_at=datetime.now(timezone.utc), text=QUESTION, kind="question")])
        c.ingestor.ingest("other", [MessageRecord(source_id="o1", author="max", created_at=datetime.now(timezone.utc),
                                                  text="Un peu de graisse une fois par mois suffit.")])
        member = c.store.list_members("acme")[0][0]
        assert c.erase_member("acme", member.id)["messages"] == 1  # the erasure itself succeeds
        pending = settings.data_dir / "erasure-pending.json"
        assert json.loads(pending.read_text()) == {"vectors": ["acme"], "database": False}
        assert files_holding(settings.data_dir / "chroma"), "the vector log still holds the member's metadata"
        # The worst a new segment's unused capacity can hold, in the erased member's brand and in another one.
        _fill_unused_capacity(settings.data_dir / "chroma", f"{MEMBER} {NAME} {WORD} ")
        assert len({p.split("/")[1] for p in files_holding(settings.data_dir / "chroma") if "/" in p}) == 2
        c.jobs.maintain()
        assert not pending.exists()
        assert files_holding(settings.data_dir) == {}
    finally:
        c.close()


HEAP_CHILD = """
import ctypes, json, sys
from datetime import datetime, timezone
from pathlib import Path
from copilot.cli import app
from copilot.embed import HashEmbedder
from copilot.index import ChromaIndex
from copilot.runtime import Copilot
from copilot.settings import Settings
from copilot.types import MemberRecord, MessageRecord
from tests.test_erasure import MEMBER, NAME, QUESTION, files_holding

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
KEEP = []

def plant():
    # Freed heap memory holding the member's id, as any code that handled it leaves, in chunks the size of a new
    # segment's buffers (100 elements of 1,164 bytes; 100 lengths), each kept apart from the next (no coalescing,
    # no trimming): with one malloc arena, hnswlib's next allocations get them back.
    text = f"{MEMBER} {NAME} ".encode()
    planted = []
    for size in [116400] * 200 + [400] * 200:
        chunk = libc.malloc(size)
        ctypes.memmove(chunk, (text * (size // len(text) + 1))[:size], size)
        planted.append(chunk)
        KEEP.append(libc.malloc(64))
    for chunk in planted:
        libc.free(chunk)

class UnscrubbedIndex(ChromaIndex):
    def _scrub_new_segments(self):
        pass

root = Path(sys.argv[1])
settings = Settings(env="test", data_dir=root / "data", admin_key="test-admin-key", database_url=None)
embedder = HashEmbedder()
vector = embedder.embed(["Un peu de graisse une fois par mois suffit."])
c = Copilot(settings, embedder=embedder)
try:
    c.store.create_brand("acme", "Acme", "fr")
    c.ingestor.ingest("acme", [MemberRecord(source_id=MEMBER, name=NAME), MessageRecord(
        source_id="q1", author=MEMBER, created_at=datetime.now(timezone.utc), text=QUESTION, kind="question")])
    control = UnscrubbedIndex(path=root / "control", embedder_name=embedder.name)
    control.upsert("acme", ["q1"], vector, [{"author": "max"}])  # its first write allocates for good, as acme's did
    for index in (control, c.index):  # each creates a new brand's segment while the heap holds the member's id
        index.count("newcomer")
        plant()
        index.upsert("newcomer", ["n1"], vector, [{"author": "max"}])
    report = {"control": files_holding(root / "control"), "written": files_holding(root / "data" / "chroma")}
    c.erase_member("acme", c.store.list_members("acme")[0][0].id)
    report["erased"] = files_holding(root / "data")
finally:
    c.close()
print(json.dumps(report))
"""


def test_a_new_vector_segment_keeps_none_of_the_process_memory(tmp_path: Path):
    """hnswlib writes a new segment's unused capacity from uninitialised heap memory. A child process whose heap
    holds the member's id (one malloc arena, freed buffers planted right before a segment is created) shows it: a
    segment created without the scrub holds the id; one created by the index, zeroed after the write that created
    it, does not, and after the member's erasure no file does."""
    env = {**os.environ, "GLIBC_TUNABLES": "glibc.malloc.arena_max=1", "PYTHONPATH": str(ROOT)}
    env.pop("COPILOT_DATABASE_URL", None)
    env.pop("COPILOT_CHROMA_URL", None)
    done = subprocess.run([sys.executable, "-c", HEAP_CHILD, str(tmp_path)], cwd=ROOT, env=env, check=False,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert any(MEMBER in hits for name, hits in report["control"].items() if "data_level0" in name), (
        "the planted heap no longer reaches hnswlib's buffers (allocator or Chroma changed): the test cannot show "
        f"the leak any more; {report['control']}")
    assert not [name for name in report["written"] if name.endswith(".bin")], report["written"]
    assert report["erased"] == {}


def test_a_chroma_server_purges_the_member_from_its_log(settings: Settings, tmp_path: Path):
    """Server mode, the best a client can do: the member's rows leave the server's log (its file's free pages can
    only be VACUUMed on the server's host)."""
    if not CHROMA.exists():
        missing("the chroma CLI is not installed")
    server = ChromaServer(tmp_path / "chroma-server", free_port()).start()
    c = Copilot(settings.model_copy(update={"chroma_url": f"http://127.0.0.1:{server.port}"}), embedder=HashEmbedder())
    try:
        c.store.create_brand("acme", "Acme", "fr")
        c.ingestor.ingest("acme", [MemberRecord(source_id=MEMBER, name=NAME), MessageRecord(
            source_id="q1", author=MEMBER, created_at=datetime.now(timezone.utc), text=QUESTION, kind="question")])

        def logged() -> int:
            with closing(sqlite3.connect(f"file:{server.path / 'chroma.sqlite3'}?mode=ro", uri=True)) as log:
                return log.execute("SELECT count(*) FROM embeddings_queue WHERE metadata LIKE ?",
                                   (f"%{MEMBER}%",)).fetchone()[0]

        assert logged() == 1
        c.erase_member("acme", c.store.list_members("acme")[0][0].id)
        assert logged() == 0 and c.index.count("acme") == 0
    finally:
        c.close()
        server.stop()


def test_a_chroma_servers_segments_are_scrubbed_on_its_host(tmp_path: Path):
    """Server mode: a Chroma server's HNSW segments carry the server's own memory, out of the API's reach; the
    operator zeroes their unused capacity on its host with `copilot scrub-vector-files` (docs/deploy.md)."""
    chroma = tmp_path / "chroma"
    index = ChromaIndex(path=chroma, embedder_name="hash")
    index.upsert("acme", ["a1"], HashEmbedder().embed(["Un peu de graisse une fois par mois suffit."]),
                 [{"author": "max"}])
    _fill_unused_capacity(chroma, f"{MEMBER} {NAME} ")
    assert set(files_holding(chroma)) == {f"{s.name}/{f}" for s in segments(chroma)
                                           for f in ("data_level0.bin", "length.bin")}
    r = CliRunner().invoke(app, ["scrub-vector-files", str(chroma)])
    assert r.exit_code == 0 and r.output.startswith("1 HNSW segment(s)"), r.output
    assert files_holding(chroma) == {}
    assert [uid for uid, _ in index.query("acme", HashEmbedder().embed(["graisse"])[0], k=1, filters={})] == ["a1"]
