"""Parsing smartQuery parameters: the query's name, the split of `filter` into views and rows, queryIds and
querycache, and the 400s that name what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from sightline.query.filters import And, Condition, FilterError
from sightline.query.request import RequestError
from sightline.smartquery.catalog import NAMED_QUERIES
from sightline.smartquery.request import SmartQueryParams, parse_query_id, parse_querycache, parse_smart_query
from sightline.smartquery.spec import SmartQuery

PERIOD = "start=1717200000,end=1717286400"


def parse(name: str = "subscriberinsight", **params: Any) -> SmartQuery:
    return parse_smart_query(7, SmartQueryParams(**{"queryname": name, "period": PERIOD, **params}), NAMED_QUERIES)


def test_a_filter_splits_into_the_views_counted_and_the_rows_kept() -> None:
    query = parse(filter="[device=tv|stb][cohort=atrisk][country=US]")
    assert query.filter == And((Condition("device", "=", ("tv", "stb")), Condition("country", "=", ("US",))))
    assert query.row_filter == (Condition("cohort", "=", ("atrisk",)),)
    only_rows = parse("contentpaths", filter="kind=path, pathlength>=3")
    assert only_rows.filter is None
    assert only_rows.row_filter == (Condition("kind", "=", ("path",)), Condition("pathlength", ">=", (3,)))


def test_the_name_is_case_insensitive_and_the_granularity_resolved() -> None:
    query = parse("NewVsReturning", granularity="auto")
    assert query.name == "newvsreturning"
    assert query.granularity == "hour"  # a one-day period
    assert query.period.span.days == 1


@pytest.mark.parametrize(
    ("name", "params", "parameter"),
    [
        ("nosuch", {}, "queryname"),
        ("subscriberinsight", {"limit": 10_001}, "limit"),
        ("subscriberinsight", {"offset": -1}, "offset"),
        ("subscriberinsight", {"granularity": "week"}, "granularity"),
        ("subscriberinsight", {"limit": 0}, "limit"),
        ("subscriberinsight", {"period": "start=5,end=1"}, "period"),
    ],
)
def test_bad_parameters_name_themselves(name: str, params: dict[str, object], parameter: str) -> None:
    """With the filters, queryIds and querycache below, every refusal tests/api/test_smartquery_correctness.py
    sent over HTTP (it keeps an unknown queryname and an unknown filter field to show the 400s)."""
    with pytest.raises(RequestError) as raised:
        parse(name, **params)
    assert raised.value.parameter == parameter
    if parameter == "queryname":
        assert set(raised.value.allowed) == set(NAMED_QUERIES)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("subscriberinsight", "[kind=path]"),  # another query's column
        ("topcontent", "[cohort=new]"),
        ("subscriberinsight", "[cohort>2]"),  # a comparison on a string column
        ("contentpaths", "[titles=A]"),  # a list column is not filterable
        ("subscriberinsight", "[nosuch=1]"),
    ],
)
def test_filters_on_columns_the_query_does_not_filter_are_refused(name: str, text: str) -> None:
    with pytest.raises(FilterError) as raised:
        parse(name, filter=text)
    assert raised.value.parameter == "filter"


def test_query_ids_and_querycache() -> None:
    assert parse_query_id(" 0B5E4A9C-7C61-4B8E-9D7E-111111111111 ") == "0b5e4a9c-7c61-4b8e-9d7e-111111111111"
    assert parse_query_id(None) is None
    assert parse_query_id("") is None
    with pytest.raises(RequestError, match="UUID"):
        parse_query_id("42")
    assert parse_querycache(None)
    assert parse_querycache("True")
    assert not parse_querycache("false")
    assert not parse_querycache("0")
    with pytest.raises(RequestError):
        parse_querycache("yes")
