"""`compile_metrics` and `compile_query`, called directly (no store, no app): which tables each kind of request
reads and how (rollups as stored, `events` in two attributions, the semi-joins on `views` of a qoefilter,
`sessiontype=ended` and `allstatus=0`, concurrency), the tenant guard on every table read, and the bounds of
the period on every read. The printed SQL itself is in the snapshots (test_sql_snapshots.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import fields, is_dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sightline.catalog.metrics import metric
from sightline.catalog.parts import OUTCOMES
from sightline.query.ast import Binary, Column, Expr, Func, InSelect, Number, Param, Select, Table, UnionAll
from sightline.query.compile import MAX_VIEW_SPAN, MetricQuery, compile_metrics, compile_query
from sightline.query.filters import Condition
from sightline.query.period import Granularity, Period
from sightline.query.plan import EVENTS, choose_tables
from sightline.query.printer import print_select

CUSTOMER = 4242
VIEW_START = Func("UUIDv7ToDateTime", (Column("view_id"),))
DAY = datetime(2026, 11, 2, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


def query(
    metrics: str = "viewercount",
    start: datetime = DAY,
    end: datetime = DAY + timedelta(days=1),
    granularity: Granularity = "hour",
    **fields_: Any,
) -> MetricQuery:
    return MetricQuery(
        customer_id=CUSTOMER,
        period=Period(start, end),
        granularity=granularity,
        metrics=tuple(metric(name) for name in metrics.split(",")),
        **fields_,
    )


def nodes(node: Any) -> Iterator[Any]:
    """`node` and every AST node under it."""
    yield node
    if is_dataclass(node) and not isinstance(node, type):
        for field in fields(node):
            yield from nodes(getattr(node, field.name))
    elif isinstance(node, tuple):
        for item in node:
            yield from nodes(item)


def reads(select: Select) -> list[Select]:
    """The SELECTs that read a table, wherever they are (union, subquery, semi-join)."""
    return [n for n in nodes(select) if isinstance(n, Select) and isinstance(n.source, Table)]


def bounds(select: Select, column: str | Expr) -> tuple[list[datetime], list[datetime]]:
    """The times `column` (a name, or an expression) is compared with in `select`'s own WHERE and HAVING: (lower
    bounds `>=`, upper `<`)."""
    compared = Column(column) if isinstance(column, str) else column
    lower: list[datetime] = []
    upper: list[datetime] = []
    for node in nodes((select.where, select.having)):
        if isinstance(node, Binary) and node.op in (">=", "<") and node.left == compared:
            moment = datetime.fromtimestamp(_epoch(node.right), UTC)
            (lower if node.op == ">=" else upper).append(moment)
    return lower, upper


def _epoch(node: Any) -> int:
    param = next(n for n in nodes(node) if isinstance(n, Param))
    assert param.clickhouse_type == "Int64"
    return int(param.value)  # type: ignore[arg-type]


def semi_joins(select: Select) -> list[Select]:
    return [n.select for n in nodes(select) if isinstance(n, InSelect)]


# Plans ---------------------------------------------------------------------------------------------


def test_a_whole_day_of_totals_is_one_select_over_the_hourly_rollup() -> None:
    compiled = compile_metrics(query("viewercount,bufferingratio"))
    select = compiled.select
    assert [(s.table, s.start, s.end) for s in compiled.segments] == [("rollup_1h", DAY, DAY + timedelta(days=1))]
    assert select.source == Table("rollup_1h", CUSTOMER)
    assert not compiled.paged_in_engine
    assert select.group_by == ()
    assert bounds(select, "bucket") == ([DAY], [DAY + timedelta(days=1)])
    merged = {n.name for n in nodes(select.columns) if isinstance(n, Func)}
    assert merged == {"sum"}  # plays, rebuffer_ms and play_ms merged over the stored rows


def test_a_ragged_period_reads_minutes_at_its_edges_and_hours_between() -> None:
    """The rollups' rows go to one outer merge as stored (no grouping inside): the same sums and states."""
    compiled = compile_metrics(query("viewercount,playdur", at(0, 30), at(3, 20)))
    stretches = [("rollup_1m", at(0, 30), at(1)), ("rollup_1h", at(1), at(3)), ("rollup_1m", at(3), at(3, 20))]
    assert [(s.table, s.start, s.end) for s in compiled.segments] == stretches
    assert not compiled.paged_in_engine
    assert isinstance(compiled.select.source, UnionAll)
    inner = compiled.select.source.selects
    assert [s.source for s in inner] == [Table(t, CUSTOMER) for t, _, _ in stretches]
    assert all(s.group_by == () for s in inner)
    assert [bounds(s, "bucket") for s in inner] == [([start], [end]) for _, start, end in stretches]


def test_a_dimension_no_rollup_keeps_is_read_from_events_in_two_attributions() -> None:
    """Outcomes (plays) in the bucket of the view's start, looking a day past the period for their events;
    time-based parts (play time) in the bucket of the event. Each SELECT counts its own parts only."""
    compiled = compile_metrics(query("viewercount,playdur", filter=Condition("subscriberid", "=", ("s1",))))
    assert [s.table for s in compiled.segments] == [EVENTS]
    assert compiled.paged_in_engine
    assert isinstance(compiled.select.source, UnionAll)
    by_start, by_event = compiled.select.source.selects
    end = DAY + timedelta(days=1)
    assert bounds(by_start, VIEW_START) == ([DAY], [end])
    assert bounds(by_start, "ts") == ([DAY], [end + MAX_VIEW_SPAN])
    assert bounds(by_event, VIEW_START) == ([], [])
    assert bounds(by_event, "ts") == ([DAY], [end])
    assert _counted(by_start) == {"part_plays"}
    assert _counted(by_event) == {"part_play_ms"}


def _counted(select: Select) -> set[str]:
    """The part columns that `select` counts (the others are empty, counted under the condition 0)."""
    printed = {c.alias: print_select(Select((c,), select.source))[0] for c in select.columns}
    return {alias for alias, sql in printed.items() if alias.startswith("part_") and not re.search(r", 0\)+ AS", sql)}


def test_view_start_parts_alone_need_one_select_of_events() -> None:
    compiled = compile_metrics(query("viewercount,attempts", filter=Condition("subscriberid", "=", ("s1",))))
    (by_start,) = compiled.select.source.selects  # type: ignore[union-attr]
    assert bounds(by_start, "ts") == ([DAY], [DAY + timedelta(days=1) + MAX_VIEW_SPAN])
    assert _counted(by_start) == {"part_plays", "part_attempts"}


def test_a_partial_hour_at_the_edge_of_a_breakdown_no_minute_rollup_keeps_is_read_from_events() -> None:
    """Mixed edges: `events` for 01:30 to 02:00, the hourly delivery rollup for the rest, grouped alike."""
    compiled = compile_metrics(query("viewercount,uniqueviewercount", at(1, 30), at(5), dimensions=("country",)))
    assert [(s.table, s.start, s.end) for s in compiled.segments] == [
        (EVENTS, at(1, 30), at(2)),
        ("rollup_1h_delivery", at(2), at(5)),
    ]
    assert compiled.paged_in_engine
    assert isinstance(compiled.select.source, UnionAll)
    *from_events, from_rollup = compiled.select.source.selects
    assert [s.source for s in from_events] == [Table(EVENTS, CUSTOMER)]  # both parts count at the view's start
    assert from_rollup.group_by == (Column("country"),)
    states = {n.name for n in nodes(from_rollup.columns) if isinstance(n, Func)}
    assert states == {"sum", "uniqMergeState"}  # a distinct count merges as a state, to merge again outside


def test_a_qoefilter_reads_events_of_the_views_that_pass_it() -> None:
    qoefilter = Condition("bufferingratio", ">", (5,))
    compiled = compile_metrics(query("viewercount", qoefilter=qoefilter))
    assert [s.table for s in compiled.segments] == [EVENTS]
    assert {reason for _, reason in compiled.rejected} == {
        "a qoefilter needs per-view values, which rollups do not keep"
    }
    (passing,) = semi_joins(compiled.select)
    assert passing.source == Table("views", CUSTOMER)
    assert passing.group_by == (Column("view_id"),)
    assert bounds(passing, "view_start") == ([DAY - MAX_VIEW_SPAN], [DAY + timedelta(days=1)])
    having = list(nodes(passing.having))
    assert Func("isFinite", (_per_view_bufferingratio(),)) in having  # a view without a value never passes
    assert Param(5.0, "Float64") in having


def _per_view_bufferingratio() -> Any:
    play, rebuffer = Func("sum", (Column("play_ms"),)), Func("sum", (Column("rebuffer_ms"),))
    return Binary("*", Number(100.0), Binary("/", rebuffer, Binary("+", play, rebuffer)))


def test_ended_counts_every_event_of_the_views_that_closed_in_the_period() -> None:
    compiled = compile_metrics(query("viewercount,playdur", ended=True))
    (select,) = compiled.select.source.selects  # type: ignore[union-attr]
    end = DAY + timedelta(days=1)
    assert bounds(select, "ts") == ([], [end])
    assert bounds(select, VIEW_START) == ([DAY - MAX_VIEW_SPAN], [end])
    (ended,) = semi_joins(select)
    assert bounds(ended, "view_start") == ([DAY - MAX_VIEW_SPAN], [end])
    closed = [n for n in nodes(ended.having) if isinstance(n, Func) and n.name == "greatest"]
    assert {c.name for n in closed for c in nodes(n) if isinstance(c, Column)} == set(OUTCOMES)
    assert _counted(select) == {"part_plays", "part_play_ms"}


def test_concurrency_counts_every_part_when_its_event_happens() -> None:
    compiled = compile_metrics(query("viewercount,attempts", at(0, 30), at(3, 20), concurrency=True))
    (select,) = compiled.select.source.selects  # type: ignore[union-attr]
    assert bounds(select, "ts") == ([at(0, 30)], [at(3, 20)])
    assert _counted(select) == {"part_plays", "part_attempts"}
    assert semi_joins(select) == []


def test_allstatus_0_counts_the_views_closed_by_now() -> None:
    compiled = compile_metrics(query("attempts,vsf", open_views=False))
    assert {reason for _, reason in compiled.rejected} == {
        "allstatus=0 counts closed views only; rollups count every view as its events arrive"
    }
    closed = list(semi_joins(compiled.select))
    assert closed
    assert all(s.source == Table("views", CUSTOMER) for s in closed)
    assert all(any(isinstance(n, Func) and n.name == "greatest" for n in nodes(s.having)) for s in closed)


def test_business_exceptions_are_read_only_when_left_out() -> None:
    default = compile_metrics(query("vsf"))
    counted = compile_metrics(query("vsf", include_business=True))
    assert "vsf_business_views" in print_select(default.select)[0]
    assert "vsf_business_views" not in print_select(counted.select)[0]


def test_the_period_length_of_a_total_and_of_a_series_bucket() -> None:
    """`concurviewavg` divides by the period's length, or in a series by the part of its bucket inside it."""
    total = compile_metrics(query("concurviewavg", at(0, 30), at(3, 20)))
    assert Number(170 * 60_000.0) in list(nodes(total.select.columns))
    series = compile_metrics(query("concurviewavg", at(0, 30), at(3, 20), series=True))
    params = [n for n in nodes(series.select.columns) if isinstance(n, Param)]
    assert {int(p.value) for p in params} == {int(at(0, 30).timestamp()), int(at(3, 20).timestamp())}  # type: ignore[arg-type]


def test_a_metric_orders_groups_without_a_value_last() -> None:
    select = compile_metrics(query("bufferingratio", dimensions=("cdn",), order_by=("bufferingratio", "ASC"))).select
    first, second, tie = select.order_by
    assert first.direction == "DESC"
    assert isinstance(first.expr, Func)
    assert first.expr.name == "isFinite"
    assert (second.expr, second.direction) == (Column("bufferingratio"), "ASC")
    assert (tie.expr, tie.direction) == (Column("cdn"), "ASC")


def test_compile_query_is_compile_metrics_with_the_plan_given() -> None:
    request = query("viewercount", dimensions=("country",), filter=Condition("device", "=", ("tv",)))
    compiled = compile_metrics(request)
    plan = choose_tables(request.period, frozenset({"country", "device"}), None)
    assert compile_query(request, plan, answer=True) == compiled.select
    assert [s.table for s in plan.segments] == [EVENTS]  # no rollup holds country and device


# The tenant guard and the bounds of every read --------------------------------------------------------

KINDS: dict[str, MetricQuery] = {
    "rollup": query("viewercount,median_latency"),
    "ragged series": query("playdur,concurviewavg", at(0, 30), at(3, 20), "10minute", series=True),
    "events": query("viewercount,playdur,uniqueviewercount", filter=Condition("subscriberid", "!=", ("x",))),
    "mixed edges": query("viewercount,p95_latency", at(1, 30), at(5), dimensions=("country",)),
    "qoefilter": query("viewercount", qoefilter=Condition("latency", ">", (3,)), dimensions=("cdn",)),
    "ended": query("viewercount,playdur", ended=True, dimensions=("cdn",)),
    "concurrency": query("viewercount", at(0, 30), at(3, 20), concurrency=True),
    "allstatus=0": query("attempts,vsf", open_views=False, qoefilter=Condition("vsf", "=", (100,))),
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_table_read_is_the_customers(name: str) -> None:
    compiled = compile_metrics(KINDS[name])
    tables = [n for n in nodes(compiled.select) if isinstance(n, Table)]
    assert tables
    assert all(t.customer_id == CUSTOMER for t in tables)
    for select in (compiled.select, compiled.page(50, 100)):
        sql, params = print_select(select)
        guards = [p for p in params if f"`customer_id` = {{{p}:UInt32}}" in sql]
        assert sql.count("FROM `") == len(guards) == len(tables)
        assert all(params[p] == CUSTOMER for p in guards)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_read_is_bounded_by_the_period(name: str) -> None:
    """A rollup by its bucket within its stretch; `events` by the event's time, from the period's start to its
    end (a day later for outcome events of views that started in it); `views` by the view's start, from a day
    before the period to its end."""
    request = KINDS[name]
    compiled = compile_metrics(request)
    start, end = request.period.start, request.period.end
    for select in reads(compiled.select):
        table = select.source.name  # type: ignore[union-attr]
        if table == "views":
            assert bounds(select, "view_start") == ([start - MAX_VIEW_SPAN], [end])
        elif table == EVENTS:
            lower, upper = bounds(select, "ts")
            assert all(start <= moment for moment in lower)
            assert upper
            assert all(moment <= end + MAX_VIEW_SPAN for moment in upper)
        else:
            (low,), (high,) = bounds(select, "bucket")
            assert start <= low < high <= end


def test_a_page_is_the_same_select_limited_with_its_total() -> None:
    compiled = compile_metrics(KINDS["events"])
    page = compiled.page(20, 40)
    assert (page.limit, page.offset) == (20, 40)
    assert page.columns[:-1] == compiled.select.columns
    assert page.columns[-1].alias == "totalrecords"
    assert replace(page, columns=compiled.select.columns, limit=None, offset=0) == compiled.select
