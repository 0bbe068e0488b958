"""Periods and granularities: parsing SmartSight's `period=start=<epoch>,end=<epoch>` and the auto rule.

Invariants: a `Period` is half-open [start, end), in UTC, with both ends on whole minutes (the input's
seconds are floored: the store's finest grain is a minute); start < end; at most `MAX_DAYS` long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Granularity = Literal["minute", "5minute", "10minute", "hour", "day"]

GRANULARITY_SECONDS: dict[Granularity, int] = {
    "minute": 60,
    "5minute": 300,
    "10minute": 600,
    "hour": 3600,
    "day": 86400,
}
AUTO_RULE: tuple[tuple[timedelta, Granularity], ...] = (
    (timedelta(hours=2), "minute"),
    (timedelta(hours=6), "5minute"),
    (timedelta(hours=12), "10minute"),
    (timedelta(days=7), "hour"),
)
"""Automatic granularity: the first whose span limit the period does not exceed; else `day`."""

MAX_DAYS = 400
MAX_EPOCH_S = 4_102_444_800
"""2100-01-01: later times are refused (ClickHouse's DateTime ends in 2106)."""
_PERIOD = re.compile(r"^\s*start\s*=\s*(\d{1,12})\s*,\s*end\s*=\s*(\d{1,12})\s*$", re.ASCII)


class PeriodError(ValueError):
    """A period or granularity the API refuses; the message says what is allowed."""


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime

    @property
    def span(self) -> timedelta:
        return self.end - self.start


def _minute(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds - epoch_seconds % 60, UTC)


def parse_period(text: str) -> Period:
    """`start=<epoch s>,end=<epoch s>` → Period (ends floored to the minute)."""
    found = _PERIOD.match(text)
    if not found:
        raise PeriodError("period must be 'start=<epoch seconds>,end=<epoch seconds>'")
    start_s, end_s = int(found.group(1)), int(found.group(2))
    if max(start_s, end_s) >= MAX_EPOCH_S:
        raise PeriodError("period must end before 2100-01-01 (epoch seconds below 4102444800)")
    start, end = _minute(start_s), _minute(end_s)
    if start >= end:
        raise PeriodError("period start must be at least a minute before its end")
    if end - start > timedelta(days=MAX_DAYS):
        raise PeriodError(f"period may span at most {MAX_DAYS} days")
    return Period(start, end)


def choose_granularity(requested: str, period: Period) -> Granularity:
    """The requested granularity, or the automatic one for `auto`."""
    if requested == "auto":
        return next((g for limit, g in AUTO_RULE if period.span <= limit), "day")
    for granularity in GRANULARITY_SECONDS:
        if granularity == requested:
            return granularity
    raise PeriodError(f"granularity must be one of auto, {', '.join(GRANULARITY_SECONDS)}")
