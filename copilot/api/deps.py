"""Request dependencies: the runtime, the caller's identity, and brand/scope checks."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from copilot.errors import Forbidden, NotFound, Unauthenticated
from copilot.runtime import Copilot

bearer = HTTPBearer(auto_error=False, description="an API key: the admin key (COPILOT_ADMIN_KEY) or a brand key "
                    "`cpk_…` with scopes read, draft, review, admin (admin implies all, any key may read). Each "
                    "operation lists the scope it needs in its security requirement.")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the global admin, or a key bound to one brand with scopes."""

    actor: str
    brand: str | None
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        """The settings' admin key: may create brands and act on any brand."""
        return self.brand is None

    def allows(self, scope: str) -> bool:
        """Admin scope implies every other; any scope implies read."""
        return self.is_admin or "admin" in self.scopes or scope in self.scopes or scope == "read"


def get_copilot(request: Request) -> Copilot:
    """The runtime attached to the app."""
    return request.app.state.copilot  # type: ignore[no-any-return]


CopilotDep = Annotated[Copilot, Depends(get_copilot)]


def get_principal(copilot: CopilotDep,
                  creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    """Authenticate the bearer key (constant-time comparisons)."""
    if creds is None or not creds.credentials:
        raise Unauthenticated("send 'Authorization: Bearer <key>'")
    token = creds.credentials
    admin = copilot.settings.admin_key.get_secret_value()
    if hmac.compare_digest(token.encode(), admin.encode()):
        return Principal(actor="admin", brand=None, scopes=frozenset({"admin"}))
    key = copilot.store.verify_key(token)
    if key is None:
        raise Unauthenticated("unknown or revoked API key")
    return Principal(actor=key.actor, brand=key.brand_id, scopes=frozenset(key.scopes.split(",")))


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def brand_access(scope: str) -> Callable[..., str]:
    """Dependency: the path's brand, if the caller may use it with `scope` (404 for other brands). The scope it
    checks is the one the contract lists for the operation (`required_scope`, read by `copilot.api.openapi`)."""

    def check(brand: str, principal: PrincipalDep, copilot: CopilotDep) -> str:
        if not principal.is_admin and principal.brand != brand:
            raise NotFound(f"brand '{brand}' not found")
        copilot.store.get_brand(brand)
        if not principal.allows(scope):
            raise Forbidden(f"this key lacks the '{scope}' scope")
        return brand

    check.required_scope = scope  # type: ignore[attr-defined]
    return check


def global_admin(principal: PrincipalDep) -> Principal:
    """Dependency: the settings' admin key (COPILOT_ADMIN_KEY), not a brand key."""
    if not principal.is_admin:
        raise Forbidden("only the admin key (COPILOT_ADMIN_KEY) can do this; brand keys cannot")
    return principal


global_admin.required_scope = "admin"  # type: ignore[attr-defined]

ReadBrand = Annotated[str, Depends(brand_access("read"))]
DraftBrand = Annotated[str, Depends(brand_access("draft"))]
AdminBrand = Annotated[str, Depends(brand_access("admin"))]
GlobalAdmin = Annotated[Principal, Depends(global_admin)]
