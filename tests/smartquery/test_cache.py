"""The query cache alone: hits for identical requests only, invalidation by overlapping arrivals, no stale
answer kept when data arrived while it was computed, and the bounds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sightline.query.filters import Condition
from sightline.query.period import Period
from sightline.smartquery.cache import Answer, ResultCache
from sightline.smartquery.spec import SmartQuery
from sightline.store import DataArrival

START = datetime(2025, 3, 1, tzinfo=UTC)
QUERY = SmartQuery(
    customer_id=7, period=Period(START, START + timedelta(days=1)), granularity="hour", limit=100, name="topcontent"
)
SPAN = (int(START.timestamp() * 1000), int((START + timedelta(days=1)).timestamp() * 1000))


def answer(size: int = 2) -> Answer:
    return Answer(b"x" * size, size)


def test_an_identical_request_hits_and_any_difference_misses() -> None:
    cache = ResultCache()
    assert cache.put(QUERY, SPAN, answer(), cache.ticket())
    assert cache.get(replace(QUERY)) == answer()
    for other in (
        replace(QUERY, customer_id=8),
        replace(QUERY, name="contentpaths"),
        replace(QUERY, offset=100),
        replace(QUERY, granularity="day"),
        replace(QUERY, filter=Condition("device", "=", ("tv",))),
        replace(QUERY, period=Period(START, START + timedelta(hours=23))),
    ):
        assert cache.get(other) is None


def test_an_arrival_drops_the_entries_of_its_customer_that_it_overlaps() -> None:
    cache = ResultCache()
    later = replace(QUERY, period=Period(START + timedelta(days=2), START + timedelta(days=3)))
    later_span = (SPAN[0] + 2 * 86_400_000, SPAN[1] + 2 * 86_400_000)
    other_customer = replace(QUERY, customer_id=8)
    for key, span in ((QUERY, SPAN), (later, later_span), (other_customer, SPAN)):
        cache.put(key, span, answer(), cache.ticket())
    cache.invalidate((DataArrival(7, SPAN[0] - 5_000, SPAN[0]),))  # touches the first millisecond of QUERY
    assert cache.get(QUERY) is None
    assert cache.get(later) is not None
    assert cache.get(other_customer) is not None
    cache.invalidate((DataArrival(7, SPAN[1], SPAN[1] + 1),))  # at QUERY's end: the period is half-open
    assert cache.get(later) is not None


def test_an_answer_computed_while_overlapping_data_arrived_is_not_kept() -> None:
    cache = ResultCache()
    ticket = cache.ticket()
    cache.invalidate((DataArrival(7, SPAN[0] + 1, SPAN[0] + 2),))
    assert not cache.put(QUERY, SPAN, answer(), ticket)
    ticket = cache.ticket()
    cache.invalidate((DataArrival(7, SPAN[1] + 10, SPAN[1] + 20), DataArrival(8, SPAN[0], SPAN[1])))
    assert cache.put(QUERY, SPAN, answer(), ticket)  # what arrived did not overlap


def test_an_answer_older_than_the_arrivals_kept_is_not_kept() -> None:
    cache = ResultCache(arrivals_kept=3)
    ticket = cache.ticket()
    for n in range(4):
        cache.invalidate((DataArrival(9, n, n),))
    assert not cache.put(QUERY, SPAN, answer(), ticket)
    assert cache.put(QUERY, SPAN, answer(), cache.ticket())


def test_entries_and_bytes_are_bounded_least_recently_used_first() -> None:
    cache = ResultCache(max_entries=3, max_bytes=10)
    keys = [replace(QUERY, offset=n) for n in range(5)]
    for key in keys[:3]:
        cache.put(key, SPAN, answer(2), cache.ticket())
    cache.get(keys[0])  # used: the second is now the least recently used
    cache.put(keys[3], SPAN, answer(2), cache.ticket())
    assert len(cache) == 3
    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) is not None
    cache.put(keys[4], SPAN, answer(7), cache.ticket())  # 13 bytes: the oldest go until 10 or fewer remain
    assert cache.bytes <= 10
    assert cache.get(keys[4]) is not None
    assert not cache.put(replace(QUERY, offset=99), SPAN, answer(11), cache.ticket())  # larger than the bound
    assert cache.bytes <= 10


def test_an_entry_is_answered_only_to_a_lookup_with_the_versions_it_was_stored_with() -> None:
    cache = ResultCache()
    versions = (("2025-03-01", 4), ("2025-03-02", 9))
    assert cache.put(QUERY, SPAN, answer(), cache.ticket(), versions)
    assert cache.get(QUERY, versions) == answer()
    assert cache.get(QUERY) is None  # not checked: not the versions it read
    assert cache.get(QUERY, versions) is None  # dropped at the first lookup of other versions
    assert cache.put(QUERY, SPAN, answer(), cache.ticket(), versions)
    assert cache.get(QUERY, (("2025-03-01", 4), ("2025-03-02", 10))) is None
    assert len(cache) == 0
