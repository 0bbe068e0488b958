"""`GET /mm-apis/qbrData/vod/{customerId}` (legacy) and `GET /mm-apis/metricquery/{customerId}` (current).

Both take SmartSight's parameters (docs and `query.request`) and answer the envelope of the query API (README):
`{"totalcount": rows in this page, "pagecount": pages, "totalrecords": rows in all, "response": [...]}`,
each row carrying `totalpages` as SmartSight's examples do. `explain=true` answers the plan instead: the
tables chosen for each stretch of the period, the tables rejected and why, and the SQL with its
parameters.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from sightline.api import sessions
from sightline.api.access import access
from sightline.api.deps import CustomerScope, StoreDep
from sightline.api.errors import invalid_parameter
from sightline.api.querying import run_json_rows
from sightline.auth.access import CustomerContext
from sightline.auth.plans import CUSTOMER, Feature
from sightline.query.compile import MetricQuery, compile_query, pages_in_engine
from sightline.query.filters import FilterError, fields_of
from sightline.query.period import GRANULARITY_SECONDS
from sightline.query.plan import TablePlan, choose_tables
from sightline.query.printer import SqlParams, print_select
from sightline.query.request import MetricQueryParams, RequestError, parse_metric_query
from sightline.query.session_request import wants_sessions
from sightline.store import Store

router = APIRouter(prefix="/mm-apis", tags=["metrics and dimensions"])


def _check_plan(scope: CustomerContext, query: MetricQuery) -> None:
    if query.series and GRANULARITY_SECONDS[query.granularity] < 3600:
        scope.require(Feature.MINUTE_GRANULARITY)
    if any(m.ad for m in query.metrics):
        scope.require(Feature.AD_METRICS)


_TOTAL_KEY = b',"totalrecords":'
"""How the last column of a row paged in the engine (`compile_query`) opens in its JSON."""


def _total_of(row: bytes) -> int:
    return int(row[row.rindex(_TOTAL_KEY) + len(_TOTAL_KEY) : -1])


def _without_total(row: bytes) -> bytes:
    return row[: row.rindex(_TOTAL_KEY)] + b"}"


def envelope(query: MetricQuery, rows: list[bytes], total: int) -> Response:
    """The envelope of the query API (README) around a page of JSON rows (the engine's), each given `totalpages`."""
    pages = math.ceil(total / query.limit) if total else 0
    closing = b',"totalpages":%d}' % pages
    response = b",".join(row[:-1] + closing for row in rows)
    head = b'{"totalcount":%d,"pagecount":%d,"totalrecords":%d,"response":[' % (len(rows), pages, total)
    return Response(head + response + b"]}", media_type="application/json")


@lru_cache(maxsize=1024)
def compiled(customer_id: int, params: MetricQueryParams) -> tuple[MetricQuery, TablePlan, str, SqlParams]:
    """The validated query, its plan and its SQL: a pure function of the request, remembered for the requests
    a dashboard repeats (RequestError or FilterError for a bad one, which is not remembered). The answer is
    shared between requests: read it, never change it."""
    query = parse_metric_query(customer_id, params)
    dimensions = frozenset(query.dimensions) | (fields_of(query.filter) if query.filter else frozenset())
    bucket = GRANULARITY_SECONDS[query.granularity] if query.series else None
    plan = choose_tables(query.period, dimensions, bucket, query.rollups_refused)
    sql, sql_params = print_select(compile_query(query, plan, answer=True))
    return query, plan, sql, sql_params


async def answer(scope: CustomerContext, store: Store, params: MetricQueryParams, explain: bool) -> Response:
    """The answer as JSON bytes: the engine writes the rows (`Store.query_json_rows`), the API only pages them
    and wraps them, so a page costs no Python per value."""
    if wants_sessions(params):
        return JSONResponse(await sessions.answer_metricquery(scope, store, params, explain))
    try:
        query, plan, sql, sql_params = compiled(scope.id, params)
    except (RequestError, FilterError) as error:
        raise invalid_parameter(error) from error
    _check_plan(scope, query)
    if explain:
        return JSONResponse(
            {
                "granularity": query.granularity,
                "period": {"start": int(query.period.start.timestamp()), "end": int(query.period.end.timestamp())},
                "segments": [
                    {"table": s.table, "start": int(s.start.timestamp()), "end": int(s.end.timestamp())}
                    for s in plan.segments
                ],
                "rejected": [{"table": table, "reason": reason} for table, reason in plan.rejected],
                "sql": sql,
                "params": sql_params,
            }
        )
    rows = await run_json_rows(store, sql, sql_params)
    if not pages_in_engine(plan):
        return envelope(query, rows[query.offset : query.offset + query.limit], len(rows))
    total = _total_of(rows[0]) if rows else 0
    if not rows and query.offset:  # a page past the end: count the records on the first page instead
        first_page = compile_query(replace(query, offset=0, limit=1), plan, answer=True)
        first = await run_json_rows(store, *print_select(first_page))
        total = _total_of(first[0]) if first else 0
    return envelope(query, [_without_total(row) for row in rows], total)


@router.get("/qbrData/vod/{customerId}", summary="Metrics and dimensions (legacy)", **access(CUSTOMER, 503, 504))
@router.get("/metricquery/{customerId}", summary="Metrics and dimensions", **access(CUSTOMER, 503, 504))
async def metric_query(
    scope: CustomerScope,
    store: StoreDep,
    metrics: Annotated[str, Query(description="Comma-separated metrics, and fields to group by.")],
    period: Annotated[str, Query(description="`start=<epoch s>,end=<epoch s>`.")],
    aggby: Annotated[str | None, Query(description="Dimensions and/or `timestamp` to group by.")] = None,
    granularity: Annotated[str, Query(description="auto, minute, 5minute, 10minute, hour or day.")] = "auto",
    filter_text: Annotated[str | None, Query(alias="filter", description="`[country=US|CA][device=tv]`.")] = None,
    orderby: Annotated[str | None, Query(description="A requested metric, dimension or timestamp.")] = None,
    order: Annotated[str | None, Query(description="asc or desc.")] = None,
    orderas: Annotated[str | None, Query(description="ASC or DESC (legacy).")] = None,
    limit: Annotated[int, Query(description="Rows per page, 1 to 10000.")] = 1000,
    offset: Annotated[int, Query(description="Rows to skip.")] = 0,
    sessiontype: Annotated[
        str | None, Query(description="started (default): at the view's start; ended: whole views at their end.")
    ] = None,
    qoefilter: Annotated[
        str | None, Query(description="Per-view conditions: `latency>3 AND bufferingratio>5`.")
    ] = None,
    concurrency: Annotated[
        int, Query(description="1: count what happened inside the period (outcomes by event time).")
    ] = 0,
    businesserror: Annotated[
        str | None, Query(description="true: count business exceptions in error metrics (default false).")
    ] = None,
    allstatus: Annotated[
        int,
        Query(
            description="1 (default): views of any status, open ones too; 0: closed views only (read from events, "
            "slower). With sessiontype=ended only closed views count either way."
        ),
    ] = 1,
    explain: Annotated[bool, Query(description="Answer the plan and SQL instead of the data.")] = False,
    dimension: Annotated[str | None, Query(description="Legacy; accepted, the planner picks the table.")] = None,
    agg: Annotated[str | None, Query(description="Legacy; accepted, values are always aggregated.")] = None,
    count: Annotated[str | None, Query(description="Legacy; accepted, totalrecords is always given.")] = None,
) -> Response:
    """Metrics over a period: totals, breakdowns by dimensions, or a time series."""
    params = MetricQueryParams(
        metrics,
        period,
        aggby,
        granularity,
        filter_text,
        orderby,
        order,
        orderas,
        limit,
        offset,
        sessiontype,
        qoefilter,
        concurrency,
        businesserror,
        allstatus,
    )
    return await answer(scope, store, params, explain)
