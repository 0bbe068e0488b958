"""`GET /mm-apis/error/{customerId}`: errors by code, message, dimension and time, and the error heatmap.

Parameters and definitions in docs/errors.md and `query.error_request`. The list answers the envelope of
the query API (README); `heatmap=<field>` answers the same envelope with a `heatmap` object and one row per
error code holding its cells (`query.heatmap`). Needs the plan feature `error_heatmap`.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Query

from sightline.api.access import access
from sightline.api.deps import CustomerScope, StoreDep
from sightline.api.errors import invalid_parameter
from sightline.api.querying import json_value, run_query
from sightline.auth.access import CustomerContext
from sightline.auth.plans import CUSTOMER, Feature
from sightline.query.compile import TIMESTAMP, TOTAL_RECORDS
from sightline.query.error_request import ErrorQueryParams, ErrorRequest, parse_error_request
from sightline.query.errors import ErrorQuery, compile_errors
from sightline.query.filters import FilterError
from sightline.query.heatmap import ROW_FIELD, assemble, cells_query, columns_query
from sightline.query.period import GRANULARITY_SECONDS
from sightline.query.printer import print_select
from sightline.query.request import RequestError
from sightline.store import Store

router = APIRouter(prefix="/mm-apis", tags=["errors"])


def parse(scope: CustomerContext, params: ErrorQueryParams) -> ErrorRequest:
    """The validated request, or the 400 naming the parameter at fault."""
    try:
        request = parse_error_request(scope.id, params)
    except (RequestError, FilterError) as error:
        raise invalid_parameter(error) from error
    timed = request.query.series or (request.heatmap is not None and request.heatmap.column == TIMESTAMP)
    if timed and GRANULARITY_SECONDS[request.query.granularity] < 3600:
        scope.require(Feature.MINUTE_GRANULARITY)
    if request.query.source == "ad":
        scope.require(Feature.AD_METRICS)
    return request


async def _rows(store: Store, query: ErrorQuery) -> list[dict[str, Any]]:
    return await run_query(store, *print_select(compile_errors(query)))


async def _total(store: Store, query: ErrorQuery, rows: list[dict[str, Any]]) -> int:
    if rows:
        return int(rows[0][TOTAL_RECORDS])
    if not query.offset:
        return 0
    first = await _rows(store, replace(query, limit=1, offset=0))  # a page past the end: count on the first
    return int(first[0][TOTAL_RECORDS]) if first else 0


async def list_errors(store: Store, query: ErrorQuery) -> dict[str, Any]:
    rows = await _rows(store, query)
    total = await _total(store, query, rows)
    pages = math.ceil(total / query.limit) if total and query.limit else 0
    response = [
        {**{k: json_value(v) for k, v in row.items() if k != TOTAL_RECORDS}, "totalpages": pages} for row in rows
    ]
    return {"totalcount": len(response), "pagecount": pages, "totalrecords": total, "response": response}


async def heatmap(store: Store, request: ErrorRequest) -> dict[str, Any]:
    spec, rows_query = request.heatmap, request.query
    assert spec is not None
    rows, columns = await asyncio.gather(_rows(store, rows_query), _rows(store, columns_query(rows_query, spec)))
    total = await _total(store, rows_query, rows)
    codes = [row[ROW_FIELD] for row in rows]
    labels = [row[spec.column] for row in columns]
    cells = await _rows(store, cells_query(rows_query, spec, codes, labels)) if codes and labels else []
    return assemble(rows_query, spec, rows, columns, cells, total)


@router.get("/error/{customerId}", summary="Errors and the error heatmap", **access(CUSTOMER, 503, 504))
async def errors(
    scope: CustomerScope,
    store: StoreDep,
    metrics: Annotated[
        str, Query(description="errors, fatalerrors, affectedviews, affectedviewers, attempts, errorrate, …")
    ],
    period: Annotated[str, Query(description="`start=<epoch s>,end=<epoch s>`.")],
    aggby: Annotated[
        str | None, Query(description="errorcode, errormessage, dimensions, timestamp; default errorcode,errormessage.")
    ] = None,
    heatmap_field: Annotated[
        str | None, Query(alias="heatmap", description="A dimension or `timestamp`: the heatmap's columns.")
    ] = None,
    columnlimit: Annotated[int | None, Query(description="Heatmap columns of a dimension, 1 to 1000 (50).")] = None,
    granularity: Annotated[str, Query(description="auto, minute, 5minute, 10minute, hour or day.")] = "auto",
    filter_text: Annotated[
        str | None, Query(alias="filter", description="`[errorcode=HTTP_404][country=US|CA]`.")
    ] = None,
    qoefilter: Annotated[str | None, Query(description="Per-view conditions: `latency>3`.")] = None,
    orderby: Annotated[str | None, Query(description="A requested metric or field.")] = None,
    order: Annotated[str | None, Query(description="asc or desc.")] = None,
    orderas: Annotated[str | None, Query(description="ASC or DESC (legacy).")] = None,
    limit: Annotated[int | None, Query(description="Rows per page: 1 to 10000 (1000); heatmap 1 to 200 (50).")] = None,
    offset: Annotated[int, Query(description="Rows to skip.")] = 0,
    businesserror: Annotated[str | None, Query(description="true: count business exceptions (default false).")] = None,
    query_id: Annotated[str | None, Query(alias="queryId", description="A UUID, echoed as `queryId`.")] = None,
    dimension: Annotated[
        str | None, Query(description="`ad`: ad errors, per ad request; other values (all, …) change nothing.")
    ] = None,
    agg: Annotated[str | None, Query(description="Legacy; accepted, values are always aggregated.")] = None,
    count: Annotated[str | None, Query(description="Legacy; accepted, totalrecords is always given.")] = None,
) -> dict[str, Any]:
    """Errors by code and message (or any fields), or the heatmap of error codes × a dimension or time."""
    scope.require(Feature.ERROR_HEATMAP)
    params = ErrorQueryParams(
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
        qoefilter,
        businesserror,
        heatmap_field,
        columnlimit,
        query_id,
        dimension,
    )
    request = parse(scope, params)
    answer = await (list_errors(store, request.query) if request.heatmap is None else heatmap(store, request))
    if request.query_id is not None:
        answer["queryId"] = request.query_id
    return answer
