"""The formats' session states: durable across a reopen, forgotten when idle past their time or past the bound
(never while they hold something not stored), and the CMCD log of earlier versions taken in."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sightline.ingest.cmcd import CmcdRecord
from sightline.ingest.cmcd_format import CmcdReports, adopt_legacy_log
from sightline.ingest.cmcd_views import SidState, ViewEvents
from sightline.ingest.enrich import RequestOrigin
from sightline.ingest.format import ViewBatch
from sightline.ingest.session_states import SessionStates, Snapshot, StateKey
from sightline.ingest.snapshot_log import SnapshotLog

T0 = 1_780_000_000_000
VIEW = ViewBatch(b"v" * 16, {"cdn": "edge"}, [(0, {"event": "play_request", "ts": T0})])


def put(states: SessionStates, key: StateKey, snapshot: Snapshot | None, at_ms: int = T0) -> None:
    asyncio.run(states.put(key, states.entry(key, at_ms), snapshot))


def reopened(directory: Path, states: SessionStates) -> dict[StateKey, Snapshot | None]:
    states.close()
    again = SessionStates(directory, T0)
    try:
        return {key: entry.snapshot for key, entry in again.items()}
    finally:
        again.close()


def test_a_snapshot_put_is_there_after_a_reopen_and_one_put_none_is_not(tmp_path: Path) -> None:
    states = SessionStates(tmp_path, T0)
    put(states, ("mux", 1, "kept"), Snapshot({"last_seq": 4}))
    put(states, ("mux", 1, "gone"), Snapshot({"last_seq": 2}))
    put(states, ("mux", 1, "gone"), None)
    put(states, ("cmcd", 2, "kept"), Snapshot("held", (VIEW,), due_ms=T0 + 5_000))
    assert reopened(tmp_path, states) == {
        ("mux", 1, "kept"): Snapshot({"last_seq": 4}),
        ("cmcd", 2, "kept"): Snapshot("held", (VIEW,), due_ms=T0 + 5_000),
    }


def test_idle_sessions_past_their_time_are_forgotten_and_holding_ones_kept(tmp_path: Path) -> None:
    states = SessionStates(tmp_path, T0, ttl_ms=1_000)
    put(states, ("mux", 1, "old"), Snapshot("state"), T0)
    put(states, ("cmcd", 1, "holding"), Snapshot("state", (VIEW,)), T0)
    put(states, ("mux", 1, "recent"), Snapshot("state"), T0 + 500)
    states.expire(T0 + 999)
    assert len(states) == 3
    states.expire(T0 + 1_000)
    assert [key for key, _ in states.items()] == [("cmcd", 1, "holding"), ("mux", 1, "recent")]
    assert set(reopened(tmp_path, states)) == {("cmcd", 1, "holding"), ("mux", 1, "recent")}


def test_past_the_bound_the_least_recently_touched_idle_sessions_are_forgotten(tmp_path: Path) -> None:
    states = SessionStates(tmp_path, T0, max_sessions=2)
    put(states, ("cmcd", 1, "holding"), Snapshot("state", due_ms=T0))
    put(states, ("mux", 1, "first"), Snapshot("state"))
    put(states, ("mux", 1, "second"), Snapshot("state"))
    put(states, ("mux", 1, "third"), Snapshot("state"))
    assert [key[2] for key, _ in states.items()] == ["holding", "third"]
    assert set(reopened(tmp_path, states)) == {("cmcd", 1, "holding"), ("mux", 1, "third")}


def test_past_the_bound_the_customer_with_the_most_sessions_loses_its_own(tmp_path: Path) -> None:
    states = SessionStates(tmp_path, T0, max_sessions=4)
    put(states, ("cmcd", 1001, "in-progress"), Snapshot("state"))
    put(states, ("mux", 1001, "paused"), Snapshot("state"))
    for n in range(10):  # another customer's flood of new sessions, each touched after 1001's
        put(states, ("cmcd", 1002, f"flood-{n}"), Snapshot("state"), T0 + n)
    assert [key[2] for key, _ in states.items()] == ["in-progress", "paused", "flood-8", "flood-9"]
    put(states, ("cmcd", 1001, "third"), Snapshot("state"), T0 + 20)  # now 1001 holds the most: it loses its own
    assert [key[2] for key, _ in states.items()] == ["paused", "flood-8", "flood-9", "third"]
    assert set(reopened(tmp_path, states)) == {key for key, _ in states.items()}


def test_a_customer_whose_sessions_all_hold_records_passes_the_bound_and_evicts_no_other(tmp_path: Path) -> None:
    states = SessionStates(tmp_path, T0, max_sessions=3)
    put(states, ("cmcd", 1001, "idle"), Snapshot("state"))
    for n in range(5):  # every one holds a record for the reorder window: none may be forgotten
        put(states, ("cmcd", 1002, f"holding-{n}"), Snapshot("state", due_ms=T0 + 60_000), T0 + n)
    assert [key[2] for key, _ in states.items()] == ["idle", *(f"holding-{n}" for n in range(5))]


def test_the_cmcd_log_of_earlier_versions_is_taken_in(tmp_path: Path) -> None:
    record = CmcdRecord(2, sid="s", event="ps", ts=T0, state="s")
    state = SidState(held=((T0, record),))
    origin = RequestOrigin("Mozilla/5.0", "192.0.2.1", ())
    legacy = SnapshotLog(tmp_path / "cmcd")
    legacy.put((1001, "s"), (state, [ViewEvents(b"v" * 16, {"cdn": "edge"}, [{"event": "exit", "ts": T0}])], origin))
    legacy.put((1001, "done"), None)
    legacy.close()
    states = SessionStates(tmp_path / "session-states", T0)
    assert adopt_legacy_log(tmp_path / "cmcd", states, CmcdReports(window_ms=5_000), T0) == 1
    outbox = (ViewBatch(b"v" * 16, {"cdn": "edge"}, [(0, {"event": "exit", "ts": T0})]),)
    expected = Snapshot(state, outbox, origin, T0 + 5_000)
    assert not (tmp_path / "cmcd").exists()
    assert reopened(tmp_path / "session-states", states) == {("cmcd", 1001, "s"): expected}
