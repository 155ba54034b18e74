"""The root pointer, liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from copilot import __version__
from copilot.api.deps import CopilotDep
from copilot.api.routes import problem
from copilot.api.schemas import Health, HealthChecks, Root
from copilot.errors import ServiceUnavailable

router = APIRouter(tags=["ops"])


@router.get("/", response_model=Root, operation_id="root")
def root() -> Root:
    """Where to start: `/docs` is the interactive documentation of every operation."""
    return Root(name="Community copilot API", version=__version__, docs="/docs", openapi="/openapi.json",
                desk="/desk", health="/readyz")


@router.get("/healthz", response_model=Health, operation_id="healthz", response_model_exclude_none=True)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, operation_id="readyz",
            responses={503: problem("a dependency is down or snapshots are warming (Retry-After is set)")})
def readyz(copilot: CopilotDep) -> Health:
    """The store and the vector index answer, and every brand's analytics snapshot is warm (loaded or built, and
    caught up with the change sequence), so no request waits on a rebuild."""
    copilot.store.ping()
    copilot.index.ping()
    warm, brands = copilot.snapshots.status()  # brand names stay out of this unauthenticated answer
    if not warm:
        cold = sum(1 for state in brands.values() if state == "warming")
        raise ServiceUnavailable(f"analytics snapshots warming up ({cold} of {len(brands)} brands)")
    return Health(status="ready", checks=HealthChecks(
        store="ok", vector_index="ok", llm="configured" if copilot.settings.llm_model else "none (rules engine)",
        analytics_snapshots=f"warm ({len(brands)} brand{'' if len(brands) == 1 else 's'})"))
