"""Session-level queries over `views`: one row per view (a session), or views grouped by dimensions, time
bucket, status or fatal error code, with session fields and per-view metrics; compiled to the SQL AST.

Shape: an inner SELECT reads `views` grouped by `view_id` (each column merged with its own aggregate, as
rows of one view from several insert blocks must be) and keeps the views of the period that pass the
filter and the qoefilter (HAVING, on the merged values); the outer SELECT either shapes one row per view
(`keys == ("sessionid",)`) or groups the views and sums their columns. Inner columns are named `v_…`,
so no output alias can shadow a column the formulas read.

Definitions (docs/errors.md): `starttime` is the view's start (its UUIDv7 time), `endtime` its last
event; `status` is the view's outcome (`STATUSES`); `watchtime` is play time + stall time in minutes;
`errorcode` is the code of the fatal error that ended the view. A metric of a group is its formula over
the sums of its views' values (`catalog.perview`), so for one view it is that view's value; business
exceptions are left out of error metrics unless asked, as in metricquery. Whole views count, in the
period their start falls in (`ended`: the period they ended in).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sightline.catalog import dimension
from sightline.catalog.formula import Formula, Part, Quantile, add, div, parts_of
from sightline.catalog.metrics import METRICS, MINUTE
from sightline.catalog.perview import BUSINESS_PARTS, PART_VIEW_COLUMNS, PER_VIEW_METRICS, VIEW_COLUMN_SPECS
from sightline.query.ast import (
    Aliased,
    Binary,
    Column,
    Direction,
    Expr,
    Func,
    InList,
    OrderBy,
    Param,
    Select,
    Table,
    and_all,
)
from sightline.query.compile import (
    MAX_VIEW_SPAN,
    TIMESTAMP,
    formula_expr,
    in_range,
    metric_order,
    qoefilter_expr,
    time_bucket,
    tree_expr,
    view_closed,
    view_part,
)
from sightline.query.filters import Condition, Node
from sightline.query.pipeline import Compiled, QueryRequest
from sightline.query.plan import Segment

SESSION_ID = "sessionid"
STATUSES: tuple[tuple[str, str | None, str], ...] = (
    ("startfailed", "vsf", "A fatal error before the first frame (video start failure)."),
    ("playbackfailed", "vpf", "A fatal error after the first frame (video playback failure)."),
    ("exitedbeforestart", "ebvs", "Left before the first frame without a fatal error."),
    ("completed", "completed", "Played to the end."),
    ("exited", "exited", "Left after the first frame."),
    ("playing", "started", "Not closed yet; the first frame rendered."),
    ("starting", None, "Not closed yet; no first frame."),
)
"""Status, the `views` flag that decides it (the first that is 1, in this order), meaning."""

WATCHTIME: Formula = div(add(Part("play_ms"), Part("rebuffer_ms")), MINUTE)
SESSION_FIELDS: dict[str, str] = {
    SESSION_ID: "The view id (a UUID): one row per view.",
    "starttime": "When the view started (epoch s, ms as a fraction); of a group, the earliest.",
    "endtime": "The view's last event (epoch s, ms as a fraction); of a group, the latest.",
    "status": "The view's outcome: " + ", ".join(s for s, _, _ in STATUSES) + ".",
    "watchtime": "Play time + stall time, in minutes.",
    "errorcode": "The code of the fatal error that ended the view ('' when none).",
}
"""The fields of a session besides dimensions and per-view metrics."""
GROUP_FIELDS: frozenset[str] = frozenset({SESSION_ID, "status", "errorcode"})
"""Session fields that are per view: outputs only when grouped by them."""


def _viewable(formula: Formula) -> bool:
    return all(p in PART_VIEW_COLUMNS or p in BUSINESS_PARTS for p in parts_of(formula))


METRIC_FORMULAS: dict[str, tuple[Formula, Formula]] = {
    "watchtime": (WATCHTIME, WATCHTIME),
    **{
        m.name: (m.formula_for(False), m.formula_for(True))
        for m in METRICS
        if m.name in PER_VIEW_METRICS and _viewable(m.formula_for(False))
    },
}
"""Every metric a session query answers: its formula without and with business exceptions, over parts
that `views` keeps per view."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionQuery(QueryRequest):
    """A validated session query: every name is a session field, a dimension or a `METRIC_FORMULAS` key. Its
    `filter` holds conditions on dimensions, `status` and `errorcode`."""

    fields: tuple[str, ...]
    """The outputs, in order: keys, session fields, dimensions and metrics."""
    keys: tuple[str, ...]
    """`sessionid` alone (one row per view), or dimensions, `timestamp`, `status`, `errorcode`."""
    order_by: tuple[str, Direction]
    ended: bool = False
    open_views: bool = True
    """Whether views not closed yet (`playing`, `starting`) are listed."""
    view_id: str | None = None
    """One view only (its UUID)."""
    dimensions: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        named = (*self.fields, *self.keys, *_fields_of(self.filter))
        dims = tuple(dict.fromkeys(n for n in named if n not in SESSION_FIELDS and n not in METRIC_FORMULAS))
        object.__setattr__(self, "dimensions", tuple(d for d in dims if d != TIMESTAMP))

    @property
    def per_view(self) -> bool:
        return self.keys == (SESSION_ID,)


def _fields_of(node: Node | None) -> list[str]:
    if node is None:
        return []
    if isinstance(node, Condition):
        return [node.field]
    return [name for child in node.children for name in _fields_of(child)]


def _status() -> Expr:
    args: list[Expr] = []
    for status, flag, _ in STATUSES:
        if flag is None:
            args.append(Param(status, "String"))
        else:
            args += [Binary("=", Func("max", (Column(flag),)), Param(1, "UInt8")), Param(status, "String")]
    return Func("multiIf", tuple(args))


def _merged(name: str) -> Expr:
    """A column of `views` merged over the rows of one view."""
    if name in VIEW_COLUMN_SPECS:
        return Func(VIEW_COLUMN_SPECS[name].aggregate, (Column(name),))
    return Func("max", (Column(name),))  # dimensions merge with max: a value learnt late wins over ''


def _session_expr(name: str) -> Expr:
    """A session field of one view, in the inner SELECT."""
    if name == SESSION_ID:
        return Column("view_id")
    if name == "starttime":
        return Func("min", (Column("view_start"),))
    if name == "endtime":
        return _merged("last_ts")
    if name == "status":
        return _status()
    return _merged("fatal_error_code")  # errorcode


def _condition(condition: Condition) -> Expr:
    """A filter condition on a merged per-view value."""
    merged = _session_expr(condition.field) if condition.field in SESSION_FIELDS else _merged(condition.field)
    numeric = condition.field not in SESSION_FIELDS and dimension(condition.field).kind == "number"
    values = tuple(Param(v, "Float64") if numeric else Param(str(v), "String") for v in condition.values)
    if condition.op in ("=", "!="):
        return InList(merged, values, negated=condition.op == "!=")
    return Binary(condition.op, merged, values[0])


def _formula(name: str, query: SessionQuery) -> Formula:
    return METRIC_FORMULAS[name][query.include_business]


def _part_column(part: str) -> str:
    """The inner column holding `part` for one view."""
    return f"v_{PART_VIEW_COLUMNS.get(part, part)}"


def _inner(query: SessionQuery) -> Select:
    metrics = [f for f in query.fields if f in METRIC_FORMULAS]
    parts = dict.fromkeys(p for m in metrics for p in sorted(parts_of(_formula(m, query))))
    view_columns = {_part_column(p): p for p in parts}
    columns = [Aliased(Column("view_id"), "v_sessionid"), Aliased(_session_expr("starttime"), "v_starttime")]
    columns.append(Aliased(_session_expr("endtime"), "v_endtime"))
    columns += [
        Aliased(_session_expr(f), f"v_{f}") for f in ("status", "errorcode") if f in (*query.fields, *query.keys)
    ]
    if TIMESTAMP in (*query.fields, *query.keys):
        columns.append(Aliased(time_bucket(_session_expr("starttime"), query.granularity), f"v_{TIMESTAMP}"))
    columns += [Aliased(_merged(d), f"v_{d}") for d in query.dimensions]
    columns += [Aliased(view_part(p), column) for column, p in view_columns.items()]
    view_start = Column("view_start")
    earliest = query.period.start - MAX_VIEW_SPAN if query.ended else query.period.start
    where: list[Expr] = [in_range(view_start, earliest, query.period.end)]
    if query.view_id is not None:
        where.append(Binary("=", Column("view_id"), Param(query.view_id, "UUID")))
    having: list[Expr] = []
    if query.ended:
        having += [in_range(_merged("last_ts"), query.period.start, query.period.end), view_closed()]
    elif not query.open_views:
        having.append(view_closed())
    if query.filter is not None:
        having.append(tree_expr(query.filter, _condition))
    if query.qoefilter is not None:
        having.append(qoefilter_expr(query.qoefilter, query.include_business))
    return Select(
        tuple(columns),
        Table("views", query.customer_id),
        where=and_all(where),
        group_by=(Column("view_id"),),
        having=and_all(having),
    )


def _outer_value(name: str, query: SessionQuery) -> Expr:
    """An output of the outer SELECT: the view's value, or the group's."""
    if name in METRIC_FORMULAS:

        def part(p: Part | Quantile) -> Expr:
            column = Column(_part_column(p.name))
            return column if query.per_view else Func("sum", (column,))

        return formula_expr(_formula(name, query), None, part)  # per-view metrics read no period length
    column = Column(f"v_{name}")
    if query.per_view or name in query.keys:
        return column
    return Func({"starttime": "min", "endtime": "max"}[name], (column,))


def compile_sessions(query: SessionQuery) -> Compiled:
    """The rows of `query`: its fields, in order, over `views`."""
    columns = [Aliased(_outer_value(f, query), f) for f in query.fields]
    field, direction = query.order_by
    value = Column(field) if field in query.fields else _outer_value(field, query)
    order = list(metric_order(value, direction)) if field in METRIC_FORMULAS else [OrderBy(value, direction)]
    order += [OrderBy(Column(f"v_{k}"), "ASC") for k in query.keys if k != field]
    group_by = () if query.per_view else tuple(Column(f"v_{k}") for k in query.keys)
    select = Select(tuple(columns), _inner(query), group_by=group_by, order_by=tuple(order))
    return Compiled(select, segments=(Segment("views", query.period.start, query.period.end),))
