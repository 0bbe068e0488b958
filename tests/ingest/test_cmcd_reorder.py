"""CMCD records that arrive out of order give the view they give in order (issue 19 §2).

Real players send one report per record, and reports overtake each other in transit: dash.js's `sta=r`
report was seen before its `sta=s`. `deliver` plays a session to `advance` as the collector does — each
record at its arrival time, and the collector's timer in between — and the view must come out the same
whatever the order of arrival, within the reorder window.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sightline.ingest.cmcd import CmcdRecord, parse_record
from sightline.ingest.cmcd_views import SidState, advance

T = 1_780_000_000_000
SID = "dash-1"
TICK_MS = 100
"""How often the collector's timer looks at the session, in these tests."""
TRANSIT_MS = 20


def ps(sta: str, at: int, **more: Any) -> CmcdRecord:
    extra = "".join(f",{key}={value}" for key, value in more.items())
    return parse_record(f'e=ps,sta={sta},sid="{SID}",ts={T + at},v=2{extra}')


def event(e: str, at: int, text: str = "") -> CmcdRecord:
    return parse_record(f'e={e},sid="{SID}",ts={T + at},v=2{text}')


Arrivals = list[tuple[int, CmcdRecord]]
"""(arrival time, ms after T; record)."""


def in_order(records: list[CmcdRecord]) -> Arrivals:
    assert all(record.ts is not None for record in records)
    return [(record.ts - T + TRANSIT_MS, record) for record in records if record.ts is not None]


def held_back(records: list[CmcdRecord], index: int, arrives_at: int) -> Arrivals:
    """The session delivered in order but for record `index`, which arrives at `arrives_at`."""
    arrivals = in_order(records)
    arrivals[index] = (arrives_at, arrivals[index][1])
    return sorted(arrivals, key=lambda pair: pair[0])


def deliver(arrivals: Arrivals) -> dict[bytes, list[dict[str, Any]]]:
    """The events per view that the collector stores for the records arriving at the given times, with its
    timer looking every `TICK_MS` until well after the last arrival."""
    state: SidState | None = None
    views: dict[bytes, list[dict[str, Any]]] = {}
    pending = sorted(arrivals, key=lambda pair: pair[0])
    now = pending[0][0]
    end = pending[-1][0] + 30_000
    while now <= end:
        calls = [[record] for at, record in pending if at <= now] or [[]]  # each arrival, or the timer
        pending = [(at, record) for at, record in pending if at > now]
        for call in calls:
            state, batches = advance(state, 7, SID, call, T + now)
            for batch in batches:
                views.setdefault(batch.view_id, []).extend(batch.events)
        now = min(now + TICK_MS, pending[0][0]) if pending else now + TICK_MS
    return {view_id: events for view_id, events in views.items() if events}


def view_start_ms(view_id: bytes) -> int:
    return uuid.UUID(bytes=view_id).int >> 80


def total(events: list[dict[str, Any]], field: str) -> int:
    return sum(e.get(field, 0) for e in events)


DASH_CLEAN = [
    ps("s", 0, cid='"clip"', sf="d", st="v"),
    ps("r", 263),  # dash.js reports waiting for the first segments as rebuffering
    ps("p", 509),
    event("t", 5_000, ",sta=p"),
    ps("e", 10_509),
]
"""A clean 10 s play as dash.js 5.2 reports it: startup 509 ms, no stall."""


def assert_the_clean_view(views: dict[bytes, list[dict[str, Any]]]) -> None:
    assert len(views) == 1, [[e["event"] for e in events] for events in views.values()]
    ((view_id, events),) = views.items()
    names = [e["event"] for e in events]
    assert names == ["play_request", "first_frame", "heartbeat", "end"]
    assert view_start_ms(view_id) == T  # the view starts at its play request
    assert events[0]["ts"] == T
    assert events[1]["startup_ms"] == 509
    assert "stall_start" not in names
    assert total(events, "rebuffer_ms") == 0
    assert total(events, "play_ms") == 10_000
    assert all(e["ts"] >= view_start_ms(view_id) for e in events)  # the timeline shows every event
    assert [e["seq"] for e in events] == list(range(len(events)))


def test_a_clean_play_delivered_in_order() -> None:
    assert_the_clean_view(deliver(in_order(DASH_CLEAN)))


def test_the_rebuffering_report_before_the_starting_one_changes_nothing() -> None:
    """As seen with dash.js 5.2: `sta=r` arrived before `sta=s` (2 plays in 7)."""
    assert_the_clean_view(deliver(held_back(DASH_CLEAN, 0, arrives_at=263 + TRANSIT_MS + 5)))


def test_the_starting_report_held_back_for_seconds_changes_nothing() -> None:
    assert_the_clean_view(deliver(held_back(DASH_CLEAN, 0, arrives_at=3_000)))


def test_the_first_frame_report_held_back_past_a_heartbeat_changes_nothing() -> None:
    assert_the_clean_view(deliver(held_back(DASH_CLEAN, 2, arrives_at=5_000 + TRANSIT_MS + 1_000)))


def test_the_end_overtaking_the_last_heartbeat_changes_nothing() -> None:
    assert_the_clean_view(deliver(held_back(DASH_CLEAN, 3, arrives_at=10_509 + TRANSIT_MS + 400)))


def test_a_real_stall_reported_out_of_order_is_counted_once_with_its_time() -> None:
    records = [ps("s", 0), ps("p", 500), ps("r", 4_000), ps("p", 4_800), ps("e", 10_500)]
    expected = deliver(in_order(records))
    for arrivals in (held_back(records, 2, 4_900), held_back(records, 3, 7_000), held_back(records, 0, 4_100)):
        views = deliver(arrivals)
        assert list(views.values()) == list(expected.values())
        (events,) = views.values()
        assert [e["event"] for e in events].count("stall_start") == 1
        assert total(events, "rebuffer_ms") == 800
        assert total(events, "play_ms") == 10_000 - 800


# -- any disorder within the window ------------------------------------------------------------------

WINDOW_MS = 5_000
"""The default reorder window (`cmcd_views.REORDER_WINDOW_MS`)."""
_STATES = st.sampled_from(list("spkrawefq"))
_EVENTS = st.sampled_from(["ps", "ps", "ps", "t", "e", "bc"])


@st.composite
def _delivery(draw: st.DrawFn) -> tuple[list[CmcdRecord], Arrivals]:
    """A session's records (distinct, increasing times) and their arrivals, each delayed by 0 to the window:
    a record then arrives no more than the window after any record of a later time."""
    records: list[CmcdRecord] = []
    at = 0
    for sn in range(draw(st.integers(1, 12))):
        at += draw(st.integers(1, 8_000))
        e = draw(_EVENTS)
        text = f'e={e},sid="{SID}",ts={T + at},v=2,sn={sn}'
        if e == "ps" or draw(st.booleans()):
            text += f",sta={draw(_STATES)}"
        if draw(st.booleans()):
            text += f",br=({draw(st.sampled_from([1500, 3000]))})"
        records.append(parse_record(text))
    delays = draw(st.lists(st.integers(0, WINDOW_MS - TICK_MS), min_size=len(records), max_size=len(records)))
    arrivals = [(record.ts - T + delay, record) for record, delay in zip(records, delays, strict=True) if record.ts]
    return records, arrivals


@settings(max_examples=200, deadline=None)
@given(_delivery())
def test_any_disorder_within_the_window_gives_the_events_of_the_order_sent(
    delivery: tuple[list[CmcdRecord], Arrivals],
) -> None:
    records, arrivals = delivery
    assert deliver(arrivals) == deliver(in_order(records))
