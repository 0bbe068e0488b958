"""The mux-embed decoder on beacons recorded from mux-embed, checked against the raw beacons' own counters."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sightline.ingest.format import CollectError
from sightline.ingest.mux import MuxBeacon, MuxViewState, decode_view, parse_body
from sightline.ingest.native import EVENT, VIEW_DIMENSIONS
from tests.ingest.mux_fixtures import NAMES, last, load


def beacons_of(name: str) -> list[list[MuxBeacon]]:
    """Each recorded body's events, parsed."""
    bodies = []
    for posted in load(name):
        beacons, refused = parse_body(json.loads(posted.body))
        assert refused == []
        bodies.append(beacons)
    return bodies


def replay(bodies: list[list[MuxBeacon]], states: dict[str, MuxViewState] | None = None) -> dict[str, Any]:
    """Decode the bodies in order as the collector does (state kept per view); per view, the native events
    and the last dimensions."""
    states = {} if states is None else states
    views: dict[str, Any] = {}
    for beacons in bodies:
        by_view: dict[str, list[MuxBeacon]] = {}
        for beacon in beacons:
            by_view.setdefault(beacon.view, []).append(beacon)
        for view, view_beacons in by_view.items():
            decoding = decode_view(states.get(view), view_beacons)
            if decoding.state is not None:
                states[view] = decoding.state
            seen = views.setdefault(view, {"events": [], "dimensions": {}, "duplicates": 0})
            seen["events"] += [event for _, event in decoding.events]
            seen["dimensions"] = decoding.dimensions or seen["dimensions"]
            seen["duplicates"] += decoding.duplicates
    return views


def only_view(name: str) -> dict[str, Any]:
    views = replay(beacons_of(name))
    assert len(views) == 1
    return next(iter(views.values()))


def names(events: list[dict[str, Any]]) -> list[str]:
    return [event["event"] for event in events]


def total(events: list[dict[str, Any]], field: str) -> int:
    return sum(event[field] for event in events)


def test_an_mp4_played_to_its_end() -> None:
    view = only_view("mp4_play_to_end")
    events = view["events"]
    assert names(events) == ["play_request", "first_frame", "heartbeat", "pause", "end"]
    assert events[0]["ts"] == last("mp4_play_to_end", "xst")
    assert events[1]["startup_ms"] == last("mp4_play_to_end", "xtitofifr") == 17
    assert total(events, "play_ms") == last("mp4_play_to_end", "xctpbti") == 9994
    assert [event["started"] for event in events] == [0, 1, 1, 1, 1]
    assert [event["seq"] for event in events] == sorted({event["seq"] for event in events})
    assert view["duplicates"] == 1  # the viewend that came by fetch and by sendBeacon
    assert view["dimensions"] == {
        "assetid": "clip-10s",
        "assetname": "Ten seconds",
        "series": "Tests",
        "viewerid": last("mp4_play_to_end", "mvrid"),
        "subscriberid": "user-42",
        "player": "HTML5 Video Element",
        "cdn": "local",
        "host": "127.0.0.1:8765",
        "experiment": "exp-a",
        "custom1": "c-one",
        "connectiontype": "unknown",
        "streamtype": "vod",
        "contentduration": 10,
        "streamformat": "mp4",
        "sdkversion": "mux-embed 5.19.0",
    }


def test_ads_pause_warning_and_seek() -> None:
    name = "hls_ads_pause_seek"
    events = only_view(name)["events"]
    assert names(events) == [
        "play_request", "ad_request", "ad_impression", "ad_start", "ad_first_quartile", "ad_midpoint",
        "ad_third_quartile", "ad_complete", "first_frame", "pause", "error", "resume", "seek_start", "seek_end",
        "pause", "end",
    ]  # fmt: skip
    ad_ms = last(name, "dpntimscv")
    assert total(events, "ad_ms") == ad_ms == 1041
    assert total(events, "play_ms") == last(name, "xctpbti") - ad_ms
    assert {event["ad_position"] for event in events if event["event"].startswith("ad_")} == {"preroll"}
    assert {event["ad_id"] for event in events if event["event"].startswith("ad_")} == {"ad-1"}
    error = events[names(events).index("error")]
    assert (error["fatal"], error["error_code"], error["error_message"]) == (0, "E42", "decoder exploded")
    media = [e for p in load(name) for e in p.events if e["e"] == "requestcompleted" and e.get("qty") == "media"]
    assert total(events, "bytes") == sum(e["qbyld"] for e in media)
    assert {event["interval_bitrate_kbps"] for event in events if event["play_ms"]} == {880}


def test_a_stall_then_a_fatal_error_closes_the_view() -> None:
    name = "hls_stall_fatal_error"
    events = only_view(name)["events"]
    assert names(events) == ["play_request", "first_frame", "stall_start", "stall_end", "error"]
    assert total(events, "rebuffer_ms") == last(name, "xredu") == 9100
    assert events[-1]["fatal"] == 1
    assert events[-1]["error_code"] == "E_FATAL"
    assert events[1]["startup_ms"] == last(name, "xtitofifr")


def test_a_videochange_makes_two_views() -> None:
    name = "hls_videochange"
    views = replay(beacons_of(name))
    first, second = views.values()
    assert names(first["events"]) == ["play_request", "first_frame", "pause", "exit"]
    assert names(second["events"]) == ["play_request", "seek_end", "first_frame", "exit"]
    assert (first["dimensions"]["assetid"], second["dimensions"]["assetid"]) == ("hls-20s", "hls-20s-b")
    for view_id, view in views.items():
        assert total(view["events"], "play_ms") == last(name, "xctpbti", view_id)
        first_frame = view["events"][names(view["events"]).index("first_frame")]
        assert first_frame["startup_ms"] == last(name, "xtitofifr", view_id)
    # the video element's dropped frames before the second view are the first view's
    assert total(second["events"], "dropped_frames") == 0
    assert total(first["events"], "dropped_frames") == last(name, "xdpfrco", next(iter(views)))


@pytest.mark.parametrize("name", NAMES)
def test_every_native_event_and_dimension_set_is_valid(name: str) -> None:
    for view in replay(beacons_of(name)).values():
        VIEW_DIMENSIONS.validate_python(view["dimensions"])
        for event in view["events"]:
            EVENT.validate_python(event)
        assert Counter(names(view["events"]))["play_request"] == 1
        assert sum(event["event"] in ("end", "exit") or event.get("fatal") == 1 for event in view["events"]) == 1


@pytest.mark.parametrize("name", NAMES)
def test_sending_every_body_twice_stores_each_event_once(name: str) -> None:
    bodies = beacons_of(name)
    twice = replay([body for body in bodies for _ in range(2)])
    assert {view: names(seen["events"]) for view, seen in twice.items()} == {
        view: names(seen["events"]) for view, seen in replay(bodies).items()
    }


@pytest.mark.parametrize("name", NAMES)
def test_the_order_of_events_within_a_body_does_not_matter(name: str) -> None:
    bodies = beacons_of(name)
    shuffled = [random.Random(7).sample(body, len(body)) for body in bodies]
    assert replay(shuffled) == replay(bodies)


def test_a_view_forgotten_mid_way_resynchronises_at_its_next_full_event_without_counting_twice() -> None:
    bodies = beacons_of("mp4_play_to_end")
    before = replay(bodies[:2])  # viewstart … playing
    after = replay(bodies[2:])  # as after a restart: hb, pause, ended (delta-encoded), then viewend (whole)
    (view,) = after.values()
    assert names(view["events"]) == ["exit"]
    assert view["events"][0]["started"] == 1
    assert total(view["events"], "play_ms") == 0
    assert names(next(iter(before.values()))["events"]) == ["play_request", "first_frame"]


def test_events_before_the_view_start_are_ignored() -> None:
    (first_body, *_) = beacons_of("mp4_play_to_end")
    early = [b for b in first_body if "view_start" not in b.fields]  # networkchange, playerready, texttrackchange
    assert len(early) == 3
    decoding = decode_view(None, early)
    assert (decoding.state, decoding.events, decoding.ignored) == (None, [], 3)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ([], "bad_batch"),
        ({"events": {}}, "bad_batch"),
        ({"metadata": {}}, "bad_batch"),
        ({"events": []}, "bad_events"),
        ({"events": [{}] * 1001}, "bad_events"),
    ],
)
def test_a_body_that_is_not_mux_embeds_is_refused_whole(payload: Any, code: str) -> None:
    with pytest.raises(CollectError) as raised:
        parse_body(payload)
    assert (raised.value.status, raised.value.code) == (400, code)


def test_events_that_are_not_mux_events_are_refused_by_index() -> None:
    good = load("mp4_play_to_end")[0].events[-1]
    events: list[Any] = [
        good,
        7,
        {**good, "xid": ""},
        {**good, "xsqno": 0},
        {**good, "xsqno": True},
        {**good, "uti": "yesterday"},
        {**good, "uti": 10**20},
        {**good, "e": None},
    ]
    beacons, refused = parse_body({"events": events})
    assert [b.index for b in beacons] == [0]
    assert [(refusal.index, refusal.code) for refusal in refused] == [(i, "invalid") for i in range(1, 8)]
    assert "view_id" in refused[1].reason
    assert "viewer_time" in refused[4].reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
recorded_keys = sorted({key for name in NAMES for posted in load(name) for event in posted.events for key in event})


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.sampled_from(recorded_keys), json_values), max_size=8))
def test_any_change_to_recorded_events_decodes_to_valid_events_or_refusals(
    changes: list[tuple[int, str, Any]],
) -> None:
    events = [event for posted in load("hls_ads_pause_seek") for event in posted.events]
    for position, key, value in changes:
        events[position % len(events)] = {**events[position % len(events)], key: value}
    beacons, _ = parse_body({"events": events})
    by_view: dict[str, list[MuxBeacon]] = {}
    for beacon in beacons:
        by_view.setdefault(beacon.view, []).append(beacon)
    for view_beacons in by_view.values():
        decoding = decode_view(None, view_beacons)
        VIEW_DIMENSIONS.validate_python(decoding.dimensions)
        for _, event in decoding.events:
            EVENT.validate_python(event)
