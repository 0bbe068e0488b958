"""Past days' viewing sessions stored for `contentpaths` (`stored_days`): which days are stored and when,
that a query reads a stored day only while the day's views are unchanged, that a changed day is stored
again and its old slice deleted later, and that every answer equals the one built from `views` alone."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from sightline.query.filters import parse_filter
from sightline.query.period import Period
from sightline.query.printer import print_select
from sightline.simulate import SimulationConfig, simulate
from sightline.smartquery import paths, stored_days
from sightline.smartquery.request import DIMENSION_KINDS
from sightline.smartquery.spec import SmartQuery, StoredDays
from sightline.smartquery.views import live_spans, whole_days
from sightline.store import EmbeddedStore
from sightline.store.schema import PATH_ENTRIES_TABLE, PATH_ENTRY_DAYS_TABLE

CUSTOMER, OTHER = 41, 42
START = datetime(2025, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
DAYS = tuple((START + k * DAY).date() for k in range(3))


def _events(config: SimulationConfig) -> pa.Table:
    return pa.concat_tables([chunk.events for chunk in simulate(config)])


def _query(start: datetime, end: datetime, customer_id: int = CUSTOMER) -> SmartQuery:
    return SmartQuery(customer_id, "contentpaths", Period(start, end), "hour", None, (), 100_000, 0)


def _answer(store: EmbeddedStore, query: SmartQuery) -> list[dict[str, Any]]:
    sql, params = print_select(paths.build(query))
    rows: list[dict[str, Any]] = store.query(sql, params).to_pylist()
    return rows


def _slices(store: EmbeddedStore, table: str) -> set[int]:
    found = store.query(f"SELECT DISTINCT slice FROM {table}").column("slice").to_pylist()
    return {int(s) for s in found}


@pytest.fixture
def loaded(store: EmbeddedStore) -> EmbeddedStore:
    config = SimulationConfig(start=START, end=START + 3 * DAY, customer_ids=(CUSTOMER, OTHER), views_per_day=800)
    store.insert_events(_events(config))
    return store


def test_whole_days_and_the_spans_left_around_stored_days() -> None:
    period = Period(START + timedelta(hours=6), START + 3 * DAY + timedelta(hours=2))
    assert whole_days(period) == DAYS[1:]
    assert whole_days(Period(START, START + 3 * DAY)) == DAYS
    assert whole_days(Period(START + timedelta(hours=1), START + timedelta(hours=30))) == ()
    assert live_spans(period, ()) is None
    assert live_spans(period, (DAYS[1],)) == (
        (period.start, START + DAY),
        (START + 2 * DAY, period.end),
    )
    assert live_spans(Period(START, START + 3 * DAY), DAYS) == ()


def test_settled_days_are_stored_per_customer_and_read_as_the_views_would_answer(loaded: EmbeddedStore) -> None:
    end = START + 3 * DAY
    assert stored_days.refresh_days(loaded, [CUSTOMER, OTHER], end + timedelta(minutes=30)) == 4  # not day 3 yet
    assert stored_days.refresh_days(loaded, [CUSTOMER, OTHER], end + stored_days.SETTLE) == 2
    assert stored_days.refresh_days(loaded, [CUSTOMER, OTHER], end + stored_days.SETTLE) == 0
    for customer_id in (CUSTOMER, OTHER):
        for start, finish in ((START, end), (START + timedelta(hours=7), end - timedelta(hours=3))):
            live = _query(start, finish, customer_id)
            planned = stored_days.plan(loaded, live)
            assert planned.stored.days == whole_days(live.period)
            assert len(set(planned.stored.slices)) == len(planned.stored.days)
            answer = _answer(loaded, planned)
            assert len(answer) > 100
            assert answer == _answer(loaded, live)


def test_a_day_whose_views_changed_is_built_from_views_until_stored_again(loaded: EmbeddedStore) -> None:
    now = START + 3 * DAY + stored_days.SETTLE
    stored_days.refresh_days(loaded, [CUSTOMER, OTHER], now)
    query = _query(START, START + 3 * DAY)
    before = stored_days.plan(loaded, query)
    late = SimulationConfig(start=START, end=START + DAY, customer_ids=(CUSTOMER,), views_per_day=300, seed=5)
    loaded.insert_events(_events(late))
    changed = stored_days.plan(loaded, query)
    assert changed.stored.days == DAYS[1:]
    assert _answer(loaded, changed) == _answer(loaded, query) != _answer(loaded, before)
    assert _answer(loaded, stored_days.plan(loaded, _query(START, START + 3 * DAY, OTHER))) == _answer(
        loaded, _query(START, START + 3 * DAY, OTHER)
    )
    assert stored_days.refresh_days(loaded, [CUSTOMER, OTHER], now) == 2  # day 1 of both customers
    stored = stored_days.plan(loaded, query)
    assert stored.stored.days == DAYS
    assert _answer(loaded, stored) == _answer(loaded, query)
    old = set(before.stored.slices) - set(stored.stored.slices)
    assert len(old) == 1
    stored_days.refresh_days(loaded, [CUSTOMER, OTHER], now + stored_days.RETIRE_AFTER / 2)
    assert old <= _slices(loaded, PATH_ENTRIES_TABLE)  # a query that planned with it may still read it
    stored_days.refresh_days(loaded, [CUSTOMER, OTHER], now + stored_days.RETIRE_AFTER)
    for table in (PATH_ENTRIES_TABLE, PATH_ENTRY_DAYS_TABLE):
        assert not old & _slices(loaded, table)
        assert set(stored.stored.slices) <= _slices(loaded, table)
    assert _answer(loaded, stored_days.plan(loaded, query)) == _answer(loaded, query)


def test_a_query_that_counts_some_views_or_no_whole_day_is_built_from_views(loaded: EmbeddedStore) -> None:
    stored_days.refresh_days(loaded, [CUSTOMER], START + 3 * DAY + stored_days.SETTLE)
    filtered = replace(_query(START, START + 3 * DAY), view_filter=parse_filter("[device=tv]", DIMENSION_KINDS))
    assert stored_days.plan(loaded, filtered) == filtered
    short = _query(START + timedelta(hours=2), START + timedelta(hours=20))
    assert stored_days.plan(loaded, short) == short
    assert stored_days.plan(loaded, _query(START, START + 3 * DAY, OTHER)).stored == StoredDays()


def test_a_day_without_views_has_no_slice_to_read(loaded: EmbeddedStore) -> None:
    stored_days.refresh_days(loaded, [CUSTOMER], START + 3 * DAY + stored_days.SETTLE)
    later = _query(START + 5 * DAY, START + 7 * DAY)
    assert stored_days.plan(loaded, later).stored == StoredDays()
    assert date(2025, 3, 6) in whole_days(later.period)


def test_the_refresher_stores_settled_days_and_goes_on_after_a_failed_round(loaded: EmbeddedStore) -> None:
    rounds: list[int] = []

    def customers() -> list[int]:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("the accounts database is away")
        return [CUSTOMER]

    refresher = stored_days.Refresher(loaded, customers, every_s=0.05)
    refresher.start()
    try:
        deadline = time.monotonic() + 60
        query = _query(START, START + 3 * DAY)
        while stored_days.plan(loaded, query).stored.days != DAYS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        refresher.stop()
    assert len(rounds) >= 2
    assert stored_days.plan(loaded, query).stored.days == DAYS
