"""Two evaluators of a metric's formula over the values of its parts, for the catalog's tests: as the engine
computes it (`engine`: float arithmetic, x ÷ 0 is ±inf and 0 ÷ 0 NaN, an empty sketch's quantile NaN, a
clamp of no value NaN; `answered` is what the API makes of that), and by the documented rule
(`by_the_rule`: a division by zero has no value, nor has anything computed from no value)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from sightline.catalog.formula import Binary, Clamp, Const, Formula, Part, PeriodMs, Quantile

Values = Mapping[str, float | None]
"""A part's value by its name; a quantile's as `q<level>(<part>)` (None: the sketch is empty)."""


def quantile_key(quantile: Quantile) -> str:
    return f"q{quantile.level:g}({quantile.name})"


def engine(formula: Formula, values: Values, period_ms: float) -> float:
    """`formula` in the engine's float arithmetic (what `query.compile.formula_expr` has it compute)."""
    if isinstance(formula, Part):
        value = values[formula.name]
        assert value is not None, f"a sum is never missing: {formula.name}"
        return value
    if isinstance(formula, Quantile):
        found = values[quantile_key(formula)]
        return math.nan if found is None else found
    if isinstance(formula, Const):
        return formula.value
    if isinstance(formula, PeriodMs):
        return period_ms
    if isinstance(formula, Clamp):
        inner = engine(formula.value, values, period_ms)
        return max(formula.low, min(formula.high, inner)) if math.isfinite(inner) else math.nan
    return _apply(formula, engine(formula.left, values, period_ms), engine(formula.right, values, period_ms))


def _apply(formula: Binary, left: float, right: float) -> float:
    if formula.op == "+":
        return left + right
    if formula.op == "-":
        return left - right
    if formula.op == "*":
        return left * right
    if right == 0:
        return math.nan if left == 0 or math.isnan(left) else math.copysign(math.inf, left)
    return left / right


def answered(value: float) -> float | None:
    """The value as the API answers it: no value (null) for NaN and ±inf."""
    return value if math.isfinite(value) else None


def by_the_rule(formula: Formula, values: Values, period_ms: float) -> float | None:
    """`formula` by docs/metrics.md's rule for a zero denominator: no value, and so for all computed from it."""
    if isinstance(formula, Part):
        return values[formula.name]
    if isinstance(formula, Quantile):
        return values[quantile_key(formula)]
    if isinstance(formula, Const):
        return formula.value
    if isinstance(formula, PeriodMs):
        return period_ms
    if isinstance(formula, Clamp):
        inner = by_the_rule(formula.value, values, period_ms)
        return None if inner is None else max(formula.low, min(formula.high, inner))
    left, right = by_the_rule(formula.left, values, period_ms), by_the_rule(formula.right, values, period_ms)
    if left is None or right is None or (formula.op == "/" and right == 0):
        return None
    return _apply(formula, left, right)
