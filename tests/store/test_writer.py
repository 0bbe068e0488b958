"""The batching writer on a real chDB: batches coalesce, futures resolve once rows are stored, bounds hold."""

from __future__ import annotations

import threading
import uuid

import pyarrow as pa
import pytest

from sightline.ingest.native import BeaconBatch, to_event_table
from sightline.store import EmbeddedStore
from sightline.store.writer import BatchingWriter, WriterClosedError, WriterOverloadedError

START_MS = 1_780_000_000_000


def view_batch(i: int, events: int = 3) -> pa.Table:
    view_id = uuid.UUID(int=((START_MS + i) << 80) | (0x7 << 76) | (0b10 << 62) | i)
    rows = [{"event": "heartbeat", "ts": START_MS + i + k, "seq": k, "play_ms": 1000} for k in range(events)]
    return to_event_table(7, [BeaconBatch.model_validate({"view_id": str(view_id), "events": rows})])


def stored_events(store: EmbeddedStore) -> int:
    return int(store.query("SELECT count() AS n FROM events").column("n")[0].as_py())


def test_submitted_rows_are_stored_when_the_future_resolves(store: EmbeddedStore) -> None:
    writer = BatchingWriter(store, max_rows=10_000, max_delay_s=0.2)
    futures = [writer.submit(view_batch(i)) for i in range(20)]
    for future in futures:
        future.result(timeout=30)
    assert stored_events(store) == 60
    writer.close()


def test_concurrent_submitters_lose_nothing(store: EmbeddedStore) -> None:
    writer = BatchingWriter(store, max_rows=50, max_delay_s=0.05)

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


def test_pending_rows_are_bounded(store: EmbeddedStore) -> None:
    writer = BatchingWriter(store, max_rows=10**9, max_delay_s=60, max_pending_rows=5)
    first = writer.submit(view_batch(0, events=4))
    with pytest.raises(WriterOverloadedError):
        writer.submit(view_batch(1, events=4))
    writer.close()  # close flushes what was accepted
    first.result(timeout=30)
    assert stored_events(store) == 4
    with pytest.raises(WriterClosedError):
        writer.submit(view_batch(2))


def test_a_failed_insert_fails_every_future_of_its_batch(store: EmbeddedStore) -> None:
    writer = BatchingWriter(store, max_rows=10**9, max_delay_s=0.2)
    good = view_batch(0)
    bad = good.set_column(good.column_names.index("event"), "event", pa.array(["nosuchevent"] * 3))
    futures = [writer.submit(good), writer.submit(bad)]
    for future in futures:
        with pytest.raises(Exception, match=r"nosuchevent|Unknown element"):
            future.result(timeout=30)
    writer.close()
