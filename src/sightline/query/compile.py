"""Compile a validated metric query and its table plan into the SQL AST.

Shape: one inner SELECT per plan segment computes the parts each metric needs, per group (dimensions,
and the time bucket for a series), as sums or aggregate states; they are joined by UNION ALL; the outer
SELECT merges them per group and evaluates each metric's formula over the merged parts. Rollup segments
read parts as stored; `events` segments compute them with the catalog's expressions, in two SELECTs, so
that view-start parts are bucketed by the view's start and event-time parts by the event's time — the
attribution the rollups' materialized views apply (docs/architecture.md). A plan of one rollup segment
(most dashboard queries) is one SELECT over the rollup, merging its stored rows per group.

Paging: a plan that reads `events` pages in the engine (LIMIT, and `totalrecords` as `count() OVER ()`);
a plan of rollups only answers every group, in order, and the caller pages (`pages_in_engine`): a rollup
holds few groups, and the engine is then spared the window and the limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sightline.catalog import ROLLUPS, dimension
from sightline.catalog.formula import Clamp, Const, Formula, Part, PeriodMs, Quantile, parts_of
from sightline.catalog.metrics import MetricSpec
from sightline.catalog.parts import OUTCOMES, PARTS, SKETCH_ACCURACY, PartSpec
from sightline.catalog.perview import BUSINESS_PARTS, PART_VIEW_COLUMNS, PER_VIEW_METRICS, VIEW_COLUMN_SPECS
from sightline.query.ast import (
    Aliased,
    Binary,
    Column,
    Direction,
    Expr,
    Func,
    InList,
    InSelect,
    Integer,
    Number,
    OrderBy,
    Param,
    Select,
    Symbol,
    Table,
    UnionAll,
    and_all,
)
from sightline.query.filters import And, Condition, Node, fields_of
from sightline.query.parts import SKETCH, part_state
from sightline.query.period import GRANULARITY_SECONDS, Granularity
from sightline.query.pipeline import Compiled, QueryRequest
from sightline.query.plan import EVENTS, Segment, TablePlan, choose_tables

TIMESTAMP = "timestamp"
MAX_VIEW_SPAN = timedelta(days=1)
"""How long after its start an `events` segment looks for a view's outcome events."""

_BUCKET_FUNCTIONS: dict[Granularity, str] = {
    "minute": "toStartOfMinute",
    "5minute": "toStartOfFiveMinutes",
    "10minute": "toStartOfTenMinutes",
    "hour": "toStartOfHour",
    "day": "toStartOfDay",
}
_PARTS = {p.name: p for p in PARTS}
_UTC = Symbol("UTC")


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricQuery(QueryRequest):
    """A validated metric query: every name is from the catalog."""

    metrics: tuple[MetricSpec, ...]
    dimensions: tuple[str, ...] = ()
    series: bool = False
    concurrency: bool = False
    """Count every part in the bucket of its event, outcomes included (SmartSight's `concurrency=1`)."""
    ended: bool = False
    """SmartSight's `sessiontype=ended`: whole views, counted in the period in which they ended."""
    open_views: bool = True
    """Whether views not closed yet count (SmartSight's `allstatus=1`); else only the views closed by now."""

    def attribution(self, part: PartSpec) -> str:
        return "event_time" if self.concurrency else part.attribution

    @property
    def rollups_refused(self) -> str | None:
        """Why no rollup can answer: the query needs per-view or per-event facts that rollups do not keep."""
        if self.qoefilter is not None:
            return "a qoefilter needs per-view values, which rollups do not keep"
        if self.concurrency:
            return "concurrency=1 counts outcomes by event time, which rollups do not keep"
        if self.ended:
            return "sessiontype=ended counts whole views at their end, which rollups do not keep"
        if not self.open_views:
            return "allstatus=0 counts closed views only; rollups count every view as its events arrive"
        return None

    @property
    def needed_parts(self) -> tuple[PartSpec, ...]:
        names = frozenset().union(*(parts_of(m.formula_for(self.include_business)) for m in self.metrics))
        return tuple(p for p in PARTS if p.name in names)


def _part_column(part: PartSpec) -> str:
    return f"part_{part.name}"


def moment(when: datetime) -> Expr:
    """A point in time (whole seconds) as a `DateTime64(3)` value, the type of the stored times (`ts`,
    `view_start`): the engine prunes parts and granules by a `DateTime64` column's min-max against a whole-second
    `DateTime` bound as if `< end` were `<= end - 1 s`, losing the rows of a period's last second."""
    return Func("toDateTime64", (Param(int(when.timestamp()), "Int64"), Integer(3), _UTC))


def in_range(time: Expr, start: datetime, end: datetime) -> Expr:
    """`start <= time < end`."""
    return Binary("AND", Binary(">=", time, moment(start)), Binary("<", time, moment(end)))


def time_bucket(time: Expr, granularity: Granularity) -> Expr:
    """The start of the bucket of `time` at `granularity`, in UTC."""
    return Func(_BUCKET_FUNCTIONS[granularity], (Func("toDateTime", (time,)), _UTC))


def tree_expr(node: Node, leaf: Callable[[Condition], Expr]) -> Expr:
    """A filter tree as an expression, each condition by `leaf`."""
    if isinstance(node, Condition):
        return leaf(node)
    children = [tree_expr(child, leaf) for child in node.children]
    joined = children[0]
    for child in children[1:]:
        joined = Binary("AND" if isinstance(node, And) else "OR", joined, child)
    return joined


def filter_expr(node: Node) -> Expr:
    """A filter tree as an expression; values become bound parameters of the dimension's type."""
    return tree_expr(node, _condition_expr)


def _condition_expr(condition: Condition) -> Expr:
    numeric = dimension(condition.field).kind == "number"
    values = tuple(Param(v, "Float64") if numeric else Param(str(v), "String") for v in condition.values)
    column = Column(condition.field)
    if condition.op in ("=", "!="):
        return InList(column, values, negated=condition.op == "!=")
    return Binary(condition.op, column, values[0])


def view_part(part: str) -> Expr:
    """`part` for one view, its rows of `views` merged: its column, or the least of a business part's flags."""
    if part in PART_VIEW_COLUMNS:
        column = VIEW_COLUMN_SPECS[PART_VIEW_COLUMNS[part]]
        return Func(column.aggregate, (Column(column.name),))
    flags = tuple(Func(VIEW_COLUMN_SPECS[flag].aggregate, (Column(flag),)) for flag in BUSINESS_PARTS[part])
    return flags[0] if len(flags) == 1 else Func("least", flags)


def qoefilter_expr(qoefilter: Node, include_business: bool) -> Expr:
    """A qoefilter's conditions on the per-view values of their metrics, business exceptions counted as the query
    counts them (an error metric leaves them out unless `businesserror=true`)."""

    def condition_expr(condition: Condition) -> Expr:
        formula = PER_VIEW_METRICS[condition.field].formula_for(include_business)
        per_view = formula_expr(formula, None, lambda part: view_part(part.name))
        compared = Binary(condition.op, per_view, Param(float(condition.values[0]), "Float64"))
        return Binary("AND", Func("isFinite", (per_view,)), compared)

    return tree_expr(qoefilter, condition_expr)


def view_closed() -> Expr:
    """Whether a view, its rows of `views` merged, is closed: one of its terminal `OUTCOMES` is 1."""
    return Binary("=", Func("greatest", tuple(Func("max", (Column(o),)) for o in OUTCOMES)), Number(1))


def _views_having(query: MetricQuery, having: Expr) -> Select:
    """The ids of the views, started in the period or up to `MAX_VIEW_SPAN` before, whose merged rows of
    `views` satisfy `having`."""
    return Select(
        (Aliased(Column("view_id"), "view_id"),),
        Table("views", query.customer_id),
        where=in_range(Column("view_start"), query.period.start - MAX_VIEW_SPAN, query.period.end),
        group_by=(Column("view_id"),),
        having=having,
    )


def qoe_views(query: MetricQuery, qoefilter: Node) -> Select:
    """The ids of the views that pass `qoefilter`."""
    return _views_having(query, qoefilter_expr(qoefilter, query.include_business))


def ended_views(query: MetricQuery) -> Select:
    """The ids of the views that closed (end, exit or failure) in the period."""
    ended = in_range(Func("max", (Column("last_ts"),)), query.period.start, query.period.end)
    return _views_having(query, Binary("AND", ended, view_closed()))


def _counted_views(query: MetricQuery) -> Select | None:
    """The ids of the views that count, when not all do: those passing the qoefilter and, with `allstatus=0`,
    closed (`sessiontype=ended` takes closed views already)."""
    having = [qoefilter_expr(query.qoefilter, query.include_business)] if query.qoefilter is not None else []
    if not query.open_views and not query.ended:
        having.append(view_closed())
    condition = and_all(having)
    return None if condition is None else _views_having(query, condition)


def _rollup_part(part: PartSpec) -> Expr:
    if part.aggregate == "ddsketch":
        return Func("quantileDDMergeState", (Column(part.name),), SKETCH)
    return Func({"sum": "sum", "uniq": "uniqMergeState"}[part.aggregate], (Column(part.name),))


def _quantile(part: Quantile, column: Column) -> Expr:
    """A quantile of the sketches of `column` merged over the group (`catalog.parts.SKETCH_ACCURACY`)."""
    return Func("quantileDDMerge", (column,), (SKETCH_ACCURACY, part.level))


def _inner(
    query: MetricQuery,
    table: str,
    time: Expr,
    where: Expr,
    parts: list[Aliased],
    grouped: bool = True,
    answer: bool = False,
) -> Select:
    keys: list[Expr] = [Column(d) for d in query.dimensions]
    columns = [Aliased(Column(d), d) for d in query.dimensions]
    if query.series:
        keys.append(time_bucket(time, query.granularity))
        columns.append(Aliased(_epoch(keys[-1]) if answer else keys[-1], TIMESTAMP))
    group_by = tuple(keys) if grouped else ()
    return Select(tuple(columns + parts), Table(table, query.customer_id), _where(query, where), group_by)


def _where(query: MetricQuery, where: Expr) -> Expr | None:
    """`where` (a segment's time range) and the query's filter, and for `allstatus=0` its counted views."""
    conditions = [where] + ([filter_expr(query.filter)] if query.filter is not None else [])
    counted = _counted_views(query)
    if counted is not None:
        conditions.append(InSelect(Column("view_id"), counted))
    return and_all(conditions)


def _epoch(time: Expr) -> Expr:
    return Func("toUnixTimestamp", (time,))


def _segment_selects(query: MetricQuery, segment: Segment, grouped: bool, answer: bool) -> list[Select]:
    """The inner SELECTs of `segment`. A rollup's are not `grouped` when every segment is a rollup's: its
    rows, as stored, go to the outer merge (the same states and sums, one aggregation fewer)."""
    parts = query.needed_parts
    if segment.table != EVENTS:
        bucket = Column("bucket")
        read = _rollup_part if grouped else (lambda p: Column(p.name))
        columns = [Aliased(read(p), _part_column(p)) for p in parts]
        where = in_range(bucket, segment.start, segment.end)
        return [_inner(query, segment.table, bucket, where, columns, grouped, answer)]
    selects = []
    view_start = Func("UUIDv7ToDateTime", (Column("view_id"),))
    ts = Column("ts")
    if query.ended:  # every event of the views that ended in the period
        started = in_range(view_start, segment.start - MAX_VIEW_SPAN, segment.end)
        before_end = Binary("AND", started, Binary("<", ts, moment(segment.end)))
        where = Binary("AND", before_end, InSelect(Column("view_id"), ended_views(query)))
        columns = [Aliased(part_state(p), _part_column(p)) for p in parts]
        return [_inner(query, EVENTS, view_start, where, columns, answer=answer)]
    for attribution, time, where in (
        (
            "view_start",
            view_start,
            Binary(
                "AND",
                in_range(view_start, segment.start, segment.end),
                in_range(ts, segment.start, segment.end + MAX_VIEW_SPAN),
            ),
        ),
        ("event_time", ts, in_range(ts, segment.start, segment.end)),
    ):
        if not any(query.attribution(p) == attribution for p in parts):
            continue
        columns = [Aliased(part_state(p, query.attribution(p) == attribution), _part_column(p)) for p in parts]
        selects.append(_inner(query, EVENTS, time, where, columns, answer=answer))
    return selects


def _merged_part(part: Part | Quantile) -> Expr:
    """A part merged over the inner SELECTs' rows: sum, distinct count or quantile."""
    spec = _PARTS[part.name]
    column = Column(_part_column(spec))
    if isinstance(part, Quantile):
        return _quantile(part, column)
    return Func("sum" if spec.aggregate == "sum" else "uniqMerge", (column,))


def divide(numerator: Expr, denominator: Expr) -> Expr:
    """`numerator ÷ denominator`: the one division of every ratio the API answers, the metrics' formulas and the
    named queries' own ratios alike. It is the engine's float division: over a zero denominator a ratio is NaN
    or ±inf, which the API answers as no value (null: `api.querying.json_value`, the engine's JSON), a qoefilter
    never passes (`qoefilter_expr`) and sorts last (`metric_order`); docs/metrics.md states the rule.
    (Guarding each denominator with `nullIf` would cost ~1 ms of planning per query: bench/query.py.)"""
    return Binary("/", numerator, denominator)


def formula_expr(formula: Formula, period_ms: Expr | None, part: Callable[[Part | Quantile], Expr]) -> Expr:
    """`formula` as an expression; `part` says how a part is read where the formula is evaluated, `period_ms`
    is the length of the group's time span (None where no formula reads it: per-view metrics have none). `/`
    is `divide`."""
    if isinstance(formula, Part | Quantile):
        return part(formula)
    if isinstance(formula, Const):
        return Number(formula.value)
    if isinstance(formula, PeriodMs):
        if period_ms is None:
            raise ValueError("this formula reads the period's length, which is not known here")
        return period_ms
    if isinstance(formula, Clamp):  # a clamp of no value stays no value
        inner = formula_expr(formula.value, period_ms, part)
        clamped = Func("greatest", (Number(formula.low), Func("least", (Number(formula.high), inner))))
        return Func("if", (Func("isFinite", (inner,)), clamped, Number(math.nan)))
    left, right = formula_expr(formula.left, period_ms, part), formula_expr(formula.right, period_ms, part)
    return divide(left, right) if formula.op == "/" else Binary(formula.op, left, right)


def metric_over(spec: MetricSpec, parts: Mapping[str, Expr]) -> Expr:
    """`spec`'s formula (business exceptions left out, the API's default) over sums a named query computes itself:
    `parts` maps each part the formula reads to the expression of its sum over the group. KeyError names a part
    it lacks; a formula of the period's length has none here."""
    return formula_expr(spec.formula_for(include_business=False), None, lambda part: parts[part.name])


def span_ms(query: MetricQuery, answer: bool) -> Expr:
    """The length (ms) of a group's time span, which `PeriodMs` reads: the whole period, or in a series the
    part of the group's bucket inside the period (the period cuts its first and last buckets short when it
    does not start and end on their bounds). Read in the outer SELECT, where the bucket is `TIMESTAMP` (epoch
    seconds with `answer`, else a DateTime)."""
    period = query.period
    if not query.series:
        return Number((period.end - period.start).total_seconds() * 1000.0)
    start = Func("toInt64", (Column(TIMESTAMP) if answer else _epoch(Column(TIMESTAMP)),))
    end = Binary("+", start, Integer(GRANULARITY_SECONDS[query.granularity]))
    inside = Binary(
        "-",
        Func("least", (end, Param(int(period.end.timestamp()), "Int64"))),
        Func("greatest", (start, Param(int(period.start.timestamp()), "Int64"))),
    )
    return Binary("*", Number(1000.0), inside)


def metric_order(value: Expr, direction: Direction) -> tuple[OrderBy, OrderBy]:
    """Order by a metric's value: values that are not finite (no value) last, either way."""
    return OrderBy(Func("isFinite", (Func("toFloat64", (value,)),)), "DESC"), OrderBy(value, direction)


def pages_in_engine(plan: TablePlan) -> bool:
    """Whether `compile_query` pages (LIMIT, `totalrecords`) in the engine: when the plan reads `events`."""
    return any(segment.table == EVENTS for segment in plan.segments)


def _stored_part(table: str) -> Callable[[Part | Quantile], Expr]:
    """How a formula reads a part merged over the stored rows of rollup `table` (named with the table, as a
    metric's alias may be a part's name)."""

    def merged(part: Part | Quantile) -> Expr:
        spec = _PARTS[part.name]
        column = Column(spec.name, table)
        if isinstance(part, Quantile):
            return _quantile(part, column)
        return Func("sum" if spec.aggregate == "sum" else "uniqMerge", (column,))

    return merged


def _rollup_bucket(query: MetricQuery, table: str) -> Expr:
    """The time key of a series over rollup `table`: its stored bucket when the grain is the granularity."""
    grain = next(r.grain for r in ROLLUPS if r.name == table)
    bucket = Column("bucket")
    return bucket if grain == query.granularity else time_bucket(bucket, query.granularity)


def compile_query(query: MetricQuery, plan: TablePlan, answer: bool = False) -> Select:
    """The SELECT that answers `query` with the tables of `plan`; with `answer`, the time bucket as the API
    answers it, epoch seconds (else a DateTime)."""
    grouped = pages_in_engine(plan)
    period_ms = span_ms(query, answer)
    flat = not grouped and len(plan.segments) == 1
    columns = [Aliased(Column(d), d) for d in query.dimensions]
    if flat:
        segment = plan.segments[0]
        part_reader = _stored_part(segment.table)
        source: Table | UnionAll = Table(segment.table, query.customer_id)
        if query.series:
            bucket = _rollup_bucket(query, segment.table)
            columns.append(Aliased(_epoch(bucket) if answer else bucket, TIMESTAMP))
        where_all = _where(query, in_range(Column("bucket"), segment.start, segment.end))
    else:
        part_reader = _merged_part
        selects = [s for segment in plan.segments for s in _segment_selects(query, segment, grouped, answer)]
        source, where_all = UnionAll(tuple(selects)), None
        if query.series:
            columns.append(Aliased(Column(TIMESTAMP), TIMESTAMP))
    keys: list[Expr] = [Column(d) for d in (*query.dimensions, *([TIMESTAMP] if query.series else []))]
    columns += [
        Aliased(formula_expr(m.formula_for(query.include_business), period_ms, part_reader), m.name)
        for m in query.metrics
    ]
    order: list[OrderBy] = []
    if query.order_by:
        field, direction = query.order_by
        by_metric = field in {m.name for m in query.metrics}
        order += metric_order(Column(field), direction) if by_metric else [OrderBy(Column(field), direction)]
    order += [OrderBy(k, "ASC") for k in keys if not query.order_by or k != Column(query.order_by[0])]
    return Select(tuple(columns), source, where=where_all, group_by=tuple(keys), order_by=tuple(order))


def compile_metrics(query: MetricQuery) -> Compiled:
    """`query` with its tables chosen (`plan.choose_tables`) and compiled, its time buckets as the API answers
    them (epoch seconds)."""
    dimensions = frozenset(query.dimensions) | (fields_of(query.filter) if query.filter else frozenset())
    bucket = GRANULARITY_SECONDS[query.granularity] if query.series else None
    plan = choose_tables(query.period, dimensions, bucket, query.rollups_refused)
    select = compile_query(query, plan, answer=True)
    return Compiled(select, pages_in_engine(plan), segments=plan.segments, rejected=plan.rejected)
