"""Live simulated traffic: events are released to the writer when their time comes.

`LiveTraffic` holds events whose time is still in the future (the tail of the seeded views, and views
it simulates a minute ahead) and, every second, hands those that have come due to the writer. The
store thus only ever holds events up to now, as it would from real players.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from sightline.simulate.traffic import SimulationConfig, simulate
from sightline.store.writer import BatchingWriter, WriterOverloadedError

WINDOW = timedelta(minutes=1)
log = logging.getLogger(__name__)


def _log_failure(future: Future[None]) -> None:
    if (error := future.exception()) is not None:
        log.error("live traffic: a batch was not written: %s", error)


def split_due(events: pa.Table, now_ms: int) -> tuple[pa.Table, pa.Table]:
    """(events at or before `now_ms`, events after it)."""
    due = pc.less_equal(events.column("ts"), pa.scalar(now_ms, pa.int64()))
    return events.filter(due), events.filter(pc.invert(due))


class LiveTraffic:
    """Simulates `config`'s customers from `config.end` on, a minute ahead, at `config`'s rate."""

    def __init__(self, writer: BatchingWriter, config: SimulationConfig) -> None:
        self._writer = writer
        self._config = replace(config, given_incidents=())
        self._next_window = config.end
        self._held: list[pa.Table] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sightline-live-traffic", daemon=True)

    def hold(self, events: pa.Table) -> None:
        """Keep `events` until their time comes (call before `start`)."""
        if events.num_rows:
            self._held.append(events)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _simulate_ahead(self, now: datetime) -> None:
        while self._next_window <= now + WINDOW:
            window = replace(self._config, start=self._next_window, end=self._next_window + WINDOW)
            chunks = simulate(window)
            self._held.extend(table for chunk in chunks for table in (chunk.events, chunk.later) if table.num_rows)
            self._next_window += WINDOW

    def _release(self, now_ms: int) -> None:
        due, later = [], []
        for table in self._held:
            now_due, not_yet = split_due(table, now_ms)
            due.extend([now_due] if now_due.num_rows else [])
            later.extend([not_yet] if not_yet.num_rows else [])
        for table in due:
            try:
                self._writer.submit(table).add_done_callback(_log_failure)
            except WriterOverloadedError:
                later.append(table)  # retried on the next tick
        self._held = later

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            now = datetime.now(UTC)
            self._simulate_ahead(now)
            self._release(int(time.time() * 1000))
