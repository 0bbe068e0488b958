"""The sessionizer's views shared by the processes of a service in the metadata database (SQLite, and PostgreSQL
when SIGHTLINE_TEST_POSTGRES_URL is set): two sessionizers over one database admit each `seq` once, even racing,
refuse events after either closed the view, and sweep an idle view's `exit` once between them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sightline.auth.db import migrate, open_engine
from sightline.ingest.sessions import IDLE_CLOSE_MS
from sightline.ingest.shared_views import SharedSessionizer

VIEW = b"\x01" * 16


@pytest.fixture
def engine(tmp_path: Path, metadata_url: str | None) -> Iterator[Engine]:
    opened = open_engine(metadata_url or f"sqlite:///{tmp_path / 'metadata.db'}")
    migrate(opened)
    yield opened
    opened.dispose()


def event(seq: int, name: str = "heartbeat") -> dict[str, Any]:
    return {"event": name, "ts": 1_000 + seq, "seq": seq}


def indexed(*events: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate(events))


def test_a_seq_another_process_admitted_is_a_duplicate_and_a_view_it_closed_stays_closed(engine: Engine) -> None:
    first, second = SharedSessionizer(engine), SharedSessionizer(engine)
    assert len(first.admit(1, VIEW, {}, indexed(event(0, "play_request"), event(1)), now_ms=0).kept) == 2
    again = second.admit(1, VIEW, {}, indexed(event(1), event(2, "end")), now_ms=1)
    assert ([e["seq"] for e in again.kept], again.duplicates) == ([2], 1)
    later = first.admit(1, VIEW, {}, indexed(event(3)), now_ms=2)
    assert (later.kept, [r.code for r in later.refused]) == ([], ["view_closed"])
    assert [r.code for r in second.admit(2, VIEW, {}, indexed(event(4)), now_ms=3).refused] == ["foreign_view"]


def test_a_rollback_in_one_process_lets_the_retry_count_in_the_other(engine: Engine) -> None:
    first, second = SharedSessionizer(engine), SharedSessionizer(engine)
    admitted = first.admit(1, VIEW, {}, indexed(event(0), event(1, "end")), now_ms=0)
    first.rollback(VIEW, admitted.kept)
    assert len(second.admit(1, VIEW, {}, indexed(event(0), event(1, "end")), now_ms=1).kept) == 2


def test_two_processes_racing_with_the_same_seqs_admit_each_once(engine: Engine) -> None:
    sessionizers = [SharedSessionizer(engine), SharedSessionizer(engine)]
    kept: list[list[int]] = [[], []]

    def send(n: int) -> None:
        for seq in range(40):
            admission = sessionizers[n].admit(1, VIEW, {}, indexed(event(seq)), now_ms=seq)
            kept[n] += [e["seq"] for e in admission.kept]

    threads = [threading.Thread(target=send, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(kept[0] + kept[1]) == list(range(40))


def test_an_idle_view_gets_one_exit_from_the_sweepers_of_two_processes(engine: Engine) -> None:
    first, second = SharedSessionizer(engine), SharedSessionizer(engine)
    first.admit(1, VIEW, {"cdn": "edge"}, indexed(event(0, "play_request"), event(1, "first_frame")), now_ms=0)
    first.admit(1, b"\x02" * 16, {}, indexed(event(0, "play_request"), event(1, "end")), now_ms=0)
    assert first.sweep(IDLE_CLOSE_MS - 1) == []
    swept = second.sweep(IDLE_CLOSE_MS) + first.sweep(IDLE_CLOSE_MS)
    assert swept == [(1, VIEW, {"cdn": "edge"}, {"event": "exit", "ts": 1_001, "seq": 2, "started": 1})]
    assert second.sweep(2 * IDLE_CLOSE_MS) == []  # both rows are gone


def test_a_database_that_fails_is_an_os_error_and_a_sweep_that_fails_is_done_next_time(tmp_path: Path) -> None:
    unmigrated = open_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: every statement fails
    try:
        sessions = SharedSessionizer(unmigrated)
        with pytest.raises(OSError, match="metadata database"):
            sessions.admit(1, VIEW, {}, indexed(event(0)), now_ms=0)
        assert sessions.sweep(IDLE_CLOSE_MS) == []
    finally:
        unmigrated.dispose()
