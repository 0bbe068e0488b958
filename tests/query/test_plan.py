"""Table choice and periods: a parametrised table of requests and the tables that answer them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from sightline.query.period import Period, PeriodError, choose_granularity, parse_period
from sightline.query.plan import choose_tables

H = 3600
DAY = datetime(2026, 11, 20, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


@pytest.mark.parametrize(
    ("start", "end", "dimensions", "bucket", "tables"),
    [
        (at(1), at(5), set(), None, [("rollup_1h", at(1), at(5))]),
        (
            at(1, 10),
            at(5, 30),
            set(),
            None,
            [("rollup_1m", at(1, 10), at(2)), ("rollup_1h", at(2), at(5)), ("rollup_1m", at(5), at(5, 30))],
        ),
        (at(1), at(5), {"cdn"}, 300, [("rollup_1m", at(1), at(5))]),
        (at(1), at(5), {"country"}, None, [("rollup_1h_delivery", at(1), at(5))]),
        (at(1, 30), at(5), {"country"}, None, [("events", at(1, 30), at(2)), ("rollup_1h_delivery", at(2), at(5))]),
        (at(1), at(5), {"device", "platform"}, H, [("rollup_1h_device", at(1), at(5))]),
        (at(1), at(5), {"assetid"}, 86400, [("rollup_1h_content", at(1), at(5))]),
        (at(1), at(5), {"subscriberid"}, None, [("events", at(1), at(5))]),
        (at(1, 5), at(1, 50), set(), None, [("rollup_1m", at(1, 5), at(1, 50))]),
    ],
)
def test_tables_answering_each_stretch(
    start: datetime,
    end: datetime,
    dimensions: set[str],
    bucket: int | None,
    tables: list[tuple[str, datetime, datetime]],
) -> None:
    plan = choose_tables(Period(start, end), frozenset(dimensions), bucket)
    assert [(s.table, s.start, s.end) for s in plan.segments] == tables
    covered = [(s.start, s.end) for s in plan.segments]
    assert covered[0][0] == start
    assert covered[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))


def test_rejections_say_why() -> None:
    plan = choose_tables(Period(at(1), at(5)), frozenset({"cdn"}), 300)
    reasons = dict(plan.rejected)
    assert reasons["rollup_1h_delivery"] == "its hour grain does not divide 300 s buckets"
    assert reasons["rollup_1h_device"] == "lacks dimensions cdn"


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        (
            "start=1795651200,end=1795654800",
            datetime(2026, 11, 26, 0, 0, tzinfo=UTC),
            datetime(2026, 11, 26, 1, tzinfo=UTC),
        ),
        (
            " start = 1795651259 , end = 1795654859 ",
            datetime(2026, 11, 26, 0, 0, tzinfo=UTC),
            datetime(2026, 11, 26, 1, 0, tzinfo=UTC),
        ),
    ],
)
def test_periods_are_floored_to_minutes(text: str, start: datetime, end: datetime) -> None:
    assert parse_period(text) == Period(start, end)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "period must be"),
        ("start=10,end=5", "start must be at least a minute before"),
        ("start=60,end=119", "start must be at least a minute before"),
        ("start=0,end=99999999999", "must end before 2100"),
        ("start=0,end=99999999", "at most 400 days"),
        ("start=a,end=b", "period must be"),
        ("start=2696357800,end=1696361400", "start must be at least a minute before"),
    ],
)
def test_bad_periods(text: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(text)


@pytest.mark.parametrize(
    ("hours", "granularity"),
    [(1, "minute"), (2, "minute"), (3, "5minute"), (12, "10minute"), (24, "hour"), (168, "hour"), (169, "day")],
)
def test_auto_granularity(hours: int, granularity: str) -> None:
    period = Period(at(0), at(0) + (at(1) - at(0)) * hours)
    assert choose_granularity("auto", period) == granularity
    assert choose_granularity("day", period) == "day"
    with pytest.raises(PeriodError, match="granularity must be one of"):
        choose_granularity("week", period)
