"""The batching writer: every streaming insert of events goes through it, by way of a durable spool.

Callers `submit` Arrow batches in the layout of `store.layout`, or the collector's view runs
(`layout.ViewEvents`, converted to the layout when their segment is inserted, which is far cheaper than
per request), and get a future that completes once
the batch is in the spool (written and fsync'd; one fsync serves every batch waiting for it), or
fails with the disk's error. An appender thread writes batches to the open spool segment and seals it
after `max_rows` rows or `max_delay_s`; an inserter thread inserts each sealed segment into the store
as one insert whose deduplication token is the segment's name, then deletes the segment. An insert
that fails is retried; a segment the store still refuses after `retry_delays_s`, and any batch of a
segment that does not convert to the layout, is moved to `<spool>/quarantine/` with an error in the log
(kept, never dropped: an operator moves it back into the spool to replay it), so one bad batch cannot stop
ingestion nor the next start, nor keep the rest of its segment out of the store. Segments left by a crash are inserted
when the next writer starts; one whose insert had landed before the crash is recognised by its token.
Rows submitted but not yet inserted are bounded by `max_pending_rows`: `submit` raises
`WriterOverloadedError` beyond it, so memory never grows without bound and callers can answer 503.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from sightline.settings import Settings
from sightline.store import spool
from sightline.store.base import Store
from sightline.store.layout import conform, view_events_table, with_added_dimensions
from sightline.store.spool import Batch

logger = logging.getLogger(__name__)
RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0)
"""Waits between attempts to insert a segment; when they are used up the segment is quarantined."""
QUARANTINE = "quarantine"

InsertListener = Callable[[pa.Table], None]


def segment_table(batches: list[Batch]) -> pa.Table:
    """A segment's batches as the one insert of it: its Arrow batches (conformed to the layout; older
    segments may lack dimensions added since) and its view runs, as a single chunk, so that the
    materialized views see a few large blocks rather than one per batch (measured: 50k rows as 1,000
    chunks 4-6 s, as one 0.9 s), and a replay inserts the same blocks, which its deduplication token needs."""
    tables = [conform(with_added_dimensions(b)) for b in batches if isinstance(b, pa.Table)]
    runs = [run for b in batches if not isinstance(b, pa.Table) for run in b]
    if runs:
        tables.append(view_events_table(runs))
    return pa.concat_tables(tables).combine_chunks()


def _rows(batch: Batch) -> int:
    return batch.num_rows if isinstance(batch, pa.Table) else sum(len(run.events) for run in batch)


class WriterOverloadedError(Exception):
    """More rows are pending than the writer accepts; retry later."""


class WriterClosedError(Exception):
    """The writer was closed; nothing more is accepted."""


@dataclass
class _Submitted:
    record: bytes
    batch: Batch
    rows: int
    future: Future[None]


@dataclass
class _Sealed:
    path: Path
    batches: list[Batch]
    rows: int


@dataclass
class _Open:
    segment: spool.SegmentFile
    batches: list[Batch] = field(default_factory=list)


class BatchingWriter:
    """One writer per store and spool directory. Thread-safe."""

    def __init__(
        self,
        store: Store,
        spool_dir: Path,
        *,
        max_rows: int = 100_000,
        max_delay_s: float = 1.0,
        max_pending_rows: int = 2_000_000,
        retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
    ) -> None:
        self._store = store
        self._dir = spool_dir
        self._max_rows = max_rows
        self._max_delay_s = max_delay_s
        self._max_pending_rows = max_pending_rows
        self._retry_delays_s = retry_delays_s
        self._listeners: list[InsertListener] = []
        self._condition = threading.Condition()
        self._submitted: list[_Submitted] = []
        self._sealed: list[_Sealed | None] = []  # None: the appender stopped, so does the inserter
        self._pending_rows = 0
        self._flush_requested = False
        self._closed = False
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.replayed_rows = self._replay()
        self._appender = threading.Thread(target=self._append_loop, name="sightline-spool", daemon=True)
        self._inserter = threading.Thread(target=self._insert_loop, name="sightline-writer", daemon=True)
        self._appender.start()
        self._inserter.start()

    @property
    def pending_rows(self) -> int:
        """Rows submitted and not yet in the store."""
        with self._condition:
            return self._pending_rows

    def add_insert_listener(self, listener: InsertListener) -> None:
        """Call `listener` with each batch of rows once it is in the store (from the inserter's thread)."""
        self._listeners.append(listener)

    def submit(self, batch: Batch) -> Future[None]:
        """Queue `batch`; the future completes when it is durable in the spool."""
        if isinstance(batch, pa.Table):
            batch = conform(batch)
        rows = _rows(batch)
        future: Future[None] = Future()
        record = spool.encode(batch)
        with self._condition:
            if self._closed:
                raise WriterClosedError("the writer is closed")
            if self._pending_rows and self._pending_rows + rows > self._max_pending_rows:
                raise WriterOverloadedError(f"{self._pending_rows} rows are waiting to be stored")
            self._submitted.append(_Submitted(record, batch, rows, future))
            self._pending_rows += rows
            self._condition.notify_all()
        return future

    def write(self, batch: Batch) -> None:
        """Submit `batch` and wait until it is durable."""
        self.submit(batch).result()

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until every row submitted before the call is in the store (or raise TimeoutError)."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            self._flush_requested = True
            self._condition.notify_all()
            while self._pending_rows:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self._pending_rows} rows are not stored yet")
                self._condition.wait(remaining)

    def close(self) -> None:
        """Seal and insert what is pending, then stop. Idempotent. A segment the store refuses even
        then stays in the spool and is inserted at the next start."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._appender.join()
        self._inserter.join()

    @classmethod
    def for_settings(cls, store: Store, settings: Settings) -> BatchingWriter:
        """The writer of the store of `settings`, spooling into `<data_dir>/spool`."""
        return cls(
            store,
            settings.data_dir / "spool",
            max_rows=settings.writer_max_rows,
            max_delay_s=settings.writer_max_delay_s,
        )

    def _replay(self) -> int:
        """Insert the segments a previous process left (each with its token, so twice is once)."""
        rows = 0
        for path in spool.segments(self._dir):
            batches = spool.read_segment(path)
            if batches:
                table = _converted(path, batches)
                if table is not None:
                    self._store.insert_events(table, dedup_token=path.stem)
                    rows += table.num_rows
            spool.delete(path)
        return rows

    def _append_loop(self) -> None:
        current: _Open | None = None
        while True:
            with self._condition:
                while not (self._submitted or self._closed or self._flush_requested or self._seal_due(current)):
                    self._condition.wait(self._until_seal(current))
                taken, self._submitted = self._submitted, []
                closing, flushing, self._flush_requested = self._closed, self._flush_requested, False
            if taken:
                current = self._append(current, taken)
            if current is not None and (closing or flushing or self._seal_due(current)):
                self._seal(current)
                current = None
            if closing:
                with self._condition:
                    self._sealed.append(None)
                    self._condition.notify_all()
                return

    def _append(self, current: _Open | None, taken: list[_Submitted]) -> _Open | None:
        """Write `taken` to the open segment (opening one if needed) and resolve their futures."""
        rows = sum(s.rows for s in taken)
        try:
            current = current or _Open(spool.SegmentFile(self._dir))
            current.segment.append([s.record for s in taken], rows)
        except OSError as error:
            with self._condition:
                self._pending_rows -= rows
                self._condition.notify_all()
            for submitted in taken:
                submitted.future.set_exception(error)
            if current is not None:  # what follows a failed write would be unreadable: seal before it
                self._seal(current)
            return None
        current.batches.extend(s.batch for s in taken)
        for submitted in taken:
            submitted.future.set_result(None)
        return current

    def _seal(self, current: _Open) -> None:
        current.segment.close()
        with self._condition:
            self._sealed.append(_Sealed(current.segment.path, current.batches, current.segment.rows))
            self._condition.notify_all()

    def _seal_due(self, current: _Open | None) -> bool:
        if current is None:
            return False
        age = time.monotonic() - current.segment.opened_at
        return current.segment.rows >= self._max_rows or age >= self._max_delay_s

    def _until_seal(self, current: _Open | None) -> float | None:
        if current is None:
            return None
        return max(0.0, self._max_delay_s - (time.monotonic() - current.segment.opened_at))

    def _insert_loop(self) -> None:
        while True:
            with self._condition:
                while not self._sealed:
                    self._condition.wait()
                sealed = self._sealed.pop(0)
            if sealed is None:
                return
            if sealed.batches and not self._insert(sealed):
                continue  # closing with a refusing store: the segment stays for the next start
            spool.delete(sealed.path)
            with self._condition:
                self._pending_rows -= sealed.rows
                self._condition.notify_all()

    def _insert(self, sealed: _Sealed) -> bool:
        """Insert a sealed segment, retrying; False when the writer closes first (the segment stays)."""
        table = _converted(sealed.path, sealed.batches)
        if table is None:
            return True  # nothing of it can be stored; its batches are in quarantine
        for attempt, delay in enumerate((*self._retry_delays_s, None)):
            try:
                self._store.insert_events(table, dedup_token=sealed.path.stem)
            except Exception:
                logger.exception("inserting spool segment %s failed (attempt %d)", sealed.path.name, attempt + 1)
                with self._condition:
                    if self._closed and attempt >= 2:
                        return False
                if delay is not None:
                    time.sleep(delay)
                continue
            for listener in self._listeners:
                try:
                    listener(table)
                except Exception:
                    logger.exception("an insert listener failed")
            return True
        _quarantine(sealed.path)
        return True


def _converted(path: Path, batches: list[Batch]) -> pa.Table | None:
    """The insert of a segment. A batch that does not convert to the layout (retrying cannot help, and an
    exception would stop the inserter, or the start, for every customer) is left out and written to
    `<spool>/quarantine/<segment>.bad.spool`, so the others of the segment are still stored; None when none
    converts. Deterministic, so a replay of the segment inserts the same rows under the same token."""
    try:
        return segment_table(batches)
    except Exception:
        logger.exception("spool segment %s does not convert to the layout: converting it batch by batch", path.name)
    good: list[Batch] = []
    bad: list[Batch] = []
    for batch in batches:
        try:
            segment_table([batch])
        except Exception:
            bad.append(batch)
        else:
            good.append(batch)
    quarantine = path.parent / QUARANTINE
    quarantine.mkdir(exist_ok=True)
    with (quarantine / f"{path.stem}.bad{spool.SUFFIX}").open("wb") as file:
        file.write(b"".join(spool.encode(batch) for batch in bad))
        os.fsync(file.fileno())
    logger.error("%d batches of spool segment %s quarantined: they cannot be stored", len(bad), path.name)
    return segment_table(good) if good else None


def _quarantine(path: Path) -> None:
    quarantine = path.parent / QUARANTINE
    quarantine.mkdir(exist_ok=True)
    path.rename(quarantine / path.name)
    logger.error("spool segment %s quarantined in %s: it cannot be stored", path.name, quarantine)
