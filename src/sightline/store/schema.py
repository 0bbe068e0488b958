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

The statements are a small model (`TableSpec`, `CreateTable`, `CreateView`, `AlterTable`, …, together `Ddl`),
printed for one of two layouts by `render`: a single server (`cluster=None`: the DDL the embedded engine and a
ClickHouse server run, pinned by tests/store/snapshots/single/) or a cluster NAME (tests/store/snapshots/cluster/):
- a sharded table (`events`, `views`, the rollups, `error_events`: everything built per view) is a local table
  `<name>_local` on the Replicated engine of its kind, at a Keeper path of its shard, its name and its UUID, and a
  `Distributed` table under `<name>` over it, sharded by `SHARDING_KEY` (all rows of a view on one shard); the
  queries read and write `<name>` and never name a local table;
- a global table (the migrations ledger, `derived_versions`, the stored days) is one Replicated table of every
  node (a Keeper path without the shard): Sightline's own records, written once, read on any node;
- materialized views read and write local tables only, so building a view's row stays on its shard;
- every statement runs `ON CLUSTER NAME` and can run again (`IF NOT EXISTS`, `IF EXISTS`); a data-moving INSERT
  runs on each shard from and to its local tables (`parallel_distributed_insert_select = 2`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

from sightline.catalog import DIMENSION_HASHES, DIMENSIONS, EVENT_FIELDS, EVENT_TYPES, PARTS, ROLLUPS, VIEW_COLUMNS
from sightline.catalog.dimensions import DimensionHashSpec, DimensionSpec
from sightline.catalog.events import ERROR_EVENT_TYPES, ERROR_EVENTS_TABLE
from sightline.catalog.parts import SKETCH_ACCURACY, SKETCH_LEVEL, PartSpec, declared_at
from sightline.catalog.rollups import RollupSpec
from sightline.query.ast import IDENTIFIER
from sightline.query.parts import part_counted, part_state, view_column_value
from sightline.query.printer import Setting, print_definition

VIEW_START = "UUIDv7ToDateTime(view_id, 'UTC')"


LOCAL_SUFFIX = "_local"
SHARDING_KEY = "cityHash64(view_id)"
"""How the Distributed tables spread rows over shards: by view, so that all events of a view (and its row of
`views`, its error events) are on one shard, and a GROUP BY view_id is whole on each shard. View ids are
UUIDv7, unique across customers, so the customer need not be hashed too."""
CLUSTER_READ_SETTINGS: dict[str, Setting] = {
    "optimize_distributed_group_by_sharding_key": 1,
    "optimize_skip_unused_shards": 1,
    "distributed_product_mode": "local",
    "distributed_aggregation_memory_efficient": 1,
    "prefer_localhost_replica": 1,
}
"""The settings of every read through the Distributed tables of a cluster (docs/deploy.md says what each query
fans out to): a GROUP BY that holds `view_id` (session lists, a view's timeline, the named queries' per-view
steps) is finished on each shard, which sends its final rows, not states; a query of one view (`view_id = …`)
reads the one shard that holds it; a `view_id IN (SELECT view_id FROM …)` subquery (`qoefilter`, `allstatus=0`,
the ended views) runs on each shard against its local tables, which is exact because every table of rows of a
view is sharded by `SHARDING_KEY`; the initiator merges the shards' states bucket by bucket, in less memory;
a node reads its own shard locally. Every other aggregation (rollups, totals over views) is two-stage: states on
the shards, merged on the initiator, which is exact for sums, `uniq` and the quantile sketches alike.
`distributed_group_by_no_merge` is not set: it is wrong for any group that spans shards."""
CLUSTER_INSERT_SETTINGS: dict[str, Setting] = {"distributed_foreground_insert": 1}
"""The settings of an insert into a Distributed table of a cluster: it returns once every shard stored its rows
(durable, as `Store.insert_events` promises, and deduplicated by its token on each shard's replicas)."""
_REPLICATED_SETTINGS = {"non_replicated_deduplication_window": "replicated_deduplication_window"}
"""Settings of a table on one server and their name on a Replicated table."""
Placement = Literal["sharded", "global"]
REPLICA = "'{replica}'"
"""The replica name of a Replicated table: the node's `{replica}` macro, unique across the cluster (the global
tables have every node as a replica of one table)."""


def local_name(table: str) -> str:
    """The local table that holds a shard's rows of the Distributed table `table`, on a cluster."""
    return f"{table}{LOCAL_SUFFIX}"


def _checked(cluster: str) -> str:
    if not IDENTIFIER.match(cluster):
        raise ValueError(f"not a cluster name: {cluster!r}")
    return cluster


def _settings(settings: Sequence[tuple[str, int]], cluster: str | None) -> str:
    """`name = value, …`; on a cluster, with each setting's name on a Replicated table."""
    return ", ".join(f"{_REPLICATED_SETTINGS.get(n, n) if cluster else n} = {v}" for n, v in settings)


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table of the schema: `columns` is the text between its parentheses, `separator` what stands between
    its clauses (a line break, or a space for a table written on one line). `key` is how its Distributed table
    shards what is inserted into it; None for a table that only materialized views write (a rollup, which has
    no view id), whose Distributed table is read only."""

    name: str
    columns: str
    engine: Literal["MergeTree", "AggregatingMergeTree", "ReplacingMergeTree"]
    order: str
    engine_args: str = ""
    partition: str | None = None
    settings: tuple[tuple[str, int], ...] = ()
    placement: Placement = "sharded"
    separator: str = "\n"
    key: str | None = SHARDING_KEY


@dataclass(frozen=True, slots=True)
class CreateTable:
    table: TableSpec

    def render(self, cluster: str | None) -> list[str]:
        t, sep = self.table, self.table.separator
        args = [t.engine_args] if t.engine_args else []
        if cluster is None:
            name, engine = t.name, t.engine + (f"({t.engine_args})" if t.engine_args else "")
        else:
            name = local_name(t.name) if t.placement == "sharded" else t.name
            shard = "{shard}" if t.placement == "sharded" else "all"
            path = f"'/clickhouse/tables/{shard}/{{database}}/{name}/{{uuid}}'"
            engine = f"Replicated{t.engine}({', '.join([path, REPLICA, *args])})"
        text = f"CREATE TABLE IF NOT EXISTS {name}{_on(cluster)} ({t.columns}){sep}ENGINE = {engine}"
        text += f"{sep}PARTITION BY {t.partition}" if t.partition else ""
        text += f"{sep}ORDER BY {t.order}"
        text += f"{sep}SETTINGS {_settings(t.settings, cluster)}" if t.settings else ""
        if cluster is None or t.placement == "global":
            return [text]
        return [text, _distributed(t, cluster)]


def _on(cluster: str | None) -> str:
    return f" ON CLUSTER {_checked(cluster)}" if cluster else ""


def _distributed(table: TableSpec, cluster: str, name: str | None = None) -> str:
    """The Distributed table `name` (the table's own by default) over the local tables `<name>_local` of
    `cluster`, with the table's columns."""
    name = name or table.name
    args = [f"'{cluster}'", "currentDatabase()", f"'{local_name(name)}'", *([table.key] if table.key else [])]
    engine = f"Distributed({', '.join(args)})"
    return f"CREATE TABLE IF NOT EXISTS {name}{_on(cluster)} ({table.columns}){table.separator}ENGINE = {engine}"


@dataclass(frozen=True, slots=True)
class CreateNullTable:
    """A table `name` with the columns of `like` that stores nothing: what is inserted feeds its materialized
    views only."""

    name: str
    like: TableSpec

    def render(self, cluster: str | None) -> list[str]:
        if cluster is None:
            return [f"CREATE TABLE {self.name} AS {self.like.name} ENGINE = Null"]
        local = f"CREATE TABLE IF NOT EXISTS {local_name(self.name)}{_on(cluster)} ({self.like.columns})"
        return [
            f"{local}{self.like.separator}ENGINE = Null",
            _distributed(self.like, cluster, self.name),
        ]


@dataclass(frozen=True, slots=True)
class CreateView:
    """The materialized view `name` into `target`: `AS{head}{source}{tail}`, its query reading `source`. On a
    cluster, from and to the local tables of its shard."""

    name: str
    target: str
    head: str
    source: str
    tail: str
    if_not_exists: bool = True

    def render(self, cluster: str | None) -> list[str]:
        target, source = (self.target, self.source) if cluster is None else map(local_name, (self.target, self.source))
        exists = "IF NOT EXISTS " if self.if_not_exists or cluster else ""
        return [
            f"CREATE MATERIALIZED VIEW {exists}{self.name}{_on(cluster)} TO {target} AS{self.head}{source}{self.tail}"
        ]


@dataclass(frozen=True, slots=True)
class AlterTable:
    """`ALTER TABLE table action`. On a cluster: of the local tables, and of the Distributed table too when the
    action changes `columns` (the Distributed table has the columns of its local tables)."""

    table: str
    action: str
    columns: bool = False
    placement: Placement = "sharded"

    def render(self, cluster: str | None) -> list[str]:
        if cluster is None or self.placement == "global":
            return [f"ALTER TABLE {self.table}{_on(cluster)} {self.action}"]
        local = f"ALTER TABLE {local_name(self.table)}{_on(cluster)} {self.action}"
        return [local, f"ALTER TABLE {self.table}{_on(cluster)} {self.action}"] if self.columns else [local]


@dataclass(frozen=True, slots=True)
class ModifySettings:
    """Settings of the table's storage (of its local tables on a cluster, under their Replicated names)."""

    table: str
    settings: tuple[tuple[str, int], ...]

    def render(self, cluster: str | None) -> list[str]:
        name = self.table if cluster is None else local_name(self.table)
        return [f"ALTER TABLE {name}{_on(cluster)} MODIFY SETTING {_settings(self.settings, cluster)}"]


@dataclass(frozen=True, slots=True)
class Drop:
    """`DROP VIEW` (a materialized view) or `DROP TABLE` (on a cluster, a sharded table's Distributed and local
    tables)."""

    kind: Literal["TABLE", "VIEW"]
    name: str
    if_exists: bool = True
    placement: Placement = "sharded"

    def render(self, cluster: str | None) -> list[str]:
        exists = "IF EXISTS " if self.if_exists or cluster else ""
        names = [self.name]
        if cluster is not None and self.kind == "TABLE" and self.placement == "sharded":
            names.append(local_name(self.name))
        return [f"DROP {self.kind} {exists}{name}{_on(cluster)}" for name in names]


@dataclass(frozen=True, slots=True)
class Truncate:
    name: str
    if_exists: bool = False
    placement: Placement = "sharded"

    def render(self, cluster: str | None) -> list[str]:
        exists = "IF EXISTS " if self.if_exists or cluster else ""
        name = local_name(self.name) if cluster is not None and self.placement == "sharded" else self.name
        return [f"TRUNCATE TABLE {exists}{name}{_on(cluster)}"]


@dataclass(frozen=True, slots=True)
class Optimize:
    """Merge each partition of a sharded table into one part."""

    name: str

    def render(self, cluster: str | None) -> list[str]:
        name = self.name if cluster is None else local_name(self.name)
        return [f"OPTIMIZE TABLE {name}{_on(cluster)} FINAL"]


@dataclass(frozen=True, slots=True)
class Exchange:
    """Two sharded tables swap names (on a cluster, their local tables: each Distributed table reads the local
    table of its name)."""

    first: str
    second: str

    def render(self, cluster: str | None) -> list[str]:
        first, second = (self.first, self.second) if cluster is None else map(local_name, (self.first, self.second))
        return [f"EXCHANGE TABLES {first} AND {second}{_on(cluster)}"]


@dataclass(frozen=True, slots=True)
class InsertSelect:
    """`INSERT INTO target{head}{source}{tail}` between sharded tables. On a cluster, through their Distributed
    tables, each shard from and to its own local tables (rows stay on their shard: the tables share a key)."""

    target: str
    head: str
    source: str
    tail: str
    settings: str = ""

    def render(self, cluster: str | None) -> list[str]:
        settings = [self.settings] if self.settings else []
        if cluster is not None:
            _checked(cluster)
            settings.append("parallel_distributed_insert_select = 2")
        text = f"INSERT INTO {self.target}{self.head}{self.source}{self.tail}"
        return [text + (f" SETTINGS {', '.join(settings)}" if settings else "")]


Ddl = (
    CreateTable
    | CreateNullTable
    | CreateView
    | AlterTable
    | ModifySettings
    | Drop
    | Truncate
    | Optimize
    | Exchange
    | InsertSelect
)
"""A statement of the schema, printed for a layout by `render`."""


def render(statements: Iterable[Ddl], cluster: str | None = None) -> list[str]:
    """The text of `statements` for a single server (`cluster=None`) or for the cluster named `cluster`."""
    return [text for statement in statements for text in statement.render(cluster)]


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


def events_table(version: int | None = None, table: str = "events") -> TableSpec:
    """`events` (or a table of its columns, `table`) at schema `version`."""
    return TableSpec(
        table,
        f"\n  {_columns_ddl(event_columns(version))}\n",
        "MergeTree",
        "(customer_id, toStartOfHour(ts), view_id, seq)",
        partition="toYYYYMM(ts)",
    )


def events_ddl(version: int | None = None, table: str = "events") -> CreateTable:
    return CreateTable(events_table(version, table))


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


def _views_table_ddl(version: int | None, table: str = "views") -> CreateTable:
    """The `views` table at schema `version`, named `table`. Up to `VIEWS_BY_DAY_VERSION` it is partitioned
    by month; from then on by day, each day merged into one part once its parts are `CLOSED_DAY_MERGE_S`
    old, so that reading a past day with FINAL has nothing to merge."""
    columns = [*_view_stored_columns(version), *(Column(h.name, _hash_type(h)) for h in hashes_at(version))]
    by_day = version is None or version >= VIEWS_BY_DAY_VERSION
    settings = (
        ("non_replicated_deduplication_window", DEDUPLICATION_WINDOW),
        ("min_age_to_force_merge_seconds", CLOSED_DAY_MERGE_S),
        ("min_age_to_force_merge_on_partition_only", 1),
    )
    return CreateTable(
        TableSpec(
            table,
            f"\n  {_columns_ddl(columns)}\n",
            "AggregatingMergeTree",
            "(customer_id, view_start, view_id)",
            partition=f"{'toYYYYMMDD' if by_day else 'toYYYYMM'}(view_start)",
            settings=settings if by_day else (),
        )
    )


def views_ddl(version: int | None = None) -> list[Ddl]:
    """`views` (one row per playback view) and the materialized view that feeds it, at schema `version`."""
    return [_views_table_ddl(version), views_mv_ddl(version)]


def views_by_day_ddl(version: int) -> list[Ddl]:
    """Migration `version`: `views` made again partitioned by day (`_views_table_ddl`), its rows copied.
    Runs while nothing inserts (migrations run before the writer). Safe to run again after a crash at any
    statement: the copy is dropped first, and `views` always holds every row (before the exchange the old
    table, after it the copy). The deduplication tokens of past inserts stay with the old table: a spool
    segment that was inserted in the milliseconds before a crash, and not yet deleted, would be counted
    twice in `views` if it is replayed after this migration; a clean stop leaves no such segment."""
    copy = "views_by_day"
    names = ", ".join(f"`{c.name}`" for c in _view_stored_columns(version))
    return [
        Drop("VIEW", "views_mv"),
        Drop("TABLE", copy),
        _views_table_ddl(version, copy),
        InsertSelect(copy, f" ({names}) SELECT {names} FROM ", "views", ""),
        Exchange("views", copy),
        Drop("TABLE", copy, if_exists=False),
        views_mv_ddl(version),
    ]


def views_mv_ddl(version: int | None = None, table: str = "views", source: str = "events") -> CreateView:
    """The materialized view from `source` into `table` (`views`), at schema `version`: `views_mv` from
    `events`, or `<table>_mv`."""
    selects = [
        "customer_id",
        f"{VIEW_START} AS view_start",
        "view_id",
        *(f"{print_definition(view_column_value(c))} AS `{c.name}`" for c in declared_at(VIEW_COLUMNS, version)),
        *(f"max(`{d.name}`) AS `{d.name}`" for d in dimensions_at(version)),
    ]
    return CreateView(
        f"{table}_mv",
        table,
        "\nSELECT\n  " + ",\n  ".join(selects) + "\nFROM ",
        source,
        "\nGROUP BY customer_id, view_start, view_id\nSETTINGS prefer_column_name_to_alias = 1",
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


def _rollup_table_ddl(rollup: RollupSpec, version: int | None, table: str) -> CreateTable:
    """The table of `rollup` at schema `version`, named `table`."""
    columns = [
        Column("customer_id", "UInt32"),
        Column("bucket", "DateTime('UTC')"),
        *(Column(name, next(d.clickhouse_type for d in DIMENSIONS if d.name == name)) for name in rollup.dimensions),
        *(Column(p.name, _part_type(p)) for p in declared_at(PARTS, version)),
    ]
    return CreateTable(
        TableSpec(
            table,
            f"\n  {_columns_ddl(columns)}\n",
            "AggregatingMergeTree",
            f"({_rollup_keys(rollup)})",
            partition="toYYYYMM(bucket)",
            key=None,
        )
    )


ATTRIBUTION_TIMES = (("view_start", VIEW_START), ("event_time", "ts"))
"""Each attribution of parts and the time whose bucket they count in."""


def rollup_mvs_ddl(rollup: RollupSpec, version: int | None, table: str, source: str = "events") -> list[CreateView]:
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
            CreateView(
                f"{table}_{attribution}_mv",
                table,
                "\nSELECT\n  " + ",\n  ".join(selects) + "\nFROM ",
                source,
                f"\nWHERE {where}\nGROUP BY {keys}\nSETTINGS prefer_column_name_to_alias = 1",
            )
        )
    return statements


def rollup_ddl(rollup: RollupSpec, version: int | None = None) -> list[Ddl]:
    """A rollup table and its two materialized views from `events`, at schema `version`."""
    return [_rollup_table_ddl(rollup, version, rollup.name), *rollup_mvs_ddl(rollup, version, rollup.name)]


def schema_ddl(version: int | None = None) -> list[Ddl]:
    """Every statement of the schema at `version` (None: the newest), in dependency order."""
    statements: list[Ddl] = [events_ddl(version), *views_ddl(version)]
    for rollup in ROLLUPS:
        statements.extend(rollup_ddl(rollup, version))
    return statements


DEDUPLICATION_WINDOW = 10_000
"""Insert blocks whose deduplication tokens each table remembers: far more than a crash can leave unconfirmed."""


DEDUPLICATED = (("non_replicated_deduplication_window", DEDUPLICATION_WINDOW),)


def deduplication_ddl() -> list[Ddl]:
    """Let `events` and every materialized view's table recognise a replayed insert by its token."""
    tables = ["events", "views", *(rollup.name for rollup in ROLLUPS)]
    return [ModifySettings(t, DEDUPLICATED) for t in tables]


def added_dimensions_ddl(version: int) -> list[Ddl]:
    """Migration `version` for the dimensions it adds: their columns in `events` and `views`, each after
    the dimension before it in the catalog (both tables keep the catalog's order, as if built new), then
    `views_mv` dropped and made again to fill them. Old rows read the columns' defaults ("" or 0). The
    view is briefly absent, so this runs only while nothing inserts (migrations run before the writer).
    Rollups are built by migration 1 and hold no later dimension."""
    statements: list[Ddl] = []
    for previous, added in pairwise(DIMENSIONS):
        if added.schema_version != version:
            continue
        if previous.schema_version > version:
            raise ValueError(f"dimension {added.name} follows {previous.name}, a dimension of a later version")
        view_type = _dimension_view_type(added.clickhouse_type)
        statements += [
            AlterTable(
                "events",
                f"ADD COLUMN IF NOT EXISTS `{added.name}` {added.clickhouse_type} AFTER `{previous.name}`",
                columns=True,
            ),
            AlterTable(
                "views", f"ADD COLUMN IF NOT EXISTS `{added.name}` {view_type} AFTER `{previous.name}`", columns=True
            ),
        ]
    return [*statements, Drop("VIEW", "views_mv"), views_mv_ddl(version)]


def added_hashes_ddl(version: int) -> list[Ddl]:
    """Migration `version` for the hash columns it adds to `views`: each added at the end, then computed and
    written for the parts stored before (until then a read computes it from the dimension's column, with
    the same result), waiting for that to finish. Safe to run again."""
    added = [h for h in DIMENSION_HASHES if h.schema_version == version]
    statements: list[Ddl] = [
        AlterTable("views", f"ADD COLUMN IF NOT EXISTS `{h.name}` {_hash_type(h)}", columns=True) for h in added
    ]
    materialize = ", ".join(f"MATERIALIZE COLUMN `{h.name}`" for h in added)
    return [*statements, AlterTable("views", f"{materialize} SETTINGS mutations_sync = 2")]


def error_events_ddl(version: int) -> list[Ddl]:
    """Migration `version`: `error_events`, the error events of `events` (a few per thousand events) with all
    their columns, so that the error API reads them rather than every event of its period. Filled with the
    error events stored before, then fed by a materialized view. Runs while nothing inserts (migrations run
    before the writer); emptied first, so running it again after a crash stores each error once. A
    dimension added later must be added to this table too, and its view made again (as `views_mv`)."""
    types = ", ".join(f"'{name}'" for name in ERROR_EVENT_TYPES)
    columns = ", ".join(f"`{c.name}`" for c in event_columns(version))
    where = f" WHERE event IN ({types})"
    return [
        events_ddl(version, ERROR_EVENTS_TABLE),
        ModifySettings(ERROR_EVENTS_TABLE, DEDUPLICATED),
        Drop("VIEW", f"{ERROR_EVENTS_TABLE}_mv"),
        Truncate(ERROR_EVENTS_TABLE),
        InsertSelect(ERROR_EVENTS_TABLE, f" ({columns}) SELECT {columns} FROM ", "events", where),
        CreateView(f"{ERROR_EVENTS_TABLE}_mv", ERROR_EVENTS_TABLE, f" SELECT {columns} FROM ", "events", where, False),
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


def recounted_ddl(version: int | None, days: Sequence[int], tables: Collection[str] | None = None) -> list[Ddl]:
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
    return [
        *(Drop("VIEW", mv) for table, copy in fed for mv in (*_feeding(table), *_feeding(copy))),
        Drop("TABLE", REPLAY_TABLE),
        *(Drop("TABLE", copy) for _, copy in fed),
        *((_views_table_ddl(version, views_copy),) if views else ()),
        *(_rollup_table_ddl(r, version, copy) for r, copy in rollup_copies),
        *(ModifySettings(copy, DEDUPLICATED) for _, copy in rollup_copies),
        CreateNullTable(REPLAY_TABLE, events_table(version)),
        *((views_mv_ddl(version, views_copy, REPLAY_TABLE),) if views else ()),
        *(s for r, copy in rollup_copies for s in rollup_mvs_ddl(r, version, copy, REPLAY_TABLE)),
        *(
            InsertSelect(
                REPLAY_TABLE, " SELECT * FROM ", "events", f" WHERE toYYYYMMDD(ts) = {int(day)}", REPLAY_SETTINGS
            )
            for day in days
        ),
        *(Drop("VIEW", mv, if_exists=False) for _, copy in fed for mv in _feeding(copy)),
        Drop("TABLE", REPLAY_TABLE, if_exists=False),
        *(Optimize(copy) for _, copy in fed),
        *(s for table, copy in fed for s in (Exchange(table, copy), Drop("TABLE", copy, if_exists=False))),
        *((Truncate(STORED_DAY_SLICES_TABLE, True, "global"), views_mv_ddl(version)) if views else ()),
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


def stored_days_ddl() -> list[Ddl]:
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
    slices = (
        "\n  customer_id UInt32, kind LowCardinality(String), day Date, slice UInt64, views_version UInt64,\n"
        "  computed_at DateTime64(3, 'UTC')\n"
    )
    by_slice = "(customer_id, day, slice)"
    return [
        CreateTable(
            TableSpec(
                PATH_ENTRIES_TABLE,
                f"\n  {slice_of}, entry_hash UInt64, e_kind UInt8, {paths}, e_next UInt64, n UInt64\n",
                "MergeTree",
                by_slice,
                placement="global",
            )
        ),
        CreateTable(
            TableSpec(
                SUBSCRIBER_DAYS_TABLE,
                f"\n  {slice_of}, subscriber_key UInt64, {sums}, d_failures UInt64, d_poorviews UInt64, {sets}, "
                f"{times}\n",
                "MergeTree",
                by_slice,
                placement="global",
            )
        ),
        CreateTable(
            TableSpec(
                STORED_DAY_SLICES_TABLE,
                slices,
                "MergeTree",
                "(customer_id, kind, day, computed_at)",
                placement="global",
            )
        ),
    ]


DERIVED_VERSIONS_TABLE = "derived_versions"


def derived_versions_ddl() -> list[Ddl]:
    """`derived_versions`: the catalog version each table derived from `events` was built by (`catalog.versions`,
    written by `store.migrations.rebuild_changed`), the latest row of a table counting; and the catalog version
    each stored day's slice was computed by (`stored_day_slices.catalog_version`, `smartquery.stored_days`):
    the slices recorded before have none, so they are computed again."""
    columns = (
        "\n  derived_table String, version String, declarations String,\n"
        "  built_at DateTime64(3, 'UTC') DEFAULT now64(3)\n"
    )
    return [
        CreateTable(
            TableSpec(
                DERIVED_VERSIONS_TABLE,
                columns,
                "ReplacingMergeTree",
                "derived_table",
                engine_args="built_at",
                placement="global",
            )
        ),
        AlterTable(STORED_DAY_SLICES_TABLE, "ADD COLUMN IF NOT EXISTS catalog_version String", placement="global"),
    ]


MIGRATIONS_TABLE = "schema_migrations"


def ledger_ddl() -> CreateTable:
    """`schema_migrations`: the migrations applied (`store.migrations`); on a cluster, one record for all nodes."""
    return CreateTable(
        TableSpec(
            MIGRATIONS_TABLE,
            "version UInt32, description String, applied_at DateTime('UTC') DEFAULT now()",
            "ReplacingMergeTree",
            "version",
            placement="global",
            separator=" ",
        )
    )
