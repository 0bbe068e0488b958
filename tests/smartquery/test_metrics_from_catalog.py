"""Metrics from one place: a named query's column named after a catalog metric is that metric's formula
(`query.compile.formula_expr`) over the query's own sums, and every other ratio a named query shows divides
by the same rule. Pure: the named queries are built, never run."""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any

import pytest

from sightline.catalog.formula import Const, Part, div, mul
from sightline.catalog.metrics import METRICS, metric
from sightline.query.ast import Column, Expr, Select
from sightline.query.compile import formula_expr
from sightline.smartquery.catalog import NAMED_QUERIES
from sightline.smartquery.request import SmartQueryParams, parse_smart_query
from sightline.smartquery.sql import ratio

WEEK = "start=1793059200,end=1793664000"
METRIC_NAMES = {m.name for m in METRICS}
MARK = "zz_sum_of_"
"""How the expected expression names a part: any expression of the named query's stands for it."""

NOT_THE_METRIC: dict[tuple[str, str], str] = {
    ("subscriberinsight", "failurerate"): "VSF + VPF, business exceptions included, ÷ attempts",
    ("subscribercohorts", "failurerate"): "VSF + VPF, business exceptions included, ÷ attempts",
}
"""Columns that share a metric's name but not its definition (the metric `failurerate` is VSF without business
exceptions ÷ attempts); docs/smartquery.md says so of each. Renaming them would change the API."""


def _columns_named_after_metrics() -> list[tuple[str, str]]:
    return [
        (spec.name, column.name)
        for spec in NAMED_QUERIES.values()
        for column in spec.columns
        if column.name in METRIC_NAMES and (spec.name, column.name) not in NOT_THE_METRIC
    ]


def built(name: str) -> Select:
    return NAMED_QUERIES[name].build(parse_smart_query(7, SmartQueryParams(queryname=name, period=WEEK), NAMED_QUERIES))


def computed(select: Select, name: str) -> Expr:
    """The expression that computes column `name` of `select`, followed through the SELECTs that pass it on."""
    expr = next(c.expr for c in select.columns if c.alias == name)
    source = select.source
    if not (isinstance(expr, Column) and expr.table is None and isinstance(source, Select)):
        return expr
    return computed(source, expr.name) if any(c.alias == expr.name for c in source.columns) else expr


def unify(expected: Any, actual: Any, parts: dict[str, Any]) -> bool:
    """Whether `actual` is `expected` with each marked part read as one expression (the same wherever it is
    read)."""
    if isinstance(expected, Column) and expected.name.startswith(MARK):
        return bool(parts.setdefault(expected.name, actual) == actual)
    if isinstance(expected, float) and isinstance(actual, float):
        return expected == actual or (math.isnan(expected) and math.isnan(actual))
    if isinstance(expected, tuple) and isinstance(actual, tuple):
        return len(expected) == len(actual) and all(unify(e, a, parts) for e, a in zip(expected, actual, strict=True))
    if is_dataclass(expected) and not isinstance(expected, type):
        return type(expected) is type(actual) and all(
            unify(getattr(expected, f.name), getattr(actual, f.name), parts) for f in fields(expected)
        )
    return bool(expected == actual)


def catalog_expr(name: str) -> Expr:
    """The metric's formula as `formula_expr` evaluates it, each part marked."""
    return formula_expr(metric(name).formula_for(False), None, lambda part: Column(MARK + part.name))


def test_the_table_of_columns_covers_the_ratios_of_subscribers_and_content() -> None:
    """The check below reaches the columns the issue names (and the content queries' metrics)."""
    checked = set(_columns_named_after_metrics())
    for name in ("subscriberinsight", "subscribercohorts", "topcontent"):
        assert {(name, "latency"), (name, "bufferingratio")} <= checked


@pytest.mark.parametrize(("query", "column"), _columns_named_after_metrics())
def test_a_column_named_after_a_metric_is_the_catalogs_formula(query: str, column: str) -> None:
    actual = computed(built(query), column)
    assert unify(catalog_expr(column), actual, {}), f"{query}.{column} is not the catalog's {column}: {actual}"


@pytest.mark.parametrize(("query", "column"), sorted(NOT_THE_METRIC))
def test_a_column_that_is_not_the_metric_of_its_name_says_so(query: str, column: str) -> None:
    description = next(c.description for c in NAMED_QUERIES[query].columns if c.name == column)
    assert f"not the metric `{column}`" in description
    assert not unify(catalog_expr(column), computed(built(query), column), {}), "it is the metric: check it above"


@pytest.mark.parametrize("scale", [1.0, 100.0, 0.001])
def test_every_other_ratio_divides_by_the_catalogs_rule(scale: float) -> None:
    """`ratio` (the named queries' own ratios) is a formula's division: no value when the denominator is 0,
    as every metric (docs/metrics.md), never another rule."""
    formula = div(Part("a"), Part("b")) if scale == 1.0 else mul(Const(scale), div(Part("a"), Part("b")))
    expected = formula_expr(formula, None, lambda part: Column(part.name))
    assert ratio(Column("a"), Column("b"), scale) == expected


def test_the_unifier_tells_another_formula_apart() -> None:
    """The check is not vacuous: a ratio written by hand, another metric's formula, or a part read as two
    different expressions does not unify."""
    assert not unify(catalog_expr("latency"), ratio(Column("startup_ms"), Column("plays"), 0.001), {})
    assert not unify(catalog_expr("bufferingratio"), catalog_expr("latency"), {})
    reads = iter(range(10))
    consistent = formula_expr(metric("bufferingratio").formula, None, lambda part: Column(part.name))
    inconsistent = formula_expr(metric("bufferingratio").formula, None, lambda part: Column(f"c{next(reads)}"))
    assert unify(catalog_expr("bufferingratio"), consistent, {})
    assert not unify(catalog_expr("bufferingratio"), inconsistent, {})
