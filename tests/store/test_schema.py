"""The schema on a real chDB: migrations, a round trip through events → views → rollups, the lock."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pyarrow as pa
import pytest

from sightline.catalog import DIMENSIONS, ROLLUPS
from sightline.ingest.native import BATCH, BeaconBatch, to_event_table
from sightline.store import DataDirectoryLockedError, EmbeddedStore, Store
from sightline.store.migrations import MIGRATIONS, apply_migrations
from sightline.store.schema import event_columns
from tests.handwritten import by_hand
from tests.store.conftest import OpenStore

START_MS = 1_780_000_000_000  # 2026-05-28T20:26:40Z


def uuid7(ms: int, tail: int = 1) -> uuid.UUID:
    return uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0b10 << 62) | tail)


def sample_view(view_id: uuid.UUID) -> BeaconBatch:
    t = START_MS
    events = [
        {"event": "play_request", "ts": t, "seq": 0},
        {"event": "first_frame", "ts": t + 1500, "seq": 1, "started": 1, "startup_ms": 1500},
        {
            "event": "stall_start",
            "ts": t + 20_000,
            "seq": 2,
            "started": 1,
            "play_ms": 18_500,
            "interval_bitrate_kbps": 3000,
        },
        {"event": "stall_end", "ts": t + 22_000, "seq": 3, "started": 1, "rebuffer_ms": 2000},
        {
            "event": "rendition_change",
            "ts": t + 30_000,
            "seq": 4,
            "started": 1,
            "play_ms": 8000,
            "interval_bitrate_kbps": 3000,
            "rendition_bitrate_kbps": 6000,
        },
        {
            "event": "error",
            "ts": t + 40_000,
            "seq": 5,
            "started": 1,
            "play_ms": 10_000,
            "interval_bitrate_kbps": 6000,
            "fatal": 1,
            "error_code": "MEDIA_ERR_NETWORK",
        },
    ]
    dims = {
        "cdn": "akamai",
        "country": "US",
        "device": "desktop",
        "assetid": "a1",
        "season": 3,
        "streamtype": "vod",
        "viewerid": "viewer-1",
    }
    return BATCH.validate_python({"view_id": str(view_id), "dimensions": dims, "events": events})


def test_migrations_are_idempotent(store: Store) -> None:
    assert apply_migrations(store) == []
    versions = (
        store.query(by_hand("SELECT version FROM schema_migrations ORDER BY version")).column("version").to_pylist()
    )
    assert versions == [m.version for m in MIGRATIONS]


def test_reopening_applies_nothing_twice(open_backend: OpenStore) -> None:
    for _ in range(2):
        store = open_backend()
        count = store.query(by_hand("SELECT count() AS n FROM schema_migrations")).column("n")[0].as_py()
        store.close()
        assert count == len(MIGRATIONS)


def test_events_table_has_catalog_columns(store: Store) -> None:
    described = store.query(
        by_hand(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
            "AND table = 'events' ORDER BY position"
        )
    )
    assert described.column("name").to_pylist() == [c.name for c in event_columns()]
    assert len(DIMENSIONS) >= 40


def test_round_trip_events_views_rollups(store: Store) -> None:
    view_id = uuid7(START_MS)
    batch = to_event_table(42, [sample_view(view_id)])
    # the view arrives in two blocks, the later half first
    store.insert_events(batch.slice(3))
    store.insert_events(batch.slice(0, 3))
    assert store.query(by_hand("SELECT count() AS n FROM events WHERE customer_id = 42")).column("n")[0].as_py() == 6
    view = store.query(
        by_hand(
            "SELECT toString(view_id) AS id, toUnixTimestamp64Milli(min(view_start)) AS start, max(started) "
            "AS started, "
            ""
            "max(startup_ms) AS startup, sum(play_ms) AS play, sum(rebuffer_ms) AS rebuf, "
            "sum(rebuffer_count) AS stalls, "
            "sum(bitrate_play) AS br, max(vpf) AS vpf, max(vsf) AS vsf, max(cdn) AS cdn, max(season) AS season, "
            "max(fatal_error_code) AS code FROM views WHERE customer_id = {c:UInt32} GROUP BY view_id",
            {"c": 42},
        ),
    ).to_pylist()
    assert view == [
        {
            "id": str(view_id),
            "start": START_MS,
            "started": 1,
            "startup": 1500,
            "play": 36_500,
            "rebuf": 2000,
            "stalls": 1,
            "br": 18_500 * 3000 + 8000 * 3000 + 10_000 * 6000,
            "vpf": 1,
            "vsf": 0,
            "cdn": "akamai",
            "season": 3,
            "code": "MEDIA_ERR_NETWORK",
        }
    ]
    for rollup in ROLLUPS:
        totals = store.query(
            by_hand(
                f"SELECT sum(attempts) AS attempts, sum(plays) AS plays, sum(play_ms) AS play, sum(vpf_views) AS vpf, "
                f"sum(upswitches) AS up, uniqMerge(viewers) AS viewers FROM {rollup.name}"
            )
        ).to_pylist()
        assert totals == [{"attempts": 1, "plays": 1, "play": 36_500, "vpf": 1, "up": 1, "viewers": 1}], rollup.name


def test_parameters_are_bound_not_spliced(store: Store) -> None:
    hostile = "x' OR 1=1 --"
    table = store.query(by_hand("SELECT {v:String} AS v", {"v": hostile}))
    assert table.column("v").to_pylist() == [hostile]


def test_insert_rejects_a_batch_without_the_layout(store: Store) -> None:
    with pytest.raises(ValueError, match="lacks columns"):
        store.insert_events(pa.table({"customer_id": pa.array([1], pa.uint32())}))


def test_second_process_gets_a_clear_error(embedded_store: EmbeddedStore) -> None:
    with pytest.raises(DataDirectoryLockedError, match="in use by another Sightline process"):
        EmbeddedStore(embedded_store.data_dir)
    result = subprocess.run(
        [sys.executable, "-m", "sightline", "migrate", "--data-dir", str(embedded_store.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "in use by another Sightline process" in lines[0]
    assert "Traceback" not in result.stderr


VERBATIM = ["a\\", "\\", "a\tb", "a\nb", "x\\ny", "\\N", "\\'", "nul\0x", "{p0:String}"]


def test_parameter_values_arrive_verbatim(store: Store) -> None:
    for value in VERBATIM:  # one store for all (a store per value made the test a store's start nine times)
        assert store.query(by_hand("SELECT {v:String} AS v", {"v": value})).column("v").to_pylist() == [value], value
