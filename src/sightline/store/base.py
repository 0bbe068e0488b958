"""The `Store` protocol every ClickHouse backend implements, the errors it raises, and the notice of
new data it gives after each insert."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

from sightline.query.printer import Statement

if TYPE_CHECKING:  # the migrations run on a Store: a cycle at run time, none for the type
    from sightline.store.migrations import SchemaStatement

QueryParams = Mapping[str, str | int | float]
QUERY_TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
"""What a query tag may be: it names a running query so that `Store.cancel` can stop it."""


@dataclass(frozen=True, slots=True)
class DataArrival:
    """Rows of `customer_id` were stored whose event times and view starts all lie in [start_ms, end_ms]."""

    customer_id: int
    start_ms: int
    end_ms: int


InsertListener = Callable[[tuple[DataArrival, ...]], None]
"""Called after each successful insert with what it stored, one arrival per customer, on the inserting
thread: it must be quick and must not raise."""


class StoreError(Exception):
    """A query or insert the engine refused; the message is the engine's."""


class QueryTimeoutError(StoreError):
    """The engine stopped a query at its time limit."""


class QueryMemoryError(StoreError):
    """The engine stopped a query at its memory limit."""


class QueryCancelledError(StoreError):
    """The query was cancelled by `Store.cancel` before it finished."""


class StoreUnavailableError(StoreError):
    """The store's server cannot be reached, or refused the user: a one-line message without the password."""


class DataDirectoryLockedError(StoreError):
    """Another process owns the data directory."""


class Store(Protocol):
    """ClickHouse, embedded or remote. It runs only statements printed by `query.printer` (`Statement`) and the
    schema's (`store.migrations.SchemaStatement`): never text made elsewhere. Values reach SQL only as bound
    parameters (`{name:Type}`)."""

    def query(self, statement: Statement, *, tag: str | None = None) -> pa.Table:
        """Run a read query with the engine's time and memory limits; the result as an Arrow table. A query
        with a `tag` (matching `QUERY_TAG`, unique among running queries) can be stopped by `cancel(tag)`."""
        ...

    def query_json_rows(self, statement: Statement) -> list[bytes]:
        """Run a read query as `query` does; each row as a JSON object (bytes), columns in order: floats with
        at most 4 decimals (rounded; a value too small for them in scientific notation), 64-bit integers as
        numbers, NaN and infinities as null, text valid UTF-8."""
        ...

    def cancel(self, tag: str) -> bool:
        """Stop the query tagged `tag`, waiting or running: its `query` raises QueryCancelledError. False when
        no such query is waiting or running."""
        ...

    def add_insert_listener(self, listener: InsertListener) -> None:
        """Call `listener` after every successful insert (see `InsertListener`)."""
        ...

    def read_internal(self, statement: Statement | SchemaStatement) -> pa.Table:
        """A read of Sightline's own (migrations, the collector's start-up), on the writer's session: not
        under the API's time and memory limits, and serialised with inserts and DDL."""
        ...

    def partition_versions(self, table: str) -> dict[str, int]:
        """The version of each partition of `table` (by its partition id, e.g. `20261031`): the largest block
        number among its active parts. Every insert into a partition makes a part with a larger number than
        any before; a merge keeps the largest of its parts'. So a partition whose version is unchanged holds
        the same rows."""
        ...

    def execute(self, statement: Statement | SchemaStatement) -> None:
        """Run a statement that returns nothing (an insert or delete of Sightline's own, DDL, migrations) on the
        writer's session."""
        ...

    def insert_events(self, batch: pa.Table, dedup_token: str | None = None) -> None:
        """Insert an event batch in the columnar layout of `sightline.store.layout`; durable on return.
        A second insert with the same `dedup_token` (a replay after a crash) changes nothing, rollups included,
        and completes an insert with that token that failed after part of it had landed (in `events` but not in
        every materialized view, or in some partitions only): each table stores what it lacks of it."""
        ...

    def count_stored(self, batch: pa.Table) -> int:
        """How many rows of `batch` (in the layout) `events` holds, matched by customer, view, seq and time.
        After a failed insert of `batch`, 0 means that nothing of it landed anywhere: the engine feeds the
        materialized views a block only once `events` has stored it (tests/store/test_writer_isolation.py)."""
        ...

    def close(self) -> None: ...
