"""The session states that the processes of a service share in the metadata database (SQLite, and PostgreSQL when
SIGHTLINE_TEST_POSTGRES_URL is set): a write over a version another wrote since is refused, and the intake then
steps the session again; a due session is claimed by one process; idle rows expire, holding ones stay."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine

from sightline.ingest.enrich import RequestOrigin
from sightline.ingest.format import Decoded, IngestFormat, Message, Step, ViewBatch
from sightline.ingest.intake import Intake
from sightline.ingest.pipeline import IngestPipeline
from sightline.ingest.session_states import Entry, Snapshot, StateKey
from sightline.ingest.sessions import Sessionizer
from sightline.ingest.shared_states import (
    CLAIM_MS,
    OUTBOX_GRACE_MS,
    SharedSessionStates,
    claim_due,
    expire,
    held_units,
    read,
    write,
)
from sightline.ingest.window import EventWindow
from sightline.settings import Settings
from sightline.store.base import Store
from sightline.store.writer import BatchingWriter

T0 = 1_780_000_000_000
KEY: StateKey = ("tally", 1001, "session-1")
ORIGIN = RequestOrigin("", None, ())


class Tally(IngestFormat[int, tuple[int, ...]]):
    """A format whose state is every unit it was given, in order, and which stores no event; it counts its steps."""

    name = "tally"

    def __init__(self) -> None:
        self.steps = 0

    def decode(self, message: Message) -> Decoded[int]:
        raise NotImplementedError

    def advance(
        self, state: tuple[int, ...] | None, customer_id: int, session: str, units: Sequence[int], now_ms: int
    ) -> Step[tuple[int, ...]]:
        self.steps += 1
        return Step((*(state or ()), *units), [])

    def held(self, state: tuple[int, ...]) -> int:
        return len(state)


class MeetingStates(SharedSessionStates):
    """Shared states whose first read of a session waits for the other process's first read: both read the same
    version before either writes."""

    def __init__(self, engine: Engine, formats: Sequence[IngestFormat[int, tuple[int, ...]]], met: asyncio.Barrier):
        super().__init__(engine, formats, T0)
        self._met: asyncio.Barrier | None = met

    async def refresh(self, key: StateKey, entry: Entry) -> bool:
        busy = await super().refresh(key, entry)
        if self._met is not None:
            met, self._met = self._met, None
            await met.wait()
        return busy


def test_a_write_over_a_version_another_wrote_since_is_refused(engine: Engine) -> None:
    assert read(engine, KEY) == (0, None, None)
    assert write(engine, KEY, 0, Snapshot((1,)), 1, T0) == 1
    assert write(engine, KEY, 0, Snapshot((2,)), 1, T0) is None  # both read "no row": the second insert loses
    assert write(engine, KEY, 1, Snapshot((1, 3)), 2, T0) == 2
    assert write(engine, KEY, 1, Snapshot((1, 4)), 2, T0) is None  # both read version 1: the second loses
    assert write(engine, KEY, 1, None, 0, T0) is None
    assert read(engine, KEY) == (2, Snapshot((1, 3)), None)
    assert write(engine, KEY, 2, None, 0, T0) == 0
    assert read(engine, KEY) == (0, None, None)


def test_two_processes_stepping_one_session_at_once_both_count(engine: Engine, store: Store, tmp_path: Path) -> None:
    async def run() -> None:
        met = asyncio.Barrier(2)
        formats = [Tally(), Tally()]
        writer = BatchingWriter(store, tmp_path / "spool")
        pipeline = IngestPipeline(Sessionizer(), writer, EventWindow.for_settings(Settings(data_dir=tmp_path)))
        try:
            intakes = [Intake(pipeline, MeetingStates(engine, [fmt], met), lambda d, _: d, [fmt]) for fmt in formats]
            taken = await asyncio.gather(
                intakes[0].take(formats[0], KEY[1], Decoded({KEY[2]: [1]}), ORIGIN),
                intakes[1].take(formats[1], KEY[1], Decoded({KEY[2]: [2]}), ORIGIN),
            )
        finally:
            writer.close()
        assert [outcome.refused for outcome in taken] == [[], []]
        assert sum(fmt.steps for fmt in formats) == 3  # both advanced from nothing; the loser again from the winner's
        version, snapshot, _ = read(engine, KEY)
        assert version == 2
        assert snapshot is not None
        assert sorted(snapshot.state) == [1, 2]
        assert held_units(engine, KEY[1]) == 2

    asyncio.run(run())


def test_a_due_session_is_claimed_by_one_process_and_again_when_its_claim_runs_out(engine: Engine) -> None:
    write(engine, KEY, 0, Snapshot((1,), due_ms=T0 + 5_000), 1, T0)
    write(engine, ("tally", 1001, "later"), 0, Snapshot((1,), due_ms=T0 + 60_000), 1, T0)
    assert claim_due(engine, T0 + 4_999) == []
    assert claim_due(engine, T0 + 5_000) == [KEY]
    assert claim_due(engine, T0 + 5_001) == []  # claimed: not the other process's
    assert claim_due(engine, T0 + 5_000 + CLAIM_MS) == [KEY]  # the claimer never stepped it


def test_a_snapshot_with_an_outbox_comes_due_after_its_grace(engine: Engine) -> None:
    outbox = (ViewBatch(b"v" * 16, {}, [(0, {"event": "exit", "ts": T0})]),)
    write(engine, KEY, 0, Snapshot((1,), outbox), 1, T0)
    assert read(engine, KEY)[2] == T0 + OUTBOX_GRACE_MS
    assert claim_due(engine, T0 + OUTBOX_GRACE_MS - 1) == []
    assert claim_due(engine, T0 + OUTBOX_GRACE_MS) == [KEY]


def test_rows_that_hold_nothing_expire_and_holding_ones_stay(engine: Engine) -> None:
    write(engine, ("tally", 1001, "idle"), 0, Snapshot((1,)), 0, T0)
    write(engine, ("tally", 1001, "holding"), 0, Snapshot((1,), due_ms=T0 + 10**9), 1, T0)
    write(engine, ("tally", 1001, "recent"), 0, Snapshot((1,)), 0, T0 + 500)
    assert expire(engine, T0 + 1_000, ttl_ms=1_000) == 1
    assert [read(engine, ("tally", 1001, name))[0] for name in ("idle", "holding", "recent")] == [0, 1, 1]
