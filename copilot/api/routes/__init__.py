"""Route modules; each is thin: parse, call the runtime, return a typed response."""

from typing import Any

from copilot.api.schemas import Problem

# Error responses name the Problem model; `copilot.api.openapi` serves them as application/problem+json.
_P = {"model": Problem}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or invalid key", **_P},
    403: {"description": "key lacks the scope", **_P},
    404: {"description": "not found (also another brand's resources)", **_P},
    413: {"description": "payload too large", **_P},
    422: {"description": "invalid input; `field` names the offending field", **_P},
}


def problem(description: str) -> dict[str, Any]:
    """An error response for the contract: its description and the Problem body."""
    return {"description": description, **_P}


# Responses that carry a draft carry its version as an ETag, to send back in If-Match.
ETAG = {"ETag": {"description": "the draft's version, quoted (`\"3\"`): send it back in `If-Match`",
                 "schema": {"type": "string", "example": "\"1\""}}}
