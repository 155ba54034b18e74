"""A fake Slack Web API (and response_url endpoint) served on loopback, recording what the app sends.

`usergroups` maps a user group id (S…) to its members, served by `usergroups.users.list`."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.usergroups: dict[str, list[str]] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}  # response_url posts by the key in their URL
        self.port = _free_port()
        app = Starlette(routes=[Route("/api/{method}", self._api, methods=["GET", "POST"]),
                                Route("/response/{key}", self._response, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, key: str = "1") -> str:
        return f"http://127.0.0.1:{self.port}/response/{key}"

    async def _payload(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            return dict(request.query_params)
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            return json.loads(raw or b"{}")
        return {k: v[0] for k, v in parse_qs(raw.decode()).items()}

    async def _api(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        payload = await self._payload(request)
        self.calls.append((method, payload))
        if method == "usergroups.users.list":
            members = self.usergroups.get(payload.get("usergroup", ""))
            return JSONResponse({"ok": True, "users": members} if members is not None
                                else {"ok": False, "error": "no_such_subteam"})
        return JSONResponse({"ok": True, "channel": payload.get("channel"), "ts": "1764000000.000100"})

    async def _response(self, request: Request) -> JSONResponse:
        payload = await self._payload(request)
        self.calls.append(("response_url", payload))
        self.responses.setdefault(request.path_params["key"], []).append(payload)
        return JSONResponse({"ok": True})

    def sent(self, method: str) -> list[dict[str, Any]]:
        """Every payload received so far for a Web API method (or "response_url")."""
        return [payload for m, payload in self.calls if m == method]

    def wait_for(self, method: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m, payload in self.calls:
                if m == method:
                    return payload
            time.sleep(0.05)
        raise AssertionError(f"Slack never received {method}; got {[m for m, _ in self.calls]}")

    def __enter__(self) -> "FakeSlack":
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started and time.time() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
