"""The schema printed for a single server and for a cluster (`store.schema.render`), from the same migrations.

Each migration's statements are kept as snapshot files, one per migration and layout, under
`tests/store/snapshots/` (`single/`: the DDL the embedded engine and a single server run, byte for byte what it
was before the cluster layout existed; `cluster/`: the same for a cluster named `sightline`). A change to the
schema shows in their diff; `SIGHTLINE_UPDATE_SNAPSHOTS=1 pytest tests/store/test_cluster_schema.py` writes them
anew. The cluster's statements are parsed by the engine (`formatQuery`) and checked for the properties of the
layout; the embedded engine cannot run them (no Keeper, no cluster).
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sightline.ingest.native import BATCH, to_event_table
from sightline.query.printer import PING
from sightline.store import EmbeddedStore
from sightline.store.migrations import MIGRATIONS, apply_migrations
from sightline.store.schema import (
    CLUSTER_INSERT_SETTINGS,
    CLUSTER_READ_SETTINGS,
    SHARDING_KEY,
    ledger_ddl,
    recounted_ddl,
    render,
)
from tests.handwritten import by_hand

SNAPSHOTS = Path(__file__).parent / "snapshots"
STORED_DAYS = ("path_entries", "subscriber_days")
CLUSTER = "sightline"
DAY_MS = 1_796_083_200_000  # 2026-12-01T00:00:00Z
VIEW = uuid.UUID(int=((DAY_MS + 3_600_000) << 80) | (0x7 << 76) | (0b10 << 62) | 1)


def _insert_a_view(store: EmbeddedStore) -> None:
    events = [
        {"event": "play_request", "ts": DAY_MS + 3_600_000, "seq": 0},
        {"event": "first_frame", "ts": DAY_MS + 3_601_000, "seq": 1, "started": 1, "startup_ms": 1000},
        {"event": "error", "ts": DAY_MS + 3_610_000, "seq": 2, "started": 1, "play_ms": 9000, "fatal": 1},
    ]
    view = BATCH.validate_python({"view_id": str(VIEW), "dimensions": {"cdn": "akamai"}, "events": events})
    store.insert_events(to_event_table(5, [view]))


@dataclass(frozen=True)
class Migrated:
    """What a store of the newest version holding one view (on 2026-12-01) makes of the migrations, for a single
    server and for a cluster, and what it holds. (One engine per process: the store is closed by then.)"""

    single: dict[str, list[str]]
    cluster: dict[str, list[str]]
    described: list[dict[str, object]]
    counts: Any


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Migrated:
    store = EmbeddedStore(tmp_path_factory.mktemp("migrated"))
    try:
        apply_migrations(store)
        _insert_a_view(store)
        return Migrated(_documents(store, None), _documents(store, CLUSTER), _described(store), _counts(store))
    finally:
        store.close()


def _documents(store: EmbeddedStore, cluster: str | None) -> dict[str, list[str]]:
    """Each snapshot's name and statements: every migration as it runs on `store`, a recount of one rollup (as
    `migrations.rebuild_changed` runs it), and the ledger."""
    documents = {f"migration_{m.version:02d}": render(m.statements(store), cluster) for m in MIGRATIONS}
    documents["recount_rollup_1h"] = render(recounted_ddl(None, [20261201], ["rollup_1h"]), cluster)
    documents["ledger"] = render([ledger_ddl()], cluster)
    return documents


def _text(statements: list[str]) -> str:
    return "".join(f"{statement};\n\n" for statement in statements)


@pytest.mark.parametrize("layout", ["single", "cluster"])
def test_the_schema_matches_its_snapshots(migrated: Migrated, layout: str) -> None:
    documents = migrated.single if layout == "single" else migrated.cluster
    folder = SNAPSHOTS / layout
    if os.environ.get("SIGHTLINE_UPDATE_SNAPSHOTS") == "1":
        folder.mkdir(parents=True, exist_ok=True)
        for name, statements in documents.items():
            (folder / f"{name}.sql").write_text(_text(statements))
    assert sorted(p.stem for p in folder.glob("*.sql")) == sorted(documents)
    for name, statements in documents.items():
        assert (folder / f"{name}.sql").read_text() == _text(statements), f"{layout}/{name}.sql"


def _cluster_statements(migrated: Migrated) -> list[str]:
    return [s for statements in migrated.cluster.values() for s in statements]


def test_the_engine_parses_every_cluster_statement(migrated: Migrated, store: EmbeddedStore) -> None:
    for statement in _cluster_statements(migrated):
        formatted = store.query(by_hand("SELECT formatQuery({q:String}) AS f", {"q": statement}))
        text = formatted.column("f")[0].as_py()
        assert text.split()[0] == statement.split()[0]
        assert ("ON CLUSTER sightline" in text) == ("ON CLUSTER sightline" in statement), statement[:200]


CREATE_TABLE = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (\w+) ON CLUSTER sightline \((.*?)\)\s*ENGINE = (\w+)\(([^\n]*)\)", re.S
)
CREATE_NULL = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)_local ON CLUSTER sightline \(.*\)\s*ENGINE = Null$", re.S)
CREATE_VIEW = re.compile(
    r"^CREATE MATERIALIZED VIEW IF NOT EXISTS \w+ ON CLUSTER sightline TO (\w+) AS.*?\bFROM (\w+)", re.S
)


def _tables(statements: list[str]) -> dict[str, tuple[str, str, str]]:
    """Each table the statements create (the last time): its columns, its engine and the engine's arguments."""
    tables = {}
    for statement in statements:
        if (null := CREATE_NULL.match(statement)) is not None:
            tables[f"{null.group(1)}_local"] = ("", "Null", "")
        elif (created := CREATE_TABLE.match(statement)) is not None:
            tables[created.group(1)] = (created.group(2), created.group(3), created.group(4))
    return tables


def test_every_cluster_statement_runs_on_the_whole_cluster_and_can_run_again(migrated: Migrated) -> None:
    for statement in _cluster_statements(migrated):
        first = " ".join(statement.split()[:2])
        if first == "INSERT INTO":  # on each shard, from and to its local tables
            assert statement.endswith("parallel_distributed_insert_select = 2"), statement
            continue
        assert f" ON CLUSTER {CLUSTER}" in statement.split("\n")[0], statement
        if first.startswith("CREATE"):
            assert "IF NOT EXISTS" in statement.split("\n")[0], statement
        if first.split()[0] in ("DROP", "TRUNCATE"):
            assert "IF EXISTS" in statement, statement


def test_every_local_table_is_replicated_and_every_distributed_table_reads_one(migrated: Migrated) -> None:
    statements = _cluster_statements(migrated)
    tables = _tables(statements)
    assert tables, "the pattern finds the tables"
    for name, (columns, engine, args) in tables.items():
        if name.endswith("_local"):
            if engine == "Null":  # stores nothing: feeds its materialized views (the recount's replay)
                continue
            assert engine.startswith("Replicated"), name
            assert args.startswith(f"'/clickhouse/tables/{{shard}}/{{database}}/{name}/{{uuid}}', '{{replica}}'"), name
        elif engine == "Distributed":
            cluster, database, local, *key = (a.strip() for a in args.split(",", 3))
            assert (cluster, database, local) == (f"'{CLUSTER}'", "currentDatabase()", f"'{name}_local'"), name
            assert f"{name}_local" in tables, f"{name} reads no local table"
            # a table of rows of views is sharded by view; a rollup's is written by materialized views alone
            assert key == ([SHARDING_KEY] if "`view_id` UUID" in columns else []), name
        else:  # a global table: one replicated table of every node
            assert engine.startswith("Replicated"), name
            assert args.startswith(f"'/clickhouse/tables/all/{{database}}/{name}/{{uuid}}', '{{replica}}'"), name


def test_materialized_views_read_and_write_local_tables_only(migrated: Migrated) -> None:
    views = [CREATE_VIEW.match(s) for s in _cluster_statements(migrated) if "MATERIALIZED VIEW IF NOT" in s]
    assert len(views) > 20
    for view in views:
        assert view is not None
        assert view.group(1).endswith("_local"), view.group(0)[:200]
        assert view.group(2).endswith("_local"), view.group(0)[:200]


def test_every_table_of_the_single_server_has_its_cluster_counterparts(migrated: Migrated) -> None:
    single = {
        m.group(1)
        for statements in migrated.single.values()
        for s in statements
        if (m := re.match(r"^CREATE TABLE (?:IF NOT EXISTS )?(\w+)", s))
    }
    clustered = _tables(_cluster_statements(migrated))
    for name in single:
        if f"{name}_local" in clustered:
            assert clustered[name][1] == "Distributed", name
        else:
            assert clustered[name][1].startswith("Replicated"), name
    sharded = {n for n in single if f"{n}_local" in clustered}
    assert {"events", "views", "error_events", "rollup_1m", "rollup_1h"} <= sharded
    assert single - sharded == {"schema_migrations", "derived_versions", "stored_day_slices", *STORED_DAYS}


def test_a_bad_cluster_name_is_refused() -> None:
    with pytest.raises(ValueError, match="cluster"):
        render([ledger_ddl()], "c; DROP TABLE events")


def test_each_migration_run_again_before_its_record_changes_nothing(migrated: Migrated, tmp_path: Path) -> None:
    """As after a crash between a migration's last statement and its record: every migration runs twice."""
    store = EmbeddedStore(tmp_path)
    try:
        for migration in MIGRATIONS:
            if migration.version == 4:  # the first version whose events have every column of a batch
                _insert_a_view(store)
            for statement in render(migration.statements(store)):
                store.execute(by_hand(statement))
            assert apply_migrations(store, until=migration.version) == [migration.version]
        assert _described(store) == migrated.described
        assert _counts(store) == migrated.counts
    finally:
        store.close()


def _described(store: EmbeddedStore) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = store.query(
        by_hand(
            "SELECT table, name, type, default_expression FROM system.columns WHERE database = currentDatabase() "
            "ORDER BY table, position"
        )
    ).to_pylist()
    return rows


def _counts(store: EmbeddedStore) -> Any:
    """What the tables hold: rows of events and error events, views, the states of the hourly rollup, versions."""
    return store.query(
        by_hand(
            "SELECT (SELECT count() FROM events) AS events, (SELECT count() FROM error_events) AS errors, "
            "(SELECT uniqExact(view_id) FROM views) AS views, "
            "(SELECT sum(play_ms) FROM rollup_1h) AS play_ms, "
            "(SELECT groupArraySorted(100)(version) FROM schema_migrations FINAL) AS versions"
        )
    ).to_pylist()[0]


def test_the_cluster_settings_are_the_engines(store: EmbeddedStore) -> None:
    """Every setting of a read or an insert on a cluster exists in the engine, and takes the value given."""
    settings = {**CLUSTER_READ_SETTINGS, **CLUSTER_INSERT_SETTINGS}
    for name in settings:
        known = store.query(by_hand("SELECT count() AS n FROM system.settings WHERE name = {n:String}", {"n": name}))
        assert known.column("n")[0].as_py() == 1, name
    assert store.query(PING.with_settings(settings)).num_rows == 1
