"""Route modules; each is thin: parse, call the runtime, return a typed response."""

from typing import Any

from copilot.api.schemas import Problem

_P = {"model": Problem, "content": {"application/problem+json": {}}}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or invalid key", **_P},
    403: {"description": "key lacks the scope", **_P},
    404: {"description": "not found (also another brand's resources)", **_P},
    413: {"description": "payload too large", **_P},
    422: {"description": "invalid input; `field` names the offending field", **_P},
}
