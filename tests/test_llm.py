"""The litellm adapter, pinned at the HTTP level with respx (no network)."""

from __future__ import annotations

import httpx
import pytest
import respx

from copilot.llm import LiteLLMClient, LLMFailure
from copilot.outputs import RitualDraftOut

URL = "https://api.openai.com/v1/chat/completions"
GOOD = '{"title": "Jeudi réparation", "body": "Pose ta question.", "variants": [], "citations": ["m1"]}'


def completion(content: str, prompt_tokens: int = 120, completion_tokens: int = 30) -> httpx.Response:
    return httpx.Response(200, json={
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens}})


def error(status: int) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": f"status {status}", "type": "error", "code": status}})


def client(recorded: list | None = None, **kw) -> LiteLLMClient:
    rec = (lambda meta, model, usage, ok: recorded.append((meta, model, usage, ok))) if recorded is not None else None
    return LiteLLMClient("openai/gpt-4o-mini", api_key="sk-test", wait_base=0, wait_max=0, timeout=5, recorder=rec, **kw)


def ask(c: LiteLLMClient, check=None):
    return c.complete(system="sys", user="user", schema=RitualDraftOut, check=check,
                      meta={"brand": "acme", "feature": "test"})


@respx.mock
def test_success_parses_structured_output_and_counts_cost():
    route = respx.post(URL).mock(return_value=completion(GOOD))
    recorded: list = []
    res = ask(client(recorded))
    assert res.value.title == "Jeudi réparation" and res.attempts == 1 and route.call_count == 1
    assert res.usage.prompt_tokens == 120 and res.usage.completion_tokens == 30 and res.usage.cost > 0
    sent = route.calls[0].request
    body = httpx.Response(200, content=sent.content).json()
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["title"] == "RitualDraftOut"
    assert recorded[0][0] == {"brand": "acme", "feature": "test"} and recorded[0][3] is True


@respx.mock
def test_429_then_success_is_retried():
    route = respx.post(URL).mock(side_effect=[error(429), completion(GOOD)])
    res = ask(client())
    assert res.attempts == 2 and route.call_count == 2 and res.usage.failures == 1


@respx.mock
def test_500_on_every_attempt_fails_after_the_bound():
    route = respx.post(URL).mock(return_value=error(500))
    recorded: list = []
    with pytest.raises(LLMFailure, match="after 3 attempt"):
        ask(client(recorded))
    assert route.call_count == 3 and recorded[-1][3] is False and recorded[-1][2].failures == 3


@respx.mock
def test_timeout_is_retried():
    route = respx.post(URL).mock(side_effect=[httpx.ReadTimeout("slow"), completion(GOOD)])
    assert ask(client()).attempts == 2 and route.call_count == 2


@respx.mock
def test_malformed_json_is_retried_then_accepted():
    route = respx.post(URL).mock(side_effect=[completion("{not json"), completion(GOOD)])
    assert ask(client()).value.body == "Pose ta question." and route.call_count == 2


@respx.mock
def test_schema_breaking_json_on_every_attempt_fails():
    route = respx.post(URL).mock(return_value=completion('{"title": "", "body": 3}'))
    with pytest.raises(LLMFailure, match="RitualDraftOut"):
        ask(client())
    assert route.call_count == 3


@respx.mock
def test_failed_grounding_check_costs_a_retry():
    route = respx.post(URL).mock(side_effect=[completion(GOOD.replace('"m1"', '"m999"')), completion(GOOD)])
    res = ask(client(), check=lambda out: [] if out.citations == ["m1"] else ["cites unknown id"])
    assert res.value.citations == ["m1"] and route.call_count == 2


@respx.mock
def test_401_is_never_retried_and_fallback_is_tried():
    primary = respx.post(URL).mock(side_effect=[error(401), completion(GOOD)])
    res = ask(client(fallbacks=["openai/gpt-4o"]))
    assert primary.call_count == 2 and res.model == "openai/gpt-4o"  # one call per model, no retry of the 401
    respx.post(URL).mock(return_value=error(401))
    with pytest.raises(LLMFailure, match="AuthenticationError 401.*after 1 attempt"):
        ask(client())


@respx.mock
def test_400_is_not_retried():
    route = respx.post(URL).mock(return_value=error(400))
    with pytest.raises(LLMFailure):
        ask(client())
    assert route.call_count == 1
