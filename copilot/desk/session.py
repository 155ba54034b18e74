"""Desk sessions: a brand key is exchanged once for a signed cookie; CSRF tokens are bound to that cookie.

The cookie holds `brand.key_id.expiry.nonce` and an HMAC of it under a secret derived from the admin key (every
replica shares it, so any replica reads any session). The key itself is never stored in the cookie: each request
reloads the key row, so revoking a key ends its desk sessions at once. No new user store: the key is the identity.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from copilot.store import Store

COOKIE = "copilot_desk"
LIFETIME_S = 12 * 3600
DESK_SCOPES = frozenset({"review", "admin"})  # the scopes that may open the desk


@dataclass(frozen=True)
class DeskSession:
    """A signed-in editor: the key's brand, id, actor and scopes, and the nonce CSRF tokens derive from."""

    brand: str
    key_id: str
    actor: str
    scopes: frozenset[str]
    nonce: str


def _secret(admin_key: str) -> bytes:
    return hashlib.sha256(b"copilot-desk-session\x00" + admin_key.encode()).digest()


def _mac(secret: bytes, message: str) -> str:
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Sessions:
    """Issues and reads desk cookies and CSRF tokens."""

    def __init__(self, store: Store, admin_key: str):
        self.store, self.secret = store, _secret(admin_key)

    def issue(self, brand: str, key_id: str, *, now: float | None = None) -> str:
        """A cookie value for a verified key."""
        expiry = int((now or time.time()) + LIFETIME_S)
        payload = f"{brand}.{key_id}.{expiry}.{secrets.token_urlsafe(12)}"
        return f"{payload}.{_mac(self.secret, payload)}"

    def read(self, cookie: str | None, *, now: float | None = None) -> DeskSession | None:
        """The session of a cookie, or None when it is absent, forged, expired, or its key was revoked."""
        parts = (cookie or "").split(".")
        if len(parts) != 5:
            return None
        payload, mac = ".".join(parts[:4]), parts[4]
        if not hmac.compare_digest(mac, _mac(self.secret, payload)):
            return None
        brand, key_id, expiry, nonce = parts[:4]
        if not expiry.isdigit() or int(expiry) < (now or time.time()):
            return None
        key = next((k for k in self.store.list_keys(brand) if k.id == key_id), None)
        if key is None or key.revoked_at is not None:
            return None
        scopes = frozenset(key.scopes.split(","))
        if not scopes & DESK_SCOPES:
            return None
        return DeskSession(brand=brand, key_id=key_id, actor=key.actor, scopes=scopes, nonce=nonce)

    def csrf_token(self, nonce: str) -> str:
        """The token every form of a session carries."""
        return _mac(self.secret, "csrf." + nonce)

    def csrf_ok(self, nonce: str, token: Any) -> bool:
        """Whether a submitted token belongs to the session (constant time)."""
        return isinstance(token, str) and hmac.compare_digest(token, self.csrf_token(nonce))

    @staticmethod
    def anonymous_nonce() -> str:
        """The nonce of the sign-in form, kept in its own short-lived cookie (login CSRF)."""
        return secrets.token_urlsafe(16)
