"""What named queries store of past days (`stored_days`): which days are stored and when, that a query reads
a stored day only while the day's views are unchanged, that a changed day is stored again and its old slice
deleted later, and that every answer equals the one computed from `views` alone — for `contentpaths` (the
counted path entries of a day) and the subscriber queries (each subscriber's sums of a day)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from sightline.api.querying import json_value
from sightline.query.filters import parse_filter
from sightline.query.period import Period
from sightline.query.pipeline import fetch_value_page, value_rows
from sightline.simulate import SimulationConfig, simulate
from sightline.smartquery import paths, stored_days, subscribers
from sightline.smartquery.catalog import compile_named
from sightline.smartquery.request import DIMENSION_KINDS
from sightline.smartquery.spec import DayTable, SmartQuery, StoredDays
from sightline.smartquery.views import live_spans, whole_days
from sightline.store import EmbeddedStore
from sightline.store.schema import PATH_ENTRIES_TABLE, STORED_DAY_SLICES_TABLE, SUBSCRIBER_DAYS_TABLE
from tests.handwritten import by_hand

CUSTOMER, OTHER = 41, 42
START = datetime(2025, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
END = START + 3 * DAY
DAYS = tuple((START + k * DAY).date() for k in range(3))
SETTLED = END + stored_days.SETTLE
QUERIES: dict[str, DayTable] = {
    "contentpaths": paths.DAYS,
    "subscriberinsight": subscribers.DAYS,
    "subscribercohorts": subscribers.DAYS,
}


def _events(config: SimulationConfig) -> pa.Table:
    return pa.concat_tables([chunk.events for chunk in simulate(config)])


def _query(name: str, start: datetime, end: datetime, customer_id: int = CUSTOMER) -> SmartQuery:
    return SmartQuery(customer_id=customer_id, period=Period(start, end), granularity="hour", limit=100_000, name=name)


def _answer(store: EmbeddedStore, query: SmartQuery) -> list[dict[str, Any]]:
    """The query's page, as the service reads it (`SmartQueryService`) and the API answers its values (a ratio
    over a zero denominator, NaN, as no value)."""
    rows = fetch_value_page(value_rows(store), compile_named(query), query.limit, 0).rows
    return [{name: json_value(name, value) for name, value in row.items()} for row in rows]


def _planned(store: EmbeddedStore, query: SmartQuery) -> SmartQuery:
    return stored_days.plan(QUERIES[query.name], store, query)


def _slices(store: EmbeddedStore, table: str) -> set[int]:
    found = store.query(by_hand(f"SELECT DISTINCT slice FROM {table}")).column("slice").to_pylist()
    return {int(s) for s in found}


@pytest.fixture
def loaded(store: EmbeddedStore) -> EmbeddedStore:
    config = SimulationConfig(start=START, end=END, customer_ids=(CUSTOMER, OTHER), views_per_day=800)
    store.insert_events(_events(config))
    return store


def test_whole_days_and_the_spans_left_around_stored_days() -> None:
    period = Period(START + timedelta(hours=6), END + timedelta(hours=2))
    assert whole_days(period) == DAYS[1:]
    assert whole_days(Period(START, END)) == DAYS
    assert whole_days(Period(START + timedelta(hours=1), START + timedelta(hours=30))) == ()
    assert live_spans(period, ()) is None
    assert live_spans(period, (DAYS[1],)) == ((period.start, START + DAY), (START + 2 * DAY, period.end))
    assert live_spans(Period(START, END), DAYS) == ()


def test_the_subscriber_queries_store_no_day_that_the_period_or_its_halves_cut() -> None:
    query = _query("subscriberinsight", START + DAY + timedelta(hours=12), END)  # halves meet at END - 18 h
    lookback = [(START - k * DAY).date() for k in range(subscribers.LOOKBACK.days - 2, -1, -1)]  # starts mid-day
    assert subscribers.DAYS.stored_days(query) == tuple(lookback)  # not day 2 (period start), nor day 3 (middle)
    whole = _query("subscriberinsight", START + DAY, START + 5 * DAY)  # halves meet at midnight
    assert subscribers.DAYS.stored_days(whole)[-5:] == tuple((START + k * DAY).date() for k in range(5))


@pytest.mark.parametrize("name", QUERIES)
def test_settled_days_are_stored_per_customer_and_read_as_the_views_would_answer(
    loaded: EmbeddedStore, name: str
) -> None:
    assert stored_days.refresh_days(loaded, [CUSTOMER, OTHER], END + timedelta(minutes=30)) == 8  # not day 3 yet
    assert stored_days.refresh_days(loaded, [CUSTOMER, OTHER], SETTLED) == 4
    assert stored_days.refresh_days(loaded, [CUSTOMER, OTHER], SETTLED) == 0
    for customer_id in (CUSTOMER, OTHER):
        for start, end in ((START + DAY, END), (START, END), (START + timedelta(hours=7), END + timedelta(hours=21))):
            live = _query(name, start, end, customer_id)
            planned = _planned(loaded, live)
            assert planned.stored.days
            assert set(planned.stored.days) <= set(DAYS)
            assert len(set(planned.stored.slices)) == len(planned.stored.days)
            answer = _answer(loaded, planned)
            assert len(answer) > 1
            assert answer == _answer(loaded, live), (customer_id, start, end)


def test_a_day_whose_views_changed_is_computed_from_views_until_stored_again(loaded: EmbeddedStore) -> None:
    stored_days.refresh_days(loaded, [CUSTOMER, OTHER], SETTLED)
    query = _query("contentpaths", START, END)
    before = _planned(loaded, query)
    late = SimulationConfig(start=START, end=START + DAY, customer_ids=(CUSTOMER,), views_per_day=300, seed=5)
    loaded.insert_events(_events(late))
    changed = _planned(loaded, query)
    assert changed.stored.days == DAYS[1:]
    assert _answer(loaded, changed) == _answer(loaded, query) != _answer(loaded, before)
    insight = _query("subscriberinsight", START + DAY, END)  # day 1 is its lookback
    assert DAYS[0] not in _planned(loaded, insight).stored.days
    assert _answer(loaded, _planned(loaded, insight)) == _answer(loaded, insight)
    assert stored_days.refresh_days(loaded, [CUSTOMER, OTHER], SETTLED) == 4  # day 1 of both kinds and customers
    stored = _planned(loaded, query)
    assert stored.stored.days == DAYS
    assert _answer(loaded, stored) == _answer(loaded, query)
    assert _planned(loaded, insight).stored.days[-3:] == DAYS
    old = set(before.stored.slices) - set(stored.stored.slices)
    assert len(old) == 1
    stored_days.refresh_days(loaded, [CUSTOMER, OTHER], SETTLED + stored_days.RETIRE_AFTER / 2)
    assert old <= _slices(loaded, PATH_ENTRIES_TABLE)  # a query that planned with it may still read it
    stored_days.refresh_days(loaded, [CUSTOMER, OTHER], SETTLED + stored_days.RETIRE_AFTER)
    for table in (PATH_ENTRIES_TABLE, STORED_DAY_SLICES_TABLE):
        assert not old & _slices(loaded, table)
        assert set(stored.stored.slices) <= _slices(loaded, table)
    assert len(_slices(loaded, SUBSCRIBER_DAYS_TABLE)) == 2 * len(DAYS)  # its superseded slices retired too
    assert _answer(loaded, _planned(loaded, query)) == _answer(loaded, query)


def test_a_query_that_counts_some_views_or_no_whole_day_is_computed_from_views(loaded: EmbeddedStore) -> None:
    stored_days.refresh_days(loaded, [CUSTOMER], SETTLED)
    filtered = replace(_query("contentpaths", START, END), filter=parse_filter("[device=tv]", DIMENSION_KINDS))
    assert _planned(loaded, filtered) == filtered
    short = _query("contentpaths", START + timedelta(hours=2), START + timedelta(hours=20))
    assert _planned(loaded, short) == short
    assert _planned(loaded, _query("contentpaths", START, END, OTHER)).stored == StoredDays()
    later = _query("contentpaths", START + 5 * DAY, START + 7 * DAY)
    assert whole_days(later.period)
    assert _planned(loaded, later).stored == StoredDays()  # days without views have no slice


def test_the_refresher_stores_settled_days_and_goes_on_after_a_failed_round(loaded: EmbeddedStore) -> None:
    rounds: list[int] = []

    def customers() -> list[int]:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("the accounts database is away")
        return [CUSTOMER]

    refresher = stored_days.Refresher(loaded, customers, every_s=0.05)
    refresher.start()
    query = _query("contentpaths", START, END)
    try:
        deadline = time.monotonic() + 60
        while _planned(loaded, query).stored.days != DAYS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        refresher.stop()
    assert len(rounds) >= 2
    assert _planned(loaded, query).stored.days == DAYS


def test_the_refresher_stores_nothing_while_its_process_does_not_hold_the_lease(loaded: EmbeddedStore) -> None:
    held = threading.Event()
    refresher = stored_days.Refresher(loaded, lambda: [CUSTOMER], every_s=0.05, may_run=held.is_set)
    refresher.start()
    query = _query("contentpaths", START, END)
    try:
        time.sleep(0.5)  # 10 rounds
        assert _planned(loaded, query).stored.days == ()
        held.set()
        deadline = time.monotonic() + 60
        while _planned(loaded, query).stored.days != DAYS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        refresher.stop()
    assert _planned(loaded, query).stored.days == DAYS


def test_slices_of_another_catalog_version_are_not_read_and_are_computed_again(
    loaded: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored_days.refresh_days(loaded, [CUSTOMER], SETTLED)
    query = _query("contentpaths", START, END)
    assert _planned(loaded, query).stored.days == DAYS
    assert stored_days.outdated_slices(loaded) == {}
    # the same kind, computed otherwise (a changed formula): the SQL of a day's rows differs, so does its version
    changed = replace(paths.DAYS, rows=lambda day: replace(paths.counted_entries(day), limit=10**9))
    assert stored_days.kind_version(changed) != stored_days.kind_version(paths.DAYS)
    assert stored_days.plan(changed, loaded, query).stored == StoredDays()  # computed from views meanwhile
    monkeypatch.setattr(stored_days, "DAY_TABLES", (changed, subscribers.DAYS))
    assert stored_days.outdated_slices(loaded) == {"paths": len(DAYS)}
    later = SETTLED + timedelta(minutes=1)
    assert stored_days.refresh_days(loaded, [CUSTOMER], later) == len(DAYS)
    planned = stored_days.plan(changed, loaded, query)
    assert planned.stored.days == DAYS
    assert _answer(loaded, planned) == _answer(loaded, query)
    assert _planned(loaded, query).stored == StoredDays()  # the old version reads none of the new slices
    assert stored_days.outdated_slices(loaded) == {"paths": len(DAYS)}  # until retired
    stored_days.refresh_days(loaded, [CUSTOMER], later + stored_days.RETIRE_AFTER)
    assert stored_days.outdated_slices(loaded) == {}
