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
    with pytest.raises(LLMFailure, match="attempt 3: "):
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
    with pytest.raises(LLMFailure, match="attempt 1: AuthenticationError 401") as failure:
        ask(client())
    assert "attempt 2" not in failure.value.reason


@respx.mock
def test_400_is_not_retried():
    route = respx.post(URL).mock(return_value=error(400))
    with pytest.raises(LLMFailure):
        ask(client())
    assert route.call_count == 1


def _body(call) -> dict:
    return httpx.Response(200, content=call.request.content).json()


@respx.mock
def test_a_refused_format_is_negotiated_down_once_and_remembered():
    """llama-cpp-python's server answers 500 to json_schema; that is a capability answer, not a transient error."""
    refusal = httpx.Response(500, json={"error": {"message": "1 validation error: response_format.type: Input should "
                                                             "be 'text' or 'json_object'", "code": 500}})
    route = respx.post(URL).mock(side_effect=[refusal, completion("Sure! ```json\n" + GOOD + "\n```"),
                                              completion(GOOD)])
    c = client()
    first = ask(c)
    assert first.attempts == 1 and first.mode == "json_object" and route.call_count == 2
    sent = _body(route.calls[1])
    assert sent["response_format"] == {"type": "json_object"} and "JSON Schema" in sent["messages"][0]["content"]
    second = ask(c)  # remembered: no second refusal
    assert second.mode == "json_object" and route.call_count == 3
    assert _body(route.calls[2])["response_format"] == {"type": "json_object"}


@respx.mock
def test_text_mode_extracts_json_from_prose():
    refusal = httpx.Response(400, json={"error": {"message": "response_format is not supported", "code": 400}})
    route = respx.post(URL).mock(side_effect=[refusal, refusal, completion("Here it is: " + GOOD + " Hope it helps.")])
    res = ask(client())
    assert res.mode == "text" and res.value.title == "Jeudi réparation" and "response_format" not in _body(route.calls[2])


@respx.mock
def test_failed_checks_go_back_to_the_model_with_their_reasons():
    route = respx.post(URL).mock(side_effect=[completion(GOOD), completion(GOOD.replace("m1", "m2"))])
    res = ask(client(), check=lambda out: ["cites unknown id 'm1'"] if "m1" in out.citations else [])
    assert res.value.citations == ["m2"] and res.attempts == 2
    retry = _body(route.calls[1])["messages"]
    assert retry[2]["role"] == "assistant" and "m1" in retry[2]["content"]
    assert retry[3]["role"] == "user" and "cites unknown id 'm1'" in retry[3]["content"]


@respx.mock
def test_max_tokens_is_sent_and_a_cut_answer_is_refused():
    cut = httpx.Response(200, json={"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "1; 2; 3; 4"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 64, "total_tokens": 74}})
    route = respx.post(URL).mock(side_effect=[cut, completion(GOOD)])
    res = ask(client(max_tokens=64))
    assert _body(route.calls[0])["max_tokens"] == 64 and res.attempts == 2
    assert res.usage.completion_tokens == 64 + 30  # the cut answer's tokens are counted too


@respx.mock
def test_one_deadline_bounds_attempts_and_fallbacks():
    import time

    def slow(request):
        time.sleep(0.4)
        return error(503)

    respx.post(URL).mock(side_effect=slow)
    c = LiteLLMClient("openai/gpt-4o-mini", fallbacks=["openai/gpt-4o"], api_key="sk-test", wait_base=0, wait_max=0,
                      timeout=5, attempts=10, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(LLMFailure) as failure:
        ask(c)
    assert time.monotonic() - started < 2.0
    assert failure.value.usage.calls >= 2 and "deadline" in failure.value.reason


@respx.mock
def test_usage_counts_every_call_before_a_fallback_and_the_reason_is_whole():
    long_message = "upstream said: " + "x" * 300 + " END-OF-CAUSE"
    respx.post(URL).mock(side_effect=[httpx.Response(500, json={"error": {"message": long_message, "code": 500}})] * 3
                         + [completion(GOOD, prompt_tokens=7, completion_tokens=3)])
    recorded: list = []
    c = LiteLLMClient("openai/gpt-4o-mini", fallbacks=["openai/gpt-4o"], api_key="sk-test", wait_base=0, wait_max=0,
                      timeout=5, recorder=lambda meta, model, usage, ok: recorded.append((model, usage.calls, ok)))
    res = ask(c)
    assert res.model == "openai/gpt-4o" and res.usage.calls == 4 and res.usage.failures == 3
    assert recorded == [("openai/gpt-4o-mini", 3, False), ("openai/gpt-4o", 1, True)]
    respx.post(URL).mock(side_effect=[httpx.Response(500, json={"error": {"message": long_message, "code": 500}})] * 6)
    with pytest.raises(LLMFailure) as failure:
        ask(c)
    assert "END-OF-CAUSE" in failure.value.reason and failure.value.usage.calls == 6


def test_a_spent_daily_budget_answers_before_any_call():
    c = LiteLLMClient("openai/gpt-4o-mini", api_key="sk-test", budget=lambda meta: f"daily budget of {meta['brand']} spent")
    with pytest.raises(LLMFailure, match="daily budget of acme spent"):
        ask(c)


@respx.mock
def test_failures_are_logged_with_brand_task_model_and_attempt(caplog):
    respx.post(URL).mock(side_effect=[error(503), completion(GOOD)])
    with caplog.at_level("WARNING", logger="copilot.llm"):
        ask(client())
    line = next(r.getMessage() for r in caplog.records if r.name == "copilot.llm")
    assert "brand=acme" in line and "task=test" in line and "model=openai/gpt-4o-mini" in line and "attempt=1" in line
