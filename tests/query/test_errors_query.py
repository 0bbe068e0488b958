"""The error API's request parsing and compiled queries: defaults, the filter split between errors and
attempts, the heatmap's three queries; values only as bound parameters and the tenant guard on every read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sightline.catalog import DIMENSIONS
from sightline.query.error_request import ErrorQueryParams, HeatmapSpec, parse_error_request
from sightline.query.errors import ErrorQuery, compile_errors
from sightline.query.filters import And, Condition, FilterError
from sightline.query.heatmap import assemble, cells_query, columns_query, time_labels
from sightline.query.pipeline import RequestError
from sightline.query.printer import print_select
from tests.hostile import FILTER_VALUES, guarded_reads

START = int(datetime(2024, 5, 4, tzinfo=UTC).timestamp())
PERIOD = f"start={START},end={START + 86_400}"


def parse(**params: str | int) -> ErrorQuery:
    return parse_error_request(7, ErrorQueryParams(**{"metrics": "errors", "period": PERIOD, **params})).query  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "fields", "dimensions", "series", "order", "limit"),
    [
        ({}, ("errorcode", "errormessage"), (), False, ("errors", "DESC"), 1000),
        ({"aggby": "cdn,timestamp"}, (), ("cdn",), True, ("errors", "DESC"), 1000),
        ({"metrics": "errorrate,errorcode,country"}, ("errorcode",), ("country",), False, ("errorrate", "DESC"), 1000),
        (
            {"metrics": "errors,affectedviews", "orderby": "affectedviews", "orderas": "ASC"},
            ("errorcode", "errormessage"),
            (),
            False,
            ("affectedviews", "ASC"),
            1000,
        ),
        ({"heatmap": "cdn"}, ("errorcode",), (), False, ("errors", "DESC"), 50),
        ({"heatmap": "timestamp", "limit": 200, "order": "asc"}, ("errorcode",), (), False, ("errors", "ASC"), 200),
    ],
)
def test_defaults(
    params: dict[str, str | int],
    fields: tuple[str, ...],
    dimensions: tuple[str, ...],
    series: bool,
    order: tuple[str, str],
    limit: int,
) -> None:
    query = parse(**params)
    assert (query.error_fields, query.dimensions, query.series) == (fields, dimensions, series)
    assert (query.order_by, query.limit) == (order, limit)


def test_the_filter_splits_into_dimensions_and_error_fields() -> None:
    query = parse(filter="[errorcode=A|B][cdn=Akamai][errormessage!=x][country=US]")
    assert query.filter == And((Condition("cdn", "=", ("Akamai",)), Condition("country", "=", ("US",))))
    assert query.error_filter == And((Condition("errorcode", "=", ("A", "B")), Condition("errormessage", "!=", ("x",))))


def test_the_heatmap_queries() -> None:
    request = parse_error_request(
        7, ErrorQueryParams(metrics="errorrate", period=PERIOD, heatmap="playerversion", columnlimit=7)
    )
    rows, spec = request.query, request.heatmap
    assert spec == HeatmapSpec("playerversion", 7)
    columns = columns_query(rows, spec)
    assert (columns.error_fields, columns.dimensions, columns.limit) == ((), ("playerversion",), 7)
    assert columns.metrics == ("errorrate", "attempts")
    cells = cells_query(rows, spec, ["A", "B"], ["1.3.1"])
    assert cells.error_filter == Condition("errorcode", "=", ("A", "B"))
    assert cells.filter == Condition("playerversion", "=", ("1.3.1",))
    assert (cells.error_fields, cells.dimensions, cells.limit) == (("errorcode",), ("playerversion",), None)
    hourly = parse(heatmap="timestamp", granularity="hour", period=f"start={START + 1800},end={START + 7200 + 60}")
    assert time_labels(hourly) == [START, START + 3600, START + 7200]


@settings(max_examples=80, deadline=None)
@given(
    value=FILTER_VALUES,
    field=st.sampled_from(["errorcode", "errormessage", "cdn", "country"]),
    aggby=st.lists(st.sampled_from(["errorcode", "cdn", "timestamp", "assetid"]), max_size=3, unique=True),
    qoe=st.booleans(),
)
def test_values_are_parameters_and_every_read_is_guarded(value: str, field: str, aggby: list[str], qoe: bool) -> None:
    def compiled(text: str) -> tuple[str, dict[str, object]]:
        params = {"filter": f"[{field}={text}]", "aggby": ",".join(aggby), "granularity": "hour"}
        if qoe:
            params["qoefilter"] = "latency>3.5 OR buffcount>=2"
        sql, bound = print_select(compile_errors(parse(**params)).page(1000, 0))
        return sql, dict(bound)

    sql, params = compiled(value)
    assert sql == compiled("reference")[0]
    assert value.strip() in params.values()
    reads = guarded_reads(sql, params, 7)
    assert "error_events" in reads
    assert ("views" in reads) == qoe


@pytest.mark.parametrize("dimension", [d.name for d in DIMENSIONS])
def test_every_dimension_compiles_as_a_heatmap_column(dimension: str) -> None:
    request = parse_error_request(7, ErrorQueryParams(metrics="errors,errorrate", period=PERIOD, heatmap=dimension))
    assert request.heatmap is not None
    for query in (
        request.query,
        columns_query(request.query, request.heatmap),
        cells_query(request.query, request.heatmap, ["X"], ["1" if dimension in ("season", "episode") else "a"]),
    ):
        sql, params = print_select(compile_errors(query).select)
        assert guarded_reads(sql, dict(params), 7)


@pytest.mark.parametrize(("metrics", "kind"), [("errors,errorrate", int), ("errorrate,errors", float)])
def test_the_hottest_cells_give_their_values_as_the_cells_do(metrics: str, kind: type) -> None:
    """`hottest` lists each cell's value of the order metric as the cells and rows do: counts as integers."""
    request = parse_error_request(7, ErrorQueryParams(metrics=metrics, period=PERIOD, heatmap="cdn"))
    assert request.heatmap is not None
    rows = [{"errorcode": "E1", "errors": 5, "errorrate": 2.5}, {"errorcode": "E2", "errors": 2, "errorrate": 1.0}]
    columns = [
        {"cdn": "A", "errors": 6, "errorrate": 3.0, "attempts": 200},
        {"cdn": "B", "errors": 1, "errorrate": 1.0, "attempts": 100},
    ]
    cells = [
        {"errorcode": "E1", "cdn": "A", "errors": 4, "errorrate": 2.0},
        {"errorcode": "E1", "cdn": "B", "errors": 1, "errorrate": 1.0},
        {"errorcode": "E2", "cdn": "A", "errors": 2, "errorrate": 1.0},
    ]
    heatmap, _ = assemble(request.query, request.heatmap, rows, columns, cells)
    order = metrics.split(",")[0]
    hottest = heatmap["hottest"]
    assert [(h["errorcode"], h["cdn"]) for h in hottest][:1] == [("E1", "A")]
    assert all(type(h[order]) is kind for h in hottest), hottest
    by_cell = {(c["errorcode"], c["cdn"]): c[order] for c in cells}
    assert [h[order] for h in hottest] == [by_cell[(h["errorcode"], h["cdn"])] for h in hottest]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"metrics": "viewercount"}, "metrics"),
        ({"metrics": "errors", "aggby": "sessionid"}, "aggby"),
        ({"heatmap": "errorcode"}, "heatmap"),
        ({"heatmap": "cdn", "aggby": "country"}, "aggby"),
        ({"heatmap": "timestamp", "columnlimit": 5}, "columnlimit"),
        ({"columnlimit": 5}, "columnlimit"),
        ({"heatmap": "cdn", "columnlimit": 1001}, "columnlimit"),
        ({"heatmap": "cdn", "limit": 201}, "limit"),
        ({"heatmap": "timestamp", "granularity": "minute", "period": f"start={START},end={START + 86_400}"},
         "granularity"),
        ({"filter": "[errorcode>3]"}, "filter"),
        ({"filter": "[nosuch=1]"}, "filter"),
        ({"orderby": "fatalerrors"}, "orderby"),
        ({"query_id": "not-a-uuid"}, "queryId"),
        ({"businesserror": "maybe"}, "businesserror"),
        ({"qoefilter": "errorrate>3"}, "qoefilter"),
    ],
)  # fmt: skip
def test_refusals_name_their_parameter(params: dict[str, str | int], parameter: str) -> None:
    """The refusals tests/api/test_errors_hostile.py sent over HTTP (it keeps one of the parser's and one of the
    filter's to show the 400), checked on the parser."""
    with pytest.raises((RequestError, FilterError)) as raised:
        parse(**{"metrics": "errors,errorrate", **params})
    assert isinstance(raised.value, RequestError | FilterError)
    assert raised.value.parameter == parameter
