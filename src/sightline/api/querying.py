"""Running printed queries for the query routers: store failures as error answers, values as JSON.

`run_query` maps the store's failures to the answers of DESIGN §6: a timeout is a 504, the memory limit a
400 `query_too_large`, any other store failure a 503 with `Retry-After`; never a 500.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from fastapi.concurrency import run_in_threadpool

from sightline.api.errors import ApiError
from sightline.query.printer import SqlParams
from sightline.store import QueryMemoryError, QueryTimeoutError, Store, StoreError


async def run_table(store: Store, sql: str, params: SqlParams) -> pa.Table:
    """The result of `sql` (on a worker thread: the engine releases the GIL)."""
    try:
        table: pa.Table = await run_in_threadpool(store.query, sql, params)
    except StoreError as error:
        raise store_error_answer(error) from error
    return table


async def run_query(store: Store, sql: str, params: SqlParams) -> list[dict[str, Any]]:
    """The rows of `sql`."""
    rows: list[dict[str, Any]] = (await run_table(store, sql, params)).to_pylist()
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
        return None if math.isnan(value) or math.isinf(value) else round(value, 4)
    return value


def json_rows(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of `table`, each value as `json_value` makes it, converted column by column: a column of
    one type needs one kind of conversion (~5x faster than value by value for a page of a series)."""
    names, columns = table.column_names, [_json_column(column) for column in table.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _json_column(column: pa.ChunkedArray) -> list[Any]:
    values: list[Any] = column.to_pylist()
    if pa.types.is_floating(column.type):
        return [None if value is None or not math.isfinite(value) else round(value, 4) for value in values]
    if pa.types.is_timestamp(column.type):
        return [json_value(value) for value in values]
    return values
