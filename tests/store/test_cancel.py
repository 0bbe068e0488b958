"""Tagged queries on a real chDB: a long running query and a query waiting for a session are cancelled by
their tag; the store answers normally afterwards. Inserts tell the listeners what they stored."""

from __future__ import annotations

import threading
import time
import uuid

import pyarrow as pa
import pytest

from sightline.ingest.native import BATCH, to_event_table
from sightline.store import DataArrival, QueryCancelledError, Store
from sightline.store.layout import arrivals_of
from tests.handwritten import by_hand
from tests.store.conftest import OpenStore

LONG_QUERY = "SELECT count() AS n FROM numbers(100000000000) WHERE sipHash64(number) % 7 = 3 SETTINGS max_threads = 1"
"""Minutes of work on one core: it ends only when cancelled (or at the store's time limit)."""


@pytest.fixture
def one_session_store(open_backend: OpenStore) -> Store:
    return open_backend(query_sessions=1, query_time_limit_s=120)


class Running:
    """A query on a thread of its own; `error` is what it raised, `seconds` how long it took."""

    def __init__(self, store: Store, sql: str, tag: str) -> None:
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.thread = threading.Thread(target=self._run, args=(store, sql, tag))
        self.thread.start()

    def _run(self, store: Store, sql: str, tag: str) -> None:
        began = time.perf_counter()
        try:
            store.query(by_hand(sql), tag=tag)
        except BaseException as error:
            self.error = error
        self.seconds = time.perf_counter() - began

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the query did not end"


def test_a_running_query_is_cancelled_by_its_tag(one_session_store: Store) -> None:
    running = Running(one_session_store, LONG_QUERY, "q-long")
    time.sleep(1.0)  # it runs in the engine by now
    began = time.perf_counter()
    assert one_session_store.cancel("q-long")
    running.join(timeout=20)
    assert isinstance(running.error, QueryCancelledError)
    assert time.perf_counter() - began < 10
    assert one_session_store.query(by_hand("SELECT 42 AS x")).column("x").to_pylist() == [42]  # the session works again
    assert not one_session_store.cancel("q-long")  # ended: nothing to cancel


def test_a_query_waiting_for_a_session_is_cancelled_before_it_runs(one_session_store: Store) -> None:
    holder = Running(one_session_store, LONG_QUERY, "q-holder")
    time.sleep(0.5)
    waiting = Running(one_session_store, "SELECT 1 AS x", "q-waiting")
    time.sleep(0.3)
    assert one_session_store.cancel("q-waiting")
    waiting.join(timeout=5)  # while the holder still runs
    assert isinstance(waiting.error, QueryCancelledError)
    assert holder.thread.is_alive()
    assert one_session_store.cancel("q-holder")
    holder.join(timeout=20)


def test_tags_are_checked(store: Store) -> None:
    assert not store.cancel("never-seen")
    with pytest.raises(ValueError, match="not a query tag"):
        store.query(by_hand("SELECT 1"), tag="x'; KILL")
    assert store.query(by_hand("SELECT 7 AS x"), tag="q-1").column("x").to_pylist() == [7]


def _batch(customer_id: int, start_ms: int, offsets_ms: list[int]) -> pa.Table:
    view_id = uuid.UUID(int=(start_ms << 80) | (0x7 << 76) | (0b10 << 62) | customer_id)
    rows = [{"event": "heartbeat", "ts": start_ms + o, "seq": k, "play_ms": 1000} for k, o in enumerate(offsets_ms)]
    return to_event_table(customer_id, [BATCH.validate_python({"view_id": str(view_id), "events": rows})])


def test_listeners_hear_each_customer_and_the_span_of_times_stored(store: Store) -> None:
    heard: list[tuple[DataArrival, ...]] = []
    store.add_insert_listener(heard.append)
    start = 1_780_000_000_000
    batch = pa.concat_tables([_batch(7, start, [5_000, 60_000]), _batch(9, start + 10, [-2_000, 1_000])])
    store.insert_events(batch)
    assert heard == [(DataArrival(7, start, start + 60_000), DataArrival(9, start + 10 - 2_000, start + 10 + 1_000))]
    assert arrivals_of(batch.slice(0, 0)) == ()
