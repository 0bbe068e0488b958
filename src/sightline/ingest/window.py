"""When an event may have happened: the window of time the collector stores events in, around the time it
receives them and around their view's start (docs/beacon-format.md).

Players that were offline send late (a download watched on a plane), and a player's clock may be set wrong,
so the window is days wide, not minutes: an event is stored when it is at most `event_max_late_s` (7 days by
default) older and `event_max_ahead_s` (1 day) newer than the collector's clock, and at most as long after
and before its view's start (the time in its view id). A view id whose time is outside the window around the
collector's clock refuses every event of its batch. What it keeps out: times no query of recent data reads,
which make one insert touch hundreds of partitions (one batch's times spread over 84 years touched a thousand
months) and, undone, cost every customer whose events share the insert (`store.writer` isolates them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sightline.ingest.format import Refusal
from sightline.ingest.sessions import view_start_ms
from sightline.settings import Settings

_UNITS_MS = (("day", 86_400_000), ("hour", 3_600_000), ("minute", 60_000), ("second", 1000))


def _duration(ms: int) -> str:
    for name, size in _UNITS_MS:
        if ms >= size and ms % size == 0:
            return f"{ms // size} {name}{'s' if ms != size else ''}"
    return f"{ms} ms"


def _utc(ms: int) -> str:
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (ValueError, OverflowError):  # past the year 9999 (a view id's 48 bits reach 10889)
        return f"{ms} ms since the epoch"


@dataclass(frozen=True, slots=True)
class EventWindow:
    """Events are stored from `late_ms` before to `ahead_ms` after the time received, and from `ahead_ms`
    before to `late_ms` after their view's start."""

    late_ms: int
    ahead_ms: int

    @classmethod
    def for_settings(cls, settings: Settings) -> EventWindow:
        return cls(settings.event_max_late_s * 1000, settings.event_max_ahead_s * 1000)

    def admit(
        self, view_id: bytes, events: list[tuple[int, dict[str, Any]]], now_ms: int
    ) -> tuple[list[tuple[int, dict[str, Any]]], list[Refusal]]:
        """The `(index, event)`s of one view inside the window, and the refusals of those outside it."""
        start = view_start_ms(view_id)
        late, ahead = _duration(self.late_ms), _duration(self.ahead_ms)
        if not now_ms - self.late_ms <= start <= now_ms + self.ahead_ms:
            reason = (
                f"view_id's time, the view's start ({_utc(start)}), is more than {late} before or {ahead} after "
                f"the collector's clock ({_utc(now_ms)})"
            )
            return [], [Refusal(index, "outside_window", reason) for index, _ in events]
        low, high = max(now_ms - self.late_ms, start - self.ahead_ms), min(now_ms + self.ahead_ms, start + self.late_ms)
        kept = [pair for pair in events if low <= pair[1]["ts"] <= high]
        if len(kept) == len(events):
            return events, []
        reason = (
            f"ts is outside {_utc(low)} to {_utc(high)}: an event is stored from {late} before to {ahead} after the "
            f"time it is received, and from {ahead} before to {late} after its view's start"
        )
        return kept, [
            Refusal(index, "outside_window", reason) for index, event in events if not low <= event["ts"] <= high
        ]
