"""Fixtures of the live-model suite: the app pointed at a real local OpenAI-compatible server (run.sh starts it
and sets COPILOT_TEST_LLM_BASE), the sample brand loaded, and an admin client."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.embed import HashEmbedder
from copilot.runtime import Copilot
from copilot.sample import load_sample
from copilot.settings import Settings

BASE = os.environ.get("COPILOT_TEST_LLM_BASE", "")
SERVER = os.environ.get("COPILOT_LIVE_LLM", "")
DEADLINE = 20.0
ASYNC_DEADLINE = 30.0


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Copilot]]:
    if not BASE:
        pytest.fail("COPILOT_TEST_LLM_BASE is not set: run tests/live_llm/run.sh (make test-llm)", pytrace=False)
    settings = Settings(env="test", data_dir=tmp_path_factory.mktemp("live"), admin_key="test-admin-key",  # type: ignore[arg-type]
                        llm_model="openai/gemma3-270m", llm_api_base=BASE, llm_api_key="sk-local",  # type: ignore[arg-type]
                        llm_deadline=DEADLINE, llm_timeout=DEADLINE, llm_attempts=2,
                        llm_async_deadline=ASYNC_DEADLINE)
    runtime = Copilot(settings, embedder=HashEmbedder())
    load_sample(runtime)
    with TestClient(create_app(settings, copilot=runtime)) as client:
        yield client, runtime
    runtime.close()
