"""The batching writer: every streaming insert of events goes through it, by way of a durable spool.

Callers `submit` Arrow batches in the layout of `store.layout`, or the collector's view runs
(`layout.ViewEvents`, converted to the layout when their segment is inserted, which is far cheaper than
per request), and get a future that completes once the batch is in the spool (written and fsync'd; one
fsync serves every batch waiting for it), or fails with the disk's error. An appender thread writes
batches to the open spool segment and seals it after `max_rows` rows or `max_delay_s`; an inserter thread
inserts each sealed segment as one insert whose deduplication token is the segment's name, then deletes it.

One customer's bad batch costs no other customer anything. A segment the store refuses is divided into
units (`store.units`: its customers, then halves of their batches), each inserted on its own under a token of its
own, so what can be stored is stored at once and only what the store refuses on its own is held back:
- a unit is divided only when nothing of it landed (`Store.count_stored`), and the division is recorded in
  the segment's journal (`spool.Journal`) before any part is inserted: no row is ever stored under two
  tokens, and a replay after a crash divides the same way. A unit that partly landed is completed under its
  own token only (the tables that hold it skip it);
- a segment of several customers is divided at its first refusal; a unit of one customer is divided when it
  fails again after the store accepted other inserts (so an engine refusing everything does not shatter
  segments into batches);
- a refused unit is held and tried again after `retry_delays_s` (the last delay repeats), or as soon as the
  store accepts another insert, between the segments behind it, which it never holds up. It is quarantined
  (`store.quarantine`, with the engine's error; an operator replays it) once it cannot be divided and has
  failed `POISON_FAILURES` times, each after the store accepted another insert: while the engine refuses
  everything nothing is quarantined. A unit that does not convert to the layout, or of one batch whose rows
  fall in more partitions than one insert may touch, is quarantined at once (retrying cannot help);
- a segment is deleted once each of its units is stored or quarantined; segments left by a crash are
  inserted when the next writer starts, as their journal says, before it takes new batches.
Rows submitted and not yet stored or quarantined are bounded by `max_pending_rows`: `submit` raises
`WriterOverloadedError` beyond it, so memory never grows without bound and callers can answer 503.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from sightline.settings import Settings
from sightline.store import quarantine, spool
from sightline.store.base import Store
from sightline.store.layout import conform
from sightline.store.spool import Batch
from sightline.store.units import MAX_PARTITIONS_PER_INSERT, Unit, batch_rows, fits_one_insert, partitions_per_insert

logger = logging.getLogger(__name__)
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 5.0)
"""Waits before each new attempt of a refused unit; the last one repeats. Any insert the store accepts makes
due at once every held unit not yet refused while the store accepted others: an engine that is back takes them
without waiting out their delays."""
POISON_FAILURES = 3
"""Failures of a unit that cannot be divided, each after the store accepted another insert, that make it
poison: it is quarantined."""

InsertListener = Callable[[pa.Table], None]


@dataclass(frozen=True, slots=True)
class WriterStats:
    """What the writer has done since it started (counters only grow), and what it holds now."""

    inserts: int
    insert_failures: int
    insert_seconds: float
    """Time spent in the store's inserts, accepted or refused."""
    stored_rows: int
    quarantined_units: int
    quarantined_rows: int
    pending_rows: int
    max_pending_rows: int


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


@dataclass
class _Open:
    segment: spool.SegmentFile
    batches: list[Batch] = field(default_factory=list)


@dataclass
class _Segment:
    """A sealed segment being stored: its batches, its journal, and how many of its units are not yet
    stored nor quarantined (it is deleted when none is left)."""

    path: Path
    batches: list[Batch]
    journal: spool.Journal
    open_units: int = 1


@dataclass
class _Held:
    """A unit the store refused, to be tried again at `due`; or, without `table`, to be quarantined again
    (the disk refused it)."""

    segment: _Segment
    unit: Unit
    table: pa.Table | None
    error: str
    inserts_seen: int
    """How many inserts the store had accepted when the unit last failed."""
    attempts: int = 1
    poison_failures: int = 0
    due: float = 0.0


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
        self._held: list[_Held] = []  # the inserter's own (and the constructor's, before it starts)
        self._inserts = 0
        self._stored_rows = 0
        self._insert_failures = 0
        self._insert_seconds = 0.0
        self._quarantined = (0, 0)  # units, rows
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.replayed_rows = self._replay()
        self._appender = threading.Thread(target=self._append_loop, name="sightline-spool", daemon=True)
        self._inserter = threading.Thread(target=self._insert_loop, name="sightline-writer", daemon=True)
        self._appender.start()
        self._inserter.start()

    @property
    def pending_rows(self) -> int:
        """Rows submitted and not yet stored nor quarantined."""
        with self._condition:
            return self._pending_rows

    @property
    def spool_dir(self) -> Path:
        return self._dir

    def stats(self) -> WriterStats:
        with self._condition:
            return WriterStats(
                self._inserts,
                self._insert_failures,
                self._insert_seconds,
                self._stored_rows,
                *self._quarantined,
                self._pending_rows,
                self._max_pending_rows,
            )

    def add_insert_listener(self, listener: InsertListener) -> None:
        """Call `listener` with each batch of rows once it is in the store (from the inserter's thread)."""
        self._listeners.append(listener)

    def submit(self, batch: Batch) -> Future[None]:
        """Queue `batch`; the future completes when it is durable in the spool."""
        if isinstance(batch, pa.Table):
            batch = conform(batch)
        rows = batch_rows(batch)
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
        """Wait until every row submitted before the call is stored or quarantined (or raise TimeoutError)."""
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
        """Seal and insert what is pending, try each held unit once more, then stop. Idempotent. What the
        store still refuses stays in the spool and is inserted at the next start."""
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
        """Store the segments a previous process left, as their journals say; the rows stored now."""
        for journal in self._dir.glob(f"*{spool.JOURNAL_SUFFIX}"):
            if not journal.with_suffix(spool.SUFFIX).exists():
                journal.unlink()  # its segment was deleted by a process that died before deleting it
        for path in spool.segments(self._dir):
            batches = spool.read_segment(path)
            with self._condition:
                self._pending_rows += sum(batch_rows(b) for b in batches)
            self._store_segment(_Sealed(path, batches))
        return self._stored_rows

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
            self._sealed.append(_Sealed(current.segment.path, current.batches))
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
                while not self._sealed and not self._held_due():
                    self._condition.wait(self._until_held_due())
                taken, self._sealed = self._sealed[:1], self._sealed[1:]
            for sealed in taken:
                if sealed is None:  # closing: one more attempt for each held unit; what fails stays in the spool
                    self._retry_held(everything=True)
                    return
                self._store_segment(sealed)
            self._retry_held(everything=False)

    def _held_due(self) -> bool:
        now = time.monotonic()
        return any(held.due <= now for held in self._held)

    def _until_held_due(self) -> float | None:
        if not self._held:
            return None
        return max(0.0, min(held.due for held in self._held) - time.monotonic())

    def _store_segment(self, sealed: _Sealed) -> None:
        segment = _Segment(sealed.path, sealed.batches, spool.Journal.of(sealed.path))
        if not sealed.batches:
            spool.delete(sealed.path)
            return
        self._store_unit(segment, Unit(sealed.path.stem), self._inserts)

    def _store_unit(self, segment: _Segment, unit: Unit, inserts_seen: int) -> None:
        """Store `unit` of `segment`: insert it whole, or its parts (`_refused`); `inserts_seen`: the inserts
        the store had accepted when the unit it is a part of failed."""
        if unit.token in segment.journal.quarantined:  # before a crash
            self._dealt_with(segment, unit)
            return
        if unit.token in segment.journal.split:
            self._store_parts(segment, unit.parts(segment.batches), inserts_seen)
            return
        try:
            table = unit.table(segment.batches)
        except Exception as error:  # retrying cannot help: divide it to keep what converts, else quarantine it
            logger.exception("unit %s of spool segment %s does not convert to the layout", unit.token, segment.path)
            parts = unit.parts(segment.batches)
            if not (parts and self._record_split(segment, unit)):
                self._quarantine(segment, unit, f"does not convert to the layout: {error}")
                return
            self._store_parts(segment, parts, inserts_seen)
            return
        if not fits_one_insert(table):  # the store would refuse it, maybe after `events` stored it
            parts = unit.parts(segment.batches)
            if not parts:  # refused whatever happens: no attempt costs the segments behind it
                count = partitions_per_insert(table)
                limit = f"more than the {MAX_PARTITIONS_PER_INSERT} one insert may touch"
                self._quarantine(segment, unit, f"Too many partitions: its rows fall in {count} of one table, {limit}")
                return
            if self._record_split(segment, unit):
                self._store_parts(segment, parts, inserts_seen)
                return
        refusal = self._insert(unit, table)
        if refusal is None:
            self._dealt_with(segment, unit)
        else:
            self._refused(_Held(segment, unit, table, refusal, inserts_seen))

    def _store_parts(self, segment: _Segment, parts: list[Unit], inserts_seen: int) -> None:
        segment.open_units += len(parts) - 1
        for part in parts:
            self._store_unit(segment, part, inserts_seen)

    def _insert(self, unit: Unit, table: pa.Table) -> str | None:
        """Insert `unit` under its token; None when stored, else the store's error."""
        started = time.monotonic()
        try:
            self._store.insert_events(table, dedup_token=unit.token)
        except Exception as error:
            logger.warning("the store refused unit %s (%d rows): %s", unit.token, table.num_rows, error)
            with self._condition:
                self._insert_seconds += time.monotonic() - started
                self._insert_failures += 1
            return str(error) or type(error).__name__
        with self._condition:
            self._insert_seconds += time.monotonic() - started
        self._inserts += 1
        self._stored_rows += table.num_rows
        for held in self._held:
            if not held.poison_failures:  # refused while nothing was accepted: the engine may be back
                held.due = 0.0
        for listener in self._listeners:
            try:
                listener(table)
            except Exception:
                logger.exception("an insert listener failed")
        return None

    def _refused(self, held: _Held) -> None:
        """`held.unit` failed (again): divide it, quarantine it, or hold it for a later attempt."""
        isolated = self._inserts > held.inserts_seen  # the store accepted other inserts since it last failed
        held.inserts_seen = self._inserts
        parts = held.unit.parts(held.segment.batches)
        divide_now = isolated or bool(parts and parts[0].span is None)  # a segment's customers: at once
        if parts and divide_now and self._nothing_landed(held) and self._record_split(held.segment, held.unit):
            self._store_parts(held.segment, parts, held.inserts_seen)
            return
        held.poison_failures += isolated
        if held.poison_failures >= POISON_FAILURES:
            self._quarantine(held.segment, held.unit, held.error)
            return
        delay = self._retry_delays_s[min(held.attempts, len(self._retry_delays_s)) - 1]
        held.due = time.monotonic() + delay
        self._held.append(held)

    def _retry_held(self, *, everything: bool) -> None:
        now = time.monotonic()
        due = [held for held in self._held if everything or held.due <= now]
        self._held = [held for held in self._held if not (everything or held.due <= now)]
        for held in due:
            held.attempts += 1
            if held.table is None:
                self._quarantine(held.segment, held.unit, held.error)
                continue
            error = self._insert(held.unit, held.table)
            if error is None:
                self._dealt_with(held.segment, held.unit)
            else:
                held.error = error
                self._refused(held)

    def _nothing_landed(self, held: _Held) -> bool:
        """Whether none of the rows of a unit whose insert failed are in the store (unknown: False)."""
        if held.table is None:
            return True
        try:
            return self._store.count_stored(held.table) == 0
        except Exception as error:
            logger.warning("cannot tell whether unit %s partly landed: %s", held.unit.token, error)
            return False

    def _record_split(self, segment: _Segment, unit: Unit) -> bool:
        try:
            segment.journal.record("split", unit.token)
        except OSError as error:
            logger.error("cannot journal the division of unit %s: %s", unit.token, error)
            return False
        return True

    def _quarantine(self, segment: _Segment, unit: Unit, reason: str) -> None:
        """Keep `unit` in quarantine, or, when the disk refuses, hold it for a later attempt."""
        try:
            quarantine.put(self._dir, unit.token, unit.batches(segment.batches), reason)
            segment.journal.record("quarantined", unit.token)
        except OSError as error:
            logger.error("cannot quarantine unit %s: %s", unit.token, error)
            due = time.monotonic() + self._retry_delays_s[-1]
            self._held.append(_Held(segment, unit, None, reason, self._inserts, due=due))
            return
        logger.error("unit %s quarantined in %s: %s", unit.token, self._dir / quarantine.DIRECTORY, reason)
        with self._condition:
            units, rows = self._quarantined
            self._quarantined = (units + 1, rows + unit.rows(segment.batches))
        self._dealt_with(segment, unit)

    def _dealt_with(self, segment: _Segment, unit: Unit) -> None:
        """`unit` is stored or quarantined: its rows are no longer pending, and its segment goes with its last."""
        segment.open_units -= 1
        if segment.open_units == 0:
            spool.delete(segment.path)
        rows = unit.rows(segment.batches)
        with self._condition:
            self._pending_rows -= rows
            self._condition.notify_all()
