"""The OpenAPI contract, rendered the same way for `openapi.yaml` and its test."""

from __future__ import annotations

from typing import Any

import yaml

from copilot.settings import Settings


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI schema, built without starting any adapter."""
    from copilot.api.app import build_app

    return build_app(Settings()).openapi()


def openapi_yaml() -> str:
    """Deterministic YAML rendering of the contract."""
    return yaml.safe_dump(openapi_document(), sort_keys=True, allow_unicode=True, width=120)
