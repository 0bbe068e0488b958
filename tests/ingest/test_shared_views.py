"""The sessionizer's views shared by the processes of a service in the metadata database (SQLite, and PostgreSQL
when SIGHTLINE_TEST_POSTGRES_URL is set): two sessionizers over one database admit each `seq` once, even racing,
refuse events after either closed the view, and sweep an idle view's `exit` once between them; a `seq` admitted
and not yet durable is neither admitted again nor a duplicate until it is confirmed, rolled back or lapses."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sightline.auth.db import open_engine
from sightline.ingest.sessions import EXIT_SETTLE_MS, IDLE_CLOSE_MS, Admission
from sightline.ingest.shared_views import PENDING_MS, SharedSessionizer, ViewBusyError

VIEW = b"\x01" * 16


def event(seq: int, name: str = "heartbeat") -> dict[str, Any]:
    return {"event": name, "ts": 1_000 + seq, "seq": seq}


def indexed(*events: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate(events))


def admitted(sessions: SharedSessionizer, *events: dict[str, Any], now_ms: int = 0, customer: int = 1) -> Admission:
    """`admit`, and `confirm` what it kept (as the pipeline does once it is durable)."""
    admission = sessions.admit(customer, VIEW, {}, indexed(*events), now_ms)
    sessions.confirm(VIEW, admission.kept)
    return admission


def test_a_seq_another_process_stored_is_a_duplicate_and_a_view_it_closed_stays_closed(engine: Engine) -> None:
    first, second = SharedSessionizer(engine), SharedSessionizer(engine)
    assert len(admitted(first, event(0, "play_request"), event(1)).kept) == 2
    again = admitted(second, event(1), event(2, "end"), now_ms=1)
    assert ([e["seq"] for e in again.kept], again.duplicates) == ([2], 1)
    later = first.admit(1, VIEW, {}, indexed(event(3)), now_ms=2)
    assert (later.kept, [r.code for r in later.refused]) == ([], ["view_closed"])
    assert [r.code for r in second.admit(2, VIEW, {}, indexed(event(4)), now_ms=3).refused] == ["foreign_view"]


def test_a_seq_being_stored_is_busy_elsewhere_and_its_pending_end_refuses_later_events(engine: Engine) -> None:
    first, second = SharedSessionizer(engine), SharedSessionizer(engine)
    first.admit(1, VIEW, {}, indexed(event(0, "play_request"), event(1, "end")), now_ms=0)
    with pytest.raises(ViewBusyError):
        second.admit(1, VIEW, {}, indexed(event(1, "end")), now_ms=1)
    assert [r.code for r in second.admit(1, VIEW, {}, indexed(event(2)), now_ms=1).refused] == ["view_closed"]


def test_a_rollback_in_one_process_lets_the_retry_count_in_the_other(engine: Engine) -> None:
    first, second = SharedSessionizer(engine), SharedSessionizer(engine)
    admission = first.admit(1, VIEW, {}, indexed(event(0), event(1, "end")), now_ms=0)
    first.rollback(VIEW, admission.kept)
    assert len(second.admit(1, VIEW, {}, indexed(event(0), event(1, "end")), now_ms=1).kept) == 2


def test_what_a_process_killed_before_storing_admitted_lapses_and_its_retry_is_stored(engine: Engine) -> None:
    killed, other = SharedSessionizer(engine), SharedSessionizer(engine)
    killed.admit(1, VIEW, {}, indexed(event(0), event(1, "end")), now_ms=0)  # never confirmed nor rolled back
    with pytest.raises(ViewBusyError):
        other.admit(1, VIEW, {}, indexed(event(0), event(1, "end")), now_ms=PENDING_MS - 1)
    assert len(admitted(other, event(0), event(1, "end"), now_ms=PENDING_MS).kept) == 2
    assert admitted(killed, event(0), now_ms=PENDING_MS + 1).duplicates == 1


def test_two_processes_racing_with_the_same_seqs_admit_each_once(engine: Engine) -> None:
    sessionizers = [SharedSessionizer(engine), SharedSessionizer(engine)]
    kept: list[list[int]] = [[], []]

    def send(n: int) -> None:
        for seq in range(40):
            with contextlib.suppress(ViewBusyError):  # the other is storing it
                kept[n] += [e["seq"] for e in admitted(sessionizers[n], event(seq), now_ms=seq).kept]

    threads = [threading.Thread(target=send, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(kept[0] + kept[1]) == list(range(40))


def test_an_idle_view_gets_one_exit_from_the_sweepers_of_two_processes(engine: Engine) -> None:
    first, second = SharedSessionizer(engine), SharedSessionizer(engine)
    opened = first.admit(1, VIEW, {"cdn": "edge"}, indexed(event(0, "play_request"), event(1, "first_frame")), 0)
    first.confirm(VIEW, opened.kept)
    ended = first.admit(1, b"\x02" * 16, {}, indexed(event(0, "play_request"), event(1, "end")), now_ms=0)
    first.confirm(b"\x02" * 16, ended.kept)
    assert first.sweep(IDLE_CLOSE_MS - 1) == []
    assert second.knows(VIEW)
    assert second.knows(b"\x02" * 16)
    swept = second.sweep(IDLE_CLOSE_MS) + first.sweep(IDLE_CLOSE_MS)
    assert swept == [(1, VIEW, {"cdn": "edge"}, {"event": "exit", "ts": 1_001, "seq": 2, "started": 1})]
    late = first.admit(1, VIEW, {}, indexed(event(3, "end")), now_ms=IDLE_CLOSE_MS + 1)  # until its exit is stored
    assert [refusal.code for refusal in late.refused] == ["view_closed"]
    assert second.sweep(2 * IDLE_CLOSE_MS + EXIT_SETTLE_MS) == []  # both rows are gone
    assert not first.knows(VIEW)
    assert not second.knows(b"\x02" * 16)


def test_a_database_that_fails_is_an_os_error_and_a_sweep_that_fails_is_done_next_time(tmp_path: Path) -> None:
    unmigrated = open_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every statement fails
    try:
        sessions = SharedSessionizer(unmigrated)
        with pytest.raises(OSError, match="metadata database"):
            sessions.admit(1, VIEW, {}, indexed(event(0)), now_ms=0)
        with pytest.raises(OSError, match="metadata database"):
            sessions.knows(VIEW)
        assert sessions.sweep(IDLE_CLOSE_MS) == []
    finally:
        unmigrated.dispose()
