"""From the metric routes' parameters as sent to the plan their `explain=true` answers (`parse_metric_query`,
`compile_metrics`, `explanation`: no store, no app): an accepted filter value or qoefilter number is a bound
parameter, never SQL text, and the text is the same whatever the values; every table read carries the
customer's guard, the qoefilter's semi-join on `views` included.

These are the properties tests/api/test_metrics_hostile.py checked by asking the app for the plan (same test
names); the API keeps one test that its explain answer is this explanation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sightline.catalog import DIMENSIONS
from sightline.catalog.metrics import METRICS
from sightline.catalog.perview import PER_VIEW_METRICS
from sightline.query.compile import compile_metrics
from sightline.query.pipeline import explanation
from sightline.query.request import MetricQueryParams, parse_metric_query
from tests.hostile import FILTER_VALUES, NUMBER, guarded_reads

CUSTOMER = 1001
S, E = 1714780800, 1714867200
BASE: dict[str, Any] = {"metrics": "viewercount", "period": f"start={S},end={E}"}
STRING_DIMENSIONS = [d.name for d in DIMENSIONS if d.kind == "string"]
NUMBER_DIMENSIONS = [d.name for d in DIMENSIONS if d.kind == "number"]
OPERATORS = ["=", "!=", ">", ">=", "<", "<="]
PROPERTIES = settings(max_examples=200, deadline=None)

QOE_METRIC = st.sampled_from(sorted(PER_VIEW_METRICS))


def explain(params: Mapping[str, Any]) -> dict[str, Any]:
    """The plan the metric routes answer for `params` (over BASE) with `explain=true`."""
    query = parse_metric_query(CUSTOMER, MetricQueryParams(**{**BASE, **params}))
    return explanation(query, compile_metrics(query))


def check_tenant_guard(plan: Mapping[str, Any]) -> None:
    """Every `FROM \\`table\\`` has its own `customer_id = {pN:UInt32}`, bound to the customer, as the first
    conjunct of the reading SELECT's WHERE."""
    assert guarded_reads(plan["sql"], plan["params"], CUSTOMER), plan["sql"]


@PROPERTIES
@given(value=FILTER_VALUES, field=st.sampled_from(["country", "assetid", "custom1", "cdn"]))
@example(value="{p1:UInt32}", field="country")
@example(value="') OR 1=1 --", field="country")
@example(value="` OR 1 --", field="assetid")
@example(value="\\", field="country")
def test_an_accepted_filter_value_is_a_parameter_never_sql_text(value: str, field: str) -> None:
    reference = explain({"filter": f"[{field}=reference]"})
    plan = explain({"filter": f"[{field}={value}]"})
    bound = value.strip()
    assert bound in plan["params"].values(), (bound, plan["params"])
    assert plan["sql"] == reference["sql"], "the SQL text depends on the filter value"
    if bound not in reference["sql"]:  # the text of a value that is not already part of the query
        assert bound not in plan["sql"]
    check_tenant_guard(plan)


@PROPERTIES
@given(values=st.lists(FILTER_VALUES, min_size=2, max_size=2), other=st.lists(FILTER_VALUES, min_size=2, max_size=2))
def test_the_sql_text_does_not_depend_on_the_values(values: list[str], other: list[str]) -> None:
    first = explain({"filter": f"[country={'|'.join(values)}][device!={values[0]}]", "aggby": "platform"})
    second = explain({"filter": f"[country={'|'.join(other)}][device!={other[0]}]", "aggby": "platform"})
    assert first["sql"] == second["sql"]
    assert len(first["params"]) == len(second["params"])
    check_tenant_guard(first)
    check_tenant_guard(second)


@PROPERTIES
@given(number=NUMBER, field=st.sampled_from(NUMBER_DIMENSIONS), op=st.sampled_from(OPERATORS))
def test_a_numeric_filter_value_is_a_parameter(number: str, field: str, op: str) -> None:
    reference = explain({"filter": f"[{field}{op}1]"})
    plan = explain({"filter": f"[{field}{op}{number}]"})
    assert plan["sql"] == reference["sql"]
    assert float(number) in [float(v) for v in plan["params"].values()]
    check_tenant_guard(plan)


@PROPERTIES
@given(
    numbers=st.lists(NUMBER, min_size=3, max_size=3),
    metrics=st.lists(QOE_METRIC, min_size=3, max_size=3),
    ops=st.lists(st.sampled_from(OPERATORS), min_size=3, max_size=3),
)
def test_a_qoefilter_number_is_a_parameter(numbers: list[str], metrics: list[str], ops: list[str]) -> None:
    """The per-view semi-join reads `views` under its own tenant guard; its numbers are bound."""
    conditions = [f"{m} {op} {{}}" for m, op in zip(metrics, ops, strict=True)]
    text = f"{conditions[0]} AND {conditions[1]} OR {conditions[2]}"
    reference = explain({"qoefilter": text.format(1, 2, 3), "aggby": "country"})
    plan = explain({"qoefilter": text.format(*numbers), "aggby": "country"})
    assert plan["sql"] == reference["sql"], "the SQL text depends on the qoefilter's numbers"
    assert "FROM `views`" in plan["sql"]
    bound = [float(v) for v in plan["params"].values() if isinstance(v, float | int)]
    assert all(float(n) in bound for n in numbers), (numbers, plan["params"])
    check_tenant_guard(plan)


@PROPERTIES
@given(
    dimensions=st.lists(st.sampled_from([d.name for d in DIMENSIONS]), max_size=3, unique=True),
    series=st.booleans(),
    granularity=st.sampled_from(["auto", "minute", "5minute", "10minute", "hour", "day"]),
    filter_field=st.one_of(st.none(), st.sampled_from(STRING_DIMENSIONS)),
    start_minute=st.integers(0, 3 * 1440),
    minutes=st.integers(1, 9 * 1440),
    metrics=st.lists(st.sampled_from([m.name for m in METRICS]), min_size=1, max_size=4, unique=True),
    qoe=st.one_of(st.none(), QOE_METRIC),
    concurrency=st.one_of(
        st.none(), st.lists(st.sampled_from([m.name for m in METRICS if m.concurrency]), min_size=1, max_size=3)
    ),
    closed_only=st.booleans(),
)
def test_every_table_read_has_the_tenant_guard(
    dimensions: list[str],
    series: bool,
    granularity: str,
    filter_field: str | None,
    start_minute: int,
    minutes: int,
    metrics: list[str],
    qoe: str | None,
    concurrency: list[str] | None,
    closed_only: bool,
) -> None:
    start = S + 60 * start_minute
    aggby = [*dimensions, *(["timestamp"] if series else [])]
    params: dict[str, Any] = {
        "metrics": ",".join(concurrency or metrics),
        "period": f"start={start},end={start + 60 * minutes}",
        "granularity": granularity,
        "aggby": ",".join(aggby) or None,
        "filter": f"[{filter_field}=' OR customer_id != 0 --]" if filter_field else None,
        "qoefilter": f"{qoe}>0 OR {qoe}<=0" if qoe else None,
        "concurrency": 1 if concurrency else 0,
        "allstatus": 0 if closed_only else 1,
    }
    check_tenant_guard(explain(params))
