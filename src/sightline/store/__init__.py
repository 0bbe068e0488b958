"""ClickHouse IO: the `Store` protocol, the embedded chDB backend, migrations and the batching writer."""

from sightline.store.base import (
    DataArrival,
    DataDirectoryLockedError,
    QueryCancelledError,
    QueryMemoryError,
    QueryTimeoutError,
    Store,
    StoreError,
)
from sightline.store.embedded import DataDirLock, EmbeddedStore, open_store

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
    "open_store",
]
