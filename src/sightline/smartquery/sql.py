"""Short spellings of the query AST for the named queries: `f("arrayMap", lam("x", …), col("titles"))`.

Nothing here makes SQL text; these build `query.ast` nodes, which only the printer turns into SQL.
"""

from __future__ import annotations

from datetime import datetime

from sightline.query.ast import (
    Aliased,
    Binary,
    BinaryOperator,
    Column,
    Expr,
    Func,
    Integer,
    Lambda,
    Number,
    Param,
)
from sightline.query.compile import divide, moment
from sightline.query.period import Granularity

BUCKETS: dict[Granularity, str] = {
    "minute": "toStartOfMinute",
    "5minute": "toStartOfFiveMinutes",
    "10minute": "toStartOfTenMinutes",
    "hour": "toStartOfHour",
    "day": "toStartOfDay",
}


def col(name: str) -> Column:
    return Column(name)


def f(name: str, *args: Expr) -> Func:
    return Func(name, args)


def lam(params: str, body: Expr) -> Lambda:
    """A lambda; `params` is one name or several separated by commas."""
    return Lambda(tuple(p.strip() for p in params.split(",")), body)


def i(value: int) -> Integer:
    return Integer(value)


def num(value: float) -> Number:
    return Number(value)


def text(value: str) -> Param:
    return Param(value, "String")


def op(operator: BinaryOperator, left: Expr, right: Expr) -> Binary:
    return Binary(operator, left, right)


def and_(*conditions: Expr) -> Expr:
    result = conditions[0]
    for condition in conditions[1:]:
        result = Binary("AND", result, condition)
    return result


def or_(*conditions: Expr) -> Expr:
    result = conditions[0]
    for condition in conditions[1:]:
        result = Binary("OR", result, condition)
    return result


def at(array: Expr, index: Expr) -> Func:
    """`array[index]`, 1-based."""
    return f("arrayElement", array, index)


def item(values: Expr, index: int) -> Func:
    """The `index`-th (1-based) element of a tuple."""
    return f("tupleElement", values, i(index))


def between(value: Expr, start: datetime, end: datetime) -> Expr:
    """`start <= value < end`."""
    return and_(op(">=", value, moment(start)), op("<", value, moment(end)))


def ratio(numerator: Expr, denominator: Expr, scale: float = 1.0) -> Expr:
    """`scale × numerator ÷ denominator`, divided as every metric's formula is (`query.compile.divide`): no value
    when the denominator is 0. A named query's column that is a catalog metric is `compile.metric_over` instead."""
    divided = divide(numerator, denominator)
    return divided if scale == 1.0 else op("*", num(scale), divided)


def bucket(time: Expr, granularity: Granularity) -> Func:
    """The start of the UTC bucket of `granularity` that holds `time`."""
    return f(BUCKETS[granularity], f("toDateTime", time), text("UTC"))


def named(**columns: Expr) -> tuple[Aliased, ...]:
    """`name=expr` pairs as SELECT columns, in order."""
    return tuple(Aliased(expr, name) for name, expr in columns.items())


def same(*names: str) -> tuple[Aliased, ...]:
    """Columns of the inner SELECT passed through under their names."""
    return tuple(Aliased(Column(name), name) for name in names)
