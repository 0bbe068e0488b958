"""The writer's fault isolation on a real chDB: a unit the store refuses on its own is held and quarantined
alone, with the engine's error; everything else of its segment is stored at once, exactly once — when the
refused insert had partly landed, when the engine refuses everything for a while, and when the process is
killed in the middle of a division."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sightline.settings import Settings
from sightline.store import EmbeddedStore, Store, StoreError, open_store, quarantine, spool, units
from sightline.store.layout import ViewEvents
from sightline.store.spool import Batch
from sightline.store.writer import BatchingWriter
from tests.handwritten import by_hand

DAY_MS = 86_400_000
NOW_MS = 1_780_000_000_000
RETRY_S = (0.05,)
SEAL_S = 0.3
"""The writers' `max_delay_s`."""


def view_id(start_ms: int, n: int) -> bytes:
    return uuid.UUID(int=(start_ms << 80) | (0x7 << 76) | (0b10 << 62) | n).bytes


def run(customer: int, n: int, *, ts: list[int] | None = None, start_ms: int = NOW_MS, asset: str = "") -> Batch:
    """One view's heartbeats (at `ts`, default three within a second of its start) as the collector spools them."""
    times = ts or [start_ms + k for k in range(3)]
    events = [{"event": "heartbeat", "ts": t, "seq": k, "play_ms": 1000} for k, t in enumerate(times)]
    return [ViewEvents(customer, view_id(start_ms, customer * 1_000_000 + n), {"assetid": asset}, events)]


def months_apart(customer: int, n: int) -> Batch:
    """The issue's batch: 1,000 heartbeats of one view on the 15th of each month from January 2000."""
    times = [int(datetime(2000 + k // 12, k % 12 + 1, 15, tzinfo=UTC).timestamp() * 1000) for k in range(1000)]
    return run(customer, n, ts=times)


def counts(store: Store) -> dict[int, tuple[int, int, int]]:
    """Per customer: events, views, and play_ms summed in the hourly rollup."""
    events = store.query(by_hand("SELECT customer_id AS c, count() AS n FROM events GROUP BY c")).to_pylist()
    views = store.query(by_hand("SELECT customer_id AS c, uniqExact(view_id) AS n FROM views GROUP BY c")).to_pylist()
    play = store.query(by_hand("SELECT customer_id AS c, sum(play_ms) AS p FROM rollup_1h GROUP BY c")).to_pylist()
    by: dict[int, list[int]] = {}
    for index, rows in enumerate((events, views, play)):
        for row in rows:
            by.setdefault(row["c"], [0, 0, 0])[index] = int(row.get("n", row.get("p")))
    return {customer: (e, v, p) for customer, (e, v, p) in by.items()}


def one_segment(writer: BatchingWriter, batches: list[Batch]) -> None:
    """Submit `batches` so that they share one spool segment, and wait until it is sealed (`SEAL_S`)."""
    futures = [writer.submit(batch) for batch in batches]
    for future in futures:
        future.result(timeout=10)
    time.sleep(SEAL_S + 0.2)


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def keep_traffic_until(writer: BatchingWriter, done: Callable[[], bool], customer: int = 9) -> int:
    """Other inserts the store accepts, one at a time, until `done` (a poison unit fails between them); how many."""
    n = 0
    deadline = time.monotonic() + 60
    while not done():
        assert time.monotonic() < deadline, "timed out"
        before = writer.pending_rows
        writer.write(run(customer, n))
        n += 1
        wait_for(lambda before=before: writer.pending_rows <= before)  # type: ignore[misc]
    return n


def test_a_poison_batch_is_quarantined_alone_and_the_rest_of_its_segment_is_stored_at_once(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    writer = BatchingWriter(store, tmp_path, max_delay_s=SEAL_S, retry_delays_s=RETRY_S)
    one_segment(writer, [run(2, 0), months_apart(1, 0), run(1, 1), run(3, 0)])
    stored = {1: (3, 1, 3000), 2: (3, 1, 3000), 3: (3, 1, 3000)}  # customer 1's good batch too
    wait_for(lambda: counts(store) == stored, seconds=5)  # no retry delay: the first pass stores them
    writer.flush()  # no attempt of it: a batch whose times fall in 1,000 months is refused whatever happens
    writer.close()
    [unit] = quarantine.entries(tmp_path)
    assert (unit.customers, unit.rows) == ((1,), 1000)
    assert unit.token.endswith(".c1.b0-1")  # the first of customer 1's two batches
    assert unit.reason.startswith("Too many partitions: its rows fall in 1000 of one table")
    assert counts(store) == stored
    assert spool.segments(tmp_path) == []
    assert list(tmp_path.glob(f"*{spool.JOURNAL_SUFFIX}")) == []


def test_a_customer_whose_views_span_more_days_than_one_insert_takes_is_stored_in_halves(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    """An insert of 101 views, each starting on another day, would land in `events` and then be refused by
    `views` (partitioned by day): the writer divides such a unit before inserting it."""
    writer = BatchingWriter(store, tmp_path, max_delay_s=SEAL_S, retry_delays_s=RETRY_S)
    one_segment(writer, [run(1, n, start_ms=NOW_MS - n * DAY_MS) for n in range(101)] + [run(2, 0)])
    writer.flush()
    writer.close()
    assert counts(store) == {1: (303, 101, 303_000), 2: (3, 1, 3000)}
    assert quarantine.entries(tmp_path) == []


POISONED_VIEW = (
    "CREATE MATERIALIZED VIEW poisoned_mv TO poisoned_sink AS "
    "SELECT throwIf(assetid = 'poison', 'a materialized view refuses this block') AS x FROM events"
)


@pytest.fixture
def poisoned_view(store: EmbeddedStore) -> EmbeddedStore:
    """A materialized view that refuses every block holding an event of asset `poison`: an insert of such a block
    fails, after `events` stored it or before (it depends on the engine's threads)."""
    store.execute(by_hand("CREATE TABLE poisoned_sink (x UInt8) ENGINE = Null"))
    store.execute(by_hand(POISONED_VIEW))
    return store


def stored_events(store: EmbeddedStore, customer: int) -> int:
    return int(
        store.query(by_hand(f"SELECT count() AS n FROM events WHERE customer_id = {customer}")).column("n")[0].as_py()
    )


def test_a_failed_insert_leaves_rows_in_a_materialized_view_only_when_events_holds_them(
    poisoned_view: EmbeddedStore,
) -> None:
    """What the writer relies on to divide a refused unit (`Store.count_stored`): the engine feeds the views of
    a block only once `events` has stored it, so when `events` holds none of a failed insert, no table does."""
    store, landed = poisoned_view, 0
    for n in range(30):
        batch = units.segment_table([run(100 + n, 0, asset="poison"), run(200 + n, 0)])
        with pytest.raises(StoreError, match="refuses this block"):
            store.insert_events(batch, dedup_token=f"trial-{n}")
        in_events = stored_events(store, 200 + n)
        landed += in_events > 0
        if in_events == 0:
            assert {c: v for c, v in counts(store).items() if c in (100 + n, 200 + n)} == {}
    assert landed > 0  # both outcomes happen: the test above is not vacuous


def leave_partly_landed_segment(store: EmbeddedStore, spool_dir: Path) -> Path:
    """A segment of customer 1's poison batch and customer 2's good one, as a crash leaves it after an insert of
    it failed having stored its rows in `events` (and some views, or none; tried under its token until then)."""
    segment = spool.SegmentFile(spool_dir)
    segment.append([spool.encode(run(1, 0, asset="poison")), spool.encode(run(2, 0))], 6)
    segment.close()
    table = units.segment_table(spool.read_segment(segment.path))
    while stored_events(store, 2) == 0:
        with pytest.raises(StoreError):
            store.insert_events(table, dedup_token=segment.path.stem)
    assert {c: e for c, (e, _, _) in counts(store).items()} == {1: 3, 2: 3}  # and maybe some views' rows
    return segment.path


def test_an_insert_that_partly_landed_is_completed_under_its_own_token_never_divided(
    poisoned_view: EmbeddedStore, tmp_path: Path
) -> None:
    store = poisoned_view
    segment = leave_partly_landed_segment(store, tmp_path)
    writer = BatchingWriter(store, tmp_path, max_delay_s=SEAL_S, retry_delays_s=RETRY_S)
    time.sleep(0.3)  # a few more attempts fail
    assert writer.pending_rows == 6
    assert spool.Journal.of(segment).split == set()
    store.execute(by_hand("DROP VIEW poisoned_mv"))  # the fault goes away
    writer.flush()
    writer.close()
    assert counts(store) == {1: (3, 1, 3000), 2: (3, 1, 3000)}  # once in every table
    assert quarantine.entries(tmp_path) == []


def test_a_poison_unit_that_partly_landed_is_quarantined_whole_and_its_replay_completes_it_once(
    poisoned_view: EmbeddedStore, tmp_path: Path
) -> None:
    """Dividing a unit that partly landed would store its rows twice in `events`: it is held and quarantined
    whole, customers together (the one case where another customer's rows wait with a poison batch; our own
    materialized views never refuse a block on its data, only a broken one does). Its replay, once the fault is
    fixed, stores what each table lacks."""
    store = poisoned_view
    leave_partly_landed_segment(store, tmp_path)
    writer = BatchingWriter(store, tmp_path, max_delay_s=SEAL_S, retry_delays_s=RETRY_S)
    keep_traffic_until(writer, lambda: bool(quarantine.entries(tmp_path)))
    writer.close()
    [unit] = quarantine.entries(tmp_path)
    assert (unit.customers, unit.rows) == ((1, 2), 6)
    assert "a materialized view refuses this block" in unit.reason
    assert "." not in unit.token  # the segment's own token
    store.execute(by_hand("DROP VIEW poisoned_mv"))
    [(_, refusal)] = quarantine.replay(store, tmp_path)
    assert refusal is None
    assert {c: v for c, v in counts(store).items() if c != 9} == {1: (3, 1, 3000), 2: (3, 1, 3000)}
    assert quarantine.entries(tmp_path) == []


@pytest.mark.parametrize(
    ("refuse", "restore"),
    [
        (
            "ALTER TABLE events MODIFY SETTING parts_to_throw_insert = 1",
            "ALTER TABLE events RESET SETTING parts_to_throw_insert",
        ),
        ("DETACH TABLE events", "ATTACH TABLE events"),
    ],
    ids=["too-many-parts", "table-detached"],
)  # fmt: skip
def test_nothing_is_quarantined_while_the_engine_refuses_every_insert(
    store: EmbeddedStore, tmp_path: Path, refuse: str, restore: str
) -> None:
    writer = BatchingWriter(store, tmp_path, max_delay_s=SEAL_S, retry_delays_s=RETRY_S)
    writer.write(run(3, 0))
    writer.flush()  # a part in the month's partition
    store.execute(by_hand(refuse))
    for n in range(4):
        one_segment(writer, [run(1, n), run(2, n)])
    time.sleep(2.0)  # about 40 attempts of each held unit
    assert writer.pending_rows == 24
    assert quarantine.entries(tmp_path) == []
    store.execute(by_hand(restore))
    writer.flush()
    writer.close()
    assert counts(store) == {1: (12, 4, 12_000), 2: (12, 4, 12_000), 3: (3, 1, 3000)}
    assert quarantine.entries(tmp_path) == []


KILLED_MID_DIVISION = """
import os, pickle, signal, sys
from pathlib import Path
from sightline.settings import Settings
from sightline.store import open_store
from sightline.store.writer import BatchingWriter

data_dir, spool_dir, batches = Path(sys.argv[1]), Path(sys.argv[2]), pickle.loads(Path(sys.argv[3]).read_bytes())
store = open_store(Settings(data_dir=data_dir))
writer = BatchingWriter(store, spool_dir, max_delay_s=0.3, retry_delays_s=(60,))
def die_after_customer_2(table):
    if 2 in table.column("customer_id").to_pylist():
        os.kill(os.getpid(), signal.SIGKILL)  # its insert landed; the writer has not noted it
writer.add_insert_listener(die_after_customer_2)
for future in [writer.submit(batch) for batch in batches]:
    future.result()
signal.pause()
"""


def test_a_kill_in_the_middle_of_a_division_stores_each_unit_once_at_the_next_start(tmp_path: Path) -> None:
    data_dir, spool_dir = tmp_path / "data", tmp_path / "spool"
    batches = [run(2, 0), months_apart(1, 0), run(3, 0), run(2, 1)]
    (tmp_path / "batches.pickle").write_bytes(pickle.dumps(batches))
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_DIVISION, str(data_dir), str(spool_dir), str(tmp_path / "batches.pickle")],
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    [segment] = spool.segments(spool_dir)
    assert spool.Journal.of(segment).split == {segment.stem}  # divided by customer before the kill
    store = open_store(Settings(data_dir=data_dir))
    try:
        assert counts(store) == {2: (6, 2, 6000)}  # customer 2 landed, then the kill
        writer = BatchingWriter(store, spool_dir, max_delay_s=SEAL_S, retry_delays_s=RETRY_S)
        assert writer.replayed_rows == 9  # customer 2 again (recognised by its token) and customer 3
        keep_traffic_until(writer, lambda: bool(quarantine.entries(spool_dir)))
        writer.close()
        assert {c: v for c, v in counts(store).items() if c != 9} == {2: (6, 2, 6000), 3: (3, 1, 3000)}
        assert [(u.customers, u.rows) for u in quarantine.entries(spool_dir)] == [((1,), 1000)]
        assert spool.segments(spool_dir) == []
    finally:
        store.close()


def test_quarantined_units_say_why_and_stay_until_the_store_takes_them(store: EmbeddedStore, tmp_path: Path) -> None:
    writer = BatchingWriter(store, tmp_path, max_delay_s=SEAL_S, retry_delays_s=RETRY_S)
    one_segment(writer, [months_apart(1, 0), run(2, 0)])
    keep_traffic_until(writer, lambda: bool(quarantine.entries(tmp_path)))
    writer.close()
    [unit] = quarantine.entries(tmp_path)
    about = json.loads((tmp_path / quarantine.DIRECTORY / f"{unit.name}.json").read_text())
    assert (about["token"], about["customers"], about["rows"]) == (unit.token, [1], 1000)
    [(_, refusal)] = quarantine.replay(store, tmp_path)  # the store still refuses it
    assert "Too many partitions" in (refusal or "")
    assert quarantine.entries(tmp_path) == [unit]
    with pytest.raises(ValueError, match="no quarantined unit named nosuch"):
        quarantine.replay(store, tmp_path, ["nosuch"])
