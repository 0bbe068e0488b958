"""`POST /mux` (and `POST /`): mux-embed beacons, as a player page whose `beaconCollectionDomain` names
this collector sends them (docs/ingest-mux.md).

mux-embed posts its JSON as `text/plain` (fetch, XMLHttpRequest, or `sendBeacon` at page unload) to
`https://<beaconCollectionDomain>` — `http://` for a domain ending in `localhost[:port]` — so the route is the
root of the domain, or `/mux` when the domain is given as `host/mux`. Mux's env key (`env_key`) is the
customer's Sightline ingest key. Answers 200 `{"accepted", "duplicates", "ignored", "refused"}` once the
accepted events are durable (mux-embed only looks at the status: anything else, it sends again later);
400 when no event of the body is a mux event; 401 without a valid env key; 413 for a body too large; 415
for a Content-Encoding other than gzip or deflate; 503 with `Retry-After` when the collector cannot store
now (views already stored from that body are recognised as duplicates on the retry). Each view's decoding
state is kept by the collector (`ingest.mux_format`), across restarts too.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from sightline.api.access import access, request_body
from sightline.api.collect import Refusal, read_inflated, unavailable
from sightline.api.deps import AuthDep, FormatsDep, IntakeDep
from sightline.api.enrichment import request_origin
from sightline.api.errors import ApiError
from sightline.auth.plans import INGEST
from sightline.ingest.format import CollectError, Message
from sightline.ingest.native import MAX_EVENTS
from sightline.ingest.pipeline import IngestUnavailableError

router = APIRouter(tags=["ingest"])


class MuxResponse(BaseModel):
    accepted: int
    duplicates: int
    ignored: int
    refused: list[Refusal]


_BODY = {
    "type": "object",
    "description": "mux-embed's beacon body; each event carries the env key (`ake`) and the view (`xid`).",
    "properties": {
        "metadata": {"type": "object"},
        "events": {"type": "array", "items": {"type": "object"}, "minItems": 1, "maxItems": MAX_EVENTS},
    },
    "required": ["events"],
}
_ANSWERS = access(
    INGEST,
    400,
    413,
    415,
    503,
    descriptions={401: "No env_key, or an unknown or revoked one."},
    openapi_extra=request_body(_BODY, "text/plain", "application/json"),
)


@router.post("/mux", response_model=MuxResponse, **_ANSWERS)
@router.post("/", response_model=MuxResponse, include_in_schema=False, **_ANSWERS)
async def mux_beacons(request: Request, auth: AuthDep, intake: IntakeDep, formats: FormatsDep) -> MuxResponse:
    """Store the events of a mux-embed beacon body; its `env_key` is the customer's ingest key."""
    try:
        decoded = formats.mux.decode(Message(await read_inflated(request)))
    except CollectError as error:
        raise ApiError(error.status, error.code, error.message, error.parameter) from error
    customer_id = auth.access.customer_for_ingest_key(decoded.key) if decoded.key else None
    if customer_id is None:
        raise ApiError(401, "invalid_env_key", "set mux-embed's env_key to a Sightline ingest key", "env_key",
                       headers={"WWW-Authenticate": 'Bearer realm="ingest"'})  # fmt: skip
    try:
        outcome = await intake.take(formats.mux, customer_id, decoded, request_origin(request))
    except IngestUnavailableError as error:
        raise unavailable(error) from error
    refused = [Refusal(index=refusal.index, reason=refusal.reason) for refusal in sorted(outcome.refused)]
    return MuxResponse(
        accepted=outcome.accepted, duplicates=outcome.duplicates, ignored=outcome.ignored, refused=refused
    )
