"""Versioned derived data: each table derived from `events` records the catalog version it was built by, and a
changed declaration recounts from `events` the tables it affects, and those alone, at the next start
(`migrations.migrate`), which says what it recounted and why.

A row that no event made (customer `MARKER`) is written into every derived table first: a table recounted from
`events` loses it, a table left alone keeps it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from sightline.catalog import PARTS, ROLLUPS, VIEW_COLUMNS
from sightline.catalog.expression import is_event
from sightline.catalog.versions import VIEWS
from sightline.cli import main
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, simulate
from sightline.store import EmbeddedStore, open_store
from sightline.store.migrations import MIGRATIONS, Migrated, Rebuilt, migrate
from sightline.store.schema import STORED_DAY_SLICES_TABLE
from tests.handwritten import by_hand

CUSTOMER, MARKER = 3, 999
CONFIG = SimulationConfig(
    start=datetime(2024, 5, 4, 21, tzinfo=UTC),
    end=datetime(2024, 5, 5, 1, tzinfo=UTC),
    customer_ids=(CUSTOMER,),
    views_per_day=4000,
    seed=11,
)
EVENTS = pa.concat_tables([chunk.events for chunk in simulate(CONFIG)])
DERIVED = (VIEWS, *(r.name for r in ROLLUPS))


@pytest.fixture
def loaded(store: EmbeddedStore) -> EmbeddedStore:
    store.insert_events(EVENTS)
    for table in DERIVED:
        time = "view_start, view_id" if table == VIEWS else "bucket"
        values = "now64(3), generateUUIDv4()" if table == VIEWS else "now()"
        store.execute(by_hand(f"INSERT INTO {table} (customer_id, {time}) SELECT {MARKER}, {values}"))
    return store


def _marked(store: EmbeddedStore) -> set[str]:
    """The derived tables that still hold the marker's row: those not recounted."""
    return {t for t in DERIVED if _scalar(store, f"SELECT count() FROM {t} WHERE customer_id = {MARKER}")}


def _scalar(store: EmbeddedStore, sql: str) -> int:
    return int(store.query(by_hand(sql)).column(0)[0].as_py())


def _declare(monkeypatch: pytest.MonkeyPatch, name: str, declared: tuple[object, ...]) -> None:
    """The catalog's `name` (PARTS, ROLLUPS or VIEW_COLUMNS) as `declared` where versions and schema read it."""
    for module in ("sightline.catalog.versions", "sightline.store.schema"):
        monkeypatch.setattr(f"{module}.{name}", declared)


def test_a_store_records_the_version_of_every_derived_table_and_recounts_nothing_unchanged(
    loaded: EmbeddedStore,
) -> None:
    assert migrate(loaded) == Migrated([], [])
    assert _marked(loaded) == set(DERIVED)


def test_a_changed_part_recounts_every_rollup_and_not_views(
    loaded: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = tuple(replace(p, condition=is_event("stall_end")) if p.name == "rebuffer_count" else p for p in PARTS)
    _declare(monkeypatch, "PARTS", changed)
    migrated = migrate(loaded)
    assert migrated.rebuilt == [Rebuilt(r.name, ("part rebuffer_count",)) for r in ROLLUPS]
    assert "recounted rollup_1h from events: changed part rebuffer_count" in migrated.lines()
    assert _marked(loaded) == {VIEWS}
    stall_ends = _scalar(loaded, f"SELECT countIf(event = 'stall_end') FROM events WHERE customer_id = {CUSTOMER}")
    assert stall_ends > 0
    for rollup in ROLLUPS:
        assert _scalar(loaded, f"SELECT sum(rebuffer_count) FROM {rollup.name}") == stall_ends
    assert migrate(loaded).rebuilt == []  # recorded


def test_sightline_migrate_says_what_it_recounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["migrate", "--data-dir", str(tmp_path)])
    made = [f"applied migration {m.version}: {m.description}" for m in MIGRATIONS]
    assert capsys.readouterr().out.splitlines() == [*made, f"schema at version {MIGRATIONS[-1].version} in {tmp_path}"]
    store = open_store(Settings(data_dir=tmp_path))
    try:
        store.insert_events(EVENTS)
        store.execute(
            by_hand(
                f"INSERT INTO {STORED_DAY_SLICES_TABLE} "
                "(customer_id, kind, day, slice, views_version, catalog_version) "
                f"VALUES ({CUSTOMER}, 'paths', '2024-05-04', 1, 1, 'of another catalog')"
            )
        )
    finally:
        store.close()
    changed = tuple(replace(p, condition=is_event("stall_end")) if p.name == "rebuffer_count" else p for p in PARTS)
    _declare(monkeypatch, "PARTS", changed)
    main(["migrate", "--data-dir", str(tmp_path)])
    assert capsys.readouterr().out.splitlines() == [
        *(f"recounted {r.name} from events: changed part rebuffer_count" for r in ROLLUPS),
        "stored days of paths: 1 day's slice of another catalog version, not read; `sightline serve` computes it again",
        f"schema at version {MIGRATIONS[-1].version} in {tmp_path}",
    ]
    main(["migrate", "--data-dir", str(tmp_path)])
    assert "recounted" not in capsys.readouterr().out


def test_a_changed_rollup_recounts_that_rollup_alone(loaded: EmbeddedStore, monkeypatch: pytest.MonkeyPatch) -> None:
    device = next(r for r in ROLLUPS if r.name == "rollup_1h_device")
    fewer = replace(device, dimensions=tuple(d for d in device.dimensions if d != "appversion"))
    _declare(monkeypatch, "ROLLUPS", tuple(fewer if r is device else r for r in ROLLUPS))
    assert migrate(loaded).rebuilt == [Rebuilt("rollup_1h_device", ("rollup",))]
    assert _marked(loaded) == set(DERIVED) - {"rollup_1h_device"}
    columns = "SELECT count() FROM system.columns WHERE table = 'rollup_1h_device' AND name = 'appversion'"
    assert _scalar(loaded, columns) == 0
    attempts = [_scalar(loaded, f"SELECT sum(attempts) FROM {t} WHERE customer_id = {CUSTOMER}") for t in DERIVED[1:]]
    assert len(set(attempts)) == 1
    assert attempts[0] > 0
    assert migrate(loaded).rebuilt == []


def test_a_changed_view_column_recounts_views_alone_and_drops_the_stored_days(
    loaded: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded.execute(
        by_hand(
            f"INSERT INTO {STORED_DAY_SLICES_TABLE} (customer_id, kind, day, slice, views_version) "
            f"VALUES ({CUSTOMER}, 'paths', '2024-05-04', 1, 1)"
        )
    )
    stalls = next(c for c in VIEW_COLUMNS if c.name == "rebuffer_count")
    counted = replace(stalls, expression=is_event("stall_end"))
    _declare(monkeypatch, "VIEW_COLUMNS", tuple(counted if c is stalls else c for c in VIEW_COLUMNS))
    assert migrate(loaded).rebuilt == [Rebuilt(VIEWS, ("column rebuffer_count",))]
    assert _marked(loaded) == set(DERIVED) - {VIEWS}
    assert _scalar(loaded, f"SELECT count() FROM {STORED_DAY_SLICES_TABLE}") == 0
    stall_ends = _scalar(loaded, f"SELECT countIf(event = 'stall_end') FROM events WHERE customer_id = {CUSTOMER}")
    assert _scalar(loaded, "SELECT sum(rebuffer_count) FROM views") == stall_ends
