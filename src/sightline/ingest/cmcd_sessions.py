"""The collector's CMCD sessions: records held durably for their reorder window, then turned into events.

Each (customer, sid) has a `SidState` (`ingest.cmcd_views`, which holds the records not applied yet), an
outbox (events derived and not yet stored), the origin of its latest request (what enrichment reads) and
a lock: a session's steps run one at a time, different sessions in parallel. A step — a request's records
arriving, or the timer finding held records due — runs `advance`, enriches the events it derived, writes
the session's snapshot (state, outbox, origin) to the `SnapshotLog` and waits until it is durable, then
stores the outbox through `IngestPipeline.accept`, then writes the snapshot again without the outbox (or
forgets the session in the log when it holds nothing). So:
- a request is answered once its records are durable: held in the log, or derived into events that the
  log holds until they are stored; nothing acknowledged depends on memory;
- after a crash, `recover` takes back every session of the log — state, held records, outbox — and offers
  the outboxes again; the events the store has of those views are restored into the sessionizer first,
  so an event stored before the crash is recognised by its `seq`: each record becomes events once;
- the store refusing (`IngestUnavailableError`) leaves the outbox for the timer to offer again; a request
  finding its session's outbox still unstored, or a log write failing, keeps nothing of it and raises
  `IngestUnavailableError` (the client retries).
Memory is bounded: `max_sessions` sessions (the least recently seen of those holding nothing are forgotten
first) and `max_held` held records per customer (past it, that customer's requests raise
`IngestUnavailableError`; another customer's go on). A session forgotten,
or holding nothing at a restart, starts afresh: a view it goes on with is joined in progress (its play and
stall time count; its start, startup time and attempt were counted before).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sightline.ingest.cmcd import CmcdRecord
from sightline.ingest.cmcd_views import REORDER_WINDOW_MS, SidState, ViewEvents, advance
from sightline.ingest.enrich import RequestOrigin
from sightline.ingest.pipeline import IngestPipeline, IngestUnavailableError
from sightline.ingest.recovery import restore_views
from sightline.ingest.snapshot_log import SnapshotLog
from sightline.store.base import Store

logger = logging.getLogger(__name__)
Key = tuple[int, str]
"""(customer, sid)."""
Snapshot = tuple[SidState, list[ViewEvents], RequestOrigin]
"""What the log keeps of a session that holds records or unstored events: its state, outbox and origin."""
Enrich = Callable[[dict[str, Any], RequestOrigin], dict[str, Any]]
TIMER_S = 0.1
"""How often the timer looks for held records come due."""
RETRY_MS = 1_000
"""How soon an outbox the store refused, or a step whose log write failed, is tried again."""
_NO_ORIGIN = RequestOrigin("", None, ())


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Session:
    state: SidState = field(default_factory=SidState)
    outbox: list[ViewEvents] = field(default_factory=list)
    origin: RequestOrigin = _NO_ORIGIN
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def idle(self) -> bool:
        """Holds nothing that is not stored, and no step runs: it may be forgotten."""
        return not (self.state.held or self.outbox or self.lock.locked())


class CmcdSessions:
    """CMCD session state of one app. Used from the event loop only."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        log: SnapshotLog,
        enrich: Enrich,
        *,
        window_ms: int = REORDER_WINDOW_MS,
        max_sessions: int = 100_000,
        max_held: int = 200_000,
        max_background: int = 1_000,
    ) -> None:
        self._pipeline, self._log, self._enrich, self._window_ms = pipeline, log, enrich, window_ms
        self._sessions: OrderedDict[Key, _Session] = OrderedDict()
        self._max_sessions, self._max_held = max_sessions, max_held
        self._held: dict[int, int] = {}
        """Held records by customer."""
        self._due: list[tuple[int, int, Key]] = []
        """(when, tie-break, session): a heap of the times a session has something to apply or store."""
        self._tie = itertools.count()
        self._timer: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._max_background = max_background
        self.dropped = 0
        """Request-mode records not stored: the collector was busy, or too many were waiting."""

    @property
    def held(self) -> int:
        """Records held for their reorder window."""
        return sum(self._held.values())

    @property
    def pending(self) -> int:
        """Background ingests not finished yet."""
        return len(self._background)

    def recover(self, store: Store) -> int:
        """Take back the sessions of the log (once, at start, after the sessionizer's state was restored and
        before `start`): their outboxes are offered again and their held records applied when due; how many.
        The store's events of the outboxes' views are restored into the sessionizer first."""
        at = now_ms()
        views: dict[int, list[bytes]] = {}
        for key, (state, outbox, origin) in self._log.recovered.items():
            session = self._sessions[key] = _Session(state, list(outbox), origin)
            self._held[key[0]] = self._held.get(key[0], 0) + len(state.held)
            views.setdefault(key[0], []).extend(batch.view_id for batch in outbox)
            self._schedule(key, session, at)
        restore_views(store, self._pipeline.sessions, views)
        return len(self._log.recovered)

    def start(self) -> None:
        """Start the timer that applies held records as they come due and offers refused outboxes again."""
        self._timer = asyncio.get_running_loop().create_task(self._run_timer())

    async def close(self) -> None:
        """Stop the timer (after its round), then apply every held record and store every outbox (before the
        writer closes); what the store refuses stays in the log for the next start."""
        self._stopping.set()
        if self._timer is not None:
            await self._timer
        at = now_ms()
        busy = [key for key, session in self._sessions.items() if not session.idle()]
        await asyncio.gather(*(self._release(key, at, 0) for key in busy))

    async def ingest(self, customer_id: int, records: list[CmcdRecord], arrived_ms: int, origin: RequestOrigin) -> None:
        """Take the records of one request (each with a `sid`), arrived at `arrived_ms`, session by session;
        returns once they are durable. Raises `IngestUnavailableError` when the collector cannot take them
        now: nothing of the sessions that raised is kept (the others' records are, and their retry is
        recognised as one)."""
        if self._held.get(customer_id, 0) + len(records) > self._max_held:
            raise IngestUnavailableError(
                503, "overloaded", "the collector holds too many of your CMCD records; retry", 1
            )
        by_sid: dict[str, list[CmcdRecord]] = {}
        for record in records:
            if record.sid is not None:
                by_sid.setdefault(record.sid, []).append(record)
        arrivals = [self._arrive((customer_id, sid), rs, arrived_ms, origin) for sid, rs in by_sid.items()]
        # sessions wait for their log writes together: one fsync serves them all
        for outcome in await asyncio.gather(*arrivals, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    def ingest_soon(self, customer_id: int, records: list[CmcdRecord], arrived_ms: int, origin: RequestOrigin) -> None:
        """`ingest` in the background, for data that rides on another answer (media requests): nothing
        waits for it, and it is dropped (counted in `dropped`) when the collector is busy or more than
        `max_background` such ingests are waiting."""
        if len(self._background) >= self._max_background:
            self.dropped += len(records)
            return
        task = asyncio.get_running_loop().create_task(self._ingest_or_drop(customer_id, records, arrived_ms, origin))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _run_timer(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), TIMER_S)
            at = now_ms()
            keys: dict[Key, None] = {}
            while self._due and self._due[0][0] <= at:
                keys[heapq.heappop(self._due)[2]] = None
            releases = [self._release(key, at, self._window_ms) for key in keys]
            for key, outcome in zip(keys, await asyncio.gather(*releases, return_exceptions=True), strict=True):
                if isinstance(outcome, Exception):  # a defect: logged, and the session tried again, never dropped
                    logger.error("the CMCD session of customer %d failed to advance", key[0], exc_info=outcome)
                    heapq.heappush(self._due, (at + RETRY_MS, next(self._tie), key))

    # -- steps ---------------------------------------------------------------------------------------------
    async def _ingest_or_drop(
        self, customer_id: int, records: list[CmcdRecord], arrived_ms: int, origin: RequestOrigin
    ) -> None:
        try:
            await self.ingest(customer_id, records, arrived_ms, origin)
        except IngestUnavailableError:
            self.dropped += len(records)

    async def _arrive(self, key: Key, records: list[CmcdRecord], arrived_ms: int, origin: RequestOrigin) -> None:
        session = self._session(key)
        async with session.lock:
            await self._deliver(key, session)  # an earlier outbox first: the store may be refusing
            await self._step(key, session, records, arrived_ms, origin, self._window_ms)

    async def _release(self, key: Key, at_ms: int, window_ms: int) -> None:
        """The timer's step of a session: store its outbox, apply what is due; retried later on failure."""
        session = self._sessions.get(key)
        if session is None:
            return
        async with session.lock:
            try:
                await self._deliver(key, session)
                await self._step(key, session, [], at_ms, session.origin, window_ms)
            except IngestUnavailableError as error:
                logger.warning("the CMCD session of customer %d is not stored yet: %s", key[0], error.message)
                self._schedule(key, session, at_ms + RETRY_MS)

    async def _step(
        self, key: Key, session: _Session, records: list[CmcdRecord], at_ms: int, origin: RequestOrigin, window_ms: int
    ) -> None:
        """Under the session's lock, with its outbox stored: advance it, make the result durable, store it."""
        state, batches = advance(session.state, key[0], key[1], records, at_ms, window_ms)
        if not records and state.held == session.state.held:
            return  # nothing arrived, nothing came due
        outbox = [ViewEvents(batch.view_id, self._enrich(batch.dimensions, origin), batch.events) for batch in batches]
        snapshot: Snapshot | None = (state, outbox, origin) if state.held or outbox else None
        try:
            await asyncio.wrap_future(self._log.put(key, snapshot))
        except OSError as error:
            raise IngestUnavailableError(
                503, "store_failed", "the records could not be made durable; retry", 5
            ) from error
        self._held[key[0]] = self._held.get(key[0], 0) + len(state.held) - len(session.state.held)
        session.state, session.outbox, session.origin = state, outbox, origin
        with contextlib.suppress(IngestUnavailableError):  # durable in the log: the timer offers the outbox again
            await self._deliver(key, session)
        self._schedule(key, session, at_ms + RETRY_MS if session.outbox else at_ms)

    async def _deliver(self, key: Key, session: _Session) -> None:
        """Store the session's outbox, view by view (raises `IngestUnavailableError`, keeping what is left),
        then note in the log that it is stored."""
        if not session.outbox:
            return
        while session.outbox:
            batch = session.outbox[0]
            await self._pipeline.accept(key[0], batch.view_id, dict(batch.dimensions), list(enumerate(batch.events)))
            session.outbox.pop(0)
        snapshot: Snapshot | None = (session.state, [], session.origin) if session.state.held else None
        self._log.put(key, snapshot).add_done_callback(_log_failure)  # until durable, a restart offers it again

    def _schedule(self, key: Key, session: _Session, earliest_ms: int) -> None:
        """Have the timer look at the session from `earliest_ms` on, when its next held record is due or to
        offer its outbox again."""
        if session.state.held:
            when = max(earliest_ms, min(arrived for arrived, _ in session.state.held) + self._window_ms)
        elif session.outbox:
            when = earliest_ms
        else:
            return
        heapq.heappush(self._due, (when, next(self._tie), key))

    def _session(self, key: Key) -> _Session:
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = _Session()
            self._forget_idle(keep=key)
        self._sessions.move_to_end(key)
        return session

    def _forget_idle(self, keep: Key) -> None:
        """Forget the least recently seen sessions that hold nothing (not `keep`), while there are too many."""
        excess = len(self._sessions) - self._max_sessions
        if excess <= 0:
            return
        for key in list(itertools.islice(self._sessions, excess + 100)):
            if key != keep and self._sessions[key].idle():
                del self._sessions[key]
                excess -= 1
                if not excess:
                    return


def _log_failure(future: Future[None]) -> None:
    if future.exception() is not None:
        logger.error(
            "noting a stored CMCD outbox in the log failed (a restart offers it again): %s", future.exception()
        )
