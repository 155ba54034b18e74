"""The editors' desk over HTTP: sign-in, review queue, draft page with edits and decisions, community dashboard.

Pages are rendered on the server (Jinja2) and call the same services as the API, with the same tenancy (another
brand's page is a 404) and scopes. Every form carries a CSRF token bound to the session cookie (HTTP-only,
SameSite=Strict); the Content-Security-Policy keeps the browser on this app alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable, TypeVar
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ValidationError

from copilot.api.deps import Principal, get_copilot
from copilot.api.schemas import DecisionIn, DraftPatch
from copilot.desk import pages
from copilot.desk.i18n import Texts, choose_language
from copilot.desk.views import word_diff
from copilot.desk.session import COOKIE, DESK_SCOPES, LIFETIME_S, DeskSession, Sessions
from copilot.errors import CopilotError, DraftVersionConflict, Forbidden, InvalidInput, NotFound
from copilot.review import TRANSITIONS, required_scope
from copilot.runtime import Copilot

M = TypeVar("M", bound=BaseModel)
HERE = Path(__file__).resolve().parent
PRE_COOKIE = "copilot_desk_pre"
MAX_FORM_FIELDS = 20
CSP = ("default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True)


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""


class DeskRoute(APIRoute):
    """Desk routes answer errors with an HTML page (status kept) instead of a problem document."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def render_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return RedirectResponse("/desk/sign-in?next=" + quote(request.url.path), status_code=303)
            except CopilotError as exc:
                return render(request, "error.html", {"error": exc}, status=exc.status)

        return render_errors


router = APIRouter(prefix="/desk", route_class=DeskRoute, include_in_schema=False)


def sessions(request: Request) -> Sessions:
    """The session signer of this app (one per app; keys stay the identity)."""
    signer = getattr(request.app.state, "desk_sessions", None)
    if signer is None:
        copilot = get_copilot(request)
        signer = request.app.state.desk_sessions = Sessions(copilot.store, copilot.settings.admin_key.get_secret_value())
    return signer  # type: ignore[no-any-return]


def texts(request: Request, brand_language: str | None = None) -> Texts:
    """The interface language: the browser's, else the brand's."""
    return Texts(choose_language(request.headers.get("accept-language"), brand_language))


def render(request: Request, template: str, context: dict[str, Any], *, status: int = 200,
           session: DeskSession | None = None) -> HTMLResponse:
    """A page with the shared context (texts, session, CSRF token) and the desk's security headers."""
    session = session or getattr(request.state, "desk_session", None)
    brand_language = getattr(request.state, "desk_brand_language", None)
    t = texts(request, brand_language)
    csrf = sessions(request).csrf_token(session.nonce) if session else context.get("csrf")
    html = templates.get_template(template).render({**context, "t": t, "lang": t.lang, "session": session, "csrf": csrf})
    response = HTMLResponse(html, status_code=status)
    response.headers.update({"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                             "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})
    return response


def editor(request: Request, brand: str) -> DeskSession:
    """The signed-in editor, if the page's brand is theirs (404 otherwise, as in the API)."""
    session = sessions(request).read(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired()
    if session.brand != brand:
        raise NotFound(f"brand '{brand}' not found")
    request.state.desk_session = session
    request.state.desk_brand_language = get_copilot(request).store.get_brand(brand).language
    return session


Editor = Annotated[DeskSession, Depends(editor)]


def principal(session: DeskSession) -> Principal:
    """The API's principal for a desk session: the same scope rules apply."""
    return Principal(actor=session.actor, brand=session.brand, scopes=session.scopes)


async def form(request: Request) -> dict[str, str]:
    """The URL-encoded form of a POST (one value per field)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise InvalidInput("send the form as application/x-www-form-urlencoded", field="content-type")
    try:
        fields = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True,
                          max_num_fields=MAX_FORM_FIELDS, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"the form cannot be read: {exc}", field="body") from exc
    return {k: v[-1] for k, v in fields.items()}


Form = Annotated[dict[str, str], Depends(form)]


def validated(model: type[M], data: dict[str, Any]) -> M:
    """The form's values checked by the API's own request model, so the desk accepts exactly what the API does."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from exc


def checked(request: Request, session: DeskSession, fields: dict[str, str]) -> dict[str, str]:
    """The form's fields, if its CSRF token belongs to the session."""
    if not sessions(request).csrf_ok(session.nonce, fields.get("csrf")):
        raise Forbidden("the form's security token is missing or stale; reload the page and try again", field="csrf")
    return fields


# ------------------------------------------------------------------ sign-in and sign-out
@router.get("", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """The signed-in editor's dashboard, or the sign-in form."""
    session = sessions(request).read(request.cookies.get(COOKIE))
    return RedirectResponse(f"/desk/{session.brand}" if session else "/desk/sign-in", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str = "") -> Response:
    """The form where an editor pastes their brand key."""
    nonce = Sessions.anonymous_nonce()
    response = render(request, "signin.html", {"csrf": sessions(request).csrf_token(nonce), "next": _safe_next(next)})
    response.set_cookie(PRE_COOKIE, nonce, max_age=1800, httponly=True, samesite="strict", path="/desk",
                        secure=_secure(request))
    return response


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, fields: Form, copilot: Annotated[Copilot, Depends(get_copilot)]) -> Response:
    """Exchange a brand key (review or admin scope) for a session cookie."""
    signer = sessions(request)
    nonce = request.cookies.get(PRE_COOKIE) or ""
    if not nonce or not signer.csrf_ok(nonce, fields.get("csrf")):
        raise Forbidden("the sign-in form expired; reload it and try again", field="csrf")
    key = copilot.store.verify_key(fields.get("key", "").strip())
    problem = None if key else "unknown"
    if key is not None and not set(key.scopes.split(",")) & DESK_SCOPES:
        problem = "scope"
    if problem:
        return render(request, "signin.html", {"csrf": fields.get("csrf"), "next": _safe_next(fields.get("next", "")),
                                               "problem": problem}, status=401 if problem == "unknown" else 403)
    assert key is not None
    response = RedirectResponse(_safe_next(fields.get("next", "")) or f"/desk/{key.brand_id}/drafts", status_code=303)
    response.set_cookie(COOKIE, signer.issue(key.brand_id, key.id), max_age=LIFETIME_S, httponly=True,
                        samesite="strict", path="/desk", secure=_secure(request))
    response.delete_cookie(PRE_COOKIE, path="/desk")
    return response


@router.post("/sign-out")
def sign_out(request: Request, fields: Form) -> Response:
    """End the session (the form carries the session's CSRF token)."""
    session = sessions(request).read(request.cookies.get(COOKIE))
    if session is not None:
        checked(request, session, fields)
    response = RedirectResponse("/desk/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/desk")
    return response


def _safe_next(value: str) -> str:
    """Only a path of this desk (no open redirect)."""
    return value if value.startswith("/desk/") and not value.startswith("//") and "\\" not in value else ""


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or get_copilot(request).settings.env == "prod"


# ------------------------------------------------------------------ pages
@router.get("/{brand}", response_class=HTMLResponse)
def dashboard(request: Request, brand: str, session: Editor) -> Response:
    """Vitality, alerts, spotlight and the feed's drift report."""
    copilot = get_copilot(request)
    return render(request, "dashboard.html", {"brand": brand, **pages.dashboard(copilot, brand)})


@router.get("/{brand}/drafts", response_class=HTMLResponse)
def review_queue(request: Request, brand: str, session: Editor) -> Response:
    """Drafts by status, ritual, author and age."""
    query = {k: v for k, v in request.query_params.items() if k in ("status", "ritual", "author", "age", "offset")}
    return render(request, "queue.html", {"brand": brand, **pages.queue(get_copilot(request), brand, query)})


def _draft_page(request: Request, brand: str, draft_id: str, session: DeskSession, *, status: int = 200,
                **extra: Any) -> Response:
    copilot = get_copilot(request)
    row = copilot.review.get(draft_id, brand=brand)
    context = pages.draft(copilot, row, allows=principal(session).allows)
    return render(request, "draft.html", {"brand": brand, **context, **extra}, status=status)


@router.get("/{brand}/drafts/{draft_id}", response_class=HTMLResponse)
def draft_page(request: Request, brand: str, draft_id: str, session: Editor) -> Response:
    """One draft: highlighted text, grounding, guards, revisions and decisions."""
    done = request.query_params.get("done")
    notice = "saved" if request.query_params.get("saved") else (done if done in TRANSITIONS else None)
    return _draft_page(request, brand, draft_id, session, notice=notice)


@router.post("/{brand}/drafts/{draft_id}/edit", response_class=HTMLResponse)
def edit_draft(request: Request, brand: str, draft_id: str, session: Editor, fields: Form) -> Response:
    """Save an edit against the version the editor started from; a conflict shows both versions to merge."""
    checked(request, session, fields)
    copilot = get_copilot(request)
    if not principal(session).allows("draft"):
        raise Forbidden("this key lacks the 'draft' scope needed to edit")
    patch = validated(DraftPatch, {"body": fields.get("body", "").strip(), "title": fields.get("title", "").strip() or None,
                                   "note": fields.get("note") or None})
    base = fields.get("version", "")
    if not base.isdigit():
        raise InvalidInput("the form lost the version it was editing; reload the page", field="version")
    try:
        copilot.review.edit(draft_id, if_match=int(base), title=patch.title, body=patch.body, variants=None,
                            note=patch.note, actor=session.actor, brand=brand)
    except DraftVersionConflict:
        current = copilot.review.get(draft_id, brand=brand)
        return _draft_page(request, brand, draft_id, session, status=409,
                           conflict={"mine": patch.body, "title": patch.title, "base": int(base),
                                     "diff": word_diff(current.body, patch.body or "")})
    return RedirectResponse(f"/desk/{brand}/drafts/{draft_id}?saved=1", status_code=303)


@router.post("/{brand}/drafts/{draft_id}/decide", response_class=HTMLResponse)
def decide_draft(request: Request, brand: str, draft_id: str, session: Editor, fields: Form) -> Response:
    """Submit, approve, request changes (comment required), reject or publish: the API's transitions and checks."""
    checked(request, session, fields)
    decision = validated(DecisionIn, {"action": fields.get("action", ""), "comment": fields.get("comment", "").strip() or None,
                                      "permalink": fields.get("permalink", "").strip() or None,
                                      "override_guards": fields.get("override_guards") == "on"})
    if decision.action == "request_changes" and not decision.comment:
        raise InvalidInput("say what should change: a comment is required to request changes", field="comment")
    if not principal(session).allows(required_scope(decision.action)):
        raise Forbidden(f"this key lacks the '{required_scope(decision.action)}' scope")
    version = fields.get("version", "")
    get_copilot(request).review.decide(draft_id, action=decision.action, comment=decision.comment, actor=session.actor,
                                       brand=brand, permalink=decision.permalink, override_guards=decision.override_guards,
                                       if_match=int(version) if version.isdigit() else None)
    return RedirectResponse(f"/desk/{brand}/drafts/{draft_id}?done={decision.action}", status_code=303)


def mount(app: Any) -> None:
    """Register the desk's pages and static files on the app."""
    app.include_router(router)
    app.mount("/desk/static", StaticFiles(directory=HERE / "static"), name="desk-static")
