"""`POST /cmcd/{ingestKey}` (and `POST /cmcd` with `X-Ingest-Key`): CMCD v2 event reports.

The URL is what a player is given as an event target (hls.js `cmcd.eventTargets[].url`, dash.js
`cmcd.targets[].url`). The body is `application/cmcd` (`text/cmcd` from older reporters, `text/plain`
from `navigator.sendBeacon`): one data set per line (docs/ingest-cmcd.md). Answers, as CTA-5004-B asks
of a collector:
- 204 once the usable records are durable (a record refused or of a version above 2 is dropped; the
  others are kept): held for the reorder window in the collector's log, or stored as events
  (`ingest.cmcd_format`, `ingest.intake`);
- 400 when no record of the body can be used (each refused, naming why; `unsupported_version` when
  they all carry a `v` above 2), 413 for a body past 1 MiB or 1000 records, 415 for another content
  type or a content encoding;
- 401 without an ingest key; 410 for an unknown or revoked one: the reporter stops sending to this
  target for the rest of its session;
- 429 with `Retry-After` when the collector cannot store now: nothing of the report was kept, and the
  reporter sends it again.
Every origin may call it (CORS: `api/cors.py`); the dimensions are enriched from the request
(`api/enrichment.py`: browser, OS and device from the User-Agent, geography from the address; the
session's latest request when its records come due).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from sightline.api.access import access, request_body
from sightline.api.collect import read_body
from sightline.api.deps import AuthDep, FormatsDep, IntakeDep
from sightline.api.enrichment import request_origin
from sightline.api.errors import ApiError
from sightline.auth.plans import INGEST
from sightline.auth.service import AuthService
from sightline.ingest.cmcd_format import REPORT_MEDIA_TYPES
from sightline.ingest.format import CollectError, Message
from sightline.ingest.formats import Formats
from sightline.ingest.intake import Intake
from sightline.ingest.pipeline import IngestUnavailableError

router = APIRouter(tags=["ingest"])
_ANSWERS = access(
    INGEST,
    400,
    410,
    413,
    415,
    429,
    descriptions={401: "No ingest key.", 410: "An unknown or revoked ingest key: stop sending."},
    responses={204: {"description": "Stored."}},
    openapi_extra=request_body(
        {"type": "string", "description": "CMCD data sets, one a line."}, *sorted(REPORT_MEDIA_TYPES)
    ),
)


def _error(status: int, code: str, message: str, parameter: str | None = None, **headers: str) -> ApiError:
    return ApiError(status, code, message, parameter, headers=headers)


async def customer_for_key(auth: AuthService, key: str | None, parameter: str) -> int:
    """The customer of an ingest key: 401 without one, 410 (gone: stop sending) for an unknown or revoked one."""
    if not key:
        raise _error(401, "invalid_ingest_key", "send the ingest key in the URL or as X-Ingest-Key", parameter)
    customer_id = auth.access.customer_for_ingest_key(key)
    if customer_id is None:
        raise _error(410, "unknown_ingest_key", "this ingest key is unknown or revoked: stop sending", parameter)
    return customer_id


async def _event_report(
    request: Request, auth: AuthService, intake: Intake, formats: Formats, key: str | None, parameter: str
) -> Response:
    customer_id = await customer_for_key(auth, key, parameter)
    message = Message(await read_body(request), request.headers)
    try:  # up to 1 MiB of pure-Python parsing, seconds of CPU: off the event loop, so media answers never wait
        decoded = await run_in_threadpool(formats.cmcd_reports.decode, message)
    except CollectError as error:
        raise _error(error.status, error.code, error.message, error.parameter) from None
    try:
        await intake.take(formats.cmcd_reports, customer_id, decoded, request_origin(request))
    except IngestUnavailableError as error:
        raise _error(429, "overloaded", error.message, **{"Retry-After": str(error.retry_after_s)}) from error
    return Response(status_code=204)


@router.post("/cmcd/{ingestKey}", status_code=204, **_ANSWERS)
async def cmcd_report_keyed(
    request: Request,
    auth: AuthDep,
    intake: IntakeDep,
    formats: FormatsDep,
    ingest_key: Annotated[str, Path(alias="ingestKey", description="The customer's ingest key.")],
) -> Response:
    """Store a CMCD v2 event report (the URL to give a player as its event target)."""
    return await _event_report(request, auth, intake, formats, ingest_key, "ingestKey")


@router.post("/cmcd", status_code=204, **_ANSWERS)
async def cmcd_report(
    request: Request,
    auth: AuthDep,
    intake: IntakeDep,
    formats: FormatsDep,
    key: Annotated[str | None, Query(description="The ingest key, when it cannot be sent as a header.")] = None,
    x_ingest_key: Annotated[str | None, Header(description="The ingest key.")] = None,
) -> Response:
    """Store a CMCD v2 event report whose ingest key comes as `X-Ingest-Key` (or `?key=`)."""
    return await _event_report(request, auth, intake, formats, x_ingest_key or key, "X-Ingest-Key")
