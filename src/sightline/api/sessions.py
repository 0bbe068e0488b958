"""`GET /mm-apis/listsessions/{customerId}`: the views of a period for drill-down, and one view's timeline;
and the session-level answers of metricquery/qbrData (requests naming session fields).

Parameters and definitions in docs/errors.md and `query.session_request`. Needs the plan feature
`session_data`. `sessionid=<view id>` answers that view's events in order, with the view's own row as
`session`; a view of another customer, or none, is a 404.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from sightline.api.access import access
from sightline.api.deps import CustomerScope, StoreDep
from sightline.api.errors import ApiError, invalid_parameter
from sightline.api.querying import json_value, run_query
from sightline.auth.access import CustomerContext
from sightline.auth.plans import CUSTOMER, Feature
from sightline.query.compile import TOTAL_RECORDS
from sightline.query.filters import FilterError, quote
from sightline.query.printer import print_select
from sightline.query.request import MAX_LIMIT, MAX_OFFSET, MetricQueryParams, RequestError
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
    return json_value(value)


def _envelope(rows: list[dict[str, Any]], total: int, limit: int) -> dict[str, Any]:
    pages = math.ceil(total / limit) if total else 0
    response = [
        {**{k: _value(k, v) for k, v in row.items() if k != TOTAL_RECORDS}, "totalpages": pages} for row in rows
    ]
    return {"totalcount": len(response), "pagecount": pages, "totalrecords": total, "response": response}


async def _sessions(store: Store, query: SessionQuery) -> dict[str, Any]:
    rows = await run_query(store, *print_select(compile_sessions(query)))
    total = int(rows[0][TOTAL_RECORDS]) if rows else 0
    if not rows and query.offset:  # a page past the end: count the records on the first page instead
        first = await run_query(store, *print_select(compile_sessions(replace(query, limit=1, offset=0))))
        total = int(first[0][TOTAL_RECORDS]) if first else 0
    return _envelope(rows, total, query.limit or 1)


async def answer_metricquery(
    scope: CustomerContext, store: Store, params: MetricQueryParams, explain: bool
) -> dict[str, Any]:
    """A metricquery/qbrData request that names session fields, answered over `views`."""
    scope.require(Feature.SESSION_DATA)
    try:
        query = parse_session_query(scope.id, session_params(params))
    except (RequestError, FilterError) as error:
        raise invalid_parameter(error) from error
    if explain:
        sql, sql_params = print_select(compile_sessions(query))
        start, end = int(query.period.start.timestamp()), int(query.period.end.timestamp())
        return {
            "granularity": query.granularity,
            "period": {"start": start, "end": end},
            "segments": [{"table": "views", "start": start, "end": end}],
            "rejected": [],
            "sql": sql,
            "params": sql_params,
        }
    return await _sessions(store, query)


async def _timeline(scope: CustomerContext, store: Store, text: str, limit: int, offset: int) -> dict[str, Any]:
    try:
        view_id = uuid.UUID(text.strip())
    except ValueError as error:
        raise ApiError(400, "invalid_parameter", f"sessionid must be a UUID, not {quote(text)}", "sessionid") from error
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "invalid_parameter", f"limit must be between 1 and {MAX_LIMIT}", "limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise ApiError(400, "invalid_parameter", f"offset must be between 0 and {MAX_OFFSET}", "offset")
    start = view_start(view_id)
    missing = ApiError(404, "not_found", f"no session {view_id} for this customer", "sessionid")
    if start is None or start.year >= 2100:
        raise missing
    period = view_period(start)
    params = SessionParams(",".join(TIMELINE_DETAIL), "", "sessionid", "minute", allstatus=1)
    minute = f"start={int(period.start.timestamp())},end={int(period.end.timestamp())}"
    session_query = parse_session_query(scope.id, params, str(view_id), minute)
    summary = (await _sessions(store, session_query))["response"]
    if not summary:
        raise missing
    session = {k: v for k, v in summary[0].items() if k != "totalpages"}
    rows = await run_query(store, *print_select(compile_timeline(scope.id, view_id, start, limit, offset)))
    answer = _envelope(rows, int(rows[0][TOTAL_RECORDS]) if rows else 0, limit)
    answer["response"] = [
        {
            "offset": round(event["timestamp"] - session["starttime"], 3),
            **{k: v for k, v in event.items() if k in ALWAYS or k == "totalpages" or v not in (0, "", None)},
        }
        for event in answer["response"]
    ]
    return {**answer, "session": session}


@router.get(
    "/listsessions/{customerId}", summary="Session list and one session's timeline", **access(CUSTOMER, 404, 503, 504)
)
async def list_sessions(
    scope: CustomerScope,
    store: StoreDep,
    period: Annotated[str | None, Query(description="`start=<epoch s>,end=<epoch s>` (not with sessionid).")] = None,
    metrics: Annotated[
        str | None,
        Query(description="Session fields, dimensions and per-view metrics; lead with the metric under study."),
    ] = None,
    aggby: Annotated[str | None, Query(description="`sessionid` (default): one row per view; or dimensions.")] = None,
    sessionid: Annotated[str | None, Query(description="A view id: answer that view's event timeline.")] = None,
    granularity: Annotated[str, Query(description="auto, minute, 5minute, 10minute, hour or day.")] = "auto",
    sessiontype: Annotated[str | None, Query(description="started (default) or ended.")] = None,
    filter_text: Annotated[
        str | None, Query(alias="filter", description="`[country=US][status=startfailed|playbackfailed]`.")
    ] = None,
    qoefilter: Annotated[str | None, Query(description="Per-view conditions: `latency>3 AND buffcount>1`.")] = None,
    orderby: Annotated[str | None, Query(description="A requested field.")] = None,
    order: Annotated[str | None, Query(description="asc or desc.")] = None,
    orderas: Annotated[str | None, Query(description="ASC or DESC (legacy).")] = None,
    limit: Annotated[int, Query(description="Rows (or timeline events) per page, 1 to 10000.")] = 1000,
    offset: Annotated[int, Query(description="Rows to skip.")] = 0,
    allstatus: Annotated[int, Query(description="1: also views not closed yet (playing, starting).")] = 0,
    businesserror: Annotated[
        str | None, Query(description="true: count business exceptions in error metrics (default false).")
    ] = None,
    dimension: Annotated[str | None, Query(description="Legacy; accepted, changes nothing.")] = None,
    agg: Annotated[str | None, Query(description="Legacy; accepted, changes nothing.")] = None,
    count: Annotated[str | None, Query(description="Legacy; accepted, totalrecords is always given.")] = None,
) -> dict[str, Any]:
    """The views of a period with their fields and per-view metrics, or (`sessionid=`) one view's events."""
    scope.require(Feature.SESSION_DATA)
    if sessionid is not None:
        return await _timeline(scope, store, sessionid, limit, offset)
    if period is None:
        raise ApiError(400, "invalid_parameter", "period is required (start=<epoch s>,end=<epoch s>)", "period")
    params = SessionParams(
        metrics,
        period,
        aggby or "sessionid",
        granularity,
        sessiontype,
        filter_text,
        qoefilter,
        orderby,
        order,
        orderas,
        limit,
        offset,
        allstatus,
        businesserror,
    )
    try:
        query = parse_session_query(scope.id, params)
    except (RequestError, FilterError) as error:
        raise invalid_parameter(error) from error
    return await _sessions(store, query)
