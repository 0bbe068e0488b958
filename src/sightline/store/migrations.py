"""Versioned schema migrations, recorded in the store's `schema_migrations` table.

Invariant: applying is idempotent; a version runs once, in order, and is recorded only after all of
its statements succeeded (each statement is itself `IF NOT EXISTS`, so a crash mid-way is safe). A
migration's statements are made when it runs, from the store as it is then (a recount replays the days
`events` holds).

The schema's statements are `SchemaStatement`s, made here alone from the DDL text of `store.schema` and from
the few statements of the ledger below: with the printer's `Statement`s, the only text the store runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sightline.query.printer import SqlParams, SqlText
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


class _Token:
    """Held by this module alone: what a `SchemaStatement`'s constructor asks for."""


_SCHEMA = _Token()


class SchemaStatement(SqlText):
    """A statement of the schema: DDL of `store.schema`, or one of the ledger's. Only this module makes one."""

    __slots__ = ()

    def __new__(cls, sql: str, params: SqlParams, made_by: _Token) -> SchemaStatement:
        if made_by is not _SCHEMA:
            raise TypeError("a SchemaStatement is made by sightline.store.migrations alone")
        return super().__new__(cls, (sql, params))


def _schema(sql: str, params: SqlParams | None = None) -> SchemaStatement:
    return SchemaStatement(sql, params or {}, _SCHEMA)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: Callable[[Store], list[str]]
    """The DDL of the migration (`store.schema`), made from the store as it is when it runs."""


def _fixed(statements: Callable[[], list[str]]) -> Callable[[Store], list[str]]:
    """Statements that do not depend on what the store holds."""
    return lambda _store: statements()


def event_days(store: Store) -> list[int]:
    """The days (YYYYMMDD, UTC) that `events` holds, in order."""
    days = store.read_internal(_schema("SELECT DISTINCT toYYYYMMDD(ts) AS day FROM events ORDER BY day"))
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

_LEDGER = _schema(
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version UInt32, description String, applied_at DateTime('UTC') DEFAULT now()) "
    "ENGINE = ReplacingMergeTree ORDER BY version"
)


def applied_versions(store: Store) -> set[int]:
    store.execute(_LEDGER)
    table = store.read_internal(_schema("SELECT DISTINCT version FROM schema_migrations"))
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
            store.execute(_schema(statement))
        store.execute(
            _schema(
                "INSERT INTO schema_migrations (version, description) VALUES ({version:UInt32}, {description:String})",
                {"version": migration.version, "description": migration.description},
            )
        )
        applied.append(migration.version)
    return applied
