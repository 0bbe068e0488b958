"""`open_store`: the store that `Settings.store_url` names, its schema migrated.

The data-directory lock is the embedded backend's alone: a server is shared by any number of processes, which
migrate its schema one at a time inside `migrating()` (the service and `sightline migrate` pass a lease of the
metadata database, `LEASE`; this package imports nothing of it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from sightline.settings import Settings
from sightline.store.base import Store
from sightline.store.embedded import DataDirLock, EmbeddedStore
from sightline.store.migrations import Migrated, migrate
from sightline.store.server import ServerStore
from sightline.store.url import ServerUrl, parse_store_url

logger = logging.getLogger(__name__)


LEASE = "store-migrations"
"""The lease of the metadata database that a server store's migrations run under (`migrating`)."""


def open_store(
    settings: Settings,
    lock: DataDirLock | None = None,
    report: Callable[[Migrated], None] | None = None,
    migrating: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> Store:
    """The store that `settings.store_url` names, with its schema migrated to the newest version and its derived
    tables rebuilt where the catalog changed (`migrations.migrate`; what it did goes to `report`, else to the
    log); an embedded one opened under `lock` when the caller took the data directory's lock already, a server's
    migrated inside `migrating()` (which its caller makes exclusive across processes: see the module)."""
    url = parse_store_url(settings.store_url)
    store = open_embedded(settings, lock) if url is None else open_server(settings, url)
    try:
        with nullcontext() if url is None else migrating():
            migrated = migrate(store, None if url is None else url.cluster)
        (report or _log)(migrated)
    except Exception:
        store.close()
        raise
    return store


def open_embedded(settings: Settings, lock: DataDirLock | None = None) -> EmbeddedStore:
    """The embedded engine in `settings.data_dir` (its lock taken unless given), schema as it is."""
    return EmbeddedStore(
        settings.data_dir,
        query_sessions=settings.query_sessions,
        time_limit_s=settings.query_time_limit_s,
        memory_limit_bytes=settings.query_memory_limit_bytes,
        lock=lock,
    )


def open_server(settings: Settings, url: ServerUrl) -> ServerStore:
    """The server of `url`, with the limits and connections of `settings`, schema as it is; its cluster, when the
    URL names one, checked to be the server's."""
    store = ServerStore(
        url,
        connections=settings.query_sessions,
        time_limit_s=settings.query_time_limit_s,
        memory_limit_bytes=settings.query_memory_limit_bytes,
    )
    try:
        store.check_cluster()
    except Exception:
        store.close()
        raise
    return store


def check_reachable(settings: Settings) -> None:
    """Connect to the server that `settings.store_url` names, and let go: `StoreUnavailableError` (one line) when it
    cannot be reached or refuses the user, before a service starts. Nothing to do for the embedded engine."""
    url = parse_store_url(settings.store_url)
    if url is not None:
        open_server(settings, url).close()


def store_name(settings: Settings) -> str:
    """Where the store of `settings` is, for messages: its data directory, or its server's URL without password."""
    url = parse_store_url(settings.store_url)
    return str(settings.data_dir) if url is None else url.redacted()


def _log(migrated: Migrated) -> None:
    for line in migrated.lines():
        logger.info("%s", line)
