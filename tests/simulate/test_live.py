"""Live traffic releases held events when their time comes, never before, through the writer."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sightline.ingest.native import BATCH, BeaconBatch, to_event_table
from sightline.simulate import SimulationConfig, simulate
from sightline.simulate.live import LiveTraffic, split_due
from sightline.store import EmbeddedStore
from sightline.store.writer import BatchingWriter
from tests.handwritten import by_hand


def events_at(ms: list[int]) -> BeaconBatch:
    view_id = uuid.UUID(int=(ms[0] << 80) | (0x7 << 76) | (0b10 << 62) | 5)
    rows = [{"event": "heartbeat", "ts": t, "seq": i} for i, t in enumerate(ms)]
    return BATCH.validate_python({"view_id": str(view_id), "events": rows})


def test_split_due_is_inclusive_of_now() -> None:
    t = 1_780_000_000_000
    table = to_event_table(1, [events_at([t, t + 1, t + 2])])
    due, later = split_due(table, t + 1)
    assert due.column("ts").to_pylist() == [t, t + 1]
    assert later.column("ts").to_pylist() == [t + 2]


def test_held_events_reach_the_store_when_due(store: EmbeddedStore, tmp_path: Path) -> None:
    now_ms = int(time.time() * 1000)
    writer = BatchingWriter(store, tmp_path, max_delay_s=0.1)
    config = SimulationConfig(
        start=datetime.now(UTC) - timedelta(hours=1), end=datetime.now(UTC), customer_ids=(1001,), views_per_day=10
    )
    live = LiveTraffic(writer, config)
    live.hold(to_event_table(1, [events_at([now_ms - 1_000, now_ms + 2_500, now_ms + 3_600_000])]))

    def stored() -> list[int]:
        table = store.query(
            by_hand("SELECT toUnixTimestamp64Milli(ts) AS t FROM events WHERE customer_id = 1 ORDER BY t")
        )
        return [int(t) for t in table.column("t").to_pylist()]

    live.start()
    deadline = time.monotonic() + 30  # generous: the machine may be loaded
    seen: list[int] = []
    while time.monotonic() < deadline and len(seen) < 2:
        seen = stored()
        if now_ms + 2_500 in seen:  # released no earlier than its time
            assert time.time() * 1000 >= now_ms + 2_500
        time.sleep(0.1)
    live.stop()
    writer.close()
    assert stored() == [now_ms - 1_000, now_ms + 2_500]  # the event an hour ahead is still held


def test_a_window_without_views_simulates_nothing() -> None:
    start = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
    config = SimulationConfig(start=start, end=start + timedelta(minutes=1), customer_ids=(1001,), views_per_day=1)
    chunks = list(simulate(config))
    assert sum(chunk.events.num_rows for chunk in chunks) == 0
