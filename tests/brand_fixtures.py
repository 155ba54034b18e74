"""Brands the code was not written for (tests/brands/, written by someone who did not read the engines), in
their own export shapes, moved in time so their last message is yesterday, and loaded through the HTTP API."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, ROOT, wait_job

BRANDS_DIR = ROOT / "tests" / "brands"
BRANDS = sorted(p.name for p in BRANDS_DIR.iterdir() if (p / "expected.json").exists())
OCTET = ADMIN | {"content-type": "application/octet-stream"}
ISO = re.compile(r'(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?)')


def _shift_iso(text: str, delta: timedelta) -> str:
    def move(m: re.Match[str]) -> str:
        raw = m.group(1)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        naive = parsed.tzinfo is None
        moved = (parsed.replace(tzinfo=timezone.utc) if naive else parsed) + delta
        out = moved.replace(tzinfo=None).isoformat(timespec="milliseconds") if naive else moved.isoformat()
        return out.replace("+00:00", "Z") if raw.endswith("Z") else out
    return ISO.sub(move, text)


def _latest(texts: list[str]) -> datetime:
    stamps = [datetime.fromisoformat(m.replace("Z", "+00:00")) for t in texts for m in ISO.findall(t)]
    return max(s if s.tzinfo else s.replace(tzinfo=timezone.utc) for s in stamps)


def _delta(latest: datetime) -> timedelta:
    """Whole days that bring the latest message to yesterday (weekdays of rituals keep their meaning only
    modulo 7, so shift by whole weeks)."""
    days = (datetime.now(timezone.utc) - timedelta(days=1) - latest).days
    return timedelta(days=7 * (days // 7))


def upload(brand_dir: Path) -> tuple[bytes, str, str, timedelta]:
    """(body, filename, format, shift) of a brand's history, shifted in time."""
    expected = json.loads((brand_dir / "expected.json").read_text(encoding="utf-8"))
    fmt = expected["format"]
    if fmt == "slack":
        root = brand_dir / "slack_export"
        files = sorted(p for p in root.rglob("*.json"))
        day_files = [p for p in files if p.parent != root]
        latest = max(float(m["ts"]) for p in day_files for m in json.loads(p.read_text(encoding="utf-8"))
                     if isinstance(m, dict) and "ts" in m)
        delta = _delta(datetime.fromtimestamp(latest, tz=timezone.utc))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in files:
                text = p.read_text(encoding="utf-8")
                if p.parent != root:
                    text = re.sub(r'"(ts|thread_ts)": "(\d+)\.(\d+)"',
                                  lambda m: f'"{m.group(1)}": "{int(m.group(2)) + int(delta.total_seconds())}.{m.group(3)}"',
                                  text)
                zf.writestr(str(p.relative_to(root)), text)
        return buf.getvalue(), "slack.zip", "slack", delta
    if fmt == "stackexchange":
        root = brand_dir / "se_dump"
        texts = {p.name: p.read_text(encoding="utf-8") for p in root.glob("*.xml")}
        delta = _delta(_latest(list(texts.values())))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text in texts.items():
                zf.writestr(name, _shift_iso(text, delta))
        return buf.getvalue(), "dump.zip", "stackexchange", delta
    name = {"discord": "discord_export.json", "jsonl": "history.jsonl"}[fmt]
    text = (brand_dir / name).read_text(encoding="utf-8")
    delta = _delta(_latest([text]))
    return _shift_iso(text, delta).encode("utf-8"), name, fmt, delta


def charter_of(brand_dir: Path) -> tuple[str, str]:
    """(content, format) of the brand's charter."""
    for name, fmt in (("charter.md", "markdown"), ("charter.yaml", "yaml"), ("charter.json", "json")):
        if (brand_dir / name).exists():
            return (brand_dir / name).read_text(encoding="utf-8"), fmt
    raise FileNotFoundError(f"no charter in {brand_dir}")


def load_brand(client: TestClient, slug: str) -> dict[str, Any]:
    """Create the brand, put its charter and import its history through the API; returns expected.json plus
    the import job."""
    brand_dir = BRANDS_DIR / slug
    expected = json.loads((brand_dir / "expected.json").read_text(encoding="utf-8"))
    r = client.post("/v1/brands", json={"id": slug, "name": slug.replace("-", " ").title(),
                                        "language": expected["language"]}, headers=ADMIN)
    assert r.status_code == 201, r.text
    content, fmt = charter_of(brand_dir)
    r = client.put(f"/v1/brands/{slug}/charter", json={"content": content, "format": fmt}, headers=ADMIN)
    assert r.status_code in (200, 201), r.text
    body, filename, source_format, _ = upload(brand_dir)
    r = client.post(f"/v1/brands/{slug}/imports", params={"filename": filename}, content=body, headers=OCTET)
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"])
    assert job["status"] == "succeeded", job
    return {**expected, "job": job, "source_format": source_format}
