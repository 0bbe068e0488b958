"""The one path every beacon format takes into the store: sessionise, store durably, acknowledge.

Formats (native `/collect`, mux-embed, CMCD) decode their input into one view's dimensions and
`(index, event)` pairs in the native event model (docs/beacon-format.md) and call `IngestPipeline.accept`.
Its invariants: an event outside the `EventWindow` (of the time received and of its view's start) is
refused; when `accept` returns, the kept events are durable; when it raises `IngestUnavailableError`,
nothing of the call is kept and the sessionizer forgot it, so a retry counts. A view the sessionizer does not
know whose id's time is outside `is_fresh`'s window (it may have been forgotten after 30 minutes of quiet, past
the bound, or before a restart) is restored from the store first (`ingest.recovery.restore_views`), so that a
late retry of events stored already is a duplicate and a closed view stays closed, whenever the retry comes.
Read-backs share the store's query sessions with the API: one runs at a time, one a customer at a time (the
customers take turns), and a customer with `MAX_RECALLS_WAITING` waiting gets 503.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sightline.ingest.native import EventRow, event_table
from sightline.ingest.recovery import restore_views
from sightline.ingest.sessions import IDLE_CLOSE_MS, Admission, Sessionizer, view_start_ms
from sightline.ingest.shared_views import SharedSessionizer, ViewBusyError
from sightline.ingest.window import EventWindow
from sightline.store.base import Store, StoreError
from sightline.store.layout import ViewEvents
from sightline.store.writer import BatchingWriter, WriterClosedError, WriterOverloadedError

SWEEP_EVERY_S = 60.0
FRESH_MS = IDLE_CLOSE_MS - 5 * 60_000
CLOCK_AHEAD_MS = 5 * 60_000
"""A view whose id's time is from `FRESH_MS` before to `CLOCK_AHEAD_MS` after the collector's clock started
recently by a clock about right: the sessionizer knows it if it was seen (it forgets a view 30 minutes after its
last beacon; a restart restores the views started in the last 30 minutes, `ingest.recovery`)."""
MAX_RECALLS_WAITING = 64
"""Read-backs of one customer waiting at once; past it, its batches of unknown views get 503."""
logger = logging.getLogger(__name__)
Result = TypeVar("Result")


class IngestUnavailableError(Exception):
    """The events could not be made durable now; the client should retry after `retry_after_s`."""

    def __init__(self, status: int, code: str, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after_s = status, code, message, retry_after_s


def derived_view_id(customer_id: int, source: str, external_id: str, start_ms: int) -> bytes:
    """A UUIDv7 for a view that a format names by its own id (mux's view id, CMCD's `sid`): its time is
    `start_ms`, its other bits a hash of (customer, source, external id), so the same inputs give the same id."""
    digest = hashlib.blake2b(f"{customer_id}\x1f{source}\x1f{external_id}".encode(), digest_size=10).digest()
    value = (start_ms & (2**48 - 1)) << 80 | 0x7 << 76 | (int.from_bytes(digest[:2]) & 0xFFF) << 64
    value |= 0b10 << 62 | int.from_bytes(digest[2:]) & (2**62 - 1)
    return uuid.UUID(int=value).bytes


def is_fresh(view_id: bytes, now_ms: int) -> bool:
    """Whether the view's id's time is in the window of `FRESH_MS` (a view the sessionizer knows if it was seen)."""
    return now_ms - FRESH_MS < view_start_ms(view_id) <= now_ms + CLOCK_AHEAD_MS


async def _shared(call: Callable[..., Result], *args: Any) -> Result:
    """`call(*args)` of the shared sessionizer, on a thread; its failures as `IngestUnavailableError`."""
    try:
        return await asyncio.to_thread(call, *args)
    except ViewBusyError as error:
        message = "events of this view are being stored by another request; retry"
        raise IngestUnavailableError(503, "overloaded", message, 1) from error
    except OSError as error:
        raise IngestUnavailableError(503, "store_failed", "the events could not be stored; retry", 5) from error


async def _confirm(sessions: SharedSessionizer, view_id: bytes, kept: list[dict[str, Any]]) -> None:
    """Tell the shared sessionizer that the kept events are durable; when the database fails, they are stored all
    the same (logged: until their admission lapses, their `seq`s are pending; after, a retry is stored again)."""
    try:
        await asyncio.to_thread(sessions.confirm, view_id, kept)
    except OSError:
        logger.exception("the stored events of a view could not be confirmed in the metadata database")


@dataclass
class IngestPipeline:
    """Sessionizer and writer of one app; thread- and task-safe. `history`: where the views the sessionizer forgot
    are restored from (None: nowhere, for stores whose events did not all come through it)."""

    sessions: Sessionizer
    writer: BatchingWriter
    window: EventWindow
    history: Store | None = None
    _recalling: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1), init=False, repr=False)
    """One read-back at a time: the store's other query sessions serve the API."""
    _turns: dict[int, asyncio.Semaphore] = field(default_factory=dict, init=False, repr=False)
    """Each customer's one read-back waiting for `_recalling`, so that customers take turns."""
    _waiting: dict[int, int] = field(default_factory=dict, init=False, repr=False)

    async def accept(
        self, customer_id: int, view_id: bytes, dimensions: dict[str, Any], events: list[tuple[int, dict[str, Any]]]
    ) -> Admission:
        """Admit the new events of one view and store them; returns what was kept, refused and dropped."""
        now_ms = int(time.time() * 1000)
        events, outside = self.window.admit(view_id, events, now_ms)
        if not events:
            return Admission([], outside, 0)
        if self.history is not None and not is_fresh(view_id, now_ms):
            await self._recall(customer_id, view_id)
        if isinstance(self.sessions, SharedSessionizer):  # its state is in the metadata database
            admission = await _shared(self.sessions.admit, customer_id, view_id, dimensions, events, now_ms)
        else:
            admission = self.sessions.admit(customer_id, view_id, dimensions, events, now_ms)
        if admission.kept:
            try:
                await self._store(ViewEvents(customer_id, view_id, dimensions, admission.kept))
            except IngestUnavailableError:
                if isinstance(self.sessions, SharedSessionizer):
                    await _shared(self.sessions.rollback, view_id, admission.kept)
                else:
                    self.sessions.rollback(view_id, admission.kept)
                raise
            if isinstance(self.sessions, SharedSessionizer):
                await _confirm(self.sessions, view_id, admission.kept)
        if outside:
            return Admission(admission.kept, sorted(admission.refused + outside), admission.duplicates)
        return admission

    async def _recall(self, customer_id: int, view_id: bytes) -> None:
        """Restore the view from the store when the sessionizer does not know it."""
        if not self.sessions.shared and self.sessions.knows(view_id):
            return  # the common case, without a thread
        waiting = self._waiting.get(customer_id, 0)
        if waiting >= MAX_RECALLS_WAITING:
            message = "too many of your views that started long ago are being read back; retry"
            raise IngestUnavailableError(503, "overloaded", message, 1)
        self._waiting[customer_id] = waiting + 1
        try:
            turn = self._turns.get(customer_id) or self._turns.setdefault(customer_id, asyncio.Semaphore(1))
            async with turn, self._recalling:
                await asyncio.to_thread(self._restore_unknown, customer_id, view_id)
        except (StoreError, OSError) as error:
            raise IngestUnavailableError(503, "store_failed", "the view could not be read back; retry", 5) from error
        finally:
            self._waiting[customer_id] -= 1

    def _restore_unknown(self, customer_id: int, view_id: bytes) -> None:
        assert self.history is not None
        if not self.sessions.knows(view_id):
            restore_views(self.history, self.sessions, {customer_id: [view_id]})

    async def _store(self, run: ViewEvents) -> None:
        try:
            future = self.writer.submit([run])
        except (WriterOverloadedError, WriterClosedError) as error:
            raise IngestUnavailableError(503, "overloaded", f"the collector is busy: {error}; retry", 1) from error
        try:
            await asyncio.wrap_future(future)
        except OSError as error:  # the spool could not be written: nothing of it is acknowledged
            raise IngestUnavailableError(503, "store_failed", "the events could not be stored; retry", 5) from error

    def sweep(self, now_ms: int) -> list[EventRow]:
        """The `exit` events of views idle for 30 minutes (see `Sessionizer.sweep`)."""
        return self.sessions.sweep(now_ms)

    async def sweep_forever(self, every_s: float = SWEEP_EVERY_S) -> None:
        """Close views idle for 30 minutes with an `exit` event, every `every_s`; exits the writer cannot take
        now are kept and offered again on the next round."""
        pending: list[EventRow] = []
        while True:
            await asyncio.sleep(every_s)
            now_ms = int(time.time() * 1000)
            pending += await asyncio.to_thread(self.sweep, now_ms) if self.sessions.shared else self.sweep(now_ms)
            if pending:
                try:
                    self.writer.submit(event_table(pending))
                    pending = []
                except WriterOverloadedError:
                    continue
