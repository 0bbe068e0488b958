"""Row filters: the conditions of `filter` on a named query's result columns, as a WHERE on its rows."""

from __future__ import annotations

from sightline.query.ast import Binary, Column, Expr, InList, Param, and_all
from sightline.query.filters import Condition


def _condition(condition: Condition) -> Expr:
    numeric = all(isinstance(v, int | float) for v in condition.values)
    values = tuple(Param(v, "Float64") if numeric else Param(str(v), "String") for v in condition.values)
    column = Column(condition.field)
    if condition.op in ("=", "!="):
        return InList(column, values, negated=condition.op == "!=")
    return Binary(condition.op, column, values[0])


def row_filter(conditions: tuple[Condition, ...]) -> Expr | None:
    """Every condition holds for the row (None when there are none)."""
    return and_all([_condition(c) for c in conditions])
