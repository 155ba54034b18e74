import json

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, ROOT, make_key, wait_job

PROBLEM = "application/problem+json"


def test_health_and_readiness(client: TestClient):
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["checks"]["store"] == "ok"


def test_auth_errors_are_problem_documents(client: TestClient, brand: str):
    r = client.get(f"/v1/brands/{brand}")
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    assert r.json()["type"].endswith("/unauthenticated")
    r = client.get(f"/v1/brands/{brand}", headers={"Authorization": "Bearer cpk_x_y"})
    assert r.status_code == 401 and "test-admin-key" not in r.text
    reader = make_key(client, brand, "read")
    r = client.post("/v1/brands", json={"id": "other", "name": "O"}, headers=reader)
    assert r.status_code == 403
    r = client.put(f"/v1/brands/{brand}/charter", json={"content": "# Valeurs\n- Entraide"}, headers=reader)
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")


def test_brand_creation_validation_and_conflict(client: TestClient, brand: str):
    r = client.post("/v1/brands", json={"id": "Bad Id!", "name": "x"}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["field"] == "body.id"
    r = client.post("/v1/brands", json={"id": brand, "name": "again"}, headers=ADMIN)
    assert r.status_code == 409 and r.json()["field"] == "id"
    r = client.post("/v1/brands", content=b'{"id": "x', headers=ADMIN | {"content-type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


def test_keys_lifecycle(client: TestClient, brand: str):
    admin_key = make_key(client, brand, "admin")
    r = client.post(f"/v1/brands/{brand}/keys", json={"actor": "ed", "scopes": ["review"]}, headers=admin_key)
    key_id, secret = r.json()["id"], r.json()["key"]
    listed = client.get(f"/v1/brands/{brand}/keys", headers=admin_key).json()
    assert key_id in [k["id"] for k in listed] and secret not in json.dumps(listed)
    assert client.get(f"/v1/brands/{brand}", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert client.delete(f"/v1/brands/{brand}/keys/{key_id}", headers=admin_key).json()["revoked_at"]
    assert client.get(f"/v1/brands/{brand}", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    r = client.post(f"/v1/brands/{brand}/keys", json={"actor": "ed", "scopes": ["root"]}, headers=admin_key)
    assert r.status_code == 422 and r.json()["field"].startswith("body.scopes")


def test_charter_put_get_versions(client: TestClient, brand: str):
    md = (ROOT / "knowledge" / "charter.md").read_text(encoding="utf-8")
    r = client.put(f"/v1/brands/{brand}/charter", json={"content": md}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["created"]
    assert r.json()["charter"]["register"] == "tu"
    again = client.put(f"/v1/brands/{brand}/charter", json={"content": md}, headers=ADMIN).json()
    assert again["version"] == 1 and not again["created"]
    v2 = client.put(f"/v1/brands/{brand}/charter", json={"content": "values: [Entraide]\n", "format": "yaml"},
                    headers=ADMIN).json()
    assert v2["version"] == 2
    assert [v["version"] for v in client.get(f"/v1/brands/{brand}/charter/versions", headers=ADMIN).json()] == [1, 2]
    assert client.get(f"/v1/brands/{brand}/charter", headers=ADMIN).json()["charter"]["values"][0]["text"] == "Entraide"
    old = client.get(f"/v1/brands/{brand}/charter/versions/1", headers=ADMIN).json()
    assert old["charter"]["brand"] == "Roue Libre"
    # Charter passages are searchable, and the old version's passages are gone from search.
    hits = client.get(f"/v1/brands/{brand}/search", params={"q": "Entraide", "kind": "charter"}, headers=ADMIN).json()
    assert [h["id"] for h in hits["results"]] == ["values-1"]
    bad = client.put(f"/v1/brands/{brand}/charter", json={"content": "{oops", "format": "json"}, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["type"].endswith("/charter-invalid")
    assert client.get(f"/v1/brands/{brand}/charter", headers=ADMIN).json()["version"] == 2
    assert client.get(f"/v1/brands/{brand}/charter/versions/9", headers=ADMIN).status_code == 404


def test_history_batch_is_idempotent_and_all_or_nothing(client: TestClient, brand: str):
    batch = {"members": [{"source_id": "u1", "name": "Ana"}],
             "messages": [{"source_id": f"m{i}", "author": "u1", "created_at": "2026-10-01T10:00:00Z",
                           "text": f"Question {i} sur les freins", "kind": "question"} for i in range(5)]}
    first = client.post(f"/v1/brands/{brand}/history/batch", json=batch, headers=ADMIN).json()
    assert first["messages"]["inserted"] == 5 and first["embedded"] == 5
    again = client.post(f"/v1/brands/{brand}/history/batch", json=batch, headers=ADMIN).json()
    assert again["messages"]["unchanged"] == 5 and again["embedded"] == 0
    broken = json.loads(json.dumps(batch))
    broken["messages"].append({"source_id": "m9", "created_at": "not a date", "text": "x"})
    broken["messages"][0]["text"] = "changed"
    r = client.post(f"/v1/brands/{brand}/history/batch", json=broken, headers=ADMIN)
    assert r.status_code == 422 and r.json()["field"] == "body.messages.5.created_at"
    hits = client.get(f"/v1/brands/{brand}/search", params={"q": "Question 0 freins", "mode": "lexical"},
                      headers=ADMIN).json()["results"]
    assert any(h["id"] == "m0" and "Question 0" in h["snippet"] for h in hits)
    too_many = {"messages": [batch["messages"][0]] * 1001}
    r = client.post(f"/v1/brands/{brand}/history/batch", json=too_many, headers=ADMIN)
    assert r.status_code in (413, 422)


def test_oversized_body_is_refused(client: TestClient, brand: str):
    big = {"content": "x" * 2_100_000}
    r = client.put(f"/v1/brands/{brand}/charter", json=big, headers=ADMIN)
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM


def test_members_list_and_update(client: TestClient, brand: str):
    client.post(f"/v1/brands/{brand}/history/batch", headers=ADMIN, json={
        "members": [{"source_id": "u1", "name": "Ana"}, {"source_id": "s1", "name": "Sam", "role": "staff"}]})
    page = client.get(f"/v1/brands/{brand}/members", params={"limit": 1}, headers=ADMIN).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    staff = client.get(f"/v1/brands/{brand}/members", params={"role": "staff"}, headers=ADMIN).json()["items"]
    assert [m["name"] for m in staff] == ["Sam"]
    mid = page["items"][0]["id"]
    r = client.patch(f"/v1/brands/{brand}/members/{mid}", json={"consent_spotlight": "opt_in"}, headers=ADMIN)
    assert r.json()["consent_spotlight"] == "opt_in"
    assert client.patch(f"/v1/brands/{brand}/members/{mid}", json={}, headers=ADMIN).status_code == 422
    assert client.patch(f"/v1/brands/{brand}/members/{mid}", json={"role": "king"}, headers=ADMIN).status_code == 422
    assert client.get(f"/v1/brands/{brand}/members/999999", headers=ADMIN).status_code == 404


_wait = wait_job


def test_file_import_job_reports_progress_and_errors(client: TestClient, brand: str):
    body = (ROOT / "knowledge" / "history.jsonl").read_bytes() + b"{broken\n"
    r = client.post(f"/v1/brands/{brand}/imports", params={"format": "jsonl", "filename": "history.jsonl"},
                    content=body, headers=ADMIN | {"content-type": "application/octet-stream"})
    assert r.status_code == 202 and r.json()["status"] in ("queued", "running", "succeeded")
    job = _wait(client, r.json()["id"], ADMIN)
    assert job["status"] == "succeeded" and job["processed"] == job["total"]
    assert job["counts"]["messages"]["inserted"] == 473 and job["error_count"] == 1
    assert job["errors"][0]["location"].startswith("history.jsonl")
    bad = client.post(f"/v1/brands/{brand}/imports", params={"format": "slack"}, content=b"not a zip",
                      headers=ADMIN | {"content-type": "application/octet-stream"})
    failed = _wait(client, bad.json()["id"], ADMIN)
    assert failed["status"] == "failed" and "zip" in failed["detail"]
    empty = client.post(f"/v1/brands/{brand}/imports", content=b"", headers=ADMIN)
    assert empty.status_code == 422
    assert client.get("/v1/jobs/nope", headers=ADMIN).status_code == 404


def test_search_endpoint_filters_and_validation(client: TestClient, brand: str):
    client.post(f"/v1/brands/{brand}/history/batch", headers=ADMIN, json={"messages": [
        {"source_id": "q1", "created_at": "2026-10-01T10:00:00Z", "text": "Mes freins couinent sous la pluie",
         "kind": "question", "channel": "atelier", "permalink": "https://x.example/q1"},
        {"source_id": "p1", "created_at": "2026-11-01T10:00:00Z", "text": "Sortie pluvieuse, freins au top",
         "channel": "sorties"}]})
    r = client.get(f"/v1/brands/{brand}/search", params={"q": "freins pluie"}, headers=ADMIN).json()
    assert {h["id"] for h in r["results"]} == {"q1", "p1"}
    top = r["results"][0]
    assert set(top) >= {"id", "source", "snippet", "score", "kind", "created_at"}
    only = client.get(f"/v1/brands/{brand}/search", params={"q": "freins", "channel": "atelier"}, headers=ADMIN).json()
    assert [h["id"] for h in only["results"]] == ["q1"] and only["results"][0]["permalink"] == "https://x.example/q1"
    ranged = client.get(f"/v1/brands/{brand}/search", headers=ADMIN,
                        params={"q": "freins", "since": "2026-10-15T00:00:00Z", "until": "2026-12-01T00:00:00"}).json()
    assert [h["id"] for h in ranged["results"]] == ["p1"]
    for params, field in (({"q": ""}, "query.q"), ({"q": "x", "limit": 0}, "query.limit"),
                          ({"q": "x", "mode": "magic"}, "query.mode"), ({"q": "x", "since": "soon"}, "query.since")):
        bad = client.get(f"/v1/brands/{brand}/search", params=params, headers=ADMIN)
        assert bad.status_code == 422 and bad.json()["field"] == field
    r = client.get(f"/v1/brands/{brand}/search", params={"q": "x", "since": "2026-12-01T00:00:00Z",
                                                          "until": "2026-01-01T00:00:00Z"}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["field"] == "since"


def test_an_import_without_a_format_reports_the_format_it_detected(client: TestClient, brand: str):
    body = (ROOT / "knowledge" / "history.jsonl").read_bytes()
    r = client.post(f"/v1/brands/{brand}/imports", params={"filename": "history.jsonl"}, content=body,
                    headers=ADMIN | {"content-type": "application/octet-stream"})
    assert r.status_code == 202 and r.json()["format"] == "auto"
    job = _wait(client, r.json()["id"], ADMIN)
    assert job["status"] == "succeeded" and job["format"] == "jsonl", job
