"""litellm adapter (the only module that imports litellm): completions with structured output, one retry
policy, fallbacks, usage and cost; and provider embeddings.

Structured output is negotiated per model and remembered: JSON schema (`response_format: json_schema`), then
a JSON object with the schema in the prompt (`json_object`), then plain text with the JSON extracted. The first
mode comes from litellm's capability table when it knows the model; a refusal of the format (an error that
names `response_format`, `json_schema` …) is a capability answer: the next mode is tried at once and the
attempt is not counted as a transient failure.

Retry policy (tenacity): 429, 5xx, timeouts, connection errors and invalid output (unparseable JSON, a
schema violation, a failed check) are retried with exponential backoff up to `attempts` per model; a failed
check goes back to the model in the retry message with its reasons (as pydantic-ai's ModelRetry does).
400/401/403/404 are never retried. One deadline bounds a whole request across attempts and fallback models,
and `max_tokens` bounds every answer. When every model is exhausted, `LLMFailure` carries the full reason and
the usage of every call, and the caller's deterministic engine answers instead (`degraded: true`).
Every failed attempt is logged at WARNING with brand, task, model and attempt. litellm's own retries are off.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Protocol, Sequence, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

# litellm fetches a price table over the network and sends async calls through aiohttp (invisible to respx)
# unless told otherwise before it is imported; this module is its only importer, so it says so here.
LITELLM_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "DISABLE_AIOHTTP_TRANSPORT": "True"}
MODES = ("json_schema", "json_object", "text")
FORMAT_WORDS = ("response_format", "json_schema", "json_object", "response format", "grammar", "structured output")
REASON_CHARS = 600

log = logging.getLogger("copilot.llm")
T = TypeVar("T", bound=BaseModel)


class LLMFailure(Exception):
    """No model produced a valid answer; `reason` says why (shown as `degraded_reason`), `usage` what it cost."""

    def __init__(self, reason: str, usage: "Usage | None" = None):
        super().__init__(reason)
        self.reason = reason
        self.usage = usage or Usage()


class InvalidOutput(Exception):
    """The model answered, but not with what was asked (retried, with the reasons sent back)."""

    def __init__(self, reason: str, content: str = ""):
        super().__init__(reason)
        self.content = content


class FormatRefused(Exception):
    """The server refused the structured-output format (a capability answer, not a transient error)."""


class DeadlineReached(Exception):
    """The request's time for the LLM is spent."""


@dataclass
class Usage:
    """Tokens and cost of one logical call (all attempts)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    calls: int = 0
    failures: int = 0

    def add(self, other: "Usage") -> None:
        """Accumulate."""
        for k in ("prompt_tokens", "completion_tokens", "cost", "calls", "failures"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


@dataclass
class LLMResult(Generic[T]):
    """A validated answer."""

    value: T
    model: str
    usage: Usage = field(default_factory=Usage)
    attempts: int = 1
    mode: str = "json_schema"


class LLM(Protocol):
    """What features need from a language model."""

    def complete(self, *, system: str, user: str, schema: type[T], check: Callable[[T], list[str]] | None = None,
                 meta: dict[str, str] | None = None, max_tokens: int | None = None,
                 started: float | None = None, deadline: float | None = None) -> LLMResult[T]: ...


UsageRecorder = Callable[[dict[str, str], str, Usage, bool], None]
BudgetCheck = Callable[[dict[str, str]], "str | None"]


def _litellm() -> Any:
    import os

    for key, value in LITELLM_ENV.items():
        os.environ.setdefault(key, value)
    import litellm

    litellm.drop_params = True  # providers without json_schema support still get the prompt
    litellm.suppress_debug_info = True
    return litellm


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, InvalidOutput):
        return True
    if isinstance(exc, (FormatRefused, DeadlineReached)):
        return False
    lm = _litellm()
    if isinstance(exc, (lm.AuthenticationError, lm.BadRequestError, lm.PermissionDeniedError, lm.NotFoundError)):
        return False
    if isinstance(exc, (lm.RateLimitError, lm.Timeout, lm.APIConnectionError, lm.InternalServerError,
                        lm.ServiceUnavailableError, lm.BadGatewayError)):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


def _refuses_format(exc: BaseException) -> bool:
    """Whether an error is the server saying it does not take this structured-output format."""
    status = getattr(exc, "status_code", None)
    text = str(exc).lower()
    return (status in (400, 422, 500, 501) or status is None) and any(w in text for w in FORMAT_WORDS)


def first_mode(model: str, api_base: str | None = None) -> str:
    """The structured-output mode to try first: JSON schema unless litellm's table says this hosted model lacks
    it (a model behind a custom `api_base` is a local server the table knows nothing of: it is learned)."""
    if api_base:
        return "json_schema"
    try:
        if _litellm().supports_response_schema(model=model) is False:
            return "json_object"
    except Exception:  # unknown to litellm's table (a local server, a custom name): try the richest first
        pass
    return "json_schema"


def schema_instructions(schema: type[BaseModel]) -> str:
    """What a model without schema support is told about the expected answer."""
    return ("\n\nAnswer with one JSON object and nothing else, matching this JSON Schema:\n"
            + json.dumps(schema.model_json_schema(), ensure_ascii=False))


def extract_json(content: str) -> str:
    """The first JSON object in a text (code fences, prose around it); the text itself when there is none."""
    text = _strip_fences(content)
    start = text.find("{")
    while start != -1:
        try:
            _, end = json.JSONDecoder().raw_decode(text, start)
            return text[start:end]
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
    return text


class LiteLLMClient:
    """Any litellm model, with fallbacks, a deadline, bounded retries and negotiated structured output."""

    def __init__(self, model: str, *, fallbacks: Sequence[str] = (), timeout: float = 30.0, attempts: int = 3,
                 wait_base: float = 0.5, wait_max: float = 8.0, api_key: str | None = None,
                 api_base: str | None = None, recorder: UsageRecorder | None = None, deadline: float = 20.0,
                 max_tokens: int = 900, budget: BudgetCheck | None = None,
                 completion: Callable[..., Any] | None = None):
        self.models = [model, *fallbacks]
        self.timeout, self.attempts, self.wait_base, self.wait_max = timeout, attempts, wait_base, wait_max
        self.api_key, self.api_base, self.recorder = api_key, api_base, recorder
        self.deadline, self.max_tokens, self.budget = deadline, max_tokens, budget
        self.modes: dict[str, str] = {}  # what each model was found to accept, remembered for the process
        self.completion = completion  # the provider call (litellm.completion unless a test plugs a fake in)

    def complete(self, *, system: str, user: str, schema: type[T], check: Callable[[T], list[str]] | None = None,
                 meta: dict[str, str] | None = None, max_tokens: int | None = None,
                 started: float | None = None, deadline: float | None = None) -> LLMResult[T]:
        """A validated instance of `schema`, or LLMFailure after every model and attempt failed (or the
        deadline or the brand's daily budget was reached). `started` (time.monotonic()) is when the request
        began: the deadline counts from there, so the work done before the call is inside it. `deadline`
        overrides the client's (an asynchronous draft has no caller waiting on it)."""
        meta = meta or {}
        total = Usage()
        spent = self.budget(meta) if self.budget else None
        if spent:
            raise LLMFailure(spent, total)
        _litellm()  # its first import is a process cost (seconds), not this request's
        ends = (started if started is not None else time.monotonic()) + (deadline or self.deadline)
        reasons: list[str] = []
        for model in self.models:
            usage = Usage()
            state: dict[str, Any] = {"attempts": 0, "errors": [], "messages": [{"role": "system", "content": system},
                                                                                {"role": "user", "content": user}]}
            try:
                value, mode = self._with_retries(model, schema, check, usage, state, meta, ends,
                                                 max_tokens or self.max_tokens)
                total.add(usage)
                self._record(meta, model, usage, True)
                return LLMResult(value=value, model=model, usage=total, attempts=state["attempts"], mode=mode)
            except Exception as exc:  # translated here: callers only ever see LLMFailure
                total.add(usage)
                self._record(meta, model, usage, False)
                tried = state["errors"] or [_describe(exc)]
                reasons.append(f"{model}: " + " | ".join(f"attempt {i}: {e}" for i, e in enumerate(tried, start=1)))
                if isinstance(exc, DeadlineReached):
                    break
        raise LLMFailure("; ".join(reasons), total)

    def _with_retries(self, model: str, schema: type[T], check: Callable[[T], list[str]] | None, usage: Usage,
                      state: dict[str, Any], meta: dict[str, str], ends: float, max_tokens: int) -> tuple[T, str]:
        def stop(retry_state: Any) -> bool:
            return stop_after_attempt(self.attempts)(retry_state) or time.monotonic() >= ends

        for attempt in Retrying(stop=stop, reraise=True, retry=retry_if_exception(_retryable),
                                wait=wait_exponential(multiplier=self.wait_base, max=self.wait_max)):
            with attempt:
                state["attempts"] += 1
                try:
                    return self._negotiated(model, schema, check, usage, state, ends, max_tokens)
                except Exception as exc:
                    state["errors"].append(_describe(exc))
                    log.warning("llm call failed: brand=%s task=%s model=%s attempt=%d: %s", meta.get("brand", "-"),
                                meta.get("feature", "-"), model, state["attempts"], _describe(exc))
                    if isinstance(exc, InvalidOutput):  # the reasons go back to the model with the next attempt
                        state["messages"] = [*state["messages"][:2], {"role": "assistant", "content": exc.content[:4000]},
                                             {"role": "user", "content": f"Your answer was refused: {exc}. Answer "
                                                                         "again, fixing exactly these problems."}]
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _negotiated(self, model: str, schema: type[T], check: Callable[[T], list[str]] | None, usage: Usage,
                    state: dict[str, Any], ends: float, max_tokens: int) -> tuple[T, str]:
        """One attempt; a refused format moves to the next mode within the same attempt."""
        mode = self.modes.get(model) or first_mode(model, self.api_base)
        while True:
            try:
                return self._once(model, mode, schema, check, usage, state["messages"], ends, max_tokens), mode
            except FormatRefused:
                if mode == MODES[-1]:
                    raise
                mode = MODES[MODES.index(mode) + 1]
                log.warning("llm model %s refused its structured-output format; using %s from now on", model, mode)
            finally:
                self.modes[model] = mode

    def _once(self, model: str, mode: str, schema: type[T], check: Callable[[T], list[str]] | None, usage: Usage,
              messages: list[dict[str, str]], ends: float, max_tokens: int) -> T:
        lm = _litellm()
        remaining = ends - time.monotonic()
        if remaining <= 0.05:
            raise DeadlineReached("the request's LLM deadline was reached")
        kwargs: dict[str, Any] = {}
        if mode == "json_schema":
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": schema.__name__, "strict": False, "schema": schema.model_json_schema()}}
        else:
            messages = [{**messages[0], "content": messages[0]["content"] + schema_instructions(schema)}, *messages[1:]]
            if mode == "json_object":
                kwargs["response_format"] = {"type": "json_object"}
        usage.calls += 1
        try:
            resp = (self.completion or lm.completion)(model=model, messages=messages, timeout=min(self.timeout, remaining),
                                 max_tokens=max_tokens, num_retries=0, max_retries=0, api_key=self.api_key,
                                 api_base=self.api_base, **kwargs)
        except Exception as exc:
            usage.failures += 1
            if mode != "text" and _refuses_format(exc):
                raise FormatRefused(_describe(exc)) from exc
            if time.monotonic() >= ends:
                raise DeadlineReached(f"the request's LLM deadline was reached ({_describe(exc)})") from exc
            raise
        tokens = getattr(resp, "usage", None)
        usage.prompt_tokens += int(getattr(tokens, "prompt_tokens", 0) or 0)
        usage.completion_tokens += int(getattr(tokens, "completion_tokens", 0) or 0)
        try:
            usage.cost += float(lm.completion_cost(completion_response=resp) or 0.0)
        except Exception:  # unknown price for this model: tokens are still counted
            pass
        content = resp.choices[0].message.content or ""
        if getattr(resp.choices[0], "finish_reason", None) == "length":
            usage.failures += 1
            raise InvalidOutput(f"the answer was cut at {max_tokens} tokens; answer shorter", content)
        try:
            value = schema.model_validate_json(extract_json(content))
        except ValidationError as exc:
            usage.failures += 1
            errors = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}" for e in exc.errors()[:4])
            raise InvalidOutput(f"output does not match {schema.__name__} ({errors})", content) from exc
        problems = check(value) if check else []
        if problems:
            usage.failures += 1
            raise InvalidOutput("output failed checks: " + "; ".join(problems[:6]), content)
        return value

    def _record(self, meta: dict[str, str] | None, model: str, usage: Usage, ok: bool) -> None:
        if self.recorder and meta and usage.calls:
            self.recorder(meta, model, usage, ok)


def _strip_fences(content: str) -> str:
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[-1].rsplit("```", 1)[0]
    return text


def _describe(exc: BaseException) -> str:
    """The whole cause of a failure, on one line (capped)."""
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    message = " ".join(str(exc).split())[:REASON_CHARS]
    return f"{name}{f' {status}' if status else ''}: {message}"


class LiteLLMEmbedder:
    """Embeddings from any litellm embedding model (`COPILOT_EMBEDDING_MODEL`)."""

    def __init__(self, model: str, *, batch_size: int = 64, timeout: float = 30.0):
        self.name = f"litellm:{model}"
        self.model = model
        self.batch_size = batch_size
        self.timeout = timeout
        self.dim = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed in batches and L2-normalise."""
        lm = _litellm()
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            resp = lm.embedding(model=self.model, input=list(texts[start:start + self.batch_size]),
                                timeout=self.timeout, num_retries=2)
            rows.extend(d["embedding"] for d in resp.data)
        out = np.asarray(rows, dtype=np.float32)
        self.dim = out.shape[1] if out.ndim == 2 else self.dim
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


__all__ = ["LLM", "LLMFailure", "LLMResult", "LiteLLMClient", "LiteLLMEmbedder", "Usage", "InvalidOutput", "json"]
