"""litellm adapter (the only module that imports litellm): completions with structured output, one retry
policy, fallbacks, usage and cost; and provider embeddings.

Retry policy (tenacity): 429, 5xx, timeouts, connection errors and invalid output (unparseable JSON, a
schema violation, a failed grounding check) are retried with exponential backoff up to `attempts` per model;
400/401/403/404 are never retried. When every model is exhausted, `LLMFailure` carries the reason and the
caller's deterministic engine answers instead (`degraded: true`). litellm's own retries are disabled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Protocol, Sequence, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

# litellm fetches a price table over the network and sends async calls through aiohttp (invisible to respx)
# unless told otherwise before it is imported; this module is its only importer, so it says so here.
LITELLM_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "DISABLE_AIOHTTP_TRANSPORT": "True"}

T = TypeVar("T", bound=BaseModel)


class LLMFailure(Exception):
    """No model produced a valid answer; `reason` says why (shown as `degraded_reason`)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InvalidOutput(Exception):
    """The model answered, but not with what was asked (retried)."""


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


class LLM(Protocol):
    """What features need from a language model."""

    def complete(self, *, system: str, user: str, schema: type[T], check: Callable[[T], list[str]] | None = None,
                 meta: dict[str, str] | None = None) -> LLMResult[T]: ...


UsageRecorder = Callable[[dict[str, str], str, Usage, bool], None]


def _litellm() -> Any:
    import os

    for key, value in LITELLM_ENV.items():
        os.environ.setdefault(key, value)
    import litellm

    litellm.drop_params = True  # providers without json_schema support still get the prompt
    litellm.suppress_debug_info = True
    return litellm


def _retryable(exc: BaseException) -> bool:
    lm = _litellm()
    if isinstance(exc, InvalidOutput):
        return True
    if isinstance(exc, (lm.AuthenticationError, lm.BadRequestError, lm.PermissionDeniedError, lm.NotFoundError)):
        return False
    if isinstance(exc, (lm.RateLimitError, lm.Timeout, lm.APIConnectionError, lm.InternalServerError,
                        lm.ServiceUnavailableError, lm.BadGatewayError)):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


class LiteLLMClient:
    """Any litellm model, with fallbacks, timeouts, bounded retries and structured output."""

    def __init__(self, model: str, *, fallbacks: Sequence[str] = (), timeout: float = 30.0, attempts: int = 3,
                 wait_base: float = 0.5, wait_max: float = 8.0, api_key: str | None = None,
                 api_base: str | None = None, recorder: UsageRecorder | None = None):
        self.models = [model, *fallbacks]
        self.timeout, self.attempts, self.wait_base, self.wait_max = timeout, attempts, wait_base, wait_max
        self.api_key, self.api_base, self.recorder = api_key, api_base, recorder

    def complete(self, *, system: str, user: str, schema: type[T], check: Callable[[T], list[str]] | None = None,
                 meta: dict[str, str] | None = None) -> LLMResult[T]:
        """A validated instance of `schema`, or LLMFailure after every model and attempt failed."""
        reasons: list[str] = []
        for model in self.models:
            usage = Usage()
            attempts = 0
            try:
                for attempt in Retrying(stop=stop_after_attempt(self.attempts), reraise=True,
                                        wait=wait_exponential(multiplier=self.wait_base, max=self.wait_max),
                                        retry=retry_if_exception(_retryable)):
                    with attempt:
                        attempts += 1
                        value = self._once(model, system, user, schema, check, usage)
                self._record(meta, model, usage, True)
                return LLMResult(value=value, model=model, usage=usage, attempts=attempts)
            except Exception as exc:  # translated here: callers only ever see LLMFailure
                self._record(meta, model, usage, False)
                reasons.append(f"{model}: {_describe(exc)} after {attempts} attempt(s)")
        raise LLMFailure("; ".join(reasons))

    def _once(self, model: str, system: str, user: str, schema: type[T], check: Callable[[T], list[str]] | None,
              usage: Usage) -> T:
        lm = _litellm()
        usage.calls += 1
        try:
            resp = lm.completion(
                model=model, messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                response_format={"type": "json_schema", "json_schema": {"name": schema.__name__, "strict": False,
                                                                        "schema": schema.model_json_schema()}},
                timeout=self.timeout, num_retries=0, max_retries=0, api_key=self.api_key, api_base=self.api_base)
        except Exception:
            usage.failures += 1
            raise
        tokens = getattr(resp, "usage", None)
        usage.prompt_tokens += int(getattr(tokens, "prompt_tokens", 0) or 0)
        usage.completion_tokens += int(getattr(tokens, "completion_tokens", 0) or 0)
        try:
            usage.cost += float(lm.completion_cost(completion_response=resp) or 0.0)
        except Exception:  # unknown price for this model: tokens are still counted
            pass
        content = resp.choices[0].message.content or ""
        try:
            value = schema.model_validate_json(_strip_fences(content))
        except ValidationError as exc:
            usage.failures += 1
            raise InvalidOutput(f"output does not match {schema.__name__}: {exc.errors()[0]['msg']}") from exc
        problems = check(value) if check else []
        if problems:
            usage.failures += 1
            raise InvalidOutput("output failed checks: " + "; ".join(problems[:3]))
        return value

    def _record(self, meta: dict[str, str] | None, model: str, usage: Usage, ok: bool) -> None:
        if self.recorder and meta:
            self.recorder(meta, model, usage, ok)


def _strip_fences(content: str) -> str:
    text = content.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[-1].rsplit("```", 1)[0]
    return text


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    message = str(exc).split("\n")[0][:160]
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
