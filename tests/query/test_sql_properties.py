"""Properties of the SQL of any metric request, compiled and printed (no store): no value of a filter or a
qoefilter ever stands in the SQL text (quotes, backslashes, placeholder-like text, control characters,
unicode: the text is the same whatever the values, and each value is a bound parameter); every identifier in
the text is a name of the catalog or of the compiler's own few; every table read carries the customer's guard."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sightline.catalog import DIMENSION_HASHES, DIMENSIONS, EVENT_FIELDS, PARTS, ROLLUPS, VIEW_COLUMNS
from sightline.catalog.metrics import METRICS
from sightline.catalog.perview import PER_VIEW_METRICS
from sightline.query.compile import MetricQuery, compile_metrics
from sightline.query.filters import And, Condition, Node, Operator, Or
from sightline.query.period import GRANULARITY_SECONDS, Granularity, Period
from sightline.query.printer import SqlParams, print_select

CUSTOMER = 90_001
START = datetime(2026, 11, 2, tzinfo=UTC)
STRING_DIMENSIONS = sorted(d.name for d in DIMENSIONS if d.kind == "string")
NUMBER_DIMENSIONS = sorted(d.name for d in DIMENSIONS if d.kind == "number")
TRICKY = [
    "'",
    "\\",
    "\\'",
    "''",
    "`",
    "`events`",
    "{p0:String}",
    "{p1:UInt32}",
    "{customer_id:UInt32}",
    "' OR 1=1 --",
    "'); DROP TABLE events; --",
    "\x00",
    "\x1b[31m",
    "\n",
    "\r\n",
    "\t",
    "\u202e",
    "\ufeff",
    "😀",
    "İ",
    "東京",
    "$$",
    "/*",
    "\\N",
]
VALUES = st.one_of(
    st.sampled_from(TRICKY),
    st.lists(st.sampled_from(TRICKY), min_size=2, max_size=4).map("".join),
    st.text(min_size=1, max_size=20),
)
"""Values as a condition holds them: the parser refuses control characters, but the compiler must not rely
on it."""
NUMBERS = st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False))
COMPARISONS: list[Operator] = ["=", "!=", ">", ">=", "<", "<="]
CONCURRENCY_METRICS = [m.name for m in METRICS if m.concurrency]


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    if draw(st.booleans()):
        op: Operator = draw(st.sampled_from(["=", "!="]))
        return Condition(
            draw(st.sampled_from(STRING_DIMENSIONS)), op, tuple(draw(st.lists(VALUES, min_size=1, max_size=3)))
        )
    op = draw(st.sampled_from(COMPARISONS))
    count = draw(st.integers(1, 3)) if op in ("=", "!=") else 1
    values = tuple(draw(st.lists(NUMBERS, min_size=count, max_size=count)))
    return Condition(draw(st.sampled_from(NUMBER_DIMENSIONS)), op, values)


@st.composite
def qoe_conditions(draw: st.DrawFn) -> Condition:
    return Condition(
        draw(st.sampled_from(sorted(PER_VIEW_METRICS))), draw(st.sampled_from(COMPARISONS)), (draw(NUMBERS),)
    )


def trees(leaves: st.SearchStrategy[Condition]) -> st.SearchStrategy[Node]:
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=2, max_size=3).map(lambda c: And(tuple(c))),
            st.lists(children, min_size=2, max_size=3).map(lambda c: Or(tuple(c))),
        ),
        max_leaves=5,
    )


@st.composite
def requests(draw: st.DrawFn) -> MetricQuery:
    """A metric request of any shape the API accepts: breakdowns, series, filters, qoefilters, ended views,
    concurrency, closed views only, periods of a minute to nine days."""
    concurrency = draw(st.booleans())
    series = draw(st.booleans())
    pool = CONCURRENCY_METRICS if concurrency else [m.name for m in METRICS]
    granularity: Granularity = draw(st.sampled_from(sorted(GRANULARITY_SECONDS)))
    start = START + timedelta(minutes=draw(st.integers(0, 3 * 1440)))
    chosen = draw(st.sets(st.sampled_from(pool), min_size=1, max_size=4))
    return MetricQuery(
        customer_id=CUSTOMER,
        period=Period(start, start + timedelta(minutes=draw(st.integers(1, 9 * 1440)))),
        granularity=granularity,
        metrics=tuple(m for m in METRICS if m.name in chosen),
        dimensions=tuple(draw(st.lists(st.sampled_from([d.name for d in DIMENSIONS]), max_size=3, unique=True))),
        series=series,
        filter=draw(st.none() | trees(conditions())),
        qoefilter=draw(st.none() | trees(qoe_conditions())),
        concurrency=concurrency,
        ended=not series and not concurrency and draw(st.booleans()),
        open_views=draw(st.booleans()),
        include_business=draw(st.booleans()),
    )


def with_values(node: Node | None, text: str, number: float) -> Node | None:
    """`node` with every string value `text` and every number `number`."""
    if node is None:
        return None
    if isinstance(node, Condition):
        values = tuple(text if isinstance(v, str) else number for v in node.values)
        return Condition(node.field, node.op, values)
    children = tuple(with_values(child, text, number) for child in node.children)
    return type(node)(children)  # type: ignore[arg-type]


def values_of(node: Node | None) -> list[str | float]:
    if node is None:
        return []
    if isinstance(node, Condition):
        return list(node.values)
    return [v for child in node.children for v in values_of(child)]


def printed(query: MetricQuery) -> list[tuple[str, SqlParams]]:
    """The statements the runner may send for `query`: every row, and a page."""
    compiled = compile_metrics(query)
    return [print_select(compiled.select), print_select(compiled.page(50, 100))]


@settings(max_examples=150, deadline=None)
@given(requests())
def test_no_value_reaches_the_sql_text(query: MetricQuery) -> None:
    reference = replace(
        query, filter=with_values(query.filter, "reference", 1), qoefilter=with_values(query.qoefilter, "", 1)
    )
    for (sql, params), (reference_sql, reference_params) in zip(printed(query), printed(reference), strict=True):
        assert sql == reference_sql, "the SQL text depends on a value"
        assert len(params) == len(reference_params)
        bound = list(params.values())
        assert all(value in bound for value in values_of(query.filter))
        assert all(float(value) in bound for value in values_of(query.qoefilter)), "a qoefilter binds a Float64"


IDENTIFIERS = re.compile(r"`([^`]*)`")
CATALOG_NAMES = (
    {d.name for d in DIMENSIONS}
    | {h.name for h in DIMENSION_HASHES}
    | {p.name for p in PARTS}
    | {f"part_{p.name}" for p in PARTS}
    | {c.name for c in VIEW_COLUMNS}
    | {f.name for f in EVENT_FIELDS}
    | {m.name for m in METRICS}
    | {r.name for r in ROLLUPS}
)
COMPILER_NAMES = {
    "events",
    "views",
    "customer_id",
    "view_id",
    "view_start",
    "ts",
    "event",
    "bucket",
    "timestamp",
    "totalrecords",
}
"""The tables and columns every query reads that the catalog does not declare (`event`, the event's type, is read by
the catalog's part conditions), and the series' and page's keys."""


@settings(max_examples=150, deadline=None)
@given(requests())
def test_every_identifier_is_a_name_of_the_catalog(query: MetricQuery) -> None:
    for sql, _ in printed(query):
        assert set(IDENTIFIERS.findall(sql)) <= CATALOG_NAMES | COMPILER_NAMES


@settings(max_examples=150, deadline=None)
@given(requests())
def test_every_table_read_is_guarded_by_the_customer(query: MetricQuery) -> None:
    for sql, params in printed(query):
        reads = re.findall(r"FROM `([a-z0-9_]+)`( FINAL)? WHERE `customer_id` = \{(p[0-9]+):UInt32\}", sql)
        assert len(reads) == sql.count("FROM `")
        assert all(params[name] == CUSTOMER for _, _, name in reads)
