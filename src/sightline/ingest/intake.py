"""The collector's one way in for every beacon format (`ingest.format`): sessions stepped, made durable, stored.

`take(format, customer, decoded, origin)` runs the sessions of a decoded request side by side (their log and
spool writes share fsyncs) and answers what became of their units (`Outcome`) once they are durable; it
raises `IngestUnavailableError` when they cannot be, keeping nothing of the sessions that raised. A step:
- of a format without state (native): `advance`, the views' dimensions enriched from the request's origin,
  `IngestPipeline.accept`;
- of a format with state, under the session's lock (`SessionStates`): an outbox an earlier step left is
  stored first (raises when the store refuses); `advance` from the session's state; the snapshot — next
  state, the enriched events as its outbox, the origin — is put in the log and waited for; the outbox is
  stored, and the log told so without waiting (until then a restart offers it again, and the sessionizer
  recognises its stored events by `seq`). When the store refuses the outbox, a format
  `acknowledged_when_logged` (CMCD) leaves it to the timer; for another (mux) the session gets its
  previous snapshot back and the request raises: nothing of it is kept, the client sends it again.
So nothing acknowledged depends on memory: after a crash, `recover` takes back every session of the log,
restores the views of their outboxes into the sessionizer from the store and offers the outboxes again. The
timer (every `TIMER_S`) steps the sessions whose held units came due or whose outbox waits, and forgets the
idle sessions past their time. Held units are bounded per customer (`max_held`: past it, that customer's
requests raise; another customer's go on), and so are its steps under way at once (`STEPS_PER_CUSTOMER`).
With states `shared` by several processes (`ingest.shared_states`) a step reads its session from their home
first and a lost race steps again; due sessions are the ones this process claims there (an outbox another
process left: its views restored from the store first), and close leaves held units to the process that claims
them. Used from the event loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sightline.ingest.enrich import RequestOrigin
from sightline.ingest.format import Decoded, IngestFormat, Refusal, Step, ViewBatch
from sightline.ingest.pipeline import IngestPipeline, IngestUnavailableError
from sightline.ingest.recovery import restore_views
from sightline.ingest.session_states import NO_ORIGIN, Entry, SessionStates, Snapshot, StateKey
from sightline.ingest.shared_states import SessionConflictError, SharedSessionStates
from sightline.store.base import Store

logger = logging.getLogger(__name__)
Unit = TypeVar("Unit")
Enrich = Callable[[dict[str, Any], RequestOrigin], dict[str, Any]]
Count = Callable[[str, int, Sequence[Refusal]], None]
"""Where the intake counts what became of units (`Telemetry.count_ingest`): the format's name, the units
acknowledged to a client, and the refusals."""
TIMER_S = 0.1
"""How often the timer looks for sessions with work."""
RETRY_MS = 1_000
"""How soon an outbox the store refused is offered again."""
SETTLE_MS, SETTLE_POLL_S = 5_000, 0.02
"""How long a request waits for another process to store its session's outbox, and how often it looks."""
STEPS_PER_CUSTOMER = 32
"""Session steps of one customer under way at once, over its requests and the timer's rounds: each runs on the
event loop until it waits for the disk, so a customer's report of a thousand sessions would otherwise hold every
other customer's beacons behind a thousand steps."""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class Outcome:
    """What became of a request's units: events stored, duplicates dropped, units with no event to store,
    and the parts refused."""

    accepted: int = 0
    duplicates: int = 0
    ignored: int = 0
    refused: list[Refusal] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.ignored += other.ignored
        self.refused += other.refused


def _counts(step: Step[Any]) -> Outcome:
    return Outcome(0, step.duplicates, step.ignored, list(step.refused))


def _uncounted(format_name: str, acknowledged: int, refused: Sequence[Refusal]) -> None:
    """`Count` of an intake whose outcomes nobody counts."""


class Intake:
    """The collector of one app: every format's sessions, over one pipeline and one `SessionStates`. Each
    outcome is counted once (`count`), when it is decided: a request's when it is answered (its units
    acknowledged: events stored, CMCD records durable in the log; and its refusals), the refusals of events
    stored later (the timer's, or an earlier outbox's) when they are stored."""

    def __init__(
        self,
        pipeline: IngestPipeline,
        states: SessionStates,
        enrich: Enrich,
        formats: Sequence[IngestFormat[Any, Any]],
        *,
        count: Count = _uncounted,
        max_held: int = 200_000,
        max_background: int = 1_000,
    ) -> None:
        self.pipeline, self._states, self._enrich, self._count = pipeline, states, enrich, count
        self._formats = {fmt.name: fmt for fmt in formats if fmt.keeps_state}
        """The stateful formats by the name of their states (formats of one name share `advance`)."""
        self._max_held, self._max_background = max_held, max_background
        self._held: dict[int, int] = {}
        """Held units by customer."""
        self._due: list[tuple[int, int, StateKey]] = []
        """(when, tie-break, session): a heap of the times a session has something to apply or store."""
        self._tie = itertools.count()
        self._timer: asyncio.Task[None] | None = None
        self._store: Store | None = None
        """Where the views of an outbox another process left are restored from (shared states; set by `recover`)."""
        self._stopping = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()
        self._steps: dict[int, asyncio.Semaphore] = {}
        """Each customer's `STEPS_PER_CUSTOMER` (taken before a session's lock)."""
        self.dropped = 0
        """Units taken in the background (`take_soon`) and not stored: the collector was busy."""

    @property
    def held(self) -> int:
        """Units held by formats that hold (CMCD's reorder window); shared: in every process."""
        if isinstance(self._states, SharedSessionStates):
            return self._states.held_total()
        return sum(self._held.values())

    @property
    def unstored(self) -> int:
        """Sessions of this process whose derived events are not all stored yet (an outbox being stored, or waiting
        for the timer after the store refused it)."""
        return sum(1 for _, entry in self._states.items() if entry.snapshot is not None and entry.snapshot.outbox)

    @property
    def pending(self) -> int:
        """Background takes not finished yet."""
        return len(self._background)

    async def take(
        self, fmt: IngestFormat[Unit, Any], customer_id: int, decoded: Decoded[Unit], origin: RequestOrigin
    ) -> Outcome:
        """Step every session of `decoded` with its units, arrived now; returns once they are durable."""
        outcome = await self._take(fmt, customer_id, decoded, origin)
        self._count(fmt.name, decoded.units if fmt.acknowledged_when_logged else outcome.accepted, outcome.refused)
        return outcome

    async def _take(
        self, fmt: IngestFormat[Unit, Any], customer_id: int, decoded: Decoded[Unit], origin: RequestOrigin
    ) -> Outcome:
        at = now_ms()
        outcome = Outcome(refused=list(decoded.refused))
        if not fmt.keeps_state:
            for session, units in decoded.sessions.items():
                step = fmt.advance(None, customer_id, session, units, at)
                outcome.add(_counts(step))
                for view in step.views:
                    outcome.add(await self._accept(customer_id, view, self._enrich(view.dimensions, origin)))
            return outcome
        if await self._held_of(customer_id) + decoded.units > self._max_held:
            raise IngestUnavailableError(503, "overloaded", "the collector holds too many of your records; retry", 1)
        arrivals = [
            self._arrive(fmt, (fmt.name, customer_id, session), units, at, origin)
            for session, units in decoded.sessions.items()
        ]
        for result in await asyncio.gather(*arrivals, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result
            outcome.add(result)
        return outcome

    def take_soon(
        self, fmt: IngestFormat[Unit, Any], customer_id: int, decoded: Decoded[Unit], origin: RequestOrigin
    ) -> None:
        """`take` in the background, for data that rides on another answer (media requests): nothing waits
        for it, and it is dropped (counted in `dropped`) when the collector is busy or more than
        `max_background` such takes are waiting."""
        if len(self._background) >= self._max_background:
            self.dropped += decoded.units
            return
        task = asyncio.get_running_loop().create_task(self._take_or_drop(fmt, customer_id, decoded, origin))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def recover(self, store: Store) -> int:
        """Take back the sessions of the log (once, at start, after the sessionizer's state was restored and
        before `start`): the views of their outboxes are restored into the sessionizer from `store`, and the
        outboxes offered again and held units applied when due; how many sessions hold something."""
        at = now_ms()
        self._store = store
        views: dict[int, list[bytes]] = {}
        holding = 0
        for key, entry in self._states.items():
            fmt, snapshot = self._formats.get(key[0]), entry.snapshot
            if fmt is None or snapshot is None:
                continue
            self._held[key[1]] = self._held.get(key[1], 0) + self._held_by(fmt, snapshot)
            views.setdefault(key[1], []).extend(view.view_id for view in snapshot.outbox)
            holding += snapshot.holds
            self._schedule(key, entry, at)
        restore_views(store, self.pipeline.sessions, views)
        return holding

    def start(self) -> None:
        """Start the timer."""
        self._timer = asyncio.get_running_loop().create_task(self._run_timer())

    async def close(self) -> None:
        """Stop the timer (after its round), then apply every held unit and store every outbox (before the
        writer closes); what the store refuses stays in the log for the next start."""
        self._stopping.set()
        if self._timer is not None:
            await self._timer
        if self._states.shared:
            return  # held units come due in the process that claims them; outboxes were stored before answering
        busy = [(key, entry) for key, entry in self._states.items() if not entry.idle()]
        await asyncio.gather(*(self._drain(key, entry) for key, entry in busy))

    # -- steps ---------------------------------------------------------------------------------------------
    async def _take_or_drop(
        self, fmt: IngestFormat[Unit, Any], customer_id: int, decoded: Decoded[Unit], origin: RequestOrigin
    ) -> None:
        try:
            await self.take(fmt, customer_id, decoded, origin)
        except IngestUnavailableError:
            self.dropped += decoded.units

    async def _arrive(
        self, fmt: IngestFormat[Unit, Any], key: StateKey, units: list[Unit], at_ms: int, origin: RequestOrigin
    ) -> Outcome:
        async with self._steps_of(key[1]):
            while True:
                entry = self._states.entry(key, at_ms)
                async with entry.lock:
                    if self._states.get(key) is entry:  # not forgotten while this step waited for the lock
                        if isinstance(self._states, SharedSessionStates):
                            await self._settled(self._states, key, entry)
                        with contextlib.suppress(SessionConflictError):  # another process stepped it: again
                            return await self._step(fmt, key, entry, units, at_ms, origin, request=True)

    def _steps_of(self, customer_id: int) -> asyncio.Semaphore:
        steps = self._steps.get(customer_id)
        if steps is None:
            steps = self._steps[customer_id] = asyncio.Semaphore(STEPS_PER_CUSTOMER)
        return steps

    async def _release(self, key: StateKey, at_ms: int) -> None:
        """The timer's step of a session: store its outbox, apply what came due; tried again later on refusal."""
        async with self._steps_of(key[1]):
            await self._release_now(key, at_ms)

    async def _release_now(self, key: StateKey, at_ms: int) -> None:
        fmt = self._formats.get(key[0])
        entry = self._states.entry(key, at_ms) if self._states.shared else self._states.get(key)
        if entry is None or fmt is None:
            return
        async with entry.lock:
            if self._states.get(key) is not entry:
                return
            try:
                while True:
                    if isinstance(self._states, SharedSessionStates):
                        await self._refreshed(self._states, key, entry)
                        await self._restore_outbox(key, entry)
                    origin = entry.snapshot.origin if entry.snapshot else NO_ORIGIN
                    with contextlib.suppress(SessionConflictError):  # another process stepped it: again
                        outcome = await self._step(fmt, key, entry, [], at_ms, origin, request=False)
                        self._count(fmt.name, 0, outcome.refused)
                        return
            except IngestUnavailableError as error:
                logger.warning("a %s session of customer %d is not stored yet: %s", key[0], key[1], error.message)
                self._schedule(key, entry, at_ms + RETRY_MS)

    async def _drain(self, key: StateKey, entry: Entry) -> None:
        """At close: step the session through the times its held units come due, as the timer would have, and
        store its outbox."""
        fmt = self._formats.get(key[0])
        if fmt is None:
            return
        async with entry.lock:
            try:
                while entry.snapshot is not None and entry.snapshot.holds:
                    before = entry.snapshot
                    at = before.due_ms if before.due_ms is not None else now_ms()
                    outcome = await self._step(fmt, key, entry, [], at, before.origin, request=False)
                    self._count(fmt.name, 0, outcome.refused)
                    if entry.snapshot is before or (entry.snapshot is not None and entry.snapshot.outbox):
                        return  # nothing more comes due, or the store refuses: the log keeps it for the next start
            except IngestUnavailableError as error:
                logger.warning("a %s session of customer %d stays in the log: %s", key[0], key[1], error.message)

    async def _step(
        self,
        fmt: IngestFormat[Unit, Any],
        key: StateKey,
        entry: Entry,
        units: list[Unit],
        at_ms: int,
        origin: RequestOrigin,
        *,
        request: bool,
    ) -> Outcome:
        """Under the session's lock: store an earlier outbox, advance, make the result durable, store it. Shared
        states: raises `SessionConflictError` when another process wrote the session since it was read."""
        self._count(fmt.name, 0, (await self._deliver(key, entry)).refused)
        before = entry.snapshot
        state = before.state if before is not None else None
        step = fmt.advance(state, key[1], key[2], units, at_ms)
        if not units and step.state is state and not step.views:
            return Outcome()  # nothing came due
        outbox = tuple(
            ViewBatch(view.view_id, self._enrich(view.dimensions, origin), view.events) for view in step.views
        )
        after = None
        if step.state is not None or outbox:
            due = fmt.due_ms(step.state) if step.state is not None else None
            after = Snapshot(step.state, outbox, origin if due is not None else NO_ORIGIN, due)
        await self._put(fmt, key, entry, after)
        outcome = _counts(step)
        try:
            outcome.add(await self._deliver(key, entry))
        except IngestUnavailableError:
            if request and not fmt.acknowledged_when_logged:  # nothing of the request is kept
                try:
                    await self._put(fmt, key, entry, before)
                except IngestUnavailableError:  # the log holds the outbox: the timer stores it
                    self._schedule(key, entry, at_ms + RETRY_MS)
                raise
        self._schedule(key, entry, at_ms + RETRY_MS if entry.snapshot and entry.snapshot.outbox else at_ms)
        return outcome

    async def _put(self, fmt: IngestFormat[Any, Any], key: StateKey, entry: Entry, snapshot: Snapshot | None) -> None:
        """Make `snapshot` the session's once it is durable; raises `IngestUnavailableError` when the log fails."""
        if snapshot is None and entry.snapshot is None:
            return
        change = self._held_by(fmt, snapshot) - self._held_by(fmt, entry.snapshot)
        try:
            await self._states.put(key, entry, snapshot)
        except OSError as error:
            raise IngestUnavailableError(503, "store_failed", "the data could not be made durable; retry", 5) from error
        self._held[key[1]] = self._held.get(key[1], 0) + change

    async def _deliver(self, key: StateKey, entry: Entry) -> Outcome:
        """Store the session's outbox, view by view (raises `IngestUnavailableError`, keeping what is left),
        then note in the log that it is stored."""
        snapshot = entry.snapshot
        if snapshot is None or not snapshot.outbox:
            return Outcome()
        outcome = Outcome()
        while snapshot.outbox:
            view = snapshot.outbox[0]
            outcome.add(await self._accept(key[1], view, dict(view.dimensions)))
            snapshot = entry.snapshot = replace(snapshot, outbox=snapshot.outbox[1:])
        await self._states.put_soon(key, entry, snapshot if snapshot.state is not None else None)
        return outcome

    async def _accept(self, customer_id: int, view: ViewBatch, dimensions: dict[str, Any]) -> Outcome:
        admission = await self.pipeline.accept(customer_id, view.view_id, dimensions, list(view.events))
        return Outcome(len(admission.kept), admission.duplicates, 0, list(admission.refused))

    async def _held_of(self, customer_id: int) -> int:
        if not isinstance(self._states, SharedSessionStates):
            return self._held.get(customer_id, 0)
        try:
            return await self._states.held(customer_id)
        except OSError as error:
            raise IngestUnavailableError(503, "store_failed", "the data could not be made durable; retry", 5) from error

    async def _settled(self, states: SharedSessionStates, key: StateKey, entry: Entry) -> None:
        """Read the shared session into `entry` once no other process is storing its outbox (as a step waits for
        the session's lock in one process); raises `IngestUnavailableError` after `SETTLE_MS`."""
        waited_ms = 0
        while await self._refreshed(states, key, entry):
            if waited_ms >= SETTLE_MS:
                raise IngestUnavailableError(503, "overloaded", "the session is being stored; retry", 1)
            await asyncio.sleep(SETTLE_POLL_S)
            waited_ms += round(SETTLE_POLL_S * 1000)

    async def _refreshed(self, states: SharedSessionStates, key: StateKey, entry: Entry) -> bool:
        try:
            return await states.refresh(key, entry)
        except OSError as error:
            raise IngestUnavailableError(503, "store_failed", "the data could not be made durable; retry", 5) from error

    async def _restore_outbox(self, key: StateKey, entry: Entry) -> None:
        """Restore the views of an outbox (another process may have left it, having stored part of it) into the
        sessionizer from the store, so that what is stored already is recognised when it is offered again."""
        if self._store is not None and entry.snapshot is not None and entry.snapshot.outbox:
            views = {key[1]: [view.view_id for view in entry.snapshot.outbox]}
            await asyncio.to_thread(restore_views, self._store, self.pipeline.sessions, views)

    def _held_by(self, fmt: IngestFormat[Any, Any], snapshot: Snapshot | None) -> int:
        return fmt.held(snapshot.state) if snapshot is not None and snapshot.state is not None else 0

    def _schedule(self, key: StateKey, entry: Entry, earliest_ms: int) -> None:
        """Have the timer look at the session from `earliest_ms` on: when its held units come due, or to offer
        its outbox again."""
        snapshot = entry.snapshot
        if snapshot is None or not snapshot.holds or self._states.shared:  # shared: claimed when due (`due`)
            return
        when = earliest_ms if snapshot.due_ms is None else max(earliest_ms, snapshot.due_ms)
        heapq.heappush(self._due, (when, next(self._tie), key))

    async def _run_timer(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), TIMER_S)
            at = now_ms()
            keys: dict[StateKey, None] = {}
            while self._due and self._due[0][0] <= at:
                keys[heapq.heappop(self._due)[2]] = None
            if isinstance(self._states, SharedSessionStates):
                keys.update(dict.fromkeys(await self._claimed(at)))
            releases = [self._release(key, at) for key in keys]
            for key, outcome in zip(keys, await asyncio.gather(*releases, return_exceptions=True), strict=True):
                if isinstance(outcome, Exception):  # a defect: logged, and the session tried again, never dropped
                    logger.error("a %s session of customer %d failed to advance", key[0], key[1], exc_info=outcome)
                    heapq.heappush(self._due, (at + RETRY_MS, next(self._tie), key))
            self._states.expire(at)

    async def _claimed(self, at_ms: int) -> list[StateKey]:
        """The shared sessions due at `at_ms` that this process claimed (none when the database fails: logged)."""
        assert isinstance(self._states, SharedSessionStates)
        try:
            return await self._states.due(at_ms)
        except Exception:
            logger.exception("claiming the due sessions failed; tried again at the next round")
            return []
