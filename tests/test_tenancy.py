"""Walks the route table: a key for brand A gets 404/403 on every route of brand B, and scopes hold."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, make_key

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# POSTs that compute an answer and store nothing: a read key may call them.
READ_ONLY_POSTS = {"/v1/brands/{brand}/drift/checks"}


def _routes(client: TestClient) -> list[tuple[str, str]]:
    # The app's own route table as FastAPI publishes it (included routers are not flattened in app.routes).
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(m.upper(), p) for p, ops in paths.items() if p.startswith("/v1/") for m in ops]


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _setup_brand_b(client: TestClient) -> dict[str, str]:
    assert client.post("/v1/brands", json={"id": "brand-b", "name": "B"}, headers=ADMIN).status_code == 201
    key = client.post("/v1/brands/brand-b/keys", json={"actor": "b", "scopes": ["read"]}, headers=ADMIN).json()
    client.put("/v1/brands/brand-b/charter", json={"content": "# Valeurs\n- Entraide"}, headers=ADMIN)
    client.post("/v1/brands/brand-b/history/batch", headers=ADMIN, json={
        "members": [{"source_id": "u1", "name": "Bea"}],
        "messages": [{"source_id": "m1", "created_at": "2026-10-01T00:00:00Z", "text": "secret de B"}]})
    member_id = client.get("/v1/brands/brand-b/members", headers=ADMIN).json()["items"][0]["id"]
    job = client.post("/v1/brands/brand-b/imports", content=b'{"type":"member","source_id":"u2"}\n',
                      params={"format": "jsonl"}, headers=ADMIN).json()
    draft = client.post("/v1/brands/brand-b/rituals/drafts", json={"ritual": "welcome_thread"}, headers=ADMIN).json()
    return {"brand": "brand-b", "key_id": key["id"], "version": "1", "member_id": str(member_id), "job_id": job["id"],
            "draft_id": draft["id"]}


def test_a_key_of_brand_a_never_reaches_brand_b(client: TestClient, brand: str):
    values = _setup_brand_b(client)
    key_a = make_key(client, brand, "admin")  # the strongest brand key
    routes = _routes(client)
    assert len(routes) >= 14
    checked = 0
    for method, path in routes:
        if path == "/v1/brands":
            continue  # brand creation is admin-only and the listing shows the key's own brand: covered below
        url = _fill(path, values)
        kwargs = {"json": {}} if method in WRITE_METHODS and not path.endswith("/imports") else {}
        if path.endswith("/imports"):
            kwargs = {"content": b"{}"}
        r = client.request(method, url, headers=key_a, **kwargs)
        assert r.status_code in (403, 404), f"{method} {url} -> {r.status_code}"
        assert "secret de B" not in r.text and "Bea" not in r.text and "brand-b" not in r.json().get("brand", "")
        checked += 1
    assert checked == len([r for r in routes if r[1] != "/v1/brands"])
    assert client.post("/v1/brands", json={"id": "brand-c", "name": "C"}, headers=key_a).status_code == 403
    assert [b["id"] for b in client.get("/v1/brands", headers=key_a).json()] == [brand]
    assert {b["id"] for b in client.get("/v1/brands", headers=ADMIN).json()} >= {brand, "brand-b"}
    # Brand B is intact and its key still works.
    assert client.get("/v1/brands/brand-b/keys", headers=ADMIN).json()[0]["revoked_at"] is None
    assert client.get("/v1/brands/brand-b/members", headers=ADMIN).json()["total"] >= 1


def test_read_keys_cannot_write_anything(client: TestClient, brand: str):
    reader = make_key(client, brand, "read")
    draft = client.post(f"/v1/brands/{brand}/rituals/drafts", json={"ritual": "welcome_thread"}, headers=ADMIN).json()
    values = {"brand": brand, "key_id": "x", "version": "1", "member_id": "1", "job_id": "x", "draft_id": draft["id"]}
    for method, path in _routes(client):
        if method in WRITE_METHODS and path != "/v1/brands" and path not in READ_ONLY_POSTS:
            body = {"action": "approve"} if path.endswith("/decisions") else {}
            r = client.request(method, _fill(path, values), headers=reader, json=body)
            assert r.status_code == 403, f"{method} {path} -> {r.status_code}"
    for path in ("/v1/brands/{brand}", "/v1/brands/{brand}/members"):
        assert client.get(_fill(path, values), headers=reader).status_code == 200
