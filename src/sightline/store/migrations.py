"""Versioned schema migrations, recorded in the store's `schema_migrations` table; then the tables derived
from `events` rebuilt where the catalog changed, recorded in `derived_versions` (`migrate`).

Invariant: applying is idempotent; a version runs once, in order, and is recorded only after all of
its statements succeeded (each statement is itself `IF NOT EXISTS`, so a crash mid-way is safe). A
migration's statements are made when it runs, from the store as it is then (a recount replays the days
`events` holds).

Derived tables (`views`, the rollups) record the catalog version they were built by (`catalog.versions`): a
declaration changed in the catalog (a part's expression or condition, a view column, a rollup's grain or
dimensions) needs no migration. At the next start, the tables whose version changed, and those alone, are
recounted from `events` (`schema.recounted_ddl`, as migration 8 recounted them all), then their new version
is recorded; a crash before that recounts them again. A table not recorded yet (a store made before migration
9) is taken to be as the newest migration declared it, which built it.

The schema's statements are `SchemaStatement`s, made here alone from the DDL text of `store.schema` and from
the few statements of the ledger below: with the printer's `Statement`s, the only text the store runs.

On a cluster (`cluster=NAME`), the same migrations are printed for it (`store.schema.render`): every statement
`ON CLUSTER`, run once from one node; the ledger and `derived_versions` are global replicated tables, so a
migration is recorded once for the whole cluster and every node reads the same record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial

from sightline.catalog.versions import TableVersion, table_versions
from sightline.query.printer import SqlParams, SqlText
from sightline.store.base import Store
from sightline.store.schema import (
    DERIVED_VERSIONS_TABLE,
    STORED_DAY_SLICES_TABLE,
    Ddl,
    added_dimensions_ddl,
    added_hashes_ddl,
    deduplication_ddl,
    derived_versions_ddl,
    error_events_ddl,
    ledger_ddl,
    recounted_ddl,
    render,
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


def _schema(sql: str, params: Mapping[str, str | int | float] | None = None) -> SchemaStatement:
    return SchemaStatement(sql, dict(params or {}), _SCHEMA)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: Callable[[Store], list[Ddl]]
    """The DDL of the migration (`store.schema`), made from the store as it is when it runs."""


def _fixed(statements: Callable[[], list[Ddl]]) -> Callable[[Store], list[Ddl]]:
    """Statements that do not depend on what the store holds."""
    return lambda _store: statements()


def event_days(store: Store) -> list[int]:
    """The days (YYYYMMDD, UTC) that `events` holds, in order."""
    days = store.read_internal(_schema("SELECT DISTINCT toYYYYMMDD(ts) AS day FROM events ORDER BY day"))
    return [int(day) for day in days.column("day").to_pylist()]


def event_counts(store: Store) -> list[tuple[int, int, int]]:
    """(customer, day YYYYMMDD, events) of each customer's day that `events` holds, in order (`store.copy`)."""
    read = _schema(
        "SELECT customer_id, toYYYYMMDD(ts) AS day, count() AS n FROM events "
        "GROUP BY customer_id, day ORDER BY customer_id, day"
    )
    return [(int(row["customer_id"]), int(row["day"]), int(row["n"])) for row in store.read_internal(read).to_pylist()]


def _recounted(version: int) -> Callable[[Store], list[Ddl]]:
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
    Migration(
        9,
        "the catalog version each table derived from events was built by, and each stored day's slice",
        _fixed(derived_versions_ddl),
    ),
)


def _run(store: Store, statements: Iterable[Ddl], cluster: str | None) -> None:
    for text in render(statements, cluster):
        store.execute(_schema(text))


def applied_versions(store: Store, cluster: str | None = None) -> set[int]:
    _run(store, [ledger_ddl()], cluster)
    table = store.read_internal(_schema("SELECT DISTINCT version FROM schema_migrations"))
    return {int(v) for v in table.column("version").to_pylist()}


def apply_migrations(store: Store, until: int | None = None, cluster: str | None = None) -> list[int]:
    """Apply every migration not yet recorded (up to version `until`, if given), printed for a single server or
    for `cluster`; the versions applied now, in order."""
    done = applied_versions(store, cluster)
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done or (until is not None and migration.version > until):
            continue
        _run(store, migration.statements(store), cluster)
        store.execute(
            _schema(
                "INSERT INTO schema_migrations (version, description) VALUES ({version:UInt32}, {description:String})",
                {"version": migration.version, "description": migration.description},
            )
        )
        applied.append(migration.version)
    return applied


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """A derived table recounted from `events` because the declarations named in `changed` changed."""

    table: str
    changed: tuple[str, ...]


def recorded_versions(store: Store) -> dict[str, TableVersion]:
    """The catalog version each derived table was built by, as recorded (the tables recorded so far)."""
    read = _schema(f"SELECT derived_table, declarations FROM {DERIVED_VERSIONS_TABLE} FINAL")
    found = {}
    for row in store.read_internal(read).to_pylist():
        table = row["derived_table"]
        found[table] = TableVersion(table, tuple((name, digest) for name, digest in json.loads(row["declarations"])))
    return found


def rebuild_changed(store: Store, cluster: str | None = None) -> list[Rebuilt]:
    """Recount the derived tables whose catalog version is not the one they were built by, and record the version
    of every derived table (see the module's docstring); the tables recounted, with what changed."""
    current = table_versions()
    recorded = recorded_versions(store)
    built = {**table_versions(MIGRATIONS[-1].version), **recorded}
    rebuilt = [
        Rebuilt(table, version.changed_since(built[table]))
        for table, version in current.items()
        if version.version != built[table].version
    ]
    if rebuilt:
        _run(store, recounted_ddl(None, event_days(store), [r.table for r in rebuilt]), cluster)
    for table, version in current.items():
        if table not in recorded or recorded[table].version != version.version:
            record = {"table": table, "version": version.version, "declarations": json.dumps(version.declarations)}
            store.execute(
                _schema(
                    f"INSERT INTO {DERIVED_VERSIONS_TABLE} (derived_table, version, declarations) "
                    "VALUES ({table:String}, {version:String}, {declarations:String})",
                    record,
                )
            )
    return rebuilt


@dataclass(frozen=True, slots=True)
class Migrated:
    """What `migrate` did: the migrations applied, and the derived tables recounted."""

    applied: list[int]
    rebuilt: list[Rebuilt]

    def lines(self) -> list[str]:
        """What was done, a line each, for the log and `sightline migrate`."""
        described = {migration.version: migration.description for migration in MIGRATIONS}
        lines = [f"applied migration {version}: {described[version]}" for version in self.applied]
        for rebuilt in self.rebuilt:
            lines.append(f"recounted {rebuilt.table} from events: changed {', '.join(rebuilt.changed)}")
        return lines


def migrate(store: Store, cluster: str | None = None) -> Migrated:
    """Apply every migration not yet recorded, then rebuild the derived tables whose catalog version changed;
    for a single server or for `cluster`."""
    applied = apply_migrations(store, cluster=cluster)
    return Migrated(applied, rebuild_changed(store, cluster))


def stored_slice_versions(store: Store) -> dict[tuple[str, str], int]:
    """How many stored days' slices (every customer's) each (kind, catalog version) has."""
    read = _schema(
        f"SELECT kind, catalog_version, count() AS slices FROM {STORED_DAY_SLICES_TABLE} GROUP BY kind, catalog_version"
    )
    return {(row["kind"], row["catalog_version"]): int(row["slices"]) for row in store.read_internal(read).to_pylist()}
