"""Error tree. Each class has an HTTP status and a stable RFC 9457 problem `type`.

CopilotError (500, internal)
├── SlackPayloadInvalid (400, slack-payload-invalid)  a signed Slack body this app cannot read
├── InvalidInput (422, invalid-input)          bad field values; names the field
│   ├── CharterInvalid (422, charter-invalid)
│   └── ImportFormatInvalid (422, import-invalid)
├── PayloadTooLarge (413, payload-too-large)
├── Unauthenticated (401, unauthenticated)
├── Forbidden (403, forbidden)                 key lacks the scope
├── NotFound (404, not-found)                  also for another brand's resources
├── Conflict (409, conflict)
│   ├── AlreadyExists (409, already-exists)
│   ├── IllegalTransition (409, illegal-transition)
│   └── GuardsFailed (409, guards-failed)      approving a draft whose guards fail, without an override
├── DraftVersionConflict (412, version-mismatch)  stale If-Match
├── PreconditionRequired (428, precondition-required)
└── ServiceUnavailable (503, service-unavailable)
"""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://copilot.dev/problems/"


class CopilotError(Exception):
    """Base of every error the product raises on purpose."""

    status = 500
    type_slug = "internal"
    title = "Internal error"

    def __init__(self, detail: str, *, field: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra or {}

    @property
    def type_uri(self) -> str:
        """The stable problem type URI."""
        return PROBLEM_BASE + self.type_slug

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """Render as an RFC 9457 problem document."""
        body: dict[str, Any] = {"type": self.type_uri, "title": self.title, "status": self.status, "detail": self.detail}
        if instance:
            body["instance"] = instance
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class SlackPayloadInvalid(CopilotError):
    """A signed Slack body that is not a payload this app can read (400)."""

    status, type_slug, title = 400, "slack-payload-invalid", "Unreadable Slack payload"


class InvalidInput(CopilotError):
    status, type_slug, title = 422, "invalid-input", "Invalid input"


class CharterInvalid(InvalidInput):
    type_slug, title = "charter-invalid", "Charter could not be read"


class ImportFormatInvalid(InvalidInput):
    type_slug, title = "import-invalid", "Import file could not be read"


class PayloadTooLarge(CopilotError):
    status, type_slug, title = 413, "payload-too-large", "Payload too large"


class Unauthenticated(CopilotError):
    status, type_slug, title = 401, "unauthenticated", "Missing or invalid API key"


class Forbidden(CopilotError):
    status, type_slug, title = 403, "forbidden", "Key lacks the required scope"


class NotFound(CopilotError):
    status, type_slug, title = 404, "not-found", "Not found"


class Conflict(CopilotError):
    status, type_slug, title = 409, "conflict", "Conflict"


class AlreadyExists(Conflict):
    type_slug, title = "already-exists", "Already exists"


class IllegalTransition(Conflict):
    type_slug, title = "illegal-transition", "Illegal review transition"


class GuardsFailed(Conflict):
    type_slug, title = "guards-failed", "The draft's guards fail"


class DraftVersionConflict(CopilotError):
    status, type_slug, title = 412, "version-mismatch", "The draft changed since that version"


class PreconditionRequired(CopilotError):
    status, type_slug, title = 428, "precondition-required", "If-Match is required"


class ServiceUnavailable(CopilotError):
    status, type_slug, title = 503, "service-unavailable", "Service unavailable"
