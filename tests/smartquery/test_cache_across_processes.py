"""The query cache of a process that shares its store with others (a server store): an answer cached in one
process is not served once another process has inserted rows it would read, though this process never heard of
the insert. On a real chDB store (the embedded engine opens a data directory in one process only, so the other
process's inserts are made on the store behind the back of the service's insert listener)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sightline.api.smartquery import render_page
from sightline.query.period import Period
from sightline.simulate import SimulationConfig, simulate
from sightline.smartquery.service import SmartQueryService
from sightline.smartquery.spec import SmartQuery
from sightline.store import EmbeddedStore
from sightline.store.base import InsertListener
from sightline.store.migrations import migrate

CUSTOMER, OTHER = 41, 42
START = datetime(2025, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


class SharedStore(EmbeddedStore):
    """The store as one process of several sees it: it hears of no insert (they are the other processes')."""

    def add_insert_listener(self, listener: InsertListener) -> None:
        pass


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[SharedStore]:
    opened = SharedStore(tmp_path / "data")
    migrate(opened)
    yield opened
    opened.close()


REACH = (timedelta(days=7), timedelta(days=1))
"""The default ingest window: an event at most 7 days after and 1 day before its view's start."""


def events(customer_ids: tuple[int, ...], seed: int, start: datetime = START, end: datetime | None = None) -> pa.Table:
    """Simulated events of views started in [start, end) (a day by default)."""
    config = SimulationConfig(
        start=start, end=end or start + DAY, customer_ids=customer_ids, views_per_day=2000, seed=seed
    )
    return pa.concat_tables([chunk.events for chunk in simulate(config)])


def ask(service: SmartQueryService, name: str) -> tuple[bool, list[object]]:
    """(answered from the cache, the answer's rows) of `name` over the first day."""
    query = SmartQuery(
        customer_id=CUSTOMER, period=Period(START, START + DAY), granularity="hour", limit=100, name=name
    )
    query_id, answer = service.run(query, "tester")
    record = service.registry.get(CUSTOMER, query_id)
    assert record is not None
    return record.cached, json.loads(answer.body)["response"]


@pytest.mark.parametrize("name", ["topcontent", "contentpaths"])
def test_rows_another_process_inserted_are_in_the_next_answer(shared: SharedStore, name: str) -> None:
    shared.insert_events(events((CUSTOMER, OTHER), seed=1))
    service = SmartQueryService(shared, render_page, views_reach=REACH)
    cached, first = ask(service, name)
    assert not cached
    assert ask(service, name) == (True, first)
    shared.insert_events(events((OTHER,), seed=2, start=START + 9 * DAY))  # no view of it may be read: it stays
    assert ask(service, name) == (True, first)
    shared.insert_events(events((CUSTOMER,), seed=3))  # by another process: the cache never heard of it
    cached, after = ask(service, name)
    assert not cached
    assert after != first
    assert after == ask(SmartQueryService(shared, render_page), name)[1]  # as a fresh cache answers


def test_rows_of_views_started_before_the_period_that_another_process_inserted_are_in_the_next_answer(
    shared: SharedStore,
) -> None:
    shared.insert_events(events((CUSTOMER,), seed=1))
    service = SmartQueryService(shared, render_page, views_reach=REACH)
    first = ask(service, "topcontent")[1]
    around = events((CUSTOMER,), seed=4, start=START - timedelta(hours=2), end=START + timedelta(hours=2))
    start_ms = START.timestamp() * 1000
    late = around.filter(pa.array([int.from_bytes(v[:6]) < start_ms for v in around.column("view_id").to_pylist()]))
    assert pc.max(late.column("ts")).as_py() >= start_ms  # views of the day before, playing into the period
    shared.insert_events(late)
    cached, after = ask(service, "topcontent")
    assert not cached
    assert after != first


def test_a_process_of_an_embedded_store_hears_of_every_insert_and_reads_no_versions(shared: SharedStore) -> None:
    shared.insert_events(events((CUSTOMER,), seed=1))
    service = SmartQueryService(shared, render_page)
    first = ask(service, "topcontent")[1]
    shared.insert_events(events((CUSTOMER,), seed=3))
    assert ask(service, "topcontent") == (True, first)  # what an unheard insert does to it: why servers check
