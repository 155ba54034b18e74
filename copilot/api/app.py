"""FastAPI application factory, error rendering (RFC 9457) and body-size limits."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from copilot import __version__
from copilot.api import openapi
from copilot.api.routes import brands, community, drafts, drift, history, ops, rituals, search, slack
from copilot.desk.routes import mount as mount_desk
from copilot.errors import PROBLEM_BASE, CopilotError, PayloadTooLarge, ServiceUnavailable
from copilot.runtime import Copilot
from copilot.settings import Settings, get_settings

log = logging.getLogger("copilot.api")
PROBLEM_TYPE = "application/problem+json"


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(jsonable_encoder(body), status_code=status, media_type=PROBLEM_TYPE)


class BodyLimit:
    """Refuses request bodies over the limit (413) while they stream in, Content-Length or not."""

    def __init__(self, app: ASGIApp, *, default: int, imports: int):
        self.app, self.default, self.imports = app, default, imports

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.imports if scope["path"].endswith("/imports") else self.default
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await problem(413, "payload-too-large", "Payload too large",
                          f"request body is {int(declared)} bytes; the limit is {limit}")(scope, receive, send)
            return
        seen, exceeded, answered = 0, False, False
        too_large = problem(413, "payload-too-large", "Payload too large",
                            f"request body exceeds the limit of {limit} bytes", field="body")

        async def limited() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                exceeded = True
                raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes", field="body")
            return message

        async def guarded(message: Message) -> None:
            # Whatever the app makes of the interrupted body (a parse error, a 500), the client gets the 413.
            nonlocal answered
            if not exceeded:
                await send(message)
            elif not answered:
                answered = True
                await too_large(scope, receive, send)

        try:
            await self.app(scope, limited, guarded)
        except PayloadTooLarge:
            if not answered:
                answered = True
                await too_large(scope, receive, send)


def _validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()[:20]]
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    return problem(422, "invalid-input", "Invalid input", f"{first['field']}: {first['message']}",
                   field=first["field"], errors=errors, instance=request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as a problem document; nothing internal leaks."""

    @app.exception_handler(CopilotError)
    async def _copilot_error(request: Request, exc: CopilotError) -> JSONResponse:
        headers = {"Retry-After": "5"} if isinstance(exc, ServiceUnavailable) else None
        resp = JSONResponse(jsonable_encoder(exc.to_problem(request.url.path)), status_code=exc.status,
                            media_type=PROBLEM_TYPE, headers=headers)
        return resp

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_problem(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body": undecodable bytes, not JSON
            return problem(422, "invalid-input", "Invalid input", "the request body is not valid UTF-8 JSON",
                           field="body", instance=request.url.path)
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem(exc.status_code, slug, str(exc.detail), str(exc.detail), instance=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal", "Internal error", "an unexpected error occurred; it has been logged")


def build_app(settings: Settings) -> FastAPI:
    """The FastAPI app with every route and handler, not yet bound to a runtime (the contract uses it)."""
    app = FastAPI(title="Community copilot API", version=__version__,
                  description="Charter-grounded rituals, spotlight, promotional drift and vitality for community managers.")
    install_error_handlers(app)
    for module in (brands, history, search, drift, rituals, community, drafts, ops, slack):
        app.include_router(module.router)
    app.include_router(slack.api)
    mount_desk(app)  # the editors' desk: HTML pages over the same services
    app.add_middleware(BodyLimit, default=settings.max_body_bytes, imports=settings.max_import_bytes)  # type: ignore[arg-type]
    openapi.install(app)
    return app


def create_app(settings: Settings | None = None, *, copilot: Copilot | None = None) -> FastAPI:
    """Build the app bound to a runtime; tests pass their own (temp data dir, test embedder)."""
    settings = settings or (copilot.settings if copilot else get_settings())
    runtime = copilot or Copilot(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()  # small brands' snapshots are warm before the first request; /readyz waits for the rest
        yield
        runtime.jobs.stop()
        runtime.snapshots.stop()

    app = build_app(settings)
    app.router.lifespan_context = lifespan
    app.state.copilot = runtime

    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        resp = problem(503, "service-unavailable", "Service unavailable", "the database is busy or unreachable; retry",
                       instance=request.url.path)
        resp.headers["Retry-After"] = "5"
        return resp

    for error in runtime.store.unavailable_errors:  # the store names them; the API never imports SQLAlchemy
        app.add_exception_handler(error, _database_unavailable)
    app.state.slack = None
    if settings.slack_signing_secret and settings.slack_bot_token:
        from copilot.slack.app import build as build_slack

        app.state.slack = build_slack(runtime)
    return app
