"""`GET /mm-apis/alertdeliveries/{customerId}`: the delivery log of alert notifications (docs/alerts.md).

For the customer's admins, with the plan feature `alerts`. One row per (notice, recipient), newest first,
filtered by `alert` and `status`, paged (`limit`, `offset`) in the query API's envelope. A row shows its
target without a URL's path or query (they may hold a token) and never a webhook's secret.
"""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from sightline.alerts.outbox import STATUSES, Status, read_log
from sightline.api.access import access
from sightline.api.deps import AuthDep, CurrentPrincipal, CustomerScope
from sightline.api.errors import ApiError, invalid_parameter
from sightline.api.querying import json_answer
from sightline.auth.kinds import Role
from sightline.auth.plans import ADMIN, Feature
from sightline.query.pipeline import MAX_LIMIT, RequestError, encode_rows, envelope, parse_bounded, parse_offset

router = APIRouter(prefix="/mm-apis", tags=["alerts"])
DEFAULT_LIMIT = 1000
_REFUSED = "Not the caller's customer or plan level, not an admin, or no alerts in its plan."


def _status(text: str | None) -> Status | None:
    if text is None or not text.strip():
        return None
    if text.strip() not in STATUSES:
        raise RequestError("status", f"status must be one of {', '.join(STATUSES)}", STATUSES)
    return cast(Status, text.strip())


def _alert(text: str | None) -> str | None:
    if text is not None and len(text) > 64:
        raise RequestError("alert", "alert must be an alert id (at most 64 characters)")
    return text or None


@router.get(
    "/alertdeliveries/{customerId}",
    summary="The delivery log of alert notifications",
    response_class=Response,
    **access(ADMIN, descriptions={403: _REFUSED}),
)
async def alert_deliveries(
    scope: CustomerScope,
    principal: CurrentPrincipal,
    auth: AuthDep,
    alert: Annotated[str | None, Query(description="An alert id: only its notifications.")] = None,
    status: Annotated[str | None, Query(description="pending, delivered or failed.")] = None,
    limit: Annotated[int | None, Query(description="Rows per page, 1 to 10000 (1000).")] = None,
    offset: Annotated[int, Query(description="Rows to skip.")] = 0,
) -> Response:
    """Each notification of the customer's alerts to each recipient: its status, attempts, times, the last
    answer (`lastcode`, `lasterror`) and its `idempotencykey`, newest first."""
    scope.require(Feature.ALERTS)
    if principal.role is not Role.ADMIN:
        raise ApiError(403, "admin_only", "only an admin of the customer may read the delivery log")
    try:
        alert_id, wanted = _alert(alert), _status(status)
        size, skip = parse_bounded("limit", limit, DEFAULT_LIMIT, MAX_LIMIT), parse_offset(offset)
    except RequestError as error:
        raise invalid_parameter(error) from error

    def read() -> tuple[list[dict[str, Any]], int]:
        with Session(auth.engine) as session:
            return read_log(session, scope.id, alert_id, wanted, size, skip)

    rows, total = await run_in_threadpool(read)
    return json_answer(envelope(encode_rows(rows), total, size))
