"""The queryId registry alone: one running query per queryId and customer, records kept within bounds,
waiting for a query to end."""

from __future__ import annotations

import threading

import pytest

from sightline.smartquery.tracking import NotQueryOwnerError, QueryIdInUseError, QueryRegistry

ID = "0b5e4a9c-7c61-4b8e-9d7e-111111111111"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_record_goes_from_running_to_its_end_with_its_time_and_rows() -> None:
    clock = Clock()
    registry = QueryRegistry(clock=clock)
    assert registry.start(7, ID, "topcontent", "user:ann").status == "running"
    clock.now += 0.25
    record = registry.finish(7, ID, "done", rows=12)
    assert (record.status, record.rows, record.elapsed_ms, record.cached) == ("done", 12, 250.0, False)
    assert registry.get(7, ID) == record
    assert registry.get(8, ID) is None  # another customer's queryId is unknown


def test_a_running_queryid_cannot_be_used_again_until_it_ends() -> None:
    registry = QueryRegistry()
    registry.start(7, ID, "topcontent", "user:ann")
    with pytest.raises(QueryIdInUseError):
        registry.start(7, ID, "contentpaths", "user:ann")
    registry.start(8, ID, "contentpaths", "user:ann")  # the same id for another customer is another query
    registry.finish(7, ID, "failed", error="boom")
    assert registry.start(7, ID, "contentpaths", "user:ann").queryname == "contentpaths"


def test_finished_records_are_bounded_and_running_ones_kept() -> None:
    registry = QueryRegistry(max_finished=2)
    registry.start(7, "running", "topcontent", "user:ann")
    for n in range(4):
        registry.start(7, f"q{n}", "topcontent", "user:ann")
        registry.finish(7, f"q{n}", "done")
    assert [registry.get(7, f"q{n}") is not None for n in range(4)] == [False, False, True, True]
    assert registry.get(7, "running") is not None


def test_cancel_requests_mark_running_queries_and_wait_returns_when_they_end() -> None:
    registry = QueryRegistry()
    assert registry.request_cancel(7, ID, None) is None
    registry.start(7, ID, "topcontent", "user:ann")
    marked = registry.request_cancel(7, ID, None)
    assert marked is not None
    assert marked.cancel_requested
    ender = threading.Timer(0.2, registry.finish, args=(7, ID, "cancelled"))
    ender.start()
    ended = registry.wait(7, ID, timeout_s=5)
    assert ended is not None
    assert ended.status == "cancelled"
    still = QueryRegistry()
    still.start(7, ID, "topcontent", "user:ann")
    waited = still.wait(7, ID, timeout_s=0.05)
    assert waited is not None
    assert waited.status == "running"


def test_a_cancel_request_naming_an_owner_marks_only_that_owners_query() -> None:
    registry = QueryRegistry()
    registry.start(7, ID, "topcontent", "user:ann")
    with pytest.raises(NotQueryOwnerError):
        registry.request_cancel(7, ID, "api_key:3")
    running = registry.get(7, ID)
    assert running is not None
    assert not running.cancel_requested
    marked = registry.request_cancel(7, ID, "user:ann")
    assert marked is not None
    assert marked.cancel_requested
    registry.finish(7, ID, "cancelled")
    with pytest.raises(NotQueryOwnerError):  # a finished query's owner is kept too
        registry.request_cancel(7, ID, "user:bob")
    assert registry.request_cancel(7, "unknown", "user:bob") is None
