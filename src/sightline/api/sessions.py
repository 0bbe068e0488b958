"""`GET /mm-apis/listsessions/{customerId}`: the views of a period for drill-down, and one view's timeline;
and the session-level answers of metricquery/qbrData (requests naming session fields).

Parameters and definitions in docs/errors.md and `query.session_request`. Needs the plan feature
`session_data`. `sessionid=<view id>` answers that view's events in order, with the view's own row as
`session`; a view of another customer, or none, is a 404.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from sightline.api.access import access
from sightline.api.deps import CustomerScope, StoreDep
from sightline.api.errors import ApiError, invalid_parameter
from sightline.api.querying import CommonQuery, Explain, envelope_answer, explain_answer, json_value, value_page
from sightline.auth.access import CustomerContext
from sightline.auth.plans import CUSTOMER, Feature
from sightline.query.filters import FilterError, quote
from sightline.query.pipeline import MAX_LIMIT, RequestError, encode_rows, parse_bounded, parse_offset
from sightline.query.request import MetricQueryParams
from sightline.query.session_request import SessionParams, parse_session_query, session_params
from sightline.query.sessions import SESSION_FIELDS, SessionQuery, compile_sessions
from sightline.query.timeline import ALWAYS, compile_timeline, view_period, view_start
from sightline.store import Store

router = APIRouter(prefix="/mm-apis", tags=["sessions"])
INSTANTS = frozenset({"starttime", "endtime", "timestamp"})
"""Fields of instants answered as epoch seconds with milliseconds (a bucket's `timestamp` is whole)."""
TIMELINE_DETAIL = (*SESSION_FIELDS, "assetid", "assetname", "viewerid", "subscriberid", "latency", "errors")
"""The fields of the view's own row in a timeline answer."""


def _value(name: str, value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime) and name in INSTANTS:
        return round(value.replace(tzinfo=value.tzinfo or UTC).timestamp(), 3)
    return json_value(name, value)


def _values(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(k, v) for k, v in row.items()}


async def _sessions(store: Store, query: SessionQuery) -> Response:
    page = await value_page(store, query, compile_sessions(query))
    return envelope_answer(query, encode_rows(page.rows, _value), page.total)


async def answer_metricquery(
    scope: CustomerContext, store: Store, params: MetricQueryParams, explain: bool
) -> Response:
    """A metricquery/qbrData request that names session fields, answered over `views`."""
    scope.require(Feature.SESSION_DATA)
    try:
        query = parse_session_query(scope.id, session_params(params))
    except (RequestError, FilterError) as error:
        raise invalid_parameter(error) from error
    if explain:
        return explain_answer(query, compile_sessions(query))
    return await _sessions(store, query)


async def _timeline(scope: CustomerContext, store: Store, text: str, limit: int | None, offset: int) -> Response:
    try:
        view_id = uuid.UUID(text.strip())
        limit, offset = parse_bounded("limit", limit, 1000, MAX_LIMIT), parse_offset(offset)
    except ValueError as error:
        raise ApiError(400, "invalid_parameter", f"sessionid must be a UUID, not {quote(text)}", "sessionid") from error
    except RequestError as error:
        raise invalid_parameter(error) from error
    start = view_start(view_id)
    missing = ApiError(404, "not_found", f"no session {view_id} for this customer", "sessionid")
    if start is None:
        raise missing
    period = view_period(start)
    params = SessionParams(period="", granularity="minute", metrics=",".join(TIMELINE_DETAIL), aggby="sessionid")
    minute = f"start={int(period.start.timestamp())},end={int(period.end.timestamp())}"
    session_query = parse_session_query(scope.id, params, str(view_id), minute)
    summary = await value_page(store, session_query, compile_sessions(session_query))
    if not summary.rows:
        raise missing
    session = _values(summary.rows[0])
    events = replace(session_query, limit=limit, offset=offset)
    last_event = datetime.fromtimestamp(session["endtime"], UTC)
    page = await value_page(store, events, compile_timeline(scope.id, view_id, start, last_event))
    shown = [
        {
            "offset": round(event["timestamp"] - session["starttime"], 3),
            **{k: v for k, v in event.items() if k in ALWAYS or v not in (0, "", None)},
        }
        for event in map(_values, page.rows)
    ]
    return envelope_answer(events, encode_rows(shown), page.total, tail={"session": session})


@router.get(
    "/listsessions/{customerId}", summary="Session list and one session's timeline", **access(CUSTOMER, 404, 503, 504)
)
async def list_sessions(
    scope: CustomerScope,
    store: StoreDep,
    common: CommonQuery,
    metrics: Annotated[
        str | None,
        Query(description="Session fields, dimensions and per-view metrics; lead with the metric under study."),
    ] = None,
    aggby: Annotated[str | None, Query(description="`sessionid` (default): one row per view; or dimensions.")] = None,
    sessionid: Annotated[
        str | None, Query(description="A view id: answer that view's event timeline (paged by limit and offset).")
    ] = None,
    sessiontype: Annotated[str | None, Query(description="started (default) or ended.")] = None,
    allstatus: Annotated[int, Query(description="1: also views not closed yet (playing, starting).")] = 0,
    explain: Explain = False,
    dimension: Annotated[str | None, Query(description="Legacy; accepted, changes nothing.")] = None,
    agg: Annotated[str | None, Query(description="Legacy; accepted, changes nothing.")] = None,
    count: Annotated[str | None, Query(description="Legacy; accepted, totalrecords is always given.")] = None,
) -> Response:
    """The views of a period with their fields and per-view metrics (the filter takes `status` and `errorcode`
    too), or (`sessionid=`) one view's events."""
    scope.require(Feature.SESSION_DATA)
    if sessionid is not None:
        return await _timeline(scope, store, sessionid, common.limit, common.offset)
    params = SessionParams.extending(
        common, metrics=metrics, aggby=aggby or "sessionid", sessiontype=sessiontype, allstatus=allstatus
    )
    try:
        query = parse_session_query(scope.id, params)
    except (RequestError, FilterError) as error:
        raise invalid_parameter(error) from error
    if explain:
        return explain_answer(query, compile_sessions(query))
    return await _sessions(store, query)
