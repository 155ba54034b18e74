"""Erasure and export of a member's data; secrets stay out of logs and errors."""

import logging

from fastapi.testclient import TestClient

from copilot.runtime import Copilot
from copilot.types import MemberRecord, MessageRecord
from tests.conftest import ADMIN, make_key


def test_erasing_a_member_removes_them_everywhere(client: TestClient, copilot: Copilot, brand: str):
    from datetime import datetime, timezone

    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    copilot.ingestor.ingest(brand, [
        MemberRecord(source_id="zoe", name="Zoé Martin"), MemberRecord(source_id="max", name="Max"),
        MessageRecord(source_id="z1", author="zoe", created_at=now, text="Xylophonique pédalier tordu, une idée ?",
                      kind="question"),
        MessageRecord(source_id="z2", author="zoe", created_at=now, text="Merci pour le xylophonique conseil",
                      kind="comment", reply_to="m1"),
        MessageRecord(source_id="m1", author="max", created_at=now, text="Redresse le pédalier.", kind="answer",
                      reply_to="z1")])
    draft = copilot.store.create_draft(brand, kind="shoutout", ritual=None, title="Merci à Zoé Martin",
                                       body="Un grand merci à Zoé Martin pour ses questions.", payload={}, actor="ed")
    for mode in ("lexical", "dense", "hybrid"):
        assert {"z1", "z2"} <= {h["id"] for h in client.get(f"/v1/brands/{brand}/search", headers=ADMIN, params={
            "q": "xylophonique", "mode": mode}).json()["results"]}
    members = {m["source_id"]: m["id"] for m in client.get(f"/v1/brands/{brand}/members", headers=ADMIN).json()["items"]}
    export = client.get(f"/v1/brands/{brand}/members/{members['zoe']}/export", headers=ADMIN).json()
    assert export["member"]["name"] == "Zoé Martin" and {m["id"] for m in export["messages"]} == {"z1", "z2"}
    reader = make_key(client, brand, "read")
    assert client.delete(f"/v1/brands/{brand}/members/{members['zoe']}", headers=reader).status_code == 403
    r = client.delete(f"/v1/brands/{brand}/members/{members['zoe']}", headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"member_id": members["zoe"], "messages": 2, "drafts_redacted": 1}
    for mode in ("lexical", "dense", "hybrid"):
        hits = client.get(f"/v1/brands/{brand}/search", headers=ADMIN, params={"q": "xylophonique", "mode": mode}).json()
        assert not {"z1", "z2"} & {h["id"] for h in hits["results"]}, mode
    assert copilot.index.count(brand) == 1 and copilot.store.count_messages(brand) == 1
    assert client.get(f"/v1/brands/{brand}/members/{members['zoe']}", headers=ADMIN).status_code == 404
    d = copilot.store.get_draft(draft.id)
    assert "Zoé" not in d.body and "[membre effacé]" in d.body and "Zoé" not in d.title
    history = copilot.review.history(draft.id)
    assert all("Zoé" not in r["body"] for r in history["revisions"])
    assert client.delete(f"/v1/brands/{brand}/members/{members['zoe']}", headers=ADMIN).status_code == 404


def test_secrets_never_reach_logs_or_errors(client: TestClient, brand: str, caplog):
    caplog.set_level(logging.DEBUG)
    key = make_key(client, brand, "read")
    secret = key["Authorization"].split(" ", 1)[1]
    bad = client.get(f"/v1/brands/{brand}", headers={"Authorization": f"Bearer {secret}x"})
    assert bad.status_code == 401 and secret not in bad.text and "test-admin-key" not in bad.text
    client.get(f"/v1/brands/{brand}", headers=key)
    assert secret not in caplog.text and "test-admin-key" not in caplog.text
    listed = client.get(f"/v1/brands/{brand}/keys", headers=ADMIN).text
    assert secret.split("_", 2)[2] not in listed


def test_hostile_bodies_get_clear_problems_and_change_nothing(client: TestClient, copilot: Copilot, brand: str):
    before = copilot.store.count_messages(brand)
    deep = "[" * 5000 + "]" * 5000
    r = client.post(f"/v1/brands/{brand}/history/batch", content=deep, headers=ADMIN | {"content-type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    huge = {"messages": [{"source_id": "big", "created_at": "2026-10-01T00:00:00Z", "text": "x" * 10_000_000}]}
    r = client.post(f"/v1/brands/{brand}/history/batch", json=huge, headers=ADMIN)
    assert r.status_code == 413 and r.json()["type"].endswith("/payload-too-large")
    long_text = {"messages": [{"source_id": "long", "created_at": "2026-10-01T00:00:00Z", "text": "x" * 100_001}]}
    r = client.post(f"/v1/brands/{brand}/history/batch", json=long_text, headers=ADMIN)
    assert r.status_code == 422 and r.json()["field"] == "body.messages.0.text"
    r = client.post(f"/v1/brands/{brand}/history/batch", content=b'{"messages": [\xff\xfe]}',
                    headers=ADMIN | {"content-type": "application/json"})
    assert r.status_code == 422
    for text, why in ((r"caf\u0000e", "NUL"), (r"\ud800 seul", "surrogate")):  # JSON escapes, valid JSON
        body = '{"messages": [{"source_id": "nul", "created_at": "2026-10-01T00:00:00Z", "text": "%s"}]}' % text
        r = client.post(f"/v1/brands/{brand}/history/batch", content=body.encode(),
                        headers=ADMIN | {"content-type": "application/json"})
        assert r.status_code == 422 and why in r.json()["detail"] and "text" in r.json()["detail"], r.text
    assert copilot.store.count_messages(brand) == before


def test_unsafe_archives_through_the_api_fail_clearly_and_change_nothing(client: TestClient, copilot: Copilot,
                                                                         brand: str, tmp_path):
    import time

    from tests.test_ingest import slack_zip

    before = copilot.store.count_messages(brand)
    for name, extra, expected in (("slip.zip", {"../../etc/evil.json": b"[]"}, "unsafe path"),
                                  ("bomb.zip", {"atelier/2025-10-10.json": b"[" + b" " * 50_000_000 + b"]"}, "zip bomb")):
        path = slack_zip(tmp_path / name, extra)
        r = client.post(f"/v1/brands/{brand}/imports", params={"format": "slack", "filename": name},
                        content=path.read_bytes(), headers=ADMIN)
        assert r.status_code == 202
        for _ in range(200):
            job = client.get(f"/v1/jobs/{r.json()['id']}", headers=ADMIN).json()
            if job["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.05)
        assert job["status"] == "failed" and expected in job["detail"]
    assert copilot.store.count_messages(brand) == before
