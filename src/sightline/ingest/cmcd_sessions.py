"""The collector's memory of CMCD sessions, and the path of CMCD records into the ingest pipeline.

Each (customer, sid) has a `SidState` (`ingest.cmcd_views`) and a lock: the records of one session are
applied one request at a time, in the order the requests arrive, while different sessions go in
parallel. A request's events are stored through `IngestPipeline.accept` before the session's new state
is kept, so when the store cannot take them (`IngestUnavailableError`) the state stays as it was and
the client's retry is applied afresh (the pipeline drops the events of it that were already stored, by
their `seq`).

The memory is bounded (`max_sessions`, least recently seen first out) and is lost on restart: a session
that goes on after a restart starts a view joined in progress (its play and stall time count, its
start, startup time and attempt were counted before), and its earlier view is never closed by the
sweeper; a forgotten session's retried records are counted again.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sightline.ingest.cmcd import CmcdRecord
from sightline.ingest.cmcd_views import SidState, advance
from sightline.ingest.pipeline import IngestPipeline, IngestUnavailableError

Enrich = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class _Session:
    state: SidState | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class CmcdSessions:
    """CMCD session state of one app. Used from the event loop only."""

    def __init__(self, pipeline: IngestPipeline, max_sessions: int = 100_000, max_background: int = 1_000) -> None:
        self._pipeline = pipeline
        self._sessions: OrderedDict[tuple[int, str], _Session] = OrderedDict()
        self._max_sessions = max_sessions
        self._background: set[asyncio.Task[None]] = set()
        self._max_background = max_background
        self.dropped = 0
        """Request-mode records not stored: the collector was busy, or too many were waiting."""

    def _session(self, customer_id: int, sid: str) -> _Session:
        key = (customer_id, sid)
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = _Session()
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)
        self._sessions.move_to_end(key)
        return session

    async def ingest(self, customer_id: int, records: list[CmcdRecord], now_ms: int, enrich: Enrich = dict) -> int:
        """Apply `records` (each with a `sid`) session by session and store their events, with the views'
        dimensions completed by `enrich` (from the request: user agent, address); the number of events
        stored. Raises `IngestUnavailableError` when the store cannot take them now."""
        by_sid: dict[str, list[CmcdRecord]] = {}
        for record in records:
            if record.sid is not None:
                by_sid.setdefault(record.sid, []).append(record)

        async def one_session(sid: str, session_records: list[CmcdRecord]) -> int:
            stored = 0
            session = self._session(customer_id, sid)
            async with session.lock:
                state, batches = advance(session.state, customer_id, sid, session_records, now_ms)
                for batch in batches:
                    admission = await self._pipeline.accept(
                        customer_id, batch.view_id, enrich(batch.dimensions), list(enumerate(batch.events))
                    )
                    stored += len(admission.kept)
                session.state = state
            return stored

        # sessions wait for their spool writes together: one fsync serves them all
        return sum(await asyncio.gather(*(one_session(sid, rs) for sid, rs in by_sid.items())))

    @property
    def pending(self) -> int:
        """Background ingests not finished yet."""
        return len(self._background)

    def ingest_soon(self, customer_id: int, records: list[CmcdRecord], now_ms: int, enrich: Enrich = dict) -> None:
        """`ingest` in the background, for data that rides on another answer (media requests): nothing
        waits for it, and it is dropped (counted in `dropped`) when the store is busy or more than
        `max_background` such ingests are waiting."""
        if len(self._background) >= self._max_background:
            self.dropped += len(records)
            return
        task = asyncio.get_running_loop().create_task(self._ingest_or_drop(customer_id, records, now_ms, enrich))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _ingest_or_drop(self, customer_id: int, records: list[CmcdRecord], now_ms: int, enrich: Enrich) -> None:
        try:
            await self.ingest(customer_id, records, now_ms, enrich)
        except IngestUnavailableError:
            self.dropped += len(records)
