"""Running printed queries for the query routers: store failures as error answers, values as JSON.

`run_query` maps the store's failures to the error answers of the API (README): a timeout is a 504, the
memory limit a 400 `query_too_large`, any other store failure a 503 with `Retry-After`; never a 500.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool

from sightline.api.errors import ApiError
from sightline.query.printer import SqlParams
from sightline.store import QueryMemoryError, QueryTimeoutError, Store, StoreError


async def run_json_rows(store: Store, sql: str, params: SqlParams) -> list[bytes]:
    """The rows of `sql` as JSON objects (`Store.query_json_rows`, on a worker thread)."""
    try:
        rows: list[bytes] = await run_in_threadpool(store.query_json_rows, sql, params)
    except StoreError as error:
        raise store_error_answer(error) from error
    return rows


async def run_query(store: Store, sql: str, params: SqlParams) -> list[dict[str, Any]]:
    """The rows of `sql` (on a worker thread: the engine releases the GIL)."""
    try:
        table = await run_in_threadpool(store.query, sql, params)
    except StoreError as error:
        raise store_error_answer(error) from error
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def store_error_answer(error: StoreError) -> ApiError:
    """The answer to a store failure: 504 for a timeout, 400 for the memory limit, else 503."""
    if isinstance(error, QueryTimeoutError):
        message = "the query ran past its time limit; narrow the period, the filter or the breakdown"
        return ApiError(504, "query_timeout", message)
    if isinstance(error, QueryMemoryError):
        message = "the query needs more memory than its limit; narrow the period, the filter or the breakdown"
        return ApiError(400, "query_too_large", message)
    return ApiError(503, "store_unavailable", "the store could not answer; try again", headers={"Retry-After": "5"})


def json_value(value: Any) -> Any:
    """A value of a result row as the API answers it: times as epoch seconds, floats rounded to 4 decimals
    (no value for NaN and infinities)."""
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp())
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value
