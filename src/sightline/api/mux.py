"""`POST /mux` (and `POST /`): mux-embed beacons, as a player page whose `beaconCollectionDomain` names
this collector sends them (docs/ingest-mux.md).

mux-embed posts its JSON as `text/plain` (fetch, XMLHttpRequest, or `sendBeacon` at page unload) to
`https://<beaconCollectionDomain>` — `http://` for a domain ending in `localhost[:port]` — so the route is the
root of the domain, or `/mux` when the domain is given as `host/mux`. Mux's env key (`env_key`) is the
customer's Sightline ingest key. Answers 200 `{"accepted", "duplicates", "ignored", "refused"}` once the
accepted events are durable (mux-embed only looks at the status: anything else, it sends again later);
400 when no event of the body is a mux event; 401 without a valid env key; 413 for a body too large; 415
for a Content-Encoding other than gzip or deflate; 503 with `Retry-After` when the collector cannot store
now (views already stored from that body are recognised as duplicates on the retry).
"""

from __future__ import annotations

import asyncio
from collections import Counter

from fastapi import APIRouter, Request
from pydantic import BaseModel

from sightline.api.access import access, request_body
from sightline.api.collect import Refusal, read_inflated, unavailable
from sightline.api.deps import AuthDep
from sightline.api.enrichment import enrich_request
from sightline.api.errors import ApiError
from sightline.api.observe import count_ingest
from sightline.auth.plans import INGEST
from sightline.ingest.collect import CollectError, decode_json
from sightline.ingest.mux import MuxBeacon, decode_view, parse_body
from sightline.ingest.mux_sessions import MuxViews
from sightline.ingest.native import MAX_EVENTS
from sightline.ingest.pipeline import IngestPipeline, IngestUnavailableError, derived_view_id

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
async def mux_beacons(request: Request, auth: AuthDep) -> MuxResponse:
    """Store the events of a mux-embed beacon body; its `env_key` is the customer's ingest key."""
    try:
        beacons, refused = parse_body(decode_json(await read_inflated(request)))
    except CollectError as error:
        raise ApiError(error.status, error.code, error.message, error.parameter) from error
    env_keys = Counter(beacon.env_key for beacon in beacons if beacon.env_key)
    if not env_keys and refused:
        detail = "; ".join(f"event {index}: {reason}" for index, reason in refused[:5])
        raise ApiError(400, "no_valid_event", f"no event of the body is a mux-embed event: {detail}", "events")
    env_key = env_keys.most_common(1)[0][0] if env_keys else ""
    customer_id = auth.access.customer_for_ingest_key(env_key) if env_key else None
    if customer_id is None:
        raise ApiError(401, "invalid_env_key", "set mux-embed's env_key to a Sightline ingest key", "env_key",
                       headers={"WWW-Authenticate": 'Bearer realm="ingest"'})  # fmt: skip
    views: dict[str, list[MuxBeacon]] = {}
    for beacon in beacons:
        if beacon.env_key == env_key:
            views.setdefault(beacon.view, []).append(beacon)
        else:
            refused.append((beacon.index, "env_key differs from the body's other events"))
    answer = MuxResponse(accepted=0, duplicates=0, ignored=0, refused=[])
    # the views wait for their spool writes together: one fsync serves them all
    for view_refused in await asyncio.gather(*(_ingest_view(request, customer_id, view, vb, answer)
                                              for view, vb in views.items())):  # fmt: skip
        refused += view_refused
    answer.refused = [Refusal(index=i, reason=r) for i, r in sorted(refused)]
    count_ingest(request, "mux", answer.accepted, refused)
    return answer


async def _ingest_view(
    request: Request, customer_id: int, view: str, beacons: list[MuxBeacon], answer: MuxResponse
) -> list[tuple[int, str]]:
    """Decode and store one view's events, counting them in `answer`; returns the refused ones. The view's
    decoding state is kept only once its events are stored, so a retry after a 503 decodes the same."""
    mux_views: MuxViews = request.app.state.mux_views
    pipeline: IngestPipeline = request.app.state.ingest
    key = (customer_id, view)
    async with mux_views.lock(key):
        decoding = decode_view(mux_views.get(key), beacons)
        refused = list(decoding.refused)
        if decoding.state is not None and decoding.events:
            view_id = derived_view_id(customer_id, "mux", view, decoding.state.view_start_ms)
            dimensions = enrich_request(request, decoding.dimensions)
            try:
                admission = await pipeline.accept(customer_id, view_id, dimensions, decoding.events)
            except IngestUnavailableError as error:
                raise unavailable(error) from error
            answer.accepted += len(admission.kept)
            answer.duplicates += admission.duplicates
            refused += admission.refused
        if decoding.state is not None:
            mux_views.put(key, decoding.state)
    answer.ignored += decoding.ignored
    answer.duplicates += decoding.duplicates
    return refused
