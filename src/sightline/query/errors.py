"""The error API's query: error events grouped by code, message, dimensions and time bucket, beside the
attempts of each group, compiled to the SQL AST.

Definitions (docs/errors.md):
- `errors`: error events, fatal or not, counted when they happen (as the catalog's `errors` part);
  `fatalerrors`: those that ended their view;
- `affectedviews`, `affectedviewers`: distinct views and viewer ids with at least one of them (exact);
- `attempts`: the views of the group's dimension values that started in its period or bucket, whatever
  their errors (the catalog's `attempts`, from the planner's tables);
- `errorrate` = 100 × affectedviews ÷ attempts; `fatalerrorrate` = 100 × fatalerrors ÷ attempts (a fatal
  error ends its view, so this is the share of attempts it ended). No value when there are no attempts.
The error fields (`errorcode`, `errormessage`) split errors, not attempts: a row's attempts are those of
its dimension values and bucket. Business exceptions are left out unless `include_business`.

Shape: the errors side (a SELECT on `error_events`, which holds the error events of `events`) joined on
the dimension and time keys with the attempts side (the metric query of `attempts`, over rollups when
they qualify). Grouped by an error field, the rows are the groups with errors (LEFT join); otherwise every
group with errors or attempts (FULL join).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from sightline.catalog.events import ERROR_EVENTS_TABLE
from sightline.catalog.metrics import metric
from sightline.catalog.parts import PARTS
from sightline.query.ast import (
    Aliased,
    Binary,
    Column,
    Direction,
    Expr,
    Func,
    InList,
    InSelect,
    Join,
    Number,
    OrderBy,
    Param,
    Select,
    Table,
    and_all,
)
from sightline.query.compile import (
    TIMESTAMP,
    MetricQuery,
    compile_query,
    filter_expr,
    in_range,
    qoe_views,
    time_bucket,
)
from sightline.query.filters import And, Condition, Node
from sightline.query.parts import expression
from sightline.query.period import GRANULARITY_SECONDS
from sightline.query.pipeline import Compiled, QueryRequest
from sightline.query.plan import choose_tables

ERROR_FIELDS: dict[str, str] = {"errorcode": "error_code", "errormessage": "error_message"}
"""API name → column of `events`: the fields that split errors but not attempts."""

ErrorSource = Literal["player", "ad"]
_CONDITIONS = {p.name: expression(p.condition) for p in PARTS}
ERROR_EVENTS: dict[ErrorSource, Expr] = {"player": _CONDITIONS["errors"], "ad": _CONDITIONS["ad_errors"]}
"""The catalog's condition of an error event: the player's (`error`) or the ad's (`ad_error`)."""
DENOMINATORS: dict[ErrorSource, str] = {"player": "attempts", "ad": "adrequests"}
"""The catalog metric a source's rates divide by: attempts, or ad requests."""


@dataclass(frozen=True, slots=True)
class ErrorMetricSpec:
    name: str
    label: str
    unit: str
    definition: str


ERROR_METRICS: tuple[ErrorMetricSpec, ...] = (
    ErrorMetricSpec("errors", "Errors", "count", "Error events, fatal or not, counted when they happen."),
    ErrorMetricSpec("fatalerrors", "Fatal errors", "count", "Error events that ended their view."),
    ErrorMetricSpec("affectedviews", "Affected views", "views", "Distinct views with at least one of these errors."),
    ErrorMetricSpec(
        "affectedviewers", "Affected viewers", "count", "Distinct viewer ids with at least one of these errors."
    ),
    ErrorMetricSpec(
        "attempts",
        "Attempts",
        "views",
        "Views with a play request that started in the row's dimension values and bucket, whatever their errors.",
    ),
    ErrorMetricSpec("errorrate", "Error rate", "percent", "100 × affected views ÷ attempts."),
    ErrorMetricSpec(
        "fatalerrorrate", "Fatal error rate", "percent", "100 × fatal errors ÷ attempts: the share of attempts ended."
    ),
)
ERROR_METRIC_NAMES: frozenset[str] = frozenset(m.name for m in ERROR_METRICS)


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorQuery(QueryRequest):
    """A validated error query: names are from `ERROR_METRICS`, `ERROR_FIELDS` and the catalog. Its `filter`
    holds the conditions on dimensions (they restrict errors and attempts alike)."""

    metrics: tuple[str, ...]
    error_fields: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    series: bool = False
    order_by: tuple[str, Direction]
    error_filter: Node | None = None
    """Conditions on error fields: they restrict errors only."""
    source: ErrorSource = "player"
    """`ad`: ad errors, with ad requests as `attempts` (SmartSight's `dimension=ad`)."""

    @property
    def join_keys(self) -> tuple[str, ...]:
        return (*self.dimensions, *((TIMESTAMP,) if self.series else ()))

    @property
    def keys(self) -> tuple[str, ...]:
        return (*self.error_fields, *self.join_keys)


READS: dict[str, tuple[str, ...]] = {
    "errors": ("errors",),
    "fatalerrors": ("fatalerrors",),
    "affectedviews": ("affectedviews",),
    "affectedviewers": ("affectedviewers",),
    "attempts": (),
    "fatalerrorrate": ("fatalerrors",),
}
"""The counts of the errors side each metric reads (`errorrate`: `rate_count`)."""


def rate_count(source: ErrorSource) -> str:
    """The count an error rate divides: affected views, or ad errors (a view makes several ad requests)."""
    return "affectedviews" if source == "player" else "errors"


def counted(query: ErrorQuery) -> tuple[str, ...]:
    """The counts the errors side computes: those the metrics and the order read (`errors` always: the
    distinct counts are the costly ones, they read the view and viewer ids of every error)."""
    names = {"errors"}
    for name in (*query.metrics, query.order_by[0]):
        names.update((rate_count(query.source),) if name == "errorrate" else READS.get(name, ()))
    return tuple(n for n in READS if n in names)


def attempts_query(query: ErrorQuery) -> MetricQuery:
    """The metric query of the attempts (or ad requests) of each dimension and time group of `query`."""
    denominator = metric(DENOMINATORS[query.source])
    return MetricQuery(
        customer_id=query.customer_id,
        period=query.period,
        granularity=query.granularity,
        filter=query.filter,
        qoefilter=query.qoefilter,
        order_by=(denominator.name, "DESC"),
        metrics=(denominator,),
        dimensions=query.dimensions,
        series=query.series,
    )


def _error_field_expr(node: Node) -> Expr:
    """A conjunction of conditions on error fields (the filter grammar makes no OR)."""
    conditions = node.children if isinstance(node, And) else (node,)
    exprs: list[Expr] = []
    for condition in conditions:
        assert isinstance(condition, Condition)
        values = tuple(Param(str(v), "String") for v in condition.values)
        exprs.append(InList(Column(ERROR_FIELDS[condition.field]), values, negated=condition.op == "!="))
    joined = and_all(exprs)
    assert joined is not None
    return joined


def _errors_side(query: ErrorQuery, attempts: MetricQuery) -> Select:
    ts = Column("ts")
    columns = [Aliased(Column(ERROR_FIELDS[f]), f) for f in query.error_fields]
    columns += [Aliased(Column(d), d) for d in query.dimensions]
    keys: list[Expr] = [Column(ERROR_FIELDS[f]) for f in query.error_fields]
    keys += [Column(d) for d in query.dimensions]
    if query.series:
        keys.append(time_bucket(ts, query.granularity))
        columns.append(Aliased(keys[-1], TIMESTAMP))
    counts: dict[str, Expr] = {
        "errors": Func("count", ()),
        "fatalerrors": Func("sum", (Column("fatal"),)),
        "affectedviews": Func("uniqExact", (Column("view_id"),)),
        "affectedviewers": Func("uniqExact", (Column("viewerid"),)),
    }
    columns += [Aliased(counts[name], name) for name in counted(query)]
    conditions: list[Expr] = [in_range(ts, query.period.start, query.period.end), ERROR_EVENTS[query.source]]
    if not query.include_business and query.source == "player":
        conditions.append(Binary("=", Column("business_error"), Param(0, "UInt8")))
    if query.filter is not None:
        conditions.append(filter_expr(query.filter))
    if query.error_filter is not None:
        conditions.append(_error_field_expr(query.error_filter))
    if query.qoefilter is not None:
        conditions.append(InSelect(Column("view_id"), qoe_views(attempts, query.qoefilter)))
    return Select(tuple(columns), Table(ERROR_EVENTS_TABLE, query.customer_id), and_all(conditions), tuple(keys))


def _attempts_side(attempts: MetricQuery) -> Select:
    """The denominator of each group, as the column `attempts`."""
    dimensions = frozenset(attempts.dimensions) | frozenset(_fields(attempts.filter))
    bucket = GRANULARITY_SECONDS[attempts.granularity] if attempts.series else None
    select = compile_query(attempts, choose_tables(attempts.period, dimensions, bucket, attempts.rollups_refused))
    columns = tuple(Aliased(c.expr, "attempts") for c in select.columns if c.alias in DENOMINATORS.values())
    columns = tuple(c for c in select.columns if c.alias not in DENOMINATORS.values()) + columns
    return replace(select, columns=columns, order_by=())


def _fields(node: Node | None) -> list[str]:
    if node is None:
        return []
    if isinstance(node, Condition):
        return [node.field]
    return [f for child in node.children for f in _fields(child)]


def _percent(count: str) -> Expr:
    attempts = Func("nullIf", (Func("toFloat64", (Column("attempts"),)), Number(0.0)))
    return Binary("/", Binary("*", Number(100.0), Column(count)), attempts)


def metric_expr(name: str, source: ErrorSource = "player") -> Expr:
    """The outer expression of an error metric over the joined columns."""
    if name == "errorrate":
        return _percent(rate_count(source))
    if name == "fatalerrorrate":
        return _percent("fatalerrors")
    return Column(name)


def compile_errors(query: ErrorQuery) -> Compiled:
    """The rows that answer `query`: its keys and its metrics, in order."""
    attempts = attempts_query(query)
    join = Join(
        "LEFT" if query.error_fields else "FULL",
        _errors_side(query, attempts),
        _attempts_side(attempts),
        tuple(Column(k) for k in query.join_keys),
    )
    columns = [Aliased(Column(k), k) for k in query.keys]
    columns += [Aliased(metric_expr(m, query.source), m) for m in query.metrics]
    field, direction = query.order_by
    order = [OrderBy(Column(field), direction)] + [OrderBy(Column(k), "ASC") for k in query.keys if k != field]
    return Compiled(Select(tuple(columns), join, order_by=tuple(order)))


__all__ = [
    "ERROR_FIELDS",
    "ERROR_METRICS",
    "ERROR_METRIC_NAMES",
    "ErrorMetricSpec",
    "ErrorQuery",
    "compile_errors",
]
