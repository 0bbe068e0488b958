"""Upgrading a data directory made at schema version 1: the dimensions added later appear in `events` and
`views`, new data fills them, old data stays as it was, and an old spool segment still replays; the hash
columns of `views` are computed for the views stored before and kept for the new ones."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from sightline.catalog import DIMENSION_HASHES, DIMENSIONS, ROLLUPS
from sightline.ingest.native import BATCH, to_event_table
from sightline.settings import Settings
from sightline.store import EmbeddedStore, Store, open_store, spool
from sightline.store.migrations import MIGRATIONS, apply_migrations
from sightline.store.schema import event_columns
from sightline.store.writer import BatchingWriter
from tests.handwritten import by_hand

CUSTOMER = 7
START_MS = 1_780_000_000_000
OLD_VIEW, NEW_VIEW, SPOOLED_VIEW = 1, 2, 3


def view_id(n: int) -> str:
    return str(uuid.UUID(int=((START_MS + n) << 80) | (0x7 << 76) | (0b10 << 62) | n))


def insert_at_version_1(store: EmbeddedStore, view: int, seq: int, event: str, **fields: int | str) -> None:
    """One event row written with the columns of schema version 1 alone, as a version-1 build wrote it."""
    types = {c.name: c.clickhouse_type for c in event_columns(1)}
    values: dict[str, Any] = {"customer_id": CUSTOMER, "seq": seq, "cdn": "akamai", "country": "US", **fields}
    names = ["view_id", "ts", "event", *values]
    selects = [
        "toUUID({view_id:String})",
        "fromUnixTimestamp64Milli({ts:Int64}, 'UTC')",
        "{event:String}",
        *(f"{{{n}:{'String' if 'String' in types[n] else types[n]}}}" for n in values),
    ]
    store.execute(
        by_hand(
            f"INSERT INTO events ({', '.join(names)}) SELECT {', '.join(selects)}",
            {"view_id": view_id(view), "ts": START_MS + view + seq * 1000, "event": event, **values},
        ),
    )


def batch(view: int, events: list[dict[str, Any]], **dimensions: Any) -> pa.Table:
    model = BATCH.validate_python({"view_id": view_id(view), "dimensions": dimensions, "events": events})
    return to_event_table(CUSTOMER, [model])


def columns(store: Store, table: str) -> list[str]:
    described = store.query(
        by_hand(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
            "ORDER BY position",
            {"t": table},
        ),
    )
    names: list[str] = described.column("name").to_pylist()
    return names


def views(store: Store) -> dict[str, dict[str, Any]]:
    rows = store.query(
        by_hand(
            "SELECT toString(view_id) AS id, sum(play_ms) AS play, max(play_requested) AS attempts, max(cdn) AS cdn, "
            "max(country) AS country, max(ipaddress) AS ipaddress FROM views WHERE customer_id = {c:UInt32} "
            "GROUP BY view_id",
            {"c": CUSTOMER},
        ),
    ).to_pylist()
    return {row.pop("id"): row for row in rows}


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory made at version 1 with one view in it, and an old spool segment beside it."""
    data_dir = tmp_path_factory.mktemp("v1")
    old = EmbeddedStore(data_dir)
    try:
        assert apply_migrations(old, until=1) == [1]
        assert "ipaddress" not in columns(old, "events")
        insert_at_version_1(old, OLD_VIEW, 0, "play_request", assetid="title-old", viewerid="viewer-old")
        insert_at_version_1(old, OLD_VIEW, 1, "first_frame", started=1, startup_ms=900)
        insert_at_version_1(old, OLD_VIEW, 2, "heartbeat", started=1, play_ms=10_000, interval_bitrate_kbps=3000)
    finally:
        old.close()
    # a segment a version-1 collector acknowledged and did not insert before it stopped
    (data_dir / "spool").mkdir()
    segment = spool.SegmentFile(data_dir / "spool")
    written = batch(SPOOLED_VIEW, [{"event": "play_request", "ts": START_MS + 3, "seq": 0}], cdn="fastly")
    segment.append([spool.encode(written.drop_columns(["ipaddress"]))], written.num_rows)
    segment.close()
    return data_dir


def test_the_upgrade_adds_the_columns_in_catalog_order_and_keeps_old_data(upgraded: Path) -> None:
    store = open_store(Settings(data_dir=upgraded))
    writer = BatchingWriter.for_settings(store, Settings(data_dir=upgraded))
    try:
        assert writer.replayed_rows == 1
        materialized = (
            store.query(
                by_hand(
                    "SELECT count() AS n FROM system.parts_columns WHERE database = currentDatabase() AND table = "
                    "'views' "
                    "AND active AND has(splitByChar(',', {names:String}), column)",
                    {"names": ",".join(h.name for h in DIMENSION_HASHES)},
                ),
            )
            .column("n")[0]
            .as_py()
        )
        parts = store.query(by_hand("SELECT count() AS n FROM system.parts WHERE table = 'views' AND active")).column(
            "n"
        )
        assert materialized == parts[0].as_py() * len(DIMENSION_HASHES)  # on disk in every part, old ones too
        applied = store.query(by_hand("SELECT version FROM schema_migrations ORDER BY version")).column("version")
        assert applied.to_pylist() == [m.version for m in MIGRATIONS]
        assert columns(store, "events") == [c.name for c in event_columns()]
        view_dimensions = [c for c in columns(store, "views") if c in {d.name for d in DIMENSIONS}]
        assert view_dimensions == [d.name for d in DIMENSIONS]
        # the old view goes on after the upgrade; a new view carries an address
        store.insert_events(
            batch(OLD_VIEW, [{"event": "end", "ts": START_MS + 4000, "seq": 3, "started": 1, "play_ms": 500}])
        )
        store.insert_events(
            batch(
                NEW_VIEW,
                [{"event": "play_request", "ts": START_MS + 2, "seq": 0}],
                ipaddress="203.0.113.0",
                assetid="title-new",
            )
        )
        assert views(store) == {
            view_id(OLD_VIEW): {"play": 10_500, "attempts": 1, "cdn": "akamai", "country": "US", "ipaddress": ""},
            view_id(NEW_VIEW): {"play": 0, "attempts": 1, "cdn": "", "country": "", "ipaddress": "203.0.113.0"},
            view_id(SPOOLED_VIEW): {"play": 0, "attempts": 1, "cdn": "fastly", "country": "", "ipaddress": ""},
        }
        hashes = store.query(
            by_hand(
                "SELECT toString(view_id) AS id, title_hash AS title, viewer_hash AS viewer, subscriber_hash AS "
                "subscriber "
                "FROM views FINAL ORDER BY id"
            )
        ).to_pylist()
        expected = store.query(
            by_hand(
                "SELECT cityHash64('title-old') AS old, cityHash64('title-new') AS new, "
                "cityHash64('viewer-old') AS viewer"
            )
        ).to_pylist()[0]
        assert hashes == [
            {"id": view_id(OLD_VIEW), "title": expected["old"], "viewer": expected["viewer"], "subscriber": 0},
            {"id": view_id(NEW_VIEW), "title": expected["new"], "viewer": 0, "subscriber": 0},
            {"id": view_id(SPOOLED_VIEW), "title": 0, "viewer": 0, "subscriber": 0},
        ]
        events = store.query(
            by_hand("SELECT toString(view_id) AS id, seq, ipaddress, cdn FROM events ORDER BY id, seq")
        ).to_pylist()
        assert [(e["id"][-1], e["seq"], e["ipaddress"], e["cdn"]) for e in events] == [
            ("1", 0, "", "akamai"), ("1", 1, "", "akamai"), ("1", 2, "", "akamai"), ("1", 3, "", ""),
            ("2", 0, "203.0.113.0", ""), ("3", 0, "", "fastly"),
        ]  # fmt: skip
        for rollup in ROLLUPS:  # the rollups' materialized views still count every view
            attempts = store.query(by_hand(f"SELECT sum(attempts) AS n FROM {rollup.name}")).column("n")[0].as_py()
            assert attempts == 3, rollup.name
    finally:
        writer.close()
        store.close()


def test_rollups_hold_only_dimensions_of_the_initial_schema() -> None:
    """Rollups are built by migration 1; a dimension added later would need a migration of its own."""
    initial = {d.name for d in DIMENSIONS if d.schema_version == 1}
    for rollup in ROLLUPS:
        assert set(rollup.dimensions) <= initial, rollup.name
