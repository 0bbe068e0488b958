"""The cost of the ingest state that the processes of a service share in the metadata database (server stores).

    .venv/bin/python bench/shared_state.py [--rounds 2000] [--postgres URL]

Per call, on this machine, the median of `--rounds` (after a tenth as many to warm up):
- a native batch of 50 events of a new view through the sessionizer: the one-process `Sessionizer.admit` (memory)
  and `SharedSessionizer.admit` and `confirm` (a read and a write of the view's row, then both again once stored);
- a step of a CMCD session with one record held: the embedded `SessionStates` (the snapshot put in the log and
  fsync'd, then the outbox's end noted without waiting) and `SharedSessionStates` (the row read, written over its
  version, and written again once the outbox is stored).
The metadata database is a SQLite file in a temporary directory, and the PostgreSQL of `--postgres` when given (a
schema of its own, dropped afterwards). Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchlib import write_section
from sightline.auth.db import migrate, open_engine
from sightline.ingest.cmcd import CmcdRecord
from sightline.ingest.cmcd_format import CmcdReports
from sightline.ingest.session_states import SessionStates, Snapshot
from sightline.ingest.sessions import Sessionizer
from sightline.ingest.shared_states import SharedSessionStates
from sightline.ingest.shared_views import SharedSessionizer

T0 = 1_780_000_000_000
BATCH = 50


def _events() -> list[tuple[int, dict[str, Any]]]:
    return [(i, {"event": "heartbeat", "ts": T0 + i, "seq": i, "play_ms": 1_000}) for i in range(BATCH)]


def _median_us(calls: Iterator[Callable[[], object]], rounds: int) -> float:
    times = []
    for n, call in enumerate(calls):
        began = time.perf_counter()
        call()
        if n >= rounds // 10:
            times.append(time.perf_counter() - began)
        if len(times) == rounds:
            break
    return statistics.median(times) * 1e6


def _admit(sessions: Sessionizer, view_id: bytes, events: list[tuple[int, dict[str, Any]]]) -> None:
    """A batch through the sessionizer as the pipeline sends it: admitted, and (shared) confirmed once stored."""
    admission = sessions.admit(1, view_id, {"cdn": "edge"}, events, T0)
    if isinstance(sessions, SharedSessionizer):
        sessions.confirm(view_id, admission.kept)


def admit_us(sessions: Sessionizer, rounds: int) -> float:
    def calls() -> Iterator[Callable[[], object]]:
        while True:
            view_id, events = uuid.uuid4().bytes, _events()
            yield partial(_admit, sessions, view_id, events)

    return _median_us(calls(), rounds)


def step_us(states: SessionStates, rounds: int) -> float:
    """A CMCD session's step as the intake makes it: read (shared), put the snapshot, note the outbox stored."""
    fmt = CmcdReports()
    loop = asyncio.new_event_loop()

    async def step(n: int) -> None:
        key = ("cmcd", 1, f"sid-{n}")
        entry = states.entry(key, T0)
        if isinstance(states, SharedSessionStates):
            await states.refresh(key, entry)
        record = CmcdRecord(2, sid=key[2], event="ps", ts=T0, state="s")
        advanced = fmt.advance(None, 1, key[2], [record], T0)
        await states.put(key, entry, Snapshot(advanced.state, (), due_ms=T0 + 5_000))
        await states.put_soon(key, entry, Snapshot(advanced.state, (), due_ms=T0 + 5_000))

    def calls() -> Iterator[Callable[[], object]]:
        for n in itertools.count():
            yield partial(loop.run_until_complete, step(n))

    try:
        return _median_us(calls(), rounds)
    finally:
        loop.close()


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def measure_database(url: str, rounds: int) -> tuple[float, float]:
    engine = open_engine(url)
    try:
        migrate(engine)
        states = SharedSessionStates(engine, [CmcdReports()], T0)
        return admit_us(SharedSessionizer(engine), rounds), step_us(states, rounds)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to measure too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        states = SessionStates(Path(directory) / "log", T0)
        try:
            rows = [("embedded (memory; the log in the data directory)", admit_us(Sessionizer(), args.rounds),
                     step_us(states, args.rounds))]  # fmt: skip
        finally:
            states.close()
        rows.append(("shared, SQLite file", *measure_database(f"sqlite:///{directory}/metadata.db", args.rounds)))
    if args.postgres:
        with postgres_schema(args.postgres) as url:
            rows.append(("shared, PostgreSQL 15 (127.0.0.1)", *measure_database(url, args.rounds)))
    table = "\n".join(f"| {name} | {admit:,.0f} µs | {step:,.0f} µs |" for name, admit, step in rows)
    body = f"""
Per call, the median of {args.rounds:,} (one process, nothing else running in it):

| ingest state | a native batch of {BATCH} events of a new view (shared: admit, confirm) | a CMCD session step |
|---|---|---|
{table}

A request of a format with state (mux, CMCD) makes one step per session it carries and one `admit` per view it
stores events of; a native batch makes one `admit`. The shared rows are read and written on a thread, off the
event loop, so the cost is latency and database load more than the event loop's time.
"""
    command = f"python bench/shared_state.py --rounds {args.rounds}" + (" --postgres URL" if args.postgres else "")
    write_section("shared_state", command, body)
    print(body)


if __name__ == "__main__":
    main()
