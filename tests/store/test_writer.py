"""The spooling writer on a real chDB: futures resolve once durable, everything acknowledged reaches the store
exactly once — across crashes, torn writes, replays of segments already inserted — and bounds hold."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from sightline.ingest.native import BATCH, to_event_table
from sightline.store import EmbeddedStore, spool
from sightline.store.layout import ViewEvents
from sightline.store.quarantine import DIRECTORY as QUARANTINE
from sightline.store.units import segment_table
from sightline.store.writer import BatchingWriter, WriterClosedError, WriterOverloadedError
from tests.handwritten import by_hand

START_MS = 1_780_000_000_000


def view_batch(i: int, events: int = 3) -> pa.Table:
    view_id = uuid.UUID(int=((START_MS + i) << 80) | (0x7 << 76) | (0b10 << 62) | i)
    rows = [{"event": "heartbeat", "ts": START_MS + i + k, "seq": k, "play_ms": 1000} for k in range(events)]
    return to_event_table(7, [BATCH.validate_python({"view_id": str(view_id), "events": rows})])


def stored_events(store: EmbeddedStore) -> int:
    return int(store.query(by_hand("SELECT count() AS n FROM events")).column("n")[0].as_py())


def rollup_play_ms(store: EmbeddedStore) -> int:
    table = store.query(by_hand("SELECT sum(play_ms) AS p FROM rollup_1h"))
    return int(table.column("p")[0].as_py() or 0)


def test_futures_resolve_once_durable_and_flush_makes_rows_visible(store: EmbeddedStore, tmp_path: Path) -> None:
    writer = BatchingWriter(store, tmp_path, max_rows=10_000, max_delay_s=60)
    futures = [writer.submit(view_batch(i)) for i in range(20)]
    for future in futures:
        future.result(timeout=30)
    assert sum(len(spool.read_segment(p)) for p in spool.segments(tmp_path)) == 20  # on disk, not yet stored
    assert stored_events(store) == 0
    writer.flush()
    assert stored_events(store) == 60
    assert spool.segments(tmp_path) == []
    writer.close()


def test_concurrent_submitters_lose_nothing(store: EmbeddedStore, tmp_path: Path) -> None:
    writer = BatchingWriter(store, tmp_path, max_rows=50, max_delay_s=0.05)

    def submit_many(offset: int) -> None:
        for i in range(25):
            writer.write(view_batch(offset + i, events=2))

    threads = [threading.Thread(target=submit_many, args=(1000 * t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert stored_events(store) == 4 * 25 * 2
    assert writer.pending_rows == 0


def test_pending_rows_are_bounded(store: EmbeddedStore, tmp_path: Path) -> None:
    writer = BatchingWriter(store, tmp_path, max_rows=10**9, max_delay_s=60, max_pending_rows=5)
    writer.write(view_batch(0, events=4))
    with pytest.raises(WriterOverloadedError):
        writer.submit(view_batch(1, events=4))
    writer.close()  # close stores what was accepted
    assert stored_events(store) == 4
    with pytest.raises(WriterClosedError):
        writer.submit(view_batch(2))


def test_segments_left_by_a_crash_are_stored_at_the_next_start_and_a_torn_tail_is_ignored(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    older, newer = spool.SegmentFile(tmp_path), spool.SegmentFile(tmp_path)
    older.append([spool.encode(view_batch(0)), spool.encode(view_batch(1))], 6)
    newer.append([spool.encode(view_batch(2))], 3)
    older.close()
    newer.close()
    torn = spool.encode(view_batch(3))
    with newer.path.open("ab") as file:  # a crash in the middle of an append that was never acknowledged
        file.write(torn[: len(torn) // 2])
    writer = BatchingWriter(store, tmp_path)
    assert writer.replayed_rows == 9
    assert stored_events(store) == 9
    assert spool.segments(tmp_path) == []
    writer.close()


def test_a_segment_replayed_after_its_insert_landed_is_stored_once_rollups_included(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    segment = spool.SegmentFile(tmp_path)
    segment.append([spool.encode(view_batch(i)) for i in range(5)], 15)
    segment.close()
    # the crash came after the insert and before the segment's deletion
    store.insert_events(segment_table(spool.read_segment(segment.path)), dedup_token=segment.path.stem)
    play_ms = rollup_play_ms(store)
    assert play_ms == 15 * 1000
    BatchingWriter(store, tmp_path).close()
    assert stored_events(store) == 15
    assert rollup_play_ms(store) == play_ms
    assert store.query(by_hand("SELECT count() AS n FROM views FINAL")).column("n")[0].as_py() == 5


def test_a_segment_the_store_refuses_is_quarantined_and_later_ones_are_stored(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    writer = BatchingWriter(store, tmp_path, max_rows=1, max_delay_s=0.01, retry_delays_s=(0.01, 0.01))
    good = view_batch(0)
    bad = good.set_column(good.column_names.index("event"), "event", pa.array(["nosuchevent"] * 3))
    writer.write(bad)  # durable: the spool does not validate, the store refuses it
    views, deadline = 1, time.monotonic() + 30
    while not spool.segments(tmp_path / QUARANTINE) and time.monotonic() < deadline:  # traffic goes on: the
        writer.write(view_batch(views))  # store accepts other inserts between the bad segment's failures
        views += 1
        while writer.pending_rows > 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    writer.flush()
    assert stored_events(store) == 3 * (views - 1)
    quarantined = spool.segments(tmp_path / QUARANTINE)
    assert [segment_table([b]).num_rows for p in quarantined for b in spool.read_segment(p)] == [3]
    writer.close()


def unconvertible_run(i: int) -> list[ViewEvents]:
    """View runs the spool takes (a pickle) but the layout cannot hold: a lone surrogate is no UTF-8."""
    view_id = uuid.UUID(int=((START_MS + i) << 80) | (0x7 << 76) | (0b10 << 62) | i).bytes
    return [ViewEvents(7, view_id, {"cdn": "\ud800"}, [{"event": "heartbeat", "ts": START_MS + i, "seq": 0}])]


def test_a_segment_that_does_not_convert_is_quarantined_and_later_ones_are_stored(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    writer = BatchingWriter(store, tmp_path, max_rows=1, max_delay_s=0.01, retry_delays_s=(0.01,))
    before = stored_events(store)
    writer.write(unconvertible_run(0))
    writer.write(view_batch(1))
    writer.flush(timeout_s=10)
    writer.close()
    assert stored_events(store) == before + 3
    assert [len(spool.read_segment(p)) for p in spool.segments(tmp_path / QUARANTINE)] == [1]


def test_a_left_segment_that_does_not_convert_is_quarantined_at_start(store: EmbeddedStore, tmp_path: Path) -> None:
    segment = spool.SegmentFile(tmp_path)
    segment.append([spool.encode(unconvertible_run(0))], 1)
    segment.close()
    BatchingWriter(store, tmp_path).close()
    assert spool.segments(tmp_path) == []
    assert [p.name for p in spool.segments(tmp_path / QUARANTINE)] == [segment.path.name]


def test_the_batches_of_a_segment_that_convert_are_stored_beside_one_that_does_not(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    writer = BatchingWriter(store, tmp_path, max_delay_s=60)
    before = stored_events(store)
    writer.write(view_batch(0))
    writer.write(unconvertible_run(1))
    writer.write(view_batch(2))
    writer.flush(timeout_s=10)
    writer.close()
    assert stored_events(store) == before + 6
    quarantined = [batch for p in spool.segments(tmp_path / QUARANTINE) for batch in spool.read_segment(p)]
    assert len(quarantined) == 1
    assert not isinstance(quarantined[0], pa.Table)


def test_a_listener_hears_each_inserted_batch(store: EmbeddedStore, tmp_path: Path) -> None:
    heard: list[int] = []
    writer = BatchingWriter(store, tmp_path, max_delay_s=0.01)
    writer.add_insert_listener(lambda table: heard.append(table.num_rows))
    writer.write(view_batch(0))
    writer.flush()
    writer.close()
    assert heard == [3]
