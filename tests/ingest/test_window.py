"""The window of times the collector stores events in: around the time received and around the view's start."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sightline.ingest.window import EventWindow

DAY = 86_400_000
NOW = 1_780_000_000_000
WINDOW = EventWindow(late_ms=7 * DAY, ahead_ms=DAY)


def view(start_ms: int) -> bytes:
    return uuid.UUID(int=(start_ms << 80) | (0x7 << 76) | (0b10 << 62) | 1).bytes


def at(*times: int) -> list[tuple[int, dict[str, Any]]]:
    return [(index, {"event": "heartbeat", "ts": t, "seq": index}) for index, t in enumerate(times)]


@pytest.mark.parametrize(
    ("start", "ts", "kept"),
    [
        (NOW, NOW, True),
        (NOW, NOW + DAY, True),  # a player's clock a day ahead
        (NOW, NOW + DAY + 1, False),
        (NOW - 7 * DAY, NOW - 7 * DAY, True),  # sent a week late by an offline player
        (NOW - 7 * DAY, NOW - 7 * DAY - 1, False),
        (NOW - 2 * DAY, NOW - 3 * DAY, True),  # a day before its view's start
        (NOW - 2 * DAY, NOW - 3 * DAY - 1, False),
        (NOW - 7 * DAY, NOW, True),  # a week after its view's start
        (NOW - 6 * DAY, NOW + DAY, True),
        (NOW - 7 * DAY, NOW + 1, False),  # later than a week after its view's start
    ],
)
def test_an_event_is_kept_within_the_window_of_the_time_received_and_of_its_views_start(
    start: int, ts: int, kept: bool
) -> None:
    admitted, refused = WINDOW.admit(view(start), at(ts), NOW)
    assert (admitted == at(ts), refused == []) == (kept, kept)
    if not kept:
        assert "7 days before to 1 day after the time it is received" in refused[0].reason
        assert refused[0].code == "outside_window"


@pytest.mark.parametrize("start", [NOW - 7 * DAY - 1, NOW + DAY + 1, 0, 2**48 - 1])
def test_a_view_whose_start_is_outside_the_window_refuses_every_event(start: int) -> None:
    admitted, refused = WINDOW.admit(view(start), at(NOW, NOW + 1), NOW)
    assert admitted == []
    assert [(refusal.index, refusal.code) for refusal in refused] == [(0, "outside_window"), (1, "outside_window")]
    assert "view_id's time" in refused[0].reason


def test_the_events_inside_are_kept_beside_those_outside_and_the_reason_names_the_window() -> None:
    admitted, refused = WINDOW.admit(view(NOW), at(NOW, NOW - 8 * DAY, NOW + 5, NOW + 2 * DAY), NOW)
    assert [index for index, _ in admitted] == [0, 2]
    assert [(refusal.index, refusal.code) for refusal in refused] == [(1, "outside_window"), (3, "outside_window")]
    assert refused[0].reason.startswith("ts is outside 2026-05-27T20:26:40Z to 2026-05-29T20:26:40Z")
