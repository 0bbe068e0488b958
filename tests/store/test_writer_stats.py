"""What the writer and its spool tell an operator (`BatchingWriter.stats`, `spool.depth`), on a real chDB."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa

from sightline.store import EmbeddedStore, spool
from sightline.store.quarantine import DIRECTORY as QUARANTINE
from sightline.store.writer import BatchingWriter
from tests.store.test_writer import view_batch


def test_the_spool_depth_counts_the_segments_not_yet_stored_and_the_age_of_the_oldest(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    assert spool.depth(tmp_path) == spool.Depth(0, 0, None)
    writer = BatchingWriter(store, tmp_path, max_rows=10_000, max_delay_s=60)  # holds the segment open
    before = time.time()
    writer.write(view_batch(0))
    writer.write(view_batch(1))
    depth = spool.depth(tmp_path)
    assert depth.segments == 1
    assert depth.bytes == sum(path.stat().st_size for path in spool.segments(tmp_path)) > 0
    assert depth.oldest_opened_s is not None
    assert before - 1 <= depth.oldest_opened_s <= time.time()
    assert writer.stats().pending_rows == 6
    writer.flush()
    assert spool.depth(tmp_path) == spool.Depth(0, 0, None)
    stats = writer.stats()
    assert (stats.inserts, stats.stored_rows, stats.pending_rows, stats.insert_failures) == (1, 6, 0, 0)
    assert stats.insert_seconds > 0
    writer.close()


def test_refused_inserts_and_quarantined_units_are_counted(store: EmbeddedStore, tmp_path: Path) -> None:
    writer = BatchingWriter(store, tmp_path, max_rows=1, max_delay_s=0.01, retry_delays_s=(0.01, 0.01))
    good = view_batch(0)
    bad = good.set_column(good.column_names.index("event"), "event", pa.array(["nosuchevent"] * 3))
    writer.write(bad)  # the store refuses it; it is quarantined once the store has taken others in between
    views, deadline = 1, time.monotonic() + 30
    while not spool.segments(tmp_path / QUARANTINE) and time.monotonic() < deadline:
        writer.write(view_batch(views))
        views += 1
        while writer.pending_rows > 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    writer.flush()
    stats = writer.stats()
    assert (stats.quarantined_units, stats.quarantined_rows) == (1, 3)
    assert stats.insert_failures >= 3
    assert stats.stored_rows == 3 * (views - 1)
    assert stats.pending_rows == 0
    writer.close()
