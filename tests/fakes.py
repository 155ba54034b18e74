"""A fake language model plugged in where the provider is called, under the real client: every test that uses
it runs the real negotiation, retries, validation, feedback messages and usage accounting of `LiteLLMClient`.

Each queued item answers one provider call: a dict or model is sent back as its JSON, a string as is, an
exception is raised as the provider's error (a generic one becomes a retryable connection error). An empty
queue is a provider error too, so a test that expected fewer calls fails loudly through LLMFailure."""

from __future__ import annotations

import json
from typing import Any

import litellm
from pydantic import BaseModel

from copilot.llm import LiteLLMClient


class FakeLLM(LiteLLMClient):
    """`LiteLLMClient` whose provider answers from a queue; `calls` records each request as the model saw it."""

    def __init__(self, *outputs: Any, attempts: int = 3, **kwargs: Any):
        super().__init__("openai/fake-model", attempts=attempts, wait_base=0, wait_max=0, timeout=5,
                         api_key="sk-fake", completion=self._provider, **kwargs)
        self.queue = list(outputs)
        self.calls: list[dict[str, Any]] = []

    def complete(self, **kw: Any) -> Any:  # noqa: D102 - records what features asked for
        self.calls.append({"system": kw["system"], "user": kw["user"], "schema": kw["schema"], "meta": kw.get("meta")})
        return super().complete(**kw)

    def _provider(self, **request: Any) -> Any:
        if not self.queue:
            raise litellm.APIConnectionError(message="fake model: queue is empty", llm_provider="openai",
                                              model="fake-model")
        item = self.queue.pop(0)
        if isinstance(item, litellm.exceptions.APIError) or isinstance(item, litellm.exceptions.APIConnectionError):
            raise item
        if isinstance(item, Exception):
            raise litellm.APIConnectionError(message=f"fake model: {type(item).__name__}: {item}",
                                             llm_provider="openai", model="fake-model")
        content = item.model_dump_json() if isinstance(item, BaseModel) else \
            item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        return litellm.completion(**{**request, "mock_response": content})
