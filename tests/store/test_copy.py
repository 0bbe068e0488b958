"""`sightline copy`: a data directory's events into a server store, views and rollups built there as here, in
batches under tokens, so that a rerun changes nothing."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from sightline.cli import main
from sightline.settings import Settings
from sightline.store import Store, open_store
from sightline.store.copy import copy_events
from tests.handwritten import by_hand
from tests.store.test_server import batch

DAY_MS, HOUR_MS = 86_400_000, 3_600_000


def per_customer(store: Store) -> list[dict[str, int]]:
    """Events, views and the hourly rollup's play time of each customer."""
    table = store.query(
        by_hand(
            "SELECT customer_id, (SELECT count() FROM events AS e WHERE e.customer_id = r.customer_id) AS events, "
            "(SELECT uniqExact(view_id) FROM views AS v WHERE v.customer_id = r.customer_id) AS views, "
            "sum(play_ms) AS play FROM rollup_1h AS r GROUP BY customer_id ORDER BY customer_id"
        )
    )
    return [{k: int(v) for k, v in row.items()} for row in table.to_pylist()]


def shifted(table: pa.Table, ms: int) -> pa.Table:
    """`table` with its events `ms` later (their views' ids as they were)."""
    ts = pa.array([t + ms for t in table.column("ts").to_pylist()], pa.int64())
    return table.set_column(table.schema.get_field_index("ts"), "ts", ts)


def test_a_copy_moves_every_event_and_a_rerun_changes_nothing(
    tmp_path: Path, server_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = open_store(Settings(data_dir=tmp_path / "data"))
    source.insert_events(batch(7, 20))
    source.insert_events(shifted(batch(7, 3), DAY_MS))
    source.insert_events(batch(9, 4))
    expected = per_customer(source)
    assert [row["events"] for row in expected] == [69, 12]
    source.close()
    main(["copy", "--from", f"chdb://{tmp_path / 'data'}", "--to", server_url])
    copied = capsys.readouterr().out.splitlines()[-1]
    assert copied.startswith("copied 81 events to clickhouse://")
    assert copied.endswith("; 0 were there already")
    main(["copy", "--from", f"chdb://{tmp_path / 'data'}", "--to", server_url])
    copied = capsys.readouterr().out.splitlines()[-1]
    assert copied.startswith("copied 0 events to clickhouse://")
    assert copied.endswith("; 81 were there already")
    destination = open_store(Settings(store_url=server_url))
    try:
        assert per_customer(destination) == expected
    finally:
        destination.close()


def test_a_day_is_copied_in_slices_and_a_replayed_slice_lands_once(tmp_path: Path, server_url: str) -> None:
    source = open_store(Settings(data_dir=tmp_path / "data"))
    destination = open_store(Settings(store_url=server_url))
    try:
        for hour in range(4):  # 20:26, 21:26, 22:26 and 23:26 UTC
            source.insert_events(shifted(batch(7, 5), hour * HOUR_MS))
        done: list[int] = []
        copied = copy_events(source, destination, batch_rows=7, progress=done.append)
        assert (copied.inserted, copied.present) == (60, 0)
        assert done == [15, 45]  # 9 slices of 2 h 40 min: 18:40 to 21:20 and 21:20 to 24:00 hold events
        assert per_customer(destination) == per_customer(source)
    finally:
        source.close()
        destination.close()
