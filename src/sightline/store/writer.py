"""The batching writer: the streaming inserts of events go through it.

Callers `submit` Arrow batches in the layout of `store.layout` and get a future that completes once
the rows are in the store (durable), or fails with the store's error. A background thread inserts
when `max_rows` are pending or the oldest has waited `max_delay_s`; pending batches of one schema go
in one insert. Pending rows are bounded by `max_pending_rows`: `submit` raises
`WriterOverloadedError` beyond it, so memory never grows without bound and callers can answer 429/503.
Bulk loads that are already large (the simulator's chunks) call `Store.insert_events` directly;
both serialise on the store's writer session.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

import pyarrow as pa

from sightline.store.base import Store
from sightline.store.layout import check_batch


class WriterOverloadedError(Exception):
    """More rows are pending than the writer accepts; retry later."""


class WriterClosedError(Exception):
    """The writer was closed; nothing more is accepted."""


@dataclass
class _Pending:
    batches: list[pa.Table] = field(default_factory=list)
    futures: list[Future[None]] = field(default_factory=list)
    rows: int = 0
    oldest: float = 0.0


class BatchingWriter:
    """One writer per store. Thread-safe."""

    def __init__(
        self,
        store: Store,
        *,
        max_rows: int = 100_000,
        max_delay_s: float = 1.0,
        max_pending_rows: int = 2_000_000,
    ) -> None:
        self._store = store
        self._max_rows = max_rows
        self._max_delay_s = max_delay_s
        self._max_pending_rows = max_pending_rows
        self._pending = _Pending()
        self._condition = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sightline-writer", daemon=True)
        self._thread.start()

    @property
    def pending_rows(self) -> int:
        with self._condition:
            return self._pending.rows

    def submit(self, batch: pa.Table) -> Future[None]:
        """Queue `batch`; the future completes when it is in the store."""
        check_batch(batch)
        future: Future[None] = Future()
        with self._condition:
            if self._closed:
                raise WriterClosedError("the writer is closed")
            if self._pending.rows and self._pending.rows + batch.num_rows > self._max_pending_rows:
                raise WriterOverloadedError(f"{self._pending.rows} rows are waiting to be written")
            if not self._pending.batches:
                self._pending.oldest = time.monotonic()
            self._pending.batches.append(batch)
            self._pending.futures.append(future)
            self._pending.rows += batch.num_rows
            self._condition.notify()
        return future

    def write(self, batch: pa.Table) -> None:
        """Submit `batch` and wait until it is in the store."""
        self.submit(batch).result()

    def _due(self) -> bool:
        pending = self._pending
        if not pending.batches:
            return False
        waited = time.monotonic() - pending.oldest
        return self._closed or pending.rows >= self._max_rows or waited >= self._max_delay_s

    def _take(self) -> _Pending | None:
        with self._condition:
            while not self._due():
                if self._closed and not self._pending.batches:
                    return None
                timeout = None
                if self._pending.batches:
                    timeout = max(0.0, self._max_delay_s - (time.monotonic() - self._pending.oldest))
                self._condition.wait(timeout)
            taken, self._pending = self._pending, _Pending()
            return taken

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            by_schema: dict[pa.Schema, list[int]] = {}
            for index, batch in enumerate(taken.batches):
                by_schema.setdefault(batch.schema, []).append(index)
            for indexes in by_schema.values():
                self._insert([taken.batches[i] for i in indexes], [taken.futures[i] for i in indexes])

    def _insert(self, batches: list[pa.Table], futures: list[Future[None]]) -> None:
        """One insert of batches of one schema; their futures complete with its outcome."""
        try:
            self._store.insert_events(pa.concat_tables(batches))
        except Exception as error:
            for future in futures:
                future.set_exception(error)
        else:
            for future in futures:
                future.set_result(None)

    def close(self) -> None:
        """Write what is pending, then stop. Idempotent."""
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._thread.join()
