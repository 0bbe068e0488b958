"""`GET /mm-apis/error/{customerId}`: errors by code, message, dimension and time, and the error heatmap.

Parameters and definitions in docs/errors.md and `query.error_request`. The list answers the envelope of
the query API (README); `heatmap=<field>` answers the same envelope with a `heatmap` object and one row per
error code holding its cells (`query.heatmap`). Needs the plan feature `error_heatmap`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from sightline.api.access import access
from sightline.api.deps import CustomerScope, StoreDep
from sightline.api.errors import invalid_parameter
from sightline.api.querying import CommonQuery, Explain, envelope_answer, explain_answer, json_value, value_page
from sightline.auth.access import CustomerContext
from sightline.auth.plans import CUSTOMER, Feature
from sightline.query.compile import TIMESTAMP
from sightline.query.error_request import ErrorQueryParams, ErrorRequest, parse_error_request
from sightline.query.errors import compile_errors
from sightline.query.filters import FilterError
from sightline.query.heatmap import ROW_FIELD, assemble, cells_query, columns_query
from sightline.query.period import GRANULARITY_SECONDS
from sightline.query.pipeline import RequestError, encode_rows
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


async def list_errors(store: Store, request: ErrorRequest) -> Response:
    page = await value_page(store, request.query, compile_errors(request.query))
    tail = {} if request.query_id is None else {"queryId": request.query_id}
    return envelope_answer(request.query, encode_rows(page.rows, json_value), page.total, tail=tail)


async def heatmap(store: Store, request: ErrorRequest) -> Response:
    spec, rows_query = request.heatmap, request.query
    assert spec is not None
    columns_of = columns_query(rows_query, spec)
    rows, columns = await asyncio.gather(
        value_page(store, rows_query, compile_errors(rows_query)),
        value_page(store, columns_of, compile_errors(columns_of)),
    )
    codes = [row[ROW_FIELD] for row in rows.rows]
    labels = [row[spec.column] for row in columns.rows]
    cells_of = cells_query(rows_query, spec, codes, labels)
    cells = (await value_page(store, cells_of, compile_errors(cells_of))).rows if codes and labels else []
    matrix, response = assemble(rows_query, spec, rows.rows, columns.rows, cells)
    tail = {} if request.query_id is None else {"queryId": request.query_id}
    return envelope_answer(rows_query, encode_rows(response), rows.total, lead={"heatmap": matrix}, tail=tail)


@router.get("/error/{customerId}", summary="Errors and the error heatmap", **access(CUSTOMER, 503, 504))
async def errors(
    scope: CustomerScope,
    store: StoreDep,
    common: CommonQuery,
    metrics: Annotated[
        str, Query(description="errors, fatalerrors, affectedviews, affectedviewers, attempts, errorrate, …")
    ],
    aggby: Annotated[
        str | None, Query(description="errorcode, errormessage, dimensions, timestamp; default errorcode,errormessage.")
    ] = None,
    heatmap_field: Annotated[
        str | None, Query(alias="heatmap", description="A dimension or `timestamp`: the heatmap's columns.")
    ] = None,
    columnlimit: Annotated[int | None, Query(description="Heatmap columns of a dimension, 1 to 1000 (50).")] = None,
    query_id: Annotated[str | None, Query(alias="queryId", description="A UUID, echoed as `queryId`.")] = None,
    dimension: Annotated[
        str | None, Query(description="`ad`: ad errors, per ad request; other values (all, …) change nothing.")
    ] = None,
    explain: Explain = False,
    agg: Annotated[str | None, Query(description="Legacy; accepted, values are always aggregated.")] = None,
    count: Annotated[str | None, Query(description="Legacy; accepted, totalrecords is always given.")] = None,
) -> Response:
    """Errors by code and message (or any fields), or the heatmap of error codes × a dimension or time; the
    filter takes error fields too (`[errorcode=HTTP_404][country=US|CA]`)."""
    scope.require(Feature.ERROR_HEATMAP)
    params = ErrorQueryParams.extending(
        common,
        metrics=metrics,
        aggby=aggby,
        heatmap=heatmap_field,
        columnlimit=columnlimit,
        query_id=query_id,
        dimension=dimension,
    )
    request = parse(scope, params)
    if explain:  # a heatmap's plan is its rows'
        return explain_answer(request.query, compile_errors(request.query))
    return await (list_errors(store, request) if request.heatmap is None else heatmap(store, request))
