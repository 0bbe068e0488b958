"""`POST /collect`: native beacon batches from players, acknowledged only once durable.

Authenticated by an ingest key (`X-Ingest-Key` header, or `key` in the query for players that cannot
set headers). Answers 200 `{"accepted", "duplicates", "refused": [{"index", "reason"}]}` once the
accepted events are durable (see `store.writer`); 400 when nothing in the batch is acceptable; 401 for
a missing or unknown key; 413 for a body too large; 415 for a Content-Encoding other than gzip or deflate;
503 with `Retry-After` when the writer is full or the spool fails (nothing of the batch is kept then, so
the client's retry counts).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from sightline.api.access import access, request_body
from sightline.api.enrichment import request_origin
from sightline.api.errors import ApiError, error_response
from sightline.api.services import accounts, services
from sightline.auth.plans import INGEST
from sightline.ingest.collect import MAX_BODY_BYTES, inflate_body, is_compressed
from sightline.ingest.format import CollectError, Message
from sightline.ingest.native import BATCH
from sightline.ingest.pipeline import IngestUnavailableError

router = APIRouter(tags=["ingest"])


class Refusal(BaseModel):
    index: int
    reason: str


class CollectResponse(BaseModel):
    accepted: int
    duplicates: int
    refused: list[Refusal]


async def read_body(request: Request) -> bytes:
    """The request's body, refused (413) as soon as it passes `MAX_BODY_BYTES`; 400 when the client hangs up before
    sending it whole."""
    too_large = ApiError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise too_large
    except ClientDisconnect:  # a client error, not the server's: counted as a 400, logged without a traceback
        raise ApiError(400, "body_incomplete", "the client closed the connection before the whole body came") from None
    return bytes(body)


async def read_inflated(request: Request) -> bytes:
    """The request's body (`read_body`), decompressed (`inflate_body`). A compressed one is inflated off the
    event loop (zlib releases the GIL), so that up to 8 MiB of inflating, a compression bomb's, holds up no
    other request."""
    body = await read_body(request)
    encoding = request.headers.get("content-encoding")
    if is_compressed(body, encoding):
        return await run_in_threadpool(inflate_body, body, encoding)
    return body


def unavailable(error: IngestUnavailableError) -> ApiError:
    """The HTTP answer to a pipeline that cannot take events now."""
    return ApiError(error.status, error.code, error.message, headers={"Retry-After": str(error.retry_after_s)})


_KEY_PARAMETERS = [
    {"name": "X-Ingest-Key", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "The ingest key."},
    {"name": "key", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "The ingest key, for players that cannot set headers."},
]  # fmt: skip


@router.post(
    "/collect",
    response_model=CollectResponse,
    **access(
        INGEST,
        400,
        413,
        415,
        503,
        descriptions={401: "No ingest key, or an unknown or revoked one."},
        openapi_extra={
            "parameters": _KEY_PARAMETERS,
            **request_body(BATCH.json_schema(), "application/json", "text/plain"),
        },
    ),
)
async def collect(request: Request) -> Response:
    """Store a batch of one view's events (docs/beacon-format.md)."""
    ingest_key = request.headers.get("x-ingest-key") or request.query_params.get("key")
    customer_id = accounts(request.app).access.customer_for_ingest_key(ingest_key) if ingest_key else None
    if customer_id is None:
        raise ApiError(401, "invalid_ingest_key", "send a valid ingest key as X-Ingest-Key or ?key=", "key",
                       headers={"WWW-Authenticate": 'Bearer realm="ingest"'})  # fmt: skip
    running = services(request.app)
    try:
        decoded = running.formats.native.decode(Message(await read_inflated(request)))
    except CollectError as error:
        raise ApiError(error.status, error.code, error.message, error.parameter) from error
    try:
        outcome = await running.intake.take(running.formats.native, customer_id, decoded, request_origin(request))
    except IngestUnavailableError as error:
        raise unavailable(error) from error
    refused = sorted(outcome.refused)
    if not outcome.accepted and refused:
        detail = "; ".join(f"event {refusal.index}: {refusal.reason}" for refusal in refused[:5])
        raise ApiError(400, "no_valid_event", f"no event of the batch can be stored: {detail}", "events")
    answer = {"accepted": outcome.accepted, "duplicates": outcome.duplicates,
              "refused": [{"index": refusal.index, "reason": refusal.reason} for refusal in refused]}  # fmt: skip
    return Response(json.dumps(answer, separators=(",", ":")), media_type="application/json")


class CollectLane:
    """ASGI middleware that answers `POST /collect` with `collect` before the app's router: beacons are most of
    the requests, and the router with its per-route exception and dependency layers costs about a fourth of
    handling one (bench/ingest_http.py). An `ApiError` is answered in the envelope, as the app's handler does;
    the middleware outside it (CORS, the outer error handler) applies as to any route. The `/collect` route
    stays in the router: it documents the endpoint and answers its other methods (405)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/collect":
            await self.app(scope, receive, send)
            return
        try:
            response = await collect(Request(scope, receive))
        except ApiError as error:
            response = error_response(error)
        await response(scope, receive, send)
