"""Asynchronous drafts for slow models (issue 13): `Prefer: respond-async` answers 202 with a job at once; the
job drafts with the longer `llm_async_deadline`, and the synchronous route still answers within its own."""

from __future__ import annotations

import time
from typing import Any

import litellm
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.embed import HashEmbedder
from copilot.runtime import Copilot
from copilot.sample import load_sample
from copilot.settings import Settings
from tests.conftest import ADMIN
from tests.fakes import FakeLLM

DELAY = 1.0  # the model's thinking time: over the synchronous deadline, well under the asynchronous one


class SlowModel(FakeLLM):
    """Answers a valid draft citing the first message it was shown, after DELAY seconds."""

    def complete(self, **kw: Any) -> Any:
        cited = kw["user"].split("[", 2)[2].split("]", 1)[0]
        self.queue.append({"title": "Jeudi réparation : on s'entraide",
                           "body": "Jeudi réparation : pose ta question en réponse, les membres qui savent t'aident.",
                           "citations": [cited, "rituels-2"]})
        return super().complete(**kw)

    def _provider(self, **request: Any) -> Any:
        # Like an HTTP call with a timeout: the client's `timeout` (what is left of its deadline) cuts it short.
        if request["timeout"] < DELAY:
            time.sleep(request["timeout"])
            raise litellm.Timeout(message="fake model: timed out", model="fake-model", llm_provider="openai")
        time.sleep(DELAY)
        return super()._provider(**request)


def _client(settings: Settings) -> tuple[TestClient, Copilot]:
    settings = settings.model_copy(update={"llm_async_deadline": 30.0})
    c = Copilot(settings, embedder=HashEmbedder(), llm=SlowModel(attempts=1, deadline=0.4))
    load_sample(c)
    return TestClient(create_app(settings, copilot=c)), c


def _poll(client: TestClient, location: str) -> dict[str, Any]:
    for _ in range(400):
        job = client.get(location, headers=ADMIN).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job still {job['status']}")


def test_a_slow_model_is_waited_for_only_by_the_async_draft(settings: Settings):
    client, c = _client(settings)
    with client:
        started = time.monotonic()
        sync = client.post("/v1/brands/roue-libre/rituals/drafts", json={"ritual": "Jeudi réparation"}, headers=ADMIN)
        sync_s = time.monotonic() - started
        assert sync.status_code == 201
        assert sync.json()["engine"] == "rules" and sync.json()["degraded"]
        assert "deadline" in sync.json()["degraded_reason"]

        started = time.monotonic()
        r = client.post("/v1/brands/roue-libre/rituals/drafts", json={"ritual": "Jeudi réparation"},
                        headers={**ADMIN, "Prefer": "respond-async, wait=5"})
        accepted_s = time.monotonic() - started
        assert r.status_code == 202, r.text
        assert r.headers["Preference-Applied"] == "respond-async" and r.headers["Location"] == f"/v1/jobs/{r.json()['id']}"
        assert r.json()["kind"] == "ritual_draft" and r.json()["status"] in ("queued", "running")
        assert accepted_s < DELAY  # answered before the model could have
        job = _poll(client, r.headers["Location"])
        assert job["status"] == "succeeded", job
        draft = client.get(f"/v1/drafts/{job['draft_id']}", headers=ADMIN).json()
        assert draft["engine"] == "llm" and not draft["degraded"] and draft["status"] == "drafted"
        assert draft["title"] == "Jeudi réparation : on s'entraide"
    assert sync_s < DELAY + 5  # the synchronous request gave up at its deadline; it did not wait for more attempts


def test_async_requests_are_checked_before_they_are_queued(settings: Settings):
    client, c = _client(settings)
    with client:
        r = client.post("/v1/brands/roue-libre/rituals/drafts", json={"ritual": "no such ritual"},
                        headers={**ADMIN, "Prefer": "respond-async"})
        assert r.status_code == 422 and "unknown ritual 'no such ritual'" in r.json()["detail"]
        r = client.post("/v1/brands/nope/rituals/drafts", json={"ritual": "qa_session"},
                        headers={**ADMIN, "Prefer": "respond-async"})
        assert r.status_code == 404
        assert not [j for j in c.store.unfinished_jobs() if j.kind == "ritual_draft"]
