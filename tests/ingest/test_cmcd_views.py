"""CMCD sessionisation: play states → native events, with the invariants the materialized views need."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sightline.ingest.cmcd import CmcdRecord, parse_record
from sightline.ingest.cmcd_views import REORDER_WINDOW_MS, SidState, ViewEvents, advance
from sightline.ingest.native import EVENT
from sightline.ingest.pipeline import derived_view_id
from sightline.ingest.sessions import IDLE_CLOSE_MS

T = 1_780_000_000_000
SID = "sid-1"


def ps(sta: str, at: int, **more: Any) -> CmcdRecord:
    extra = "".join(f",{key}={value}" for key, value in more.items())
    return parse_record(f'e=ps,sta={sta},sid="{SID}",ts={T + at},v=2{extra}')


def event(e: str, at: int, text: str = "") -> CmcdRecord:
    return parse_record(f'e={e},sid="{SID}",ts={T + at},v=2{text}')


def run(
    *records: CmcdRecord, state: SidState | None = None, now: int | None = None
) -> tuple[SidState, list[ViewEvents]]:
    """`advance` with no reorder window: the records of the call are applied at once, in order of time."""
    return advance(state, 7, SID, list(records), now if now is not None else T + 60_000, window_ms=0)


def kinds(batches: list[ViewEvents]) -> list[str]:
    return [e["event"] for batch in batches for e in batch.events]


def totals(batches: list[ViewEvents], field: str) -> int:
    return sum(e.get(field, 0) for batch in batches for e in batch.events)


def test_a_clean_view_has_its_play_request_first_frame_play_time_and_end() -> None:
    _, batches = run(ps("d", 0), ps("s", 100, cid='"clip"'), ps("p", 1_350), ps("e", 11_350))
    assert kinds(batches) == ["play_request", "first_frame", "end"]
    (batch,) = batches
    assert batch.view_id == derived_view_id(7, "cmcd", SID, T + 100)
    assert batch.dimensions["assetid"] == "clip"
    first_frame = batch.events[1]
    assert (first_frame["startup_ms"], first_frame["started"]) == (1_250, 1)
    assert totals(batches, "play_ms") == 10_000
    assert [e["seq"] for e in batch.events] == [0, 1, 2]


def test_the_players_msd_is_the_startup_time_when_sent() -> None:
    _, batches = run(ps("s", 0), ps("p", 1_000, msd=930))
    assert batches[0].events[1]["startup_ms"] == 930


def test_stalls_count_after_the_first_frame_but_not_seek_recovery() -> None:
    _, batches = run(
        ps("s", 0), ps("r", 200), ps("p", 1_000),  # waiting during startup is startup time
        ps("r", 5_000), ps("p", 5_700),  # a stall of 700 ms
        ps("k", 8_000), ps("r", 8_100), ps("p", 9_000),  # a seek and its recovery
        ps("a", 10_000), ps("p", 20_000),  # a pause
        ps("q", 21_000),
    )  # fmt: skip
    assert kinds(batches) == [
        "play_request", "first_frame", "stall_start", "stall_end", "seek_start", "seek_end", "pause", "resume", "exit",
    ]  # fmt: skip
    assert totals(batches, "rebuffer_ms") == 700
    assert totals(batches, "play_ms") == (5_000 - 1_000) + (8_000 - 5_700) + (10_000 - 9_000) + (21_000 - 20_000)


def test_a_fatal_error_fails_the_view_with_its_code_whichever_comes_first() -> None:
    for records in (
        [ps("s", 0), ps("p", 500), event("e", 3_000, ',sta=f,ec=("manifestLoadError")'), ps("f", 3_000)],
        [ps("s", 0), ps("p", 500), ps("f", 3_000), event("e", 3_000, ',sta=f,ec=("manifestLoadError")')],
    ):
        _, batches = run(*records)
        assert kinds(batches) == ["play_request", "first_frame", "error"]
        error = batches[0].events[-1]
        assert (error["fatal"], error["error_code"], error["started"], error["play_ms"]) == (
            1,
            "manifestLoadError",
            1,
            2_500,
        )


def test_outcomes_before_the_first_frame() -> None:
    assert run(ps("s", 0), ps("f", 900))[1][0].events[-1] | {"ts": 0} == run(ps("s", 0), ps("f", 900))[1][0].events[
        -1
    ] | {"ts": 0}
    _, failed = run(ps("s", 0), ps("f", 900))
    assert [(e["event"], e.get("fatal"), e["started"]) for e in failed[0].events] == [
        ("play_request", None, 0), ("error", 1, 0),
    ]  # fmt: skip
    _, left = run(ps("s", 0), ps("q", 4_000))
    assert [(e["event"], e["started"]) for e in left[0].events] == [("play_request", 0), ("exit", 0)]


def test_a_non_fatal_error_heartbeats_and_bitrate_changes() -> None:
    _, batches = run(
        ps("s", 0),
        event("bc", 100, ",br=(1500)"),
        ps("p", 500),
        event("t", 30_500, ",sta=p,ltc=3000"),
        event("bc", 40_500, ",sta=p,br=(3000)"),
        event("e", 41_000, ',sta=p,ec=("fragLoadTimeOut")'),
        ps("e", 50_500),
    )
    assert kinds(batches) == ["play_request", "first_frame", "heartbeat", "rendition_change", "error", "end"]
    heartbeat, change, error, end = batches[0].events[2:]
    assert (heartbeat["play_ms"], heartbeat["interval_bitrate_kbps"], heartbeat["live_latency_ms"]) == (
        30_000,
        1500,
        3000,
    )
    assert (change["play_ms"], change["interval_bitrate_kbps"], change["rendition_bitrate_kbps"]) == (
        10_000,
        1500,
        3000,
    )
    assert (error["fatal"], error["error_code"]) == (0, "fragLoadTimeOut")
    assert (end["play_ms"] + error["play_ms"], end["interval_bitrate_kbps"]) == (10_000, 3000)


def test_requests_are_applied_across_calls_and_retries_are_skipped() -> None:
    state, first = run(ps("s", 0), ps("p", 800))
    again, second = run(ps("s", 0), ps("p", 800), state=state)
    assert kinds(first) == ["play_request", "first_frame"]
    assert [batch.events for batch in second] == [[]]  # the view is only touched
    _, third = run(ps("e", 10_800), state=again)
    assert kinds(third) == ["end"]
    assert third[0].events[0]["seq"] == 2
    assert third[0].events[0]["play_ms"] == 10_000


def test_advance_leaves_its_input_state_as_it_was() -> None:
    state, _ = run(ps("s", 0), ps("p", 800))
    before = copy.deepcopy(state)
    run(ps("r", 2_000), ps("e", 9_000), state=state)
    assert state == before


def test_records_of_one_call_are_applied_in_order_of_time() -> None:
    _, batches = run(ps("p", 1_000), ps("s", 0), ps("e", 2_000))
    assert kinds(batches) == ["play_request", "first_frame", "end"]
    assert (batches[0].events[1]["startup_ms"], totals(batches, "play_ms")) == (1_000, 1_000)


def test_a_record_older_than_the_applied_ones_does_not_move_the_play_state() -> None:
    state, first = run(ps("s", 0), ps("p", 1_000))
    _, second = run(event("t", 500, ",sta=s"), ps("e", 2_000), state=state)
    assert kinds(first + second) == ["play_request", "first_frame", "heartbeat", "end"]
    assert totals(first + second, "play_ms") == 1_000


def test_response_received_records_never_move_the_state() -> None:
    _, batches = run(ps("s", 0), event("rr", 0, ',sta=p,url="https://cdn/x.ts",rc=200'), ps("p", 700))
    assert batches[0].events[1]["startup_ms"] == 700


def test_a_new_start_after_the_first_frame_is_a_new_view() -> None:
    state, batches = run(ps("s", 0), ps("p", 500), ps("s", 5_500), ps("p", 6_000))
    assert [kinds([b]) for b in batches] == [["play_request", "first_frame", "exit"], ["play_request", "first_frame"]]
    assert batches[1].view_id == derived_view_id(7, "cmcd", f"{SID}\x1f1", T + 5_500)  # the second view of the sid
    assert batches[0].events[-1]["play_ms"] == 5_000
    _, after_end = run(ps("e", 7_000), event("t", 8_000, ",sta=e"), ps("p", 9_000), state=state)
    assert kinds(after_end) == ["end"]  # nothing after the end until the next play request


def test_a_session_first_seen_playing_is_joined_without_a_new_attempt() -> None:
    _, batches = run(event("t", 0, ",sta=p"), ps("e", 4_000))
    assert kinds(batches) == ["heartbeat", "end"]
    assert all(e["started"] == 1 for e in batches[0].events)
    assert totals(batches, "play_ms") == 4_000


def test_a_play_request_overtaken_by_its_first_frame_still_starts_the_view() -> None:
    state, joined = run(ps("p", 480), now=T + 500)
    _, late = run(ps("s", 0), ps("e", 10_480), state=state, now=T + 10_500)
    assert kinds(joined + late) == ["play_request", "first_frame", "end"]
    play_request, first_frame, end = late[0].events
    assert (play_request["ts"], play_request["started"]) == (T, 0)
    assert (first_frame["ts"], first_frame["startup_ms"], first_frame["started"]) == (T + 480, 480, 1)
    assert end["play_ms"] == 10_000


def test_a_view_idle_for_30_minutes_is_left_to_the_sweeper() -> None:
    state, _ = run(ps("s", 0), ps("p", 500), now=T + 1_000)
    _, batches = run(
        ps("p", IDLE_CLOSE_MS + 60_000), ps("e", IDLE_CLOSE_MS + 70_000), state=state, now=T + IDLE_CLOSE_MS + 80_000
    )
    (batch,) = batches
    assert batch.view_id != derived_view_id(7, "cmcd", SID, T)
    assert kinds(batches) == ["end"]
    assert totals(batches, "play_ms") == 10_000


def test_request_mode_states_are_inferred_from_su_and_bs() -> None:
    def request(text: str) -> CmcdRecord:
        return parse_record(f'sid="{SID}",br=2000,{text}')

    state, batches = run(request("su,ot=m"), now=T)
    state, more = run(request("su,ot=v"), state=state, now=T + 300)
    state, started = run(request("ot=v"), state=state, now=T + 2_300)
    state, stalled = run(request("bs,su,ot=v"), state=state, now=T + 8_300)
    _, recovered = run(request("ot=v"), state=state, now=T + 9_300)
    assert kinds(batches + more + started + stalled + recovered) == [
        "play_request", "first_frame", "stall_start", "stall_end",
    ]  # fmt: skip
    assert started[0].events[0]["startup_ms"] == 2_300
    assert recovered[0].events[0]["rebuffer_ms"] == 1_000
    assert stalled[0].events[0]["play_ms"] == 6_000


def test_request_mode_data_does_not_drive_a_session_that_sends_events() -> None:
    state, _ = run(ps("s", 0))
    _, batches = run(parse_record(f'sid="{SID}",cdn="fastly"'), state=state, now=T + 500)
    assert kinds(batches) == []
    assert batches[0].dimensions["cdn"] == "fastly"


# -- invariants over random sessions -----------------------------------------------------------------

_STATES = st.sampled_from(list("spkrawefqd"))
_EVENTS = st.sampled_from(["ps", "ps", "ps", "t", "e", "bc", "rr", "c", "m"])


@st.composite
def _session(draw: st.DrawFn) -> list[list[CmcdRecord]]:
    calls: list[list[CmcdRecord]] = []
    at = 0
    for _ in range(draw(st.integers(1, 6))):
        call = []
        for _ in range(draw(st.integers(1, 5))):
            at += draw(st.integers(-2_000, 20_000))
            e = draw(_EVENTS)
            text = f'e={e},sid="{SID}",ts={T + max(at, 0)},v=2,sn={draw(st.integers(0, 5))}'
            if e == "ps" or draw(st.booleans()):
                text += f",sta={draw(_STATES)}"
            if draw(st.booleans()):
                text += f",br=({draw(st.integers(0, 9000))})"
            if draw(st.booleans()):
                text += f',cid="{draw(st.sampled_from(["a", "b"]))}"'
            if draw(st.integers(0, 9)) == 0:
                text += f",msd={draw(st.integers(0, 5000))},dfa={draw(st.integers(0, 50))}"
            call.append(parse_record(text))
        calls.append(call)
    return calls


@settings(max_examples=300)
@given(_session(), st.integers(0, 3 * IDLE_CLOSE_MS), st.sampled_from([0, REORDER_WINDOW_MS]))
def test_random_sessions_keep_the_view_invariants(calls: list[list[CmcdRecord]], gap: int, window_ms: int) -> None:
    state: SidState | None = None
    views: dict[bytes, list[dict[str, Any]]] = {}
    times = [T + number * gap for number in range(len(calls))]
    timer: tuple[int, list[CmcdRecord]] = (T + len(calls) * gap + window_ms, [])  # it applies what is still held
    for now, call in [*zip(times, calls, strict=True), timer]:
        state, batches = advance(state, 7, SID, call, now, window_ms)
        for batch in batches:
            views.setdefault(batch.view_id, []).extend(batch.events)
            for row in batch.events:
                try:
                    EVENT.validate_python(row)
                except ValidationError as error:  # pragma: no cover - the message is the assertion
                    raise AssertionError(f"{row}: {error}") from error
    for events in views.values():
        names = [e["event"] for e in events]
        assert [e["seq"] for e in events] == list(range(len(events)))
        assert names.count("play_request") <= 1
        assert names.count("first_frame") <= 1
        terminal = [i for i, e in enumerate(events) if e["event"] in ("end", "exit") or e.get("fatal") == 1]
        assert len(terminal) <= 1
        assert not terminal or terminal[0] == len(events) - 1
        if "first_frame" in names:
            assert "play_request" in names
            assert names.index("play_request") < names.index("first_frame")
            assert all(e["started"] == 1 for e in events[names.index("first_frame") :])
            assert not terminal or events[terminal[0]]["started"] == 1  # never a start failure after a start
