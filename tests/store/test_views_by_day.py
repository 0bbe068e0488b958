"""Migration 6: `views` partitioned by day keeps every view as it was, is still fed by its materialized view,
still recognises a replayed insert, and comes out the same when the migration runs again after a crash
at any statement."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

from sightline.ingest.native import BATCH, to_event_table
from sightline.store import EmbeddedStore
from sightline.store.migrations import apply_migrations
from sightline.store.schema import CLOSED_DAY_MERGE_S, render, views_by_day_ddl
from tests.handwritten import by_hand

CUSTOMER = 7
DAY_MS = 86_400_000
START_MS = 1_780_000_000_000 // DAY_MS * DAY_MS + DAY_MS - 60_000  # a minute before midnight


def batch(view: int, start_ms: int, events: list[tuple[str, int]]) -> pa.Table:
    """Events of view `view`, whose id says it started at `start_ms`."""
    view_id = str(uuid.UUID(int=(start_ms << 80) | (0x7 << 76) | (0b10 << 62) | view))
    rows = [
        {"event": name, "ts": start_ms + seq * 1000, "seq": seq, "started": int(seq > 0), "play_ms": 1000 * seq}
        for name, seq in events
    ]
    parsed = BATCH.validate_python({"view_id": view_id, "dimensions": {"cdn": f"cdn-{view}"}, "events": rows})
    return to_event_table(CUSTOMER, [parsed])


def views(store: EmbeddedStore) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = store.query(
        by_hand(
            "SELECT toString(view_id) AS id, view_start, play_ms, started, cdn, last_ts, play_requested "
            "FROM views FINAL ORDER BY id"
        )
    ).to_pylist()
    return found


def layout(store: EmbeddedStore) -> tuple[str, list[str]]:
    here = "database = currentDatabase() AND"
    table = (
        store.query(by_hand(f"SELECT engine_full FROM system.tables WHERE {here} name = 'views'")).column(0)[0].as_py()
    )
    partitions = store.query(
        by_hand(
            f"SELECT DISTINCT partition FROM system.parts WHERE {here} table = 'views' AND active ORDER BY partition"
        )
    ).column(0)
    return table, partitions.to_pylist()


def test_views_move_to_daily_partitions_whole_and_stay_fed(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "data")
    try:
        assert apply_migrations(store, until=5) == [1, 2, 3, 4, 5]
        store.insert_events(batch(1, START_MS, [("play_request", 0), ("first_frame", 1)]))
        store.insert_events(batch(1, START_MS, [("heartbeat", 2)]))  # a second row of view 1, merged by FINAL
        store.insert_events(batch(2, START_MS + 120_000, [("play_request", 0), ("first_frame", 1), ("end", 2)]))
        before = views(store)
        assert [row["play_ms"] for row in before] == [3000, 3000]

        assert apply_migrations(store, until=6) == [6]
        engine, partitions = layout(store)
        assert "PARTITION BY toYYYYMMDD(view_start)" in engine
        assert f"min_age_to_force_merge_seconds = {CLOSED_DAY_MERGE_S}" in engine
        assert len(partitions) == 2  # the two views started either side of midnight
        assert views(store) == before

        store.insert_events(batch(1, START_MS, [("end", 3)]), dedup_token="segment-1")
        store.insert_events(batch(1, START_MS, [("end", 3)]), dedup_token="segment-1")  # replayed: stored once
        after = views(store)
        assert [row["play_ms"] for row in after] == [6000, 3000]

        statements = render(views_by_day_ddl(6))
        exchanged = next(i for i, s in enumerate(statements) if s.startswith("EXCHANGE")) + 1
        for statement in statements[:exchanged]:  # a crash after the exchange, before the old table is dropped
            store.execute(by_hand(statement))
        for statement in statements:  # the migration run again, as after a crash before its record
            store.execute(by_hand(statement))
        assert layout(store) == (engine, partitions)
        assert views(store) == after
        store.insert_events(batch(3, START_MS, [("play_request", 0)]))
        assert len(views(store)) == 3
    finally:
        store.close()
