"""What each HTTP request leaves for an operator: its id, its metrics, its log line; and `GET /metrics`.

`RequestTelemetry` is the app's outermost middleware of ours. For each request it takes the client's
`X-Request-ID` when sane (else makes one), returns it in the answer's `X-Request-ID` and in any error body
(`api.errors`), makes it and the route template the context of every log line written meanwhile
(`telemetry.logs`), counts the answer by method, route template and status with its duration, and, with
`access_log`, logs a line for it. A route's label is its template (`/mm-apis/metricquery/{customerId}`), or
`unmatched` for a path no route takes: never the raw path. An exception no handler answered is logged with
its traceback and answered 500 in the error envelope.

`GET /metrics` answers the app's metrics (`telemetry.metrics`) to a caller with `Authorization: Bearer
<metrics_token>`; without a `metrics_token` set it answers no one, and the metrics are read on `metrics_port`
(a listener of its own, meant for a private address) when set (docs/operations.md).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, start_http_server
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sightline.api.access import access
from sightline.api.errors import ApiError, error_response, unauthorized
from sightline.auth.plans import OPERATOR
from sightline.settings import Settings
from sightline.telemetry.context import RequestContext, current_request, request_id_from
from sightline.telemetry.metrics import Telemetry, table_kind

access_logger = logging.getLogger("sightline.access")
logger = logging.getLogger(__name__)
UNMATCHED = "unmatched"
"""The route label of a request that no route takes."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""The method labels; any other method a client sends is counted as `other`."""


def route_template(scope: Scope, static_paths: frozenset[str]) -> str | None:
    """The template of the route that took the request, once routed; a path answered before the router (the
    collector's lane) is its route's when some route has that path as it is."""
    route = scope.get("route")
    if isinstance(route, BaseRoute):
        path: str | None = getattr(route, "path", None)
        if path is not None:
            return path
    return scope["path"] if scope["path"] in static_paths else None


def _customer_of(scope: Scope) -> int | None:
    value = scope.get("path_params", {}).get("customerId")
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) <= 18 else None


class RequestTelemetry:
    """ASGI middleware: the request id, metrics and log line of each HTTP request (module docstring)."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry, access_log: bool) -> None:
        self.app, self.telemetry, self.access_log = app, telemetry, access_log
        self._static_paths: frozenset[str] | None = None

    def _static(self, scope: Scope) -> frozenset[str]:
        if self._static_paths is None:
            routes = iter_route_contexts(scope["app"].routes) if "app" in scope else []
            self._static_paths = frozenset(
                context.path for context in routes if context.path and "{" not in context.path
            )
        return self._static_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        header = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = request_id_from(None if header is None else header.decode("latin-1"))
        static = self._static(scope)

        def route() -> str | None:
            return route_template(scope, static)

        def on_query(tables: Sequence[str], seconds: float) -> None:
            self.telemetry.query_seconds.labels(route() or UNMATCHED, table_kind(tables)).observe(seconds)

        context = RequestContext(request_id, route, lambda: _customer_of(scope), on_query)
        token = current_request.set(context)
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("the request failed")
            if status:  # the answer had begun: nothing more can be said to the client
                raise
            await error_response(ApiError(500, "internal_error", "the server failed; report the requestid"))(
                scope, receive, send_with_id
            )
        finally:
            self._observe(scope, context, status or 500, time.perf_counter() - started)
            current_request.reset(token)

    def _observe(self, scope: Scope, context: RequestContext, status: int, seconds: float) -> None:
        method, route = scope["method"], context.route() or UNMATCHED
        label = method if method in METHODS else "other"
        self.telemetry.requests.labels(label, route, str(status)).inc()
        self.telemetry.request_seconds.labels(label, route).observe(seconds)
        if self.access_log:
            access_logger.info(
                "%s %s %d", method, scope["path"], status, extra={"status": status, "duration_ms": seconds * 1000}
            )


router = APIRouter(tags=["operations"])


def include_operations(app: FastAPI, settings: Settings) -> None:
    """`GET /metrics` and `RequestTelemetry`, outside every middleware added before: call it last."""
    app.state.telemetry = Telemetry()
    token = settings.metrics_token
    app.state.metrics_token = None if token is None else token.get_secret_value()
    app.state.ready_timeout_s = settings.ready_timeout_s
    app.include_router(router)
    app.add_middleware(RequestTelemetry, telemetry=app.state.telemetry, access_log=settings.access_log)


def serve_metrics(telemetry: Telemetry, settings: Settings) -> Callable[[], None] | None:
    """Serve the metrics to anyone on `metrics_host:metrics_port` when a port is set; the call that stops it."""
    if settings.metrics_port is None:
        return None
    server, thread = start_http_server(settings.metrics_port, settings.metrics_host, telemetry.registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop


@router.get(
    "/metrics",
    response_class=Response,
    **access(
        OPERATOR,
        responses={200: {"description": "Prometheus' text format.", "content": {CONTENT_TYPE_LATEST: {}}}},
    ),
)
async def metrics(request: Request) -> Response:
    """The service's metrics, for Prometheus (docs/operations.md)."""
    expected: str | None = request.app.state.metrics_token
    if expected is None:
        raise ApiError(403, "metrics_not_served", "set metrics_token to read /metrics here, or read metrics_port")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.encode(), expected.encode()):
        raise unauthorized("send the metrics token as `Authorization: Bearer <metrics_token>`")
    telemetry: Telemetry = request.app.state.telemetry
    return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)
