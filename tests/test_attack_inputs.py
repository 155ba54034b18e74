"""The low-severity findings of the attack run (security issue 10, items 7-14): each hostile input gets a
located, named error, and everything valid next to it is still imported."""

import io
import json
import time
import zipfile
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from copilot.ingest import parse_file
from copilot.ingest.jsonsafe import TooDeep, depth_of, load_records
from copilot.ingest.safezip import SafeZip
from copilot.errors import ImportFormatInvalid, PayloadTooLarge
from copilot.types import MessageRecord, RecordError
from tests.conftest import ADMIN, wait_job

OCTET = ADMIN | {"content-type": "application/octet-stream"}
DEEP = 200_000


_wait = wait_job


def _import(client: TestClient, brand: str, body: bytes, **params: str) -> dict:
    r = client.post(f"/v1/brands/{brand}/imports", params=params, content=body, headers=OCTET)
    assert r.status_code == 202, r.text
    return _wait(client, r.json()["id"])


# ---------------------------------------------------------------- 7: the admin key is never printed
def test_serve_never_prints_a_real_admin_key(tmp_path, monkeypatch):
    import uvicorn

    from copilot.cli import app
    from copilot.settings import get_settings

    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COPILOT_ENV", "prod")
    monkeypatch.setenv("COPILOT_EMBEDDER", "hash")
    monkeypatch.setenv("COPILOT_ADMIN_KEY", "s3cret-admin-key-9f8e7d")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["serve"])
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    assert "s3cret-admin-key-9f8e7d" not in out.output
    assert out.output.count("$COPILOT_ADMIN_KEY") == 3 and "q=cha%C3%AEne+qui+saute" in out.output


# ---------------------------------------------------------------- 8: imports
@pytest.mark.parametrize("name", [".", "..", "...", " . "])
def test_dot_file_names_are_refused_before_anything_is_written(client: TestClient, brand: str, copilot, name: str):
    r = client.post(f"/v1/brands/{brand}/imports", params={"filename": name}, content=b'{"a": 1}\n', headers=OCTET)
    assert r.status_code == 422 and r.json()["field"] == "filename", r.text
    uploads = copilot.settings.data_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_a_body_that_only_looks_like_a_zip_fails_with_a_named_error(client: TestClient, brand: str):
    job = _import(client, brand, b"PK\x03\x04 this is not an archive at all", filename="export.zip")
    assert job["status"] == "failed" and "zip" in job["detail"] and "internal" not in job["detail"]


def _slack_export(days: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # stored: the nesting, not the ratio, is under test
        zf.writestr("users.json", json.dumps([{"id": "U1", "name": "ana", "real_name": "Ana"}]))
        zf.writestr("channels.json", json.dumps([{"id": "C1", "name": "general"}]))
        for name, data in days.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_deeply_nested_slack_record_costs_that_record_only(client: TestClient, brand: str):
    ok = {"type": "message", "user": "U1", "ts": "1730000000.000100", "text": "Bonjour à toutes et à tous"}
    deep = '{"type": "message", "user": "U1", "ts": "1730000001.000100", "text": "x", "blocks": ' + \
           "[" * DEEP + "]" * DEEP + "}"
    day = ("[" + json.dumps(ok) + "," + deep + "," + json.dumps({**ok, "ts": "1730000002.000100"}) + "]").encode()
    whole_day = ("[" * DEEP + "]" * DEEP).encode()
    archive = _slack_export({"general/2024-10-27.json": day, "general/2024-10-28.json": whole_day,
                             "general/2024-10-29.json": json.dumps([{**ok, "ts": "1730200000.000100"}]).encode()})
    job = _import(client, brand, archive, filename="slack.zip", format="slack")
    assert job["status"] == "succeeded", job
    assert job["counts"]["messages"]["inserted"] == 3
    locations = sorted(e["location"] for e in job["errors"])
    assert locations == ["general/2024-10-27.json:[1]", "general/2024-10-28.json:[0]"], job["errors"]
    assert all("nested" in e["message"] for e in job["errors"])


def test_a_deeply_nested_discord_message_costs_that_message_only(client: TestClient, brand: str):
    good = [{"id": str(i), "type": "Default", "timestamp": "2024-10-27T10:00:00+00:00", "content": f"message {i}",
             "author": {"id": "7", "name": "ana"}} for i in range(2)]
    deep = '{"id": "9", "type": "Default", "content": ' + "[" * DEEP + "]" * DEEP + "}"
    body = ('{"guild": {"id": "1"}, "channel": {"name": "general"}, "messages": [' + json.dumps(good[0]) + ","
            + deep + "," + json.dumps(good[1]) + "]}").encode()
    job = _import(client, brand, body, filename="general.json", format="discord")
    assert job["status"] == "succeeded", job
    assert job["counts"]["messages"]["inserted"] == 2
    assert [e["location"] for e in job["errors"]] == ["general.json:messages[1]"]


def test_a_deeply_nested_jsonl_line_is_a_located_error(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text('{"type": "message", "source_id": "a", "created_at": "2024-01-01T00:00:00Z", "text": "hi"}\n'
                    + "[" * DEEP + "]" * DEEP + "\n")
    items = list(parse_file(path, "jsonl"))
    assert [m.source_id for m in items if isinstance(m, MessageRecord)] == ["a"]
    errors = [e for e in items if isinstance(e, RecordError)]
    assert len(errors) == 1 and errors[0].location == "h.jsonl:2" and "deep" in errors[0].message


def test_the_scanner_respects_strings_and_is_exact():
    text = '[{"a": "[[[{{{\\"]]]"}, [1, [2]], "}", {"b": {"c": []}}]'
    assert depth_of(text) == 4 == depth_of(json.dumps(json.loads(text)))
    assert load_records(text) == json.loads(text)
    deep = "[" + '"ok", ' + "[" * DEEP + "]" * DEEP + ', {"k": "v,]"}]'
    records = load_records(deep)
    assert records[0] == "ok" and isinstance(records[1], TooDeep) and records[2] == {"k": "v,]"}


# ---------------------------------------------------------------- 9: dates outside what time arithmetic handles
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z"])
def test_extreme_dates_are_422_not_500(client: TestClient, brand: str, value: str):
    for param in ("since", "until"):
        r = client.get(f"/v1/brands/{brand}/search", params={"q": "x", param: value}, headers=ADMIN)
        assert r.status_code == 422 and r.json()["field"].endswith(param), r.text
    r = client.post(f"/v1/brands/{brand}/rituals/drafts", json={"ritual": "qa_session", "scheduled_at": value},
                    headers=ADMIN)
    assert r.status_code == 422 and r.json()["field"].endswith("scheduled_at"), r.text
    r = client.post(f"/v1/brands/{brand}/drift/checks", json={"text": "Bonjour", "scheduled_at": value}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["field"].endswith("scheduled_at"), r.text
    r = client.post(f"/v1/brands/{brand}/history/batch", headers=ADMIN,
                    json={"messages": [{"source_id": "m", "created_at": value, "text": "x"}]})
    assert r.status_code == 422 and r.json()["field"] == "body.messages.0.created_at", r.text


# ---------------------------------------------------------------- 10: zip bombs made of many small entries
def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_every_entry_over_the_ratio_is_refused_not_only_big_ones(tmp_path):
    path = tmp_path / "bomb.zip"
    path.write_bytes(_zip({f"c/{i}.json": b" " * 300_000 for i in range(20)}))
    with pytest.raises(PayloadTooLarge, match="expands"):
        SafeZip(path, max_members=20_000, max_bytes=1_000_000_000)
    many_small = tmp_path / "small.zip"
    many_small.write_bytes(_zip({f"c/{i}.json": b" " * 60_000 for i in range(300)}))
    with pytest.raises(PayloadTooLarge, match="archive expands"):
        SafeZip(many_small, max_members=20_000, max_bytes=1_000_000_000)
    normal = tmp_path / "ok.zip"
    normal.write_bytes(_zip({"users.json": json.dumps([{"id": f"U{i}", "name": f"user {i}"} for i in range(500)]).encode()}))
    SafeZip(normal, max_members=20_000, max_bytes=1_000_000_000).close()


def test_a_bomb_upload_fails_the_job_with_the_reason(client: TestClient, brand: str):
    job = _import(client, brand, _zip({f"c/{i}.json": b" " * 300_000 for i in range(5)}), filename="x.zip",
                  format="slack")
    assert job["status"] == "failed" and "zip bomb" in job["detail"]


# ---------------------------------------------------------------- 11: chunked bodies over the limit
def test_a_chunked_body_over_the_limit_is_413(client: TestClient, brand: str, copilot):
    limit = copilot.settings.max_body_bytes

    def chunks():
        piece = b'{"content": "' + b"x" * 65_536
        yield piece
        for _ in range(limit // 65_536 + 2):
            yield b"x" * 65_536
        yield b'"}'

    r = client.put(f"/v1/brands/{brand}/charter", content=chunks(), headers=ADMIN | {"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["type"].endswith("/payload-too-large"), r.text


# ---------------------------------------------------------------- 13: URLs and far-future dates
def test_permalinks_must_be_web_urls(client: TestClient, brand: str):
    for bad in ("javascript:alert(1)", "data:text/html,<b>x</b>", "//evil.tk/x", "https://", "http://a b.c/"):
        r = client.post(f"/v1/brands/{brand}/history/batch", headers=ADMIN, json={"messages": [
            {"source_id": "m", "created_at": "2024-01-01T00:00:00Z", "text": "x", "permalink": bad}]})
        assert r.status_code == 422 and r.json()["field"] == "body.messages.0.permalink", (bad, r.text)
    draft = client.post(f"/v1/brands/{brand}/rituals/drafts", json={"ritual": "qa_session"}, headers=ADMIN).json()
    url = f"/v1/drafts/{draft['id']}/decisions"
    client.post(url, json={"action": "submit"}, headers=ADMIN)
    assert client.post(url, json={"action": "approve"}, headers=ADMIN).json()["status"] == "approved"
    r = client.post(url, json={"action": "publish", "permalink": "javascript:alert(1)"}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["field"] == "body.permalink"
    assert client.get(f"/v1/drafts/{draft['id']}", headers=ADMIN).json()["status"] == "approved"
    ok = client.post(url, json={"action": "publish", "permalink": "https://community.example/p/1"}, headers=ADMIN)
    assert ok.status_code == 200 and ok.json()["published_permalink"] == "https://community.example/p/1"


def test_spotlight_records_cannot_be_dated_in_the_future(client: TestClient, brand: str):
    client.post(f"/v1/brands/{brand}/history/batch", headers=ADMIN, json={"members": [{"source_id": "u1", "name": "Ana"}]})
    member = client.get(f"/v1/brands/{brand}/members", headers=ADMIN).json()["items"][0]["id"]
    url = f"/v1/brands/{brand}/spotlight/records"
    for when in ("9999-12-31T00:00:00Z", (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()):
        r = client.post(url, json={"member_id": member, "featured_at": when}, headers=ADMIN)
        assert r.status_code == 422 and r.json()["field"].endswith("featured_at"), r.text
    past = (datetime.now(timezone.utc) - timedelta(days=3)).isoformat()
    assert client.post(url, json={"member_id": member, "featured_at": past}, headers=ADMIN).status_code == 201


# ---------------------------------------------------------------- 14: a UTF-8 byte order mark
def test_a_jsonl_file_with_a_bom_imports(client: TestClient, brand: str, tmp_path):
    line = json.dumps({"type": "message", "source_id": "b1", "created_at": "2024-01-01T00:00:00Z", "text": "avec BOM"})
    body = b"\xef\xbb\xbf" + line.encode() + b"\n"
    job = _import(client, brand, body, filename="bom.jsonl")
    assert job["status"] == "succeeded" and job["counts"]["messages"]["inserted"] == 1 and job["error_count"] == 0
    path = tmp_path / "bom.jsonl"
    path.write_bytes(body)
    assert isinstance(next(iter(parse_file(path))), MessageRecord)  # detected as JSONL despite the BOM


def test_detection_refuses_a_fake_zip_with_a_named_error(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"PK garbage")
    with pytest.raises(ImportFormatInvalid, match="zip"):
        list(parse_file(path))


def test_xml_entities_are_refused_by_name(tmp_path):
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "Posts.xml").write_text('<?xml version="1.0"?><!DOCTYPE posts [<!ENTITY a "aaaaaaaaaa">'
                                    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                                    '<posts><row Id="1" PostTypeId="1" Body="&b;" CreationDate="2024-01-01T00:00:00"/>'
                                    '</posts>')
    with pytest.raises(ImportFormatInvalid, match="entities"):
        list(parse_file(dump, "stackexchange"))


BOMB = "\n".join(["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
                 + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
                 + ["vision: [*i]"])


@pytest.mark.parametrize("content,fmt", [(BOMB, "yaml"), (BOMB, None), (f"---\n{BOMB}\n---\n# Charte\n\nTexte.", "markdown")])
def test_yaml_alias_bombs_are_refused_before_expansion(client: TestClient, brand: str, content: str, fmt):
    body = {"content": content} | ({"format": fmt} if fmt else {})
    started = time.monotonic()
    r = client.put(f"/v1/brands/{brand}/charter", json=body, headers=ADMIN)
    assert r.status_code == 422 and "alias" in r.json()["detail"].lower(), r.text
    assert time.monotonic() - started < 5  # refused while composing, not after expanding ~10^8 nodes
    assert client.get(f"/v1/brands/{brand}/charter", headers=ADMIN).status_code == 404  # nothing stored
