"""Parsing the metrics endpoints' parameters: what is grouped, ordered, refused, and why."""

from __future__ import annotations

from typing import Any, get_args, get_type_hints

import pytest
from pydantic import TypeAdapter, ValidationError

from sightline.api.errors import invalid_parameter
from sightline.api.metrics import metric_query
from sightline.api.querying import query_params
from sightline.catalog import DIMENSIONS
from sightline.catalog.metrics import METRICS
from sightline.query.compile import MetricQuery
from sightline.query.filters import Condition, FilterError
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


# What tests/api/test_metrics_hostile.py::test_a_bad_parameter_is_a_400_naming_it sent over HTTP to both metric
# routes, checked here on the parser (same ids): the API keeps one case of each kind of error to show its 400.
S, E = 1714780800, 1714867200
REFUSED: list[Any] = [
    pytest.param({"metrics": "nosuchmetric"}, "metrics", id="unknown-metric"),
    pytest.param({"metrics": "viewercount,' OR 1=1 --"}, "metrics", id="metric-injection"),
    pytest.param({"metrics": ""}, "metrics", id="empty-metrics"),
    pytest.param({"aggby": "nosuchdimension"}, "aggby", id="unknown-aggby"),
    pytest.param({"aggby": "country`; DROP TABLE events"}, "aggby", id="aggby-injection"),
    pytest.param({"orderby": "bufferingratio"}, "orderby", id="orderby-not-requested"),
    pytest.param({"orderby": "viewercount DESC; --"}, "orderby", id="orderby-injection"),
    pytest.param({"order": "sideways"}, "order", id="order-sideways"),
    pytest.param({"orderas": "DESC; DROP TABLE events"}, "orderas", id="orderas-injection"),
    pytest.param({"limit": 0}, "limit", id="limit-0"),
    pytest.param({"limit": 10_001}, "limit", id="limit-10001"),
    pytest.param({"limit": -1}, "limit", id="limit-negative"),
    pytest.param({"limit": 2**70}, "limit", id="limit-huge"),
    pytest.param({"offset": -1}, "offset", id="offset-negative"),
    pytest.param({"period": f"start={E},end={S}"}, "period", id="period-start-after-end"),
    pytest.param({"period": f"start={S},end={S + 500 * 86_400}"}, "period", id="period-500-days"),
    pytest.param({"period": "start=1,end=2"}, "period", id="period-under-a-minute"),
    pytest.param({"period": f"start={S},end={S}"}, "period", id="period-empty"),
    pytest.param({"period": ""}, "period", id="period-blank"),
    pytest.param({"period": f"start=-{S},end={E}"}, "period", id="period-negative"),
    pytest.param({"period": f"start={S}' OR 1=1 --,end={E}"}, "period", id="period-injection"),
    pytest.param({"period": "start=253402300800,end=253402300860"}, "period", id="period-after-year-9999"),
    pytest.param({"period": "start=999999999999,end=999999999999"}, "period", id="period-12-digit-equal"),
    pytest.param({"granularity": "week"}, "granularity", id="granularity-week"),
    pytest.param({"granularity": "week", "aggby": "timestamp"}, "granularity", id="granularity-week-series"),
    pytest.param({"filter": "[nosuchfield=1]"}, "filter", id="filter-unknown-field"),
    pytest.param({"filter": "[country=US"}, "filter", id="filter-unclosed"),
    pytest.param({"filter": "[country=US][[device=tv]]"}, "filter", id="filter-nested"),
    pytest.param({"filter": "[country>US]"}, "filter", id="filter-comparison-on-string"),
    pytest.param({"filter": "[season=one]"}, "filter", id="filter-number-not-a-number"),
    pytest.param({"filter": f"[season={2**63}]"}, "filter", id="filter-number-out-of-range"),
    pytest.param({"filter": "[country=\x00]"}, "filter", id="filter-nul"),
    pytest.param({"filter": "[country=" + "x" * 10_000 + "]"}, "filter", id="filter-10k"),
    pytest.param({"filter": "[country=]"}, "filter", id="filter-empty-value"),
    pytest.param({"filter": "[country!US]"}, "filter", id="filter-bang-alone"),
    pytest.param({"qoefilter": "nosuchmetric>3"}, "qoefilter", id="qoefilter-unknown-metric"),
    pytest.param({"qoefilter": "latency>3 AND (bufferingratio>5)"}, "qoefilter", id="qoefilter-parentheses"),
    pytest.param({"qoefilter": "latency>'3' OR 1=1 --"}, "qoefilter", id="qoefilter-injection"),
    pytest.param({"qoefilter": "latency>" + "9" * 400}, "qoefilter", id="qoefilter-number-out-of-range"),
    pytest.param({"qoefilter": "latency>3\x00"}, "qoefilter", id="qoefilter-backslash"),
    pytest.param({"qoefilter": "p95_latency>3"}, "qoefilter", id="qoefilter-quantile-metric"),
    pytest.param({"qoefilter": "latency>3 AND"}, "qoefilter", id="qoefilter-dangling-and"),
    pytest.param({"concurrency": 2}, "concurrency", id="concurrency-2"),
    pytest.param({"concurrency": -1}, "concurrency", id="concurrency-negative"),
    pytest.param({"concurrency": 1, "metrics": "bufferingratio"}, "concurrency", id="concurrency-1-refused-metric"),
    pytest.param({"sessiontype": "' OR 1=1 --"}, "sessiontype", id="sessiontype-injection"),
    pytest.param({"allstatus": 2}, "allstatus", id="allstatus-2"),
]


def refusal(**params: object) -> RequestError | FilterError:
    try:
        parse(**params)
    except (RequestError, FilterError) as error:
        return error
    pytest.fail(f"accepted: {params}")


@pytest.mark.parametrize(("overrides", "parameter"), REFUSED)
def test_a_bad_parameter_is_refused_naming_it(overrides: dict[str, object], parameter: str) -> None:
    """The parser refuses the request with an error naming the parameter, which the API answers as its 400
    (`invalid_parameter`: the message, and the allowed names)."""
    error = refusal(**{"metrics": "viewercount", "period": f"start={S},end={E}", **overrides})
    assert error.parameter == parameter
    answer = invalid_parameter(error)
    assert (answer.status, answer.code, answer.parameter) == (400, "invalid_parameter", parameter)
    assert answer.message.startswith(error.message)


@pytest.mark.parametrize(
    ("overrides", "parameter", "names"),
    [
        pytest.param({"metrics": "viewercont"}, "metrics", [m.name for m in METRICS], id="unknown-metric"),
        pytest.param({"aggby": "cuntry"}, "aggby", [d.name for d in DIMENSIONS], id="unknown-aggby"),
        pytest.param({"filter": "[cuntry=US]"}, "filter", [d.name for d in DIMENSIONS], id="unknown-filter-field"),
    ],
)
def test_an_unknown_name_is_refused_with_every_allowed_one(
    overrides: dict[str, str], parameter: str, names: list[str]
) -> None:
    """The 400's message lists what the parameter allows, however many names that is, with a hint
    (moved from tests/api/test_metrics_hostile.py, which keeps the unknown metric over HTTP)."""
    message = invalid_parameter(refusal(**{"metrics": "viewercount", **overrides})).message
    assert "did you mean" in message, message
    listed = set(message.split("allowed: ", 1)[1].split(", "))
    assert set(names) <= listed, f"not listed: {sorted(set(names) - listed)}"


@pytest.mark.parametrize(
    ("parameter", "declared", "text"),
    [
        pytest.param("limit", int | None, "1e309", id="limit-1e309"),
        pytest.param("offset", int, "abc", id="offset-abc"),
        pytest.param("concurrency", int, "abc", id="concurrency-abc"),
        pytest.param("allstatus", int, "1' OR 1=1 --", id="allstatus-injection"),
        pytest.param("explain", bool, "maybe", id="explain-maybe"),
    ],
)
def test_what_the_declared_type_refuses_never_reaches_the_parser(parameter: str, declared: Any, text: str) -> None:
    """The metric routes declare these parameters a number or a flag, so FastAPI refuses such a text before the
    parser sees it; tests/api/test_metrics_hostile.py shows that refusal's 400 naming the parameter (limit-abc)."""
    hints = get_type_hints(metric_query, include_extras=True) | get_type_hints(query_params, include_extras=True)
    assert get_args(hints[parameter])[0] == declared
    with pytest.raises(ValidationError):
        TypeAdapter(declared).validate_python(text)
