"""Cross-origin access to the ingest routes, which players call from their customers' pages.

Only requests whose path is one of `prefixes` (or below one), or one of `paths` exactly, get CORS
headers; the query API and the accounts routes stay same-origin. Ingest routes authenticate by a
public ingest key, never by cookies, so every origin may call them: `Access-Control-Allow-Origin: *`
without credentials. A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered 204 here,
before routing, for any path it covers. `Retry-After` is exposed, so a player can read it on 429 and 503 answers.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_METHODS = "GET, HEAD, POST, OPTIONS"
ALLOWED_HEADERS = ("content-type", "content-encoding", "x-ingest-key")
PREFLIGHT_MAX_AGE_S = 86_400


class CrossOriginIngest:
    """ASGI middleware: CORS for the paths under `prefixes`, nothing for the others.

    Add a format's route by adding its path prefix where the app installs this middleware (app.py), and
    any request header its clients send (lower case) to `allow_headers`.
    """

    def __init__(
        self,
        app: ASGIApp,
        prefixes: Iterable[str],
        allow_headers: Iterable[str] = ALLOWED_HEADERS,
        paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.prefixes = tuple(prefix.rstrip("/") for prefix in prefixes)
        self.paths = frozenset(paths)
        self.allow_headers = frozenset(header.lower() for header in allow_headers)

    def covers(self, path: str) -> bool:
        """Whether `path` is a prefix or below one (`/collect` covers `/collect/cmcd`, not `/collector`), or
        one of the exact paths."""
        return path in self.paths or any(path == prefix or path.startswith(prefix + "/") for prefix in self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.covers(scope["path"]):
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in request_headers:
            await self._preflight(request_headers, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Access-Control-Allow-Origin"] = "*"
                headers["Access-Control-Expose-Headers"] = "Retry-After"
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, request_headers: Headers, send: Send) -> None:
        """204 naming the methods and the requested headers that are allowed; the browser refuses the rest."""
        requested = (h.strip().lower() for h in request_headers.get("access-control-request-headers", "").split(","))
        allowed = sorted({header for header in requested if header in self.allow_headers})
        headers = {
            "access-control-allow-origin": "*",
            "access-control-allow-methods": ALLOWED_METHODS,
            "access-control-max-age": str(PREFLIGHT_MAX_AGE_S),
        }
        if allowed:
            headers["access-control-allow-headers"] = ", ".join(allowed)
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        await send({"type": "http.response.start", "status": 204, "headers": raw})
        await send({"type": "http.response.body", "body": b""})
