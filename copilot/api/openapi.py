"""The finishing touches FastAPI cannot express per route: the scopes each operation needs (from its
dependencies), error bodies as application/problem+json with the Problem schema, `If-Match` required where the
server requires it, a `servers` entry, and an example on every schema (from `examples.yaml` beside this module).
Applied once, to the schema the app serves and `openapi.yaml` holds."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import yaml
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

EXAMPLES = Path(__file__).with_name("examples.yaml")
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
SERVERS = [{"url": "http://127.0.0.1:8000", "description": "`make run` / `copilot serve` (COPILOT_HOST, COPILOT_PORT)"}]
# Set in a route's openapi_extra when the server answers 428 without If-Match.
IF_MATCH_REQUIRED = "x-if-match-required"
# Set in a route's openapi_extra when the scope depends on the request (any one of them, as the body says).
SCOPE_ALTERNATIVES = "x-scope-alternatives"


def required_scopes(dependant: Dependant) -> list[str]:
    """The key scopes a route's dependencies demand (a dependency names its scope as `required_scope`)."""
    found: set[str] = set()
    stack = [dependant]
    while stack:
        dep = stack.pop()
        scope = getattr(dep.call, "required_scope", None)
        if scope:
            found.add(scope)
        stack.extend(dep.dependencies)
    return sorted(found) or ["read"]


def _finish_operation(route: Any, op: dict[str, Any]) -> None:
    alternatives = op.pop(SCOPE_ALTERNATIVES, None)
    if "security" in op:  # one requirement: the bearer key, with the scopes this operation needs
        names = [name for req in op["security"] for name in req]
        op["security"] = [{name: [scope]} for scope in alternatives for name in names[:1]] if alternatives else \
            [{name: required_scopes(route.dependant) for name in names}]
    for code, response in op.get("responses", {}).items():
        if code.isdigit() and int(code) >= 400:
            response["content"] = {"application/problem+json": {"schema": PROBLEM_REF}}
    if op.pop(IF_MATCH_REQUIRED, False):
        for param in op.get("parameters", []):
            if param["name"] == "If-Match":  # required: a string, never null
                param["required"] = True
                param["schema"] = next(s for s in param["schema"].get("anyOf", [param["schema"]])
                                       if s.get("type") == "string")


@lru_cache(maxsize=1)
def schema_examples() -> dict[str, Any]:
    """Schema name -> one example of it (tests/test_contract.py validates each against its schema)."""
    loaded: dict[str, Any] = yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))
    return loaded


def finish(app: FastAPI, doc: dict[str, Any]) -> dict[str, Any]:
    """Refine the generated schema in place (see the module docstring)."""
    doc["servers"] = SERVERS
    for route in iter_route_contexts(app.routes):  # included routers are flattened lazily by FastAPI
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            for method in route.methods:
                op = doc["paths"].get(route.path_format, {}).get(method.lower())
                if op is not None:
                    _finish_operation(route, op)
    schemas = doc.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, replaced by Problem
        schemas.pop(unused, None)
    examples = schema_examples()
    for name, schema in schemas.items():
        if name in examples:
            schema["examples"] = [copy.deepcopy(examples[name])]  # YAML aliases share objects: keep each its own
    return doc


def install(app: FastAPI) -> None:
    """Serve the finished schema at /openapi.json (and to `copilot openapi`)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(app, generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
