"""Parsing the metrics endpoints' parameters: what is grouped, ordered, refused, and why."""

from __future__ import annotations

import pytest

from sightline.query.compile import MetricQuery
from sightline.query.filters import Condition
from sightline.query.request import MetricQueryParams, RequestError, parse_metric_query

PERIOD = "start=1795651200,end=1795737600"


def parse(**params: object) -> MetricQuery:
    return parse_metric_query(1001, MetricQueryParams(**{"period": PERIOD, **params}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "metrics", "dimensions", "series", "order_by"),
    [
        ({"metrics": "viewercount"}, ("viewercount",), (), False, ("viewercount", "DESC")),
        ({"metrics": "assetid", "aggby": "assetid"}, ("viewercount",), ("assetid",), False, ("viewercount", "DESC")),
        ({"metrics": "timestamp,viewercount", "orderby": "timestamp"}, ("viewercount",), (), True,
         ("timestamp", "DESC")),
        ({"metrics": "viewercount,cdn", "aggby": "cdn", "orderby": "cdn", "orderas": "ASC"}, ("viewercount",), ("cdn",),
         False, ("cdn", "ASC")),
        ({"metrics": "latency,viewercount", "aggby": "timestamp", "order": "asc"}, ("latency", "viewercount"), (),
         True, ("timestamp", "ASC")),
        ({"metrics": " viewercount , viewercount ", "aggby": "cdn,country"}, ("viewercount",), ("cdn", "country"),
         False, ("viewercount", "DESC")),
    ],
)  # fmt: skip
def test_fields_and_order(
    params: dict[str, str], metrics: tuple[str, ...], dimensions: tuple[str, ...], series: bool,
    order_by: tuple[str, str],
) -> None:  # fmt: skip
    query = parse(**params)
    assert tuple(m.name for m in query.metrics) == metrics
    assert query.dimensions == dimensions
    assert query.series == series
    assert query.order_by == order_by


def test_filters_and_qoefilters_are_parsed() -> None:
    query = parse(metrics="viewercount", filter="[country=US|CA]", qoefilter="latency>3")
    assert query.filter == Condition("country", "=", ("US", "CA"))
    assert query.qoefilter == Condition("latency", ">", (3,))


@pytest.mark.parametrize(
    ("params", "parameter", "message"),
    [
        ({"metrics": ""}, "metrics", "at least one metric"),
        ({"metrics": "viewercountt"}, "metrics", "did you mean 'viewercount'"),
        ({"metrics": "viewercount", "aggby": "cdnn"}, "aggby", "did you mean 'cdn'"),
        ({"metrics": "viewercount", "orderby": "cdn"}, "orderby", "must name a requested field"),
        ({"metrics": "viewercount", "order": "up"}, "order", "asc or desc"),
        ({"metrics": "viewercount", "limit": 0}, "limit", "between 1 and 10000"),
        ({"metrics": "viewercount", "offset": -1}, "offset", "between 0 and"),
        ({"metrics": "viewercount", "granularity": "week"}, "granularity", "must be one of"),
        ({"metrics": "viewercount", "period": "start=9,end=1"}, "period", "at least a minute"),
        ({"metrics": "viewercount", "sessiontype": "finished"}, "sessiontype", "started or ended"),
        ({"metrics": "viewercount", "sessiontype": "ended", "aggby": "timestamp"}, "sessiontype", "time series"),
        ({"metrics": "viewercount", "concurrency": 2}, "concurrency", "0 or 1"),
        ({"metrics": "viewercount,latency", "concurrency": 1}, "concurrency", "does not apply to latency"),
    ],
)
def test_refusals_name_the_parameter(params: dict[str, object], parameter: str, message: str) -> None:
    with pytest.raises(RequestError, match=message) as raised:
        parse(**params)
    assert raised.value.parameter == parameter
