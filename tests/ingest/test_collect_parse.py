"""`parse_batch`: the one-call validation of a whole batch agrees with the part-by-part validation."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sightline.ingest.collect import ParsedBatch, parse_batch, parse_decoded
from sightline.ingest.format import CollectError
from sightline.ingest.native import event_table

VIEW_ID = "019d1c1f-5a00-7000-8000-000000000001"
EVENTS: list[dict[str, Any]] = [
    {"event": "play_request", "ts": 1_780_000_000_000, "seq": 0},
    {"event": "first_frame", "ts": 1_780_000_000_900, "seq": 1, "started": 1, "startup_ms": 900},
    {"event": "heartbeat", "ts": 1_780_000_010_900, "seq": 2, "play_ms": 10_000, "rendition_fps": 29.97},
]
FIELDS = ["event", "ts", "seq", "play_ms", "started", "fatal", "rendition_fps", "error_code", "view_id", "dimensions"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.uuids().map(str),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=10,
)


def outcome(parse: Any, argument: Any) -> ParsedBatch | tuple[int, str]:
    try:
        parsed: ParsedBatch = parse(argument)
    except CollectError as error:
        return error.status, error.code
    return parsed


def test_a_valid_batch_keeps_its_events_as_sent_and_gets_every_dimension() -> None:
    body = {"view_id": VIEW_ID, "dimensions": {"cdn": "akamai"}, "events": EVENTS}
    parsed = parse_batch(json.dumps(body).encode())
    assert parsed.view_id == uuid.UUID(VIEW_ID).bytes
    assert parsed.dimensions["cdn"] == "akamai"
    assert parsed.dimensions["country"] == ""
    assert parsed.dimensions["season"] == 0
    assert parsed.events == list(enumerate(EVENTS))
    assert parsed.refused == []


def test_the_fields_an_event_leaves_out_are_stored_with_their_defaults() -> None:
    parsed = parse_batch(json.dumps({"view_id": VIEW_ID, "events": EVENTS}).encode())
    rows = event_table([(7, parsed.view_id, parsed.dimensions, event) for _, event in parsed.events]).to_pylist()
    heartbeat = rows[2]
    assert (heartbeat["play_ms"], heartbeat["startup_ms"], heartbeat["error_code"]) == (10_000, 0, "")
    assert heartbeat["rendition_fps"] == pytest.approx(29.97)
    assert (rows[0]["started"], rows[0]["seq"], rows[0]["cdn"]) == (0, 0, "")


@pytest.mark.parametrize("dimensions", [None, {}])
def test_null_absent_or_empty_dimensions_are_all_defaults(dimensions: Any) -> None:
    with_them = parse_batch(json.dumps({"view_id": VIEW_ID, "dimensions": dimensions, "events": EVENTS}).encode())
    without = parse_batch(json.dumps({"view_id": VIEW_ID, "events": EVENTS}).encode())
    assert with_them == without
    assert without.dimensions["cdn"] == ""
    assert len(without.dimensions) > 40


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FIELDS), JSON_VALUES, st.integers(min_value=0, max_value=len(EVENTS) - 1))
def test_the_whole_batch_validation_agrees_with_the_part_by_part_one(field: str, value: Any, index: int) -> None:
    body: dict[str, Any] = {"view_id": VIEW_ID, "dimensions": {"cdn": "akamai"}, "events": [dict(e) for e in EVENTS]}
    if field in ("view_id", "dimensions"):
        body[field] = value
    else:
        body["events"][index][field] = value
    raw = json.dumps(body).encode()
    assert outcome(parse_batch, raw) == outcome(parse_decoded, json.loads(raw))
