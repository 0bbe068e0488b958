"""Schema DDL generated from the catalog: `events`, `views`, the rollups and their materialized views.

Invariant: every table is ordered by `customer_id` first. `views` and rollup buckets of view-start
parts derive their time from the UUIDv7 view id, so a view's key is the same in every insert block.
The schema has versions: a dimension's columns exist from its `schema_version` on. Migration 1 builds
the schema at version 1 (so it stays what it was); a later version adds its dimensions to `events` and
`views` in catalog order and makes `views_mv` again (`added_dimensions_ddl`). The hash columns of `views`
(`DIMENSION_HASHES`) are MATERIALIZED from their dimension's column, so `views_mv` does not name them and
`SELECT *` does not return them; `added_hashes_ddl` adds them and computes them for the rows stored before.
Parts and view columns are built as their version declared them (`catalog.parts.declared_at`); a version that
changed some is a migration that recounts `views` and the rollups from `events` (`recounted_ddl`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise

from sightline.catalog import DIMENSION_HASHES, DIMENSIONS, EVENT_FIELDS, EVENT_TYPES, PARTS, ROLLUPS, VIEW_COLUMNS
from sightline.catalog.dimensions import DimensionHashSpec, DimensionSpec
from sightline.catalog.events import ERROR_EVENT_TYPES, ERROR_EVENTS_TABLE
from sightline.catalog.parts import SKETCH_ACCURACY, SKETCH_LEVEL, PartSpec, declared_at
from sightline.catalog.rollups import RollupSpec
from sightline.query.parts import part_counted, part_state, view_column_value
from sightline.query.printer import print_definition

VIEW_START = "UUIDv7ToDateTime(view_id, 'UTC')"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    clickhouse_type: str


def dimensions_at(version: int | None = None) -> tuple[DimensionSpec, ...]:
    """The dimensions whose columns exist at schema `version` (None: the newest), in catalog order."""
    return tuple(d for d in DIMENSIONS if version is None or d.schema_version <= version)


def event_columns(version: int | None = None) -> tuple[Column, ...]:
    """Columns of `events` at schema `version` (None: the newest), in table order: identity, time, event,
    dimensions, event fields."""
    event_enum = ", ".join(f"'{name}' = {i}" for i, name in enumerate(EVENT_TYPES, start=1))
    return (
        Column("customer_id", "UInt32"),
        Column("view_id", "UUID"),
        Column("ts", "DateTime64(3, 'UTC')"),
        Column("event", f"Enum8({event_enum})"),
        *(Column(d.name, d.clickhouse_type) for d in dimensions_at(version)),
        *(Column(f.name, f.clickhouse_type) for f in EVENT_FIELDS),
    )


def _columns_ddl(columns: tuple[Column, ...] | list[Column]) -> str:
    return ",\n  ".join(f"`{c.name}` {c.clickhouse_type}" for c in columns)


def events_ddl(version: int | None = None, table: str = "events") -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n  {_columns_ddl(event_columns(version))}\n)\n"
        "ENGINE = MergeTree\nPARTITION BY toYYYYMM(ts)\n"
        "ORDER BY (customer_id, toStartOfHour(ts), view_id, seq)"
    )


def _dimension_view_type(clickhouse_type: str) -> str:
    return f"SimpleAggregateFunction(max, {clickhouse_type})"


def _hash_type(spec: DimensionHashSpec) -> str:
    """The type of a hash column of `views`: the hash of the row's value, 0 for "", merged by max."""
    value = f"`{spec.dimension}`"
    return f"SimpleAggregateFunction(max, UInt64) MATERIALIZED if(empty({value}), 0, cityHash64({value}))"


def hashes_at(version: int | None = None) -> tuple[DimensionHashSpec, ...]:
    return tuple(h for h in DIMENSION_HASHES if version is None or h.schema_version <= version)


VIEWS_BY_DAY_VERSION = 6
"""From this schema version on, `views` is partitioned by day (`views_by_day_ddl`)."""
CLOSED_DAY_MERGE_S = 3600
"""A day's partition of `views` whose parts are all this old is merged into one part by the engine."""


def _view_stored_columns(version: int | None) -> tuple[Column, ...]:
    """The columns of `views` at schema `version` that inserts write (all but the MATERIALIZED hashes)."""
    return (
        Column("customer_id", "UInt32"),
        Column("view_start", "DateTime64(3, 'UTC')"),
        Column("view_id", "UUID"),
        *(
            Column(c.name, f"SimpleAggregateFunction({c.aggregate}, {c.clickhouse_type})")
            for c in declared_at(VIEW_COLUMNS, version)
        ),
        *(Column(d.name, _dimension_view_type(d.clickhouse_type)) for d in dimensions_at(version)),
    )


def _views_table_ddl(version: int | None, table: str = "views") -> str:
    """The `views` table at schema `version`, named `table`. Up to `VIEWS_BY_DAY_VERSION` it is partitioned
    by month; from then on by day, each day merged into one part once its parts are `CLOSED_DAY_MERGE_S`
    old, so that reading a past day with FINAL has nothing to merge."""
    columns = [*_view_stored_columns(version), *(Column(h.name, _hash_type(h)) for h in hashes_at(version))]
    by_day = version is None or version >= VIEWS_BY_DAY_VERSION
    settings = (
        f"\nSETTINGS non_replicated_deduplication_window = {DEDUPLICATION_WINDOW}, "
        f"min_age_to_force_merge_seconds = {CLOSED_DAY_MERGE_S}, min_age_to_force_merge_on_partition_only = 1"
    )
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n  {_columns_ddl(columns)}\n)\n"
        f"ENGINE = AggregatingMergeTree\nPARTITION BY {'toYYYYMMDD' if by_day else 'toYYYYMM'}(view_start)\n"
        "ORDER BY (customer_id, view_start, view_id)" + (settings if by_day else "")
    )


def views_ddl(version: int | None = None) -> list[str]:
    """`views` (one row per playback view) and the materialized view that feeds it, at schema `version`."""
    return [_views_table_ddl(version), views_mv_ddl(version)]


def views_by_day_ddl(version: int) -> list[str]:
    """Migration `version`: `views` made again partitioned by day (`_views_table_ddl`), its rows copied.
    Runs while nothing inserts (migrations run before the writer). Safe to run again after a crash at any
    statement: the copy is dropped first, and `views` always holds every row (before the exchange the old
    table, after it the copy). The deduplication tokens of past inserts stay with the old table: a spool
    segment that was inserted in the milliseconds before a crash, and not yet deleted, would be counted
    twice in `views` if it is replayed after this migration; a clean stop leaves no such segment."""
    copy = "views_by_day"
    names = ", ".join(f"`{c.name}`" for c in _view_stored_columns(version))
    return [
        "DROP VIEW IF EXISTS views_mv",
        f"DROP TABLE IF EXISTS {copy}",
        _views_table_ddl(version, copy),
        f"INSERT INTO {copy} ({names}) SELECT {names} FROM views",
        f"EXCHANGE TABLES views AND {copy}",
        f"DROP TABLE {copy}",
        views_mv_ddl(version),
    ]


def views_mv_ddl(version: int | None = None, table: str = "views", source: str = "events") -> str:
    """The materialized view from `source` into `table` (`views`), at schema `version`: `views_mv` from
    `events`, or `<table>_mv`."""
    selects = [
        "customer_id",
        f"{VIEW_START} AS view_start",
        "view_id",
        *(f"{print_definition(view_column_value(c))} AS `{c.name}`" for c in declared_at(VIEW_COLUMNS, version)),
        *(f"max(`{d.name}`) AS `{d.name}`" for d in dimensions_at(version)),
    ]
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {table}_mv TO {table} AS\nSELECT\n  "
        + ",\n  ".join(selects)
        + f"\nFROM {source}\nGROUP BY customer_id, view_start, view_id\nSETTINGS prefer_column_name_to_alias = 1"
    )


_SKETCH = f"quantileDD({SKETCH_ACCURACY}, {SKETCH_LEVEL})"


def _part_type(part: PartSpec) -> str:
    if part.aggregate == "sum":
        return "SimpleAggregateFunction(sum, UInt64)"
    if part.aggregate == "uniq":
        return f"AggregateFunction(uniq, {part.argument_type})"
    if part.aggregate == "ddsketch":
        return f"AggregateFunction({_SKETCH}, {part.argument_type})"
    return f"AggregateFunction(quantileTDigest, {part.argument_type})"


def _part_state(part: PartSpec) -> str:
    return f"{print_definition(part_state(part))} AS `{part.name}`"


def _bucket(rollup: RollupSpec, time: str) -> str:
    start = "toStartOfMinute" if rollup.grain == "minute" else "toStartOfHour"
    return f"{start}({time})"


def _rollup_keys(rollup: RollupSpec) -> str:
    return ", ".join(["customer_id", "bucket", *(f"`{d}`" for d in rollup.dimensions)])


def _rollup_table_ddl(rollup: RollupSpec, version: int | None, table: str) -> str:
    """The table of `rollup` at schema `version`, named `table`."""
    columns = [
        Column("customer_id", "UInt32"),
        Column("bucket", "DateTime('UTC')"),
        *(Column(name, next(d.clickhouse_type for d in DIMENSIONS if d.name == name)) for name in rollup.dimensions),
        *(Column(p.name, _part_type(p)) for p in declared_at(PARTS, version)),
    ]
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (\n  {_columns_ddl(columns)}\n)\n"
        f"ENGINE = AggregatingMergeTree\nPARTITION BY toYYYYMM(bucket)\nORDER BY ({_rollup_keys(rollup)})"
    )


ATTRIBUTION_TIMES = (("view_start", VIEW_START), ("event_time", "ts"))
"""Each attribution of parts and the time whose bucket they count in."""


def rollup_mvs_ddl(rollup: RollupSpec, version: int | None, table: str, source: str = "events") -> list[str]:
    """The two materialized views from `source` into `table` (the table of `rollup`) at schema `version`,
    `<table>_view_start_mv` and `<table>_event_time_mv`: view-start parts and event-time parts."""
    keys = _rollup_keys(rollup)
    statements = []
    for attribution, time in ATTRIBUTION_TIMES:
        parts = tuple(p for p in declared_at(PARTS, version) if p.attribution == attribution)
        selects = [
            "customer_id",
            f"{_bucket(rollup, time)} AS bucket",
            *(f"`{d}`" for d in rollup.dimensions),
            *(_part_state(p) for p in parts),
        ]
        where = print_definition(part_counted(parts))
        statements.append(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {table}_{attribution}_mv TO {table} AS\n"
            "SELECT\n  "
            + ",\n  ".join(selects)
            + f"\nFROM {source}\nWHERE {where}\nGROUP BY {keys}\nSETTINGS prefer_column_name_to_alias = 1"
        )
    return statements


def rollup_ddl(rollup: RollupSpec, version: int | None = None) -> list[str]:
    """A rollup table and its two materialized views from `events`, at schema `version`."""
    return [_rollup_table_ddl(rollup, version, rollup.name), *rollup_mvs_ddl(rollup, version, rollup.name)]


def schema_ddl(version: int | None = None) -> list[str]:
    """Every statement of the schema at `version` (None: the newest), in dependency order."""
    statements = [events_ddl(version), *views_ddl(version)]
    for rollup in ROLLUPS:
        statements.extend(rollup_ddl(rollup, version))
    return statements


DEDUPLICATION_WINDOW = 10_000
"""Insert blocks whose deduplication tokens each table remembers: far more than a crash can leave unconfirmed."""


def deduplication_ddl() -> list[str]:
    """Let `events` and every materialized view's table recognise a replayed insert by its token."""
    tables = ["events", "views", *(rollup.name for rollup in ROLLUPS)]
    return [
        f"ALTER TABLE {t} MODIFY SETTING non_replicated_deduplication_window = {DEDUPLICATION_WINDOW}" for t in tables
    ]


def added_dimensions_ddl(version: int) -> list[str]:
    """Migration `version` for the dimensions it adds: their columns in `events` and `views`, each after
    the dimension before it in the catalog (both tables keep the catalog's order, as if built new), then
    `views_mv` dropped and made again to fill them. Old rows read the columns' defaults ("" or 0). The
    view is briefly absent, so this runs only while nothing inserts (migrations run before the writer).
    Rollups are built by migration 1 and hold no later dimension."""
    statements = []
    for previous, added in pairwise(DIMENSIONS):
        if added.schema_version != version:
            continue
        if previous.schema_version > version:
            raise ValueError(f"dimension {added.name} follows {previous.name}, a dimension of a later version")
        view_type = _dimension_view_type(added.clickhouse_type)
        statements += [
            f"ALTER TABLE events ADD COLUMN IF NOT EXISTS `{added.name}` {added.clickhouse_type} "
            f"AFTER `{previous.name}`",
            f"ALTER TABLE views ADD COLUMN IF NOT EXISTS `{added.name}` {view_type} AFTER `{previous.name}`",
        ]
    return [*statements, "DROP VIEW IF EXISTS views_mv", views_mv_ddl(version)]


def added_hashes_ddl(version: int) -> list[str]:
    """Migration `version` for the hash columns it adds to `views`: each added at the end, then computed and
    written for the parts stored before (until then a read computes it from the dimension's column, with
    the same result), waiting for that to finish. Safe to run again."""
    added = [h for h in DIMENSION_HASHES if h.schema_version == version]
    statements = [f"ALTER TABLE views ADD COLUMN IF NOT EXISTS `{h.name}` {_hash_type(h)}" for h in added]
    materialize = ", ".join(f"MATERIALIZE COLUMN `{h.name}`" for h in added)
    return [*statements, f"ALTER TABLE views {materialize} SETTINGS mutations_sync = 2"]


def error_events_ddl(version: int) -> list[str]:
    """Migration `version`: `error_events`, the error events of `events` (a few per thousand events) with all
    their columns, so that the error API reads them rather than every event of its period. Filled with the
    error events stored before, then fed by a materialized view. Runs while nothing inserts (migrations run
    before the writer); emptied first, so running it again after a crash stores each error once. A
    dimension added later must be added to this table too, and its view made again (as `views_mv`)."""
    types = ", ".join(f"'{name}'" for name in ERROR_EVENT_TYPES)
    columns = ", ".join(f"`{c.name}`" for c in event_columns(version))
    select = f"SELECT {columns} FROM events WHERE event IN ({types})"
    return [
        events_ddl(version, ERROR_EVENTS_TABLE),
        f"ALTER TABLE {ERROR_EVENTS_TABLE} MODIFY SETTING non_replicated_deduplication_window = {DEDUPLICATION_WINDOW}",
        f"DROP VIEW IF EXISTS {ERROR_EVENTS_TABLE}_mv",
        f"TRUNCATE TABLE {ERROR_EVENTS_TABLE}",
        f"INSERT INTO {ERROR_EVENTS_TABLE} ({columns}) {select}",
        f"CREATE MATERIALIZED VIEW {ERROR_EVENTS_TABLE}_mv TO {ERROR_EVENTS_TABLE} AS {select}",
    ]


RECOUNT_SUFFIX = "_recounted"
REPLAY_TABLE = "events_replay"
REPLAY_SETTINGS = (
    "insert_deduplicate = 0, max_threads = 1, parallel_view_processing = 1, "
    "min_insert_block_size_rows = 262144, min_insert_block_size_bytes = 0"
)
"""How a day of `events` is replayed: one reading stream, blocks of 256Ki rows, the materialized views of a
block in parallel. On a day of the benchmark's data (bench/query.py, 7.7M events) this used 1.4 GiB at most,
where the defaults (blocks of 1Mi rows, a stream per core) used 3 GiB, and took a third of the time."""


def recounted_ddl(version: int | None, days: Sequence[int], tables: Collection[str] | None = None) -> list[str]:
    """`views` and the rollups named in `tables` (None: `views` and every rollup) made anew as schema `version`
    declares them (None: the newest), and recounted from `events`: migration `version` when it changed the
    declaration of some of their parts or columns (`catalog.parts.RECOUNTED_VERSION` says what changed), or the
    tables whose catalog version changed (`store.migrations.rebuild_changed`). A stored state or sum cannot be
    converted, only recounted.

    Streaming, in the engine, a day at a time: each of the `days` (YYYYMMDD) that `events` holds is read once,
    block by block (`REPLAY_SETTINGS`), into a Null table, `events_replay`, whose materialized views aggregate
    each block into a copy of each table, as ingest does. The engine holds memory for the whole of one INSERT
    (it grew to 5 GiB replaying the benchmark's 54M events at once), so one INSERT per day keeps it to what a
    day needs (1.4 GiB for the benchmark's 7.7M). Each copy is merged into whole partitions (as the tables it
    replaces were, over time), takes its table's place, and the materialized views from `events` are made
    again. When `views` is recounted, what the named queries stored of past days was computed from the old
    `views`, whose partition versions no longer mean anything: its records are dropped, so those days are
    computed again (`smartquery.stored_days`). Runs while nothing inserts (migrations run before the
    writer). Safe to run again after a crash at any statement: the replay table and the copies are dropped
    first, every table is recounted from `events` (which this never changes), and a table always holds
    every row (the old ones until its exchange, the recounted ones after). The deduplication tokens of past
    inserts stay with the old tables, as in `views_by_day_ddl`."""
    views = tables is None or "views" in tables
    views_copy = f"views{RECOUNT_SUFFIX}"
    rollup_copies = [(r, f"{r.name}{RECOUNT_SUFFIX}") for r in ROLLUPS if tables is None or r.name in tables]
    fed = [*((("views", views_copy),) if views else ()), *((r.name, copy) for r, copy in rollup_copies)]
    settings = f"MODIFY SETTING non_replicated_deduplication_window = {DEDUPLICATION_WINDOW}"
    replay = (
        f"INSERT INTO {REPLAY_TABLE} SELECT * FROM events WHERE toYYYYMMDD(ts) = {{day}} SETTINGS {REPLAY_SETTINGS}"
    )
    return [
        *(f"DROP VIEW IF EXISTS {mv}" for table, copy in fed for mv in (*_feeding(table), *_feeding(copy))),
        f"DROP TABLE IF EXISTS {REPLAY_TABLE}",
        *(f"DROP TABLE IF EXISTS {copy}" for _, copy in fed),
        *((_views_table_ddl(version, views_copy),) if views else ()),
        *(_rollup_table_ddl(r, version, copy) for r, copy in rollup_copies),
        *(f"ALTER TABLE {copy} {settings}" for _, copy in rollup_copies),
        f"CREATE TABLE {REPLAY_TABLE} AS events ENGINE = Null",
        *((views_mv_ddl(version, views_copy, REPLAY_TABLE),) if views else ()),
        *(s for r, copy in rollup_copies for s in rollup_mvs_ddl(r, version, copy, REPLAY_TABLE)),
        *(replay.format(day=int(day)) for day in days),
        *(f"DROP VIEW {mv}" for _, copy in fed for mv in _feeding(copy)),
        f"DROP TABLE {REPLAY_TABLE}",
        *(f"OPTIMIZE TABLE {copy} FINAL" for _, copy in fed),
        *(s for table, copy in fed for s in (f"EXCHANGE TABLES {table} AND {copy}", f"DROP TABLE {copy}")),
        *((f"TRUNCATE TABLE IF EXISTS {STORED_DAY_SLICES_TABLE}", views_mv_ddl(version)) if views else ()),
        *(s for r, _ in rollup_copies for s in rollup_mvs_ddl(r, version, r.name)),
    ]


def _feeding(table: str) -> list[str]:
    """The materialized views that feed `table` (`views` or a rollup, or a copy of one), by their names."""
    if table.startswith("views"):
        return [f"{table}_mv"]
    return [f"{table}_{attribution}_mv" for attribution, _ in ATTRIBUTION_TIMES]


PATH_ENTRIES_TABLE = "path_entries"
SUBSCRIBER_DAYS_TABLE = "subscriber_days"
STORED_DAY_SLICES_TABLE = "stored_day_slices"


def stored_days_ddl() -> list[str]:
    """What the named queries store of past days (`smartquery.stored_days`), each under the `slice` id of one
    computation of one customer's day: `path_entries`, the counted path entries of the day's viewing
    sessions (`paths.counted_entries`); `subscriber_days`, each subscriber's sums of the day
    (`subscribers.day_rows`). `stored_day_slices` records each finished computation: its kind, the day's
    slice, and the version of the day's partition of `views` it was computed from. A reader trusts a slice
    only through its record."""
    paths = ", ".join(f"e_p{k} UInt64" for k in range(1, 5))
    sums = ", ".join(f"d_{name} UInt64" for name in ("attempts", "plays", "play_ms", "rebuffer_ms", "startup_ms"))
    sets = ", ".join(f"d_{name} Array(UInt64)" for name in ("titles", "devices", "device_classes"))
    times = "d_firstseen DateTime64(3, 'UTC'), d_lastseen DateTime64(3, 'UTC'), d_latest_start_ms Int64"
    slice_of = "customer_id UInt32, day Date, slice UInt64"
    return [
        f"CREATE TABLE IF NOT EXISTS {PATH_ENTRIES_TABLE} (\n"
        f"  {slice_of}, entry_hash UInt64, e_kind UInt8, {paths}, e_next UInt64, n UInt64\n"
        ")\nENGINE = MergeTree\nORDER BY (customer_id, day, slice)",
        f"CREATE TABLE IF NOT EXISTS {SUBSCRIBER_DAYS_TABLE} (\n"
        f"  {slice_of}, subscriber_key UInt64, {sums}, d_failures UInt64, d_poorviews UInt64, {sets}, {times}\n"
        ")\nENGINE = MergeTree\nORDER BY (customer_id, day, slice)",
        f"CREATE TABLE IF NOT EXISTS {STORED_DAY_SLICES_TABLE} (\n"
        "  customer_id UInt32, kind LowCardinality(String), day Date, slice UInt64, views_version UInt64,\n"
        "  computed_at DateTime64(3, 'UTC')\n"
        ")\nENGINE = MergeTree\nORDER BY (customer_id, kind, day, computed_at)",
    ]


DERIVED_VERSIONS_TABLE = "derived_versions"


def derived_versions_ddl() -> list[str]:
    """`derived_versions`: the catalog version each table derived from `events` was built by (`catalog.versions`,
    written by `store.migrations.rebuild_changed`), the latest row of a table counting; and the catalog version
    each stored day's slice was computed by (`stored_day_slices.catalog_version`, `smartquery.stored_days`):
    the slices recorded before have none, so they are computed again."""
    return [
        f"CREATE TABLE IF NOT EXISTS {DERIVED_VERSIONS_TABLE} (\n"
        "  derived_table String, version String, declarations String,\n"
        "  built_at DateTime64(3, 'UTC') DEFAULT now64(3)\n"
        ")\nENGINE = ReplacingMergeTree(built_at)\nORDER BY derived_table",
        f"ALTER TABLE {STORED_DAY_SLICES_TABLE} ADD COLUMN IF NOT EXISTS catalog_version String",
    ]
