"""The `Store` protocol every ClickHouse backend implements, and the errors it raises."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import pyarrow as pa

QueryParams = Mapping[str, str | int | float]


class StoreError(Exception):
    """A query or insert the engine refused; the message is the engine's."""


class QueryTimeoutError(StoreError):
    """The engine stopped a query at its time limit."""


class QueryMemoryError(StoreError):
    """The engine stopped a query at its memory limit."""


class DataDirectoryLockedError(StoreError):
    """Another process owns the data directory."""


class Store(Protocol):
    """ClickHouse, embedded or remote. Values reach SQL only as bound parameters (`{name:Type}`)."""

    def query(self, sql: str, params: QueryParams | None = None) -> pa.Table:
        """Run a read query with the engine's time and memory limits; the result as an Arrow table."""
        ...

    def execute(self, sql: str, params: QueryParams | None = None) -> None:
        """Run a statement that returns nothing (DDL, migrations) on the writer's session."""
        ...

    def insert_events(self, batch: pa.Table, dedup_token: str | None = None) -> None:
        """Insert an event batch in the columnar layout of `sightline.store.layout`; durable on return.
        A second insert with the same `dedup_token` (a replay after a crash) changes nothing, rollups included."""
        ...

    def close(self) -> None: ...
