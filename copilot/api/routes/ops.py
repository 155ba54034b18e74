"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from copilot.api.deps import CopilotDep
from copilot.api.routes import PROBLEMS
from copilot.api.schemas import Health

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Health, operation_id="healthz")
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, operation_id="readyz",
            responses={503: {**PROBLEMS[422], "description": "a dependency is down (Retry-After is set)"}})
def readyz(copilot: CopilotDep) -> Health:
    """The store and the vector index answer."""
    copilot.store.ping()
    copilot.index.ping()
    return Health(status="ready", checks={"store": "ok", "vector_index": "ok",
                                          "llm": "configured" if copilot.settings.llm_model else "none (rules engine)"})
