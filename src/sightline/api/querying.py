"""The runner of the query pipeline at the API's edge (`query/pipeline.py`): a compiled request run on the
store, off the event loop, and answered as the envelope of the query API — or, with `explain=true`, as its plan.

Store failures become the error answers of the API (README): a timeout is a 504, the memory limit a 400
`query_too_large`, any other store failure a 503 with `Retry-After`; never a 500.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from sightline.api.errors import ApiError
from sightline.query.pipeline import (
    MAX_LIMIT,
    Compiled,
    Page,
    QueryParams,
    QueryRequest,
    envelope,
    explanation,
    fetch_json_page,
    fetch_value_page,
    value_rows,
)
from sightline.store import QueryMemoryError, QueryTimeoutError, Store, StoreError
from sightline.telemetry.context import observe_query

T = TypeVar("T")


async def query_params(
    period: Annotated[
        str | None, Query(description="`start=<epoch s>,end=<epoch s>` (required but for a session's timeline).")
    ] = None,
    granularity: Annotated[str, Query(description="auto, minute, 5minute, 10minute, hour or day.")] = "auto",
    filter_text: Annotated[
        str | None, Query(alias="filter", description="Conditions on dimensions: `[country=US|CA][device=tv]`.")
    ] = None,
    qoefilter: Annotated[
        str | None, Query(description="Per-view conditions: `latency>3 AND bufferingratio>5`.")
    ] = None,
    orderby: Annotated[str | None, Query(description="A requested metric or field.")] = None,
    order: Annotated[str | None, Query(description="asc or desc.")] = None,
    orderas: Annotated[str | None, Query(description="ASC or DESC (legacy).")] = None,
    limit: Annotated[
        int | None, Query(description="Rows per page, 1 to 10000 (1000); a heatmap's rows 1 to 200 (50).")
    ] = None,
    offset: Annotated[int, Query(description="Rows to skip.")] = 0,
    businesserror: Annotated[
        str | None, Query(description="true: count business exceptions in error metrics (default false).")
    ] = None,
) -> QueryParams:
    """The parameters every query API shares, declared once."""
    return QueryParams(
        period=period or "",
        granularity=granularity,
        filter=filter_text,
        qoefilter=qoefilter,
        orderby=orderby,
        order=order,
        orderas=orderas,
        limit=limit,
        offset=offset,
        businesserror=businesserror,
    )


CommonQuery = Annotated[QueryParams, Depends(query_params)]
Explain = Annotated[bool, Query(description="Answer the plan and its SQL instead of the data.")]


def store_error_answer(error: StoreError) -> ApiError:
    """The answer to a store failure: 504 for a timeout, 400 for the memory limit, else 503."""
    if isinstance(error, QueryTimeoutError):
        message = "the query ran past its time limit; narrow the period, the filter or the breakdown"
        return ApiError(504, "query_timeout", message)
    if isinstance(error, QueryMemoryError):
        message = "the query needs more memory than its limit; narrow the period, the filter or the breakdown"
        return ApiError(400, "query_too_large", message)
    return ApiError(503, "store_unavailable", "the store could not answer; try again", headers={"Retry-After": "5"})


async def on_store(work: Callable[[], T]) -> T:
    """`work` (which runs queries on the store) on a worker thread: the engine releases the GIL."""
    try:
        return await run_in_threadpool(work)
    except StoreError as error:
        raise store_error_answer(error) from error


def _page_size(request: QueryRequest) -> int:
    return request.limit if request.limit is not None else MAX_LIMIT


async def _timed(compiled: Compiled, work: Callable[[], T]) -> T:
    """`on_store(work)`, its time counted against the tables `compiled` reads (`telemetry.context`)."""
    started = time.perf_counter()
    try:
        return await on_store(work)
    finally:
        observe_query([segment.table for segment in compiled.segments], time.perf_counter() - started)


async def json_page(store: Store, request: QueryRequest, compiled: Compiled) -> Page[bytes]:
    """The request's page, its rows written as JSON by the engine (no Python per value)."""
    return await _timed(compiled, lambda: fetch_json_page(store, compiled, request.limit, request.offset))


async def value_page(store: Store, request: QueryRequest, compiled: Compiled) -> Page[dict[str, Any]]:
    """The request's page (every row when its limit is None), its rows as Python values."""
    return await _timed(compiled, lambda: fetch_value_page(value_rows(store), compiled, request.limit, request.offset))


def json_answer(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def envelope_answer(
    request: QueryRequest,
    rows: Sequence[bytes],
    total: int,
    lead: Mapping[str, Any] | None = None,
    tail: Mapping[str, Any] | None = None,
) -> Response:
    """The envelope of the query API around a page of rows (JSON objects: the engine's, or `encode_rows`')."""
    return json_answer(envelope(rows, total, _page_size(request), lead, tail))


def explain_answer(request: QueryRequest, compiled: Compiled) -> Response:
    """The `explain=true` answer: the plan, the tables chosen and refused, and the SQL."""
    return JSONResponse(explanation(request, compiled))


def json_value(name: str, value: Any) -> Any:
    """A value of a result row as the API answers it: times as epoch seconds, floats rounded to 4 decimals
    (no value for NaN and infinities)."""
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp())
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value
