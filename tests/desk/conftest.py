"""The desk served by a real uvicorn on loopback, two brands (the sample, in French, and an English brand from
tests/brands), drafts to review, and Debian's Chromium driven by Playwright (no `playwright install`)."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.embed import HashEmbedder
from copilot.features.rituals import RitualRequest
from copilot.runtime import Copilot
from copilot.sample import SAMPLE_BRAND, SAMPLE_PROMO_POST, SAMPLE_RITUAL, load_sample
from copilot.settings import Settings
from tests.brand_fixtures import load_brand
from tests.conftest import ROOT, missing

CHROMIUM = Path("/usr/bin/chromium")
ENGLISH_BRAND = "brightfield-photo"
ARTEFACTS = ROOT / "tests" / "desk" / "artefacts"


def sign_in_form(client: TestClient) -> str:
    """The CSRF token of a fresh sign-in form (its nonce cookie stays in the client)."""
    r = client.get("/desk/sign-in")
    assert r.status_code == 200, r.text
    return re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]


def csrf_of(html: str) -> str:
    """The CSRF token carried by a page's forms."""
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def seed(copilot: Copilot, client: TestClient) -> dict[str, Any]:
    """Two brands, keys, and drafts in several states (one with drift flags and banned terms)."""
    load_sample(copilot)
    english = load_brand(client, ENGLISH_BRAND)
    ask = lambda: RitualRequest(ritual=SAMPLE_RITUAL, channel=None, theme=None, language=None, variants=2,  # noqa: E731
                                scheduled_at=None)
    clean = copilot.rituals.draft(SAMPLE_BRAND, ask(), actor="drafter-bot")
    flagged = copilot.rituals.draft(SAMPLE_BRAND, ask(), actor="drafter-bot")
    flagged = copilot.review.edit(flagged.id, if_match=1, title=None, body=flagged.body + "\n" + SAMPLE_PROMO_POST,
                                  variants=None, note="a promotional line added", actor="drafter-bot")
    rejected = copilot.rituals.draft(SAMPLE_BRAND, ask(), actor="other-bot")
    copilot.review.decide(rejected.id, action="reject", comment="off topic", actor="lead")
    other = copilot.rituals.draft(ENGLISH_BRAND, RitualRequest(ritual="qa_session", channel=None, theme=None,
                                                               language=None, variants=1, scheduled_at=None),
                                  actor="en-bot")
    keys = {name: copilot.store.create_key(brand, actor, scopes)[1] for name, brand, actor, scopes in (
        ("editor", SAMPLE_BRAND, "Alice Editor", ["review", "draft"]),
        ("second", SAMPLE_BRAND, "Bruno Second", ["review", "draft"]),
        ("reader", SAMPLE_BRAND, "Read Only", ["read"]),
        ("english", ENGLISH_BRAND, "Erin English", ["admin"]))}
    return {"brand": SAMPLE_BRAND, "english": ENGLISH_BRAND, "english_expected": english, "keys": keys,
            "clean": clean.id, "flagged": flagged.id, "rejected": rejected.id, "other_brand_draft": other.id}


@pytest.fixture(scope="module")
def desk_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Copilot, Any, dict[str, Any]]]:
    """A runtime with seeded brands, and its app (not yet served)."""
    settings = Settings(env="test", data_dir=tmp_path_factory.mktemp("desk") / "data",  # type: ignore[arg-type]
                        admin_key="test-admin-key")
    if settings.database_url:
        from tests.conftest import _reset_database

        _reset_database(settings.database_url)
    copilot = Copilot(settings, embedder=HashEmbedder())
    app = create_app(settings, copilot=copilot)
    with TestClient(app) as client:
        data = seed(copilot, client)
        yield copilot, app, data
    copilot.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live_desk(desk_runtime: tuple[Copilot, Any, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The seeded app served by uvicorn on a loopback port, for the browser."""
    import uvicorn

    _, app, data = desk_runtime
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield {**data, "base": f"http://127.0.0.1:{port}"}
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright; fails (not skips) when it is absent, unless skips are allowed."""
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run",
            "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()
