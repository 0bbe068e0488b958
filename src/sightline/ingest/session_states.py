"""The one store of every format's per-session state: in memory, and durable in a `SnapshotLog`.

Each session — `(format name, customer, the format's session id)`: a mux view, a CMCD `sid` — has an entry:
its `Snapshot` (the format's state, the events derived and not yet stored, what the format holds for later)
and a lock under which the intake runs its steps one at a time. `put` makes a snapshot the session's once it
is durable in the log (`<data-dir>/session-states/`, fsync'd); `put_soon` at once, durable a little later.
At start the log's snapshots are the entries, so a session's state survives a restart, and a kill.
Bounded: sessions untouched for `ttl_ms` are forgotten (their views were closed by the sweeper 30 minutes
after their last beacon), and past `max_sessions` the least recently touched of the customers with the most
sessions are (`ingest.customer_lru`: one customer's flood of new sessions costs another's in progress nothing);
only idle ones — holding nothing that is not stored, no step running — in memory and in the log alike. A
forgotten session starts afresh, as each format documents (mux resynchronises at its next full event, CMCD
joins a view in progress). With a server store the sessions' home is the metadata database instead
(`ingest.shared_states`): a subclass overrides the hooks marked so, and the intake asks `shared` for what
differs. Used from the event loop only.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sightline.ingest.customer_lru import CustomerLru
from sightline.ingest.enrich import RequestOrigin
from sightline.ingest.format import ViewBatch
from sightline.ingest.sessions import IDLE_CLOSE_MS
from sightline.ingest.snapshot_log import SnapshotLog

logger = logging.getLogger(__name__)
StateKey = tuple[str, int, str]
"""(format name, customer id, the format's session id)."""
NO_ORIGIN = RequestOrigin("", None, ())
TTL_MS = 2 * IDLE_CLOSE_MS
"""How long an idle session is kept untouched."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What is kept of a session: the format's state; the events derived from it not yet stored (the outbox,
    enriched); the origin of the latest request (what enrichment reads), kept only while units are held; and
    when the format has work for the session without a request (held units come due; None: never)."""

    state: Any
    outbox: tuple[ViewBatch, ...] = ()
    origin: RequestOrigin = NO_ORIGIN
    due_ms: int | None = None

    @property
    def holds(self) -> bool:
        """Holds something that is not stored: it must not be forgotten."""
        return bool(self.outbox) or self.due_ms is not None


@dataclass(slots=True)
class Entry:
    """A session in memory: its snapshot (None: nothing yet), the lock of its steps, when last touched."""

    snapshot: Snapshot | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    touched_ms: int = 0
    version: int = 0
    """The version of `snapshot` in a shared home (`ingest.shared_states`); 0: none there."""

    def idle(self) -> bool:
        return not (self.lock.locked() or (self.snapshot is not None and self.snapshot.holds))


class SessionStates:
    """Every format's session states of one app."""

    shared: ClassVar[bool] = False
    """Whether other processes step the same sessions (`ingest.shared_states`)."""

    def __init__(self, directory: Path, now_ms: int, *, max_sessions: int = 100_000, ttl_ms: int = TTL_MS) -> None:
        """Opens the log of `directory`: its snapshots are the entries, touched at `now_ms`."""
        self._log = SnapshotLog(directory)
        self._init_entries(self._log.recovered, now_ms, max_sessions, ttl_ms)

    def _init_entries(self, snapshots: dict[StateKey, Snapshot], now_ms: int, max_sessions: int, ttl_ms: int) -> None:
        self._max_sessions, self._ttl_ms = max_sessions, ttl_ms
        self._entries: CustomerLru[StateKey, Entry] = CustomerLru()
        for key, snapshot in snapshots.items():
            self._entries.put(key, key[1], Entry(snapshot, touched_ms=now_ms))

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> Iterator[tuple[StateKey, Entry]]:
        return iter(list(self._entries.items()))

    def get(self, key: StateKey) -> Entry | None:
        return self._entries.get(key)

    def entry(self, key: StateKey, now_ms: int) -> Entry:
        """The session's entry (a new one holds nothing), touched at `now_ms`."""
        entry = self._entries.get(key)
        if entry is None:
            entry = Entry()
            self._entries.put(key, key[1], entry)
            self._forget_idle(keep=key)
        else:
            self._entries.touch(key)
        entry.touched_ms = max(entry.touched_ms, now_ms)
        return entry

    async def put(self, key: StateKey, entry: Entry, snapshot: Snapshot | None) -> None:
        """Make `snapshot` the session's (None: it holds nothing) once it is durable; raises the disk's
        `OSError`, leaving the session as it was."""
        await asyncio.wrap_future(self._log.put(key, snapshot))
        entry.snapshot = snapshot

    async def put_soon(self, key: StateKey, entry: Entry, snapshot: Snapshot | None) -> None:
        """Make `snapshot` the session's now, and durable without waiting: until it is, a restart finds the
        session's previous snapshot (so only for a snapshot that follows from that one)."""
        entry.snapshot = snapshot
        self._log.put(key, snapshot).add_done_callback(_log_failure)

    def adopt(self, key: StateKey, snapshot: Snapshot, now_ms: int) -> None:
        """Make `snapshot` the session's, touched at `now_ms`, and wait until it is durable (at start, before
        the intake recovers)."""
        self._log.put(key, snapshot).result()
        self._entries.put(key, key[1], Entry(snapshot, touched_ms=now_ms))

    def expire(self, now_ms: int) -> None:
        """Forget the idle sessions untouched for `ttl_ms` (of the 1000 least recently touched)."""
        expired = []
        for key, entry in itertools.islice(self._entries.items(), 1000):
            if now_ms - entry.touched_ms < self._ttl_ms:
                break
            if self._idle(entry):
                expired.append((key, entry))
        for key, entry in expired:
            self._forget(key, entry)

    def close(self) -> None:
        """Write what was put, then stop. Idempotent."""
        self._log.close()

    def _idle(self, entry: Entry) -> bool:
        """Whether `entry` may be forgotten (a hook)."""
        return entry.idle()

    def _forget(self, key: StateKey, entry: Entry) -> None:
        """Forget the session here and in its home (a hook)."""
        self._entries.pop(key)
        if entry.snapshot is not None:
            self._log.put(key, None).add_done_callback(_log_failure)

    def _forget_idle(self, keep: StateKey) -> None:
        """Forget idle sessions (not `keep`) while there are too many: the least recently touched of the customer
        with the most sessions first (of its `excess + 100` least recently touched; then the next customer's),
        never of a customer with fewer sessions than `keep`'s. When those hold what is not stored yet, the bound
        is passed for a while: a customer whose sessions all hold records costs the others none of theirs (its
        held records are bounded, `Intake`'s `max_held`)."""
        excess = len(self._entries) - self._max_sessions
        own = self._entries.count(keep[1])
        for customer_id in self._entries.customers_by_size() if excess > 0 else ():
            if self._entries.count(customer_id) < own:
                return
            for key, entry in list(itertools.islice(self._entries.items_of(customer_id), excess + 100)):
                if key != keep and self._idle(entry):
                    self._forget(key, entry)
                    excess -= 1
                    if not excess:
                        return


def _log_failure(future: Future[None]) -> None:
    if future.exception() is not None:
        logger.error("a session state was not written to the log (a restart finds the one before): %s",
                     future.exception())  # fmt: skip
