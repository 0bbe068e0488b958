"""The collector's per-view state: duplicates, closed views, rollback, the 30-minute sweeper."""

from __future__ import annotations

from typing import Any

from sightline.ingest.sessions import EXIT_SETTLE_MS, IDLE_CLOSE_MS, Sessionizer

VIEW = b"\x01" * 16


def event(seq: int, kind: str = "heartbeat", **fields: Any) -> dict[str, Any]:
    return {"event": kind, "seq": seq, "ts": 1_000 + seq, "started": 0, "fatal": 0, **fields}


def indexed(*events: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate(events))


def test_a_retried_batch_is_counted_once() -> None:
    sessions = Sessionizer()
    first = sessions.admit(1, VIEW, {}, indexed(event(0, "play_request"), event(1)), now_ms=0)
    again = sessions.admit(1, VIEW, {}, indexed(event(0, "play_request"), event(1), event(2)), now_ms=1)
    assert [e["seq"] for e in first.kept] == [0, 1]
    assert [e["seq"] for e in again.kept] == [2]
    assert again.duplicates == 2


def test_events_after_the_terminal_event_are_refused_with_their_index() -> None:
    sessions = Sessionizer()
    sessions.admit(1, VIEW, {}, indexed(event(0, "play_request"), event(1, "error", fatal=1)), now_ms=0)
    later = sessions.admit(1, VIEW, {}, indexed(event(2), event(3)), now_ms=1)
    assert later.kept == []
    assert [(refusal.index, refusal.code) for refusal in later.refused] == [(0, "view_closed"), (1, "view_closed")]
    assert "closed" in later.refused[0].reason


def test_events_numbered_before_the_terminal_one_that_arrive_after_it_are_taken() -> None:
    sessions = Sessionizer()
    ended = sessions.admit(1, VIEW, {}, indexed(event(4, "heartbeat", started=1), event(5, "end", started=1)), 0)
    assert [e["seq"] for e in ended.kept] == [4, 5]
    late = [event(0, "play_request"), event(1, "first_frame"), event(2, "error", fatal=1), event(3), event(6)]
    admitted = sessions.admit(1, VIEW, {}, indexed(*late), now_ms=1)
    assert [e["seq"] for e in admitted.kept] == [0, 1, 3]
    assert [(refusal.index, refusal.code) for refusal in admitted.refused] == [(2, "view_closed"), (4, "view_closed")]


def test_a_view_closed_before_its_start_takes_late_events_that_do_not_start_it() -> None:
    sessions = Sessionizer()
    sessions.admit(1, VIEW, {}, indexed(event(3, "exit")), now_ms=0)  # stored as an exit before the start
    late = [event(0, "play_request"), event(1, "ad_impression"), event(2, "first_frame")]
    admitted = sessions.admit(1, VIEW, {}, indexed(*late), now_ms=1)
    assert [e["seq"] for e in admitted.kept] == [0, 1]
    assert [(refusal.index, refusal.code) for refusal in admitted.refused] == [(2, "view_closed")]


def test_first_frame_marks_the_view_started() -> None:
    sessions = Sessionizer()
    admitted = sessions.admit(1, VIEW, {}, indexed(event(0, "play_request"), event(1, "first_frame")), now_ms=0)
    assert [e["started"] for e in admitted.kept] == [0, 1]


def test_a_view_id_of_another_customer_is_refused() -> None:
    sessions = Sessionizer()
    sessions.admit(1, VIEW, {}, indexed(event(0)), now_ms=0)
    other = sessions.admit(2, VIEW, {}, indexed(event(1)), now_ms=0)
    assert other.kept == []
    assert other.refused[0].code == "foreign_view"
    assert "another customer" in other.refused[0].reason


def test_rollback_lets_the_retry_count() -> None:
    sessions = Sessionizer()
    admitted = sessions.admit(1, VIEW, {}, indexed(event(0), event(1, "end")), now_ms=0)
    sessions.rollback(VIEW, admitted.kept)
    retried = sessions.admit(1, VIEW, {}, indexed(event(0), event(1, "end")), now_ms=1)
    assert [e["seq"] for e in retried.kept] == [0, 1]


def test_the_sweeper_closes_idle_views_with_an_exit_after_their_last_event() -> None:
    sessions = Sessionizer()
    dims = {"cdn": "akamai"}
    sessions.admit(1, VIEW, dims, indexed(event(0, "play_request"), event(1, "first_frame")), now_ms=0)
    sessions.admit(1, b"\x02" * 16, {}, indexed(event(0), event(1, "end")), now_ms=0)  # closed: no exit
    assert sessions.sweep(IDLE_CLOSE_MS - 1) == []
    closed = sessions.sweep(IDLE_CLOSE_MS)
    assert closed == [(1, VIEW, dims, {"event": "exit", "ts": 1_001, "seq": 2, "started": 1})]
    assert sessions.sweep(2 * IDLE_CLOSE_MS) == []


def test_state_is_bounded() -> None:
    sessions = Sessionizer(max_views=3)
    for n in range(10):
        sessions.admit(1, bytes([n]) * 16, {}, indexed(event(0)), now_ms=n)
    assert len(sessions.sweep(10 * IDLE_CLOSE_MS)) == 3


def test_past_the_bound_the_customer_with_the_most_views_loses_its_own() -> None:
    sessions = Sessionizer(max_views=4)
    for n in range(2):
        sessions.admit(1, bytes([n]) * 16, {}, indexed(event(0, "play_request")), now_ms=n)
    for n in range(2, 12):  # another customer's flood of new views
        sessions.admit(2, bytes([n]) * 16, {}, indexed(event(0, "play_request")), now_ms=n)
    assert all(sessions.knows(bytes([n]) * 16) for n in range(2))
    assert [n for n in range(2, 12) if sessions.knows(bytes([n]) * 16)] == [10, 11]
    retried = sessions.admit(1, b"\x00" * 16, {}, indexed(event(0, "play_request"), event(1)), now_ms=12)
    assert (retried.duplicates, len(retried.kept)) == (1, 1)


def test_a_view_the_sweeper_closed_stays_closed_until_its_exit_is_surely_stored() -> None:
    sessions = Sessionizer()
    sessions.admit(1, VIEW, {}, indexed(event(0, "play_request"), event(1, "first_frame")), now_ms=0)
    assert len(sessions.sweep(IDLE_CLOSE_MS)) == 1
    late = sessions.admit(1, VIEW, {}, indexed(event(2, "end", started=1)), now_ms=IDLE_CLOSE_MS)
    assert [refusal.code for refusal in late.refused] == ["view_closed"]
    assert sessions.sweep(2 * IDLE_CLOSE_MS + EXIT_SETTLE_MS - 1) == []
    assert sessions.knows(VIEW)
    assert sessions.sweep(2 * IDLE_CLOSE_MS + EXIT_SETTLE_MS) == []
    assert not sessions.knows(VIEW)
