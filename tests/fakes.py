"""A fake LLM for everything above the litellm adapter: a queue of outputs or exceptions, recording calls."""

from __future__ import annotations

from typing import Any

from copilot.llm import LLMFailure, LLMResult, Usage


class FakeLLM:
    """Each call consumes queued items like a model's attempts: an exception or an output failing its schema or
    check counts as a failed attempt; `attempts` failed attempts (or an empty queue) raise LLMFailure."""

    def __init__(self, *outputs: Any, attempts: int = 3):
        self.queue = list(outputs)
        self.attempts = attempts
        self.calls: list[dict[str, Any]] = []

    def complete(self, *, system, user, schema, check=None, meta=None):  # type: ignore[no-untyped-def]
        self.calls.append({"system": system, "user": user, "schema": schema, "meta": meta})
        reasons = []
        for _ in range(self.attempts):
            if not self.queue:
                raise LLMFailure("fake llm queue is empty" + (f" ({'; '.join(reasons)})" if reasons else ""))
            item = self.queue.pop(0)
            if isinstance(item, Exception):
                reasons.append(type(item).__name__)
                continue
            try:
                value = item if isinstance(item, schema) else schema.model_validate(item)
            except Exception as exc:  # schema-breaking output
                reasons.append(f"invalid output: {type(exc).__name__}")
                continue
            problems = check(value) if check else []
            if problems:
                reasons.append("; ".join(problems))
                continue
            return LLMResult(value=value, model="fake", usage=Usage(prompt_tokens=len(system + user) // 4,
                                                                    completion_tokens=50, calls=1))
        raise LLMFailure("fake llm: " + "; ".join(reasons))
