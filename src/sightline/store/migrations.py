"""Versioned schema migrations, recorded in the store's `schema_migrations` table.

Invariant: applying is idempotent; a version runs once, in order, and is recorded only after all of
its statements succeeded (each statement is itself `IF NOT EXISTS`, so a crash mid-way is safe). A
migration's statements are made when it runs, from the store as it is then (a recount replays the days
`events` holds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sightline.store.base import Store
from sightline.store.schema import (
    added_dimensions_ddl,
    added_hashes_ddl,
    deduplication_ddl,
    error_events_ddl,
    recounted_ddl,
    schema_ddl,
    stored_days_ddl,
    views_by_day_ddl,
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: Callable[[Store], list[str]]


def _fixed(statements: Callable[[], list[str]]) -> Callable[[Store], list[str]]:
    """Statements that do not depend on what the store holds."""
    return lambda _store: statements()


def event_days(store: Store) -> list[int]:
    """The days (YYYYMMDD, UTC) that `events` holds, in order."""
    days = store.read_internal("SELECT DISTINCT toYYYYMMDD(ts) AS day FROM events ORDER BY day")
    return [int(day) for day in days.column("day").to_pylist()]


def _recounted(version: int) -> Callable[[Store], list[str]]:
    return lambda store: recounted_ddl(version, event_days(store))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "events, views and rollups with their materialized views, from the catalog", _fixed(partial(schema_ddl, 1))
    ),
    Migration(
        2, "inserts deduplicated by token, so that a replayed spool segment is stored once", _fixed(deduplication_ddl)
    ),
    Migration(3, "the ipaddress dimension in events and views", _fixed(partial(added_dimensions_ddl, 3))),
    Migration(4, "hashes of the ids the named queries group by, in views", _fixed(partial(added_hashes_ddl, 4))),
    Migration(5, "error_events: the error events, for the error API", _fixed(partial(error_events_ddl, 5))),
    Migration(6, "views partitioned by day, each past day merged into one part", _fixed(partial(views_by_day_ddl, 6))),
    Migration(
        7, "what contentpaths, subscriberinsight and subscribercohorts store of past days", _fixed(stored_days_ddl)
    ),
    Migration(
        8,
        "views and rollups recounted from events, a day at a time: startup-time quantiles as a DDSketch within "
        "0.5 % (was a t-digest), live latency from live views' samples only (was every sample)",
        _recounted(8),
    ),
)

_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version UInt32, description String, applied_at DateTime('UTC') DEFAULT now()) "
    "ENGINE = ReplacingMergeTree ORDER BY version"
)


def applied_versions(store: Store) -> set[int]:
    store.execute(_LEDGER)
    table = store.read_internal("SELECT DISTINCT version FROM schema_migrations")
    return {int(v) for v in table.column("version").to_pylist()}


def apply_migrations(store: Store, until: int | None = None) -> list[int]:
    """Apply every migration not yet recorded (up to version `until`, if given); the versions applied now,
    in order."""
    done = applied_versions(store)
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done or (until is not None and migration.version > until):
            continue
        for statement in migration.statements(store):
            store.execute(statement)
        store.execute(
            "INSERT INTO schema_migrations (version, description) VALUES ({version:UInt32}, {description:String})",
            {"version": migration.version, "description": migration.description},
        )
        applied.append(migration.version)
    return applied
