"""ClickHouse IO: the `Store` protocol, the embedded chDB backend and the server backend, migrations and the
batching writer."""

from sightline.store.base import (
    DataArrival,
    DataDirectoryLockedError,
    QueryCancelledError,
    QueryMemoryError,
    QueryTimeoutError,
    Store,
    StoreError,
    StoreUnavailableError,
)
from sightline.store.embedded import DataDirLock, EmbeddedStore
from sightline.store.opening import open_store

__all__ = [
    "DataArrival",
    "DataDirLock",
    "DataDirectoryLockedError",
    "EmbeddedStore",
    "QueryCancelledError",
    "QueryMemoryError",
    "QueryTimeoutError",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "open_store",
]
