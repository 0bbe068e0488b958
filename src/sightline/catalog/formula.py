"""Metric formulas: small expression trees over the additive parts of `catalog.parts`.

A formula never averages a ratio: it combines parts summed over the whole group (Cube's model), e.g.
`bufferingratio = 100 × rebuffer_ms ÷ (play_ms + rebuffer_ms)`. A division by zero yields no value
(`ZERO_DENOMINATOR_RULE`), and so does every formula over it: no formula divides by a quotient whose
denominator reads a part (x ÷ (y ÷ 0) would be 0, a value).
`PeriodMs` is the length of the group's time span, for rates per unit of time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Operator = Literal["+", "-", "*", "/"]

ZERO_DENOMINATOR_RULE = (
    "A ratio whose denominator is 0 has no value: 0 ÷ 0 and x ÷ 0 alike answer `null`, a metric computed from "
    "a ratio without a value has none either (`qualityofexperience` of a group without plays, say), an order by "
    "the metric puts it last whichever the direction, and a `qoefilter` condition on it never holds. The "
    "named queries' ratios (docs/smartquery.md) follow the same rule; where a named query answers a metric of "
    "this page (`latency`, `bufferingratio`, …), it computes it by the metric's formula."
)
"""The one rule for a zero denominator, of every ratio the API answers (`query.compile.divide` computes it)."""


@dataclass(frozen=True, slots=True)
class Part:
    """The sum (or distinct count) of an additive part over the group."""

    name: str


@dataclass(frozen=True, slots=True)
class Quantile:
    """A quantile of a sketch part (`ddsketch`) over the group."""

    name: str
    level: float


@dataclass(frozen=True, slots=True)
class Const:
    value: float


@dataclass(frozen=True, slots=True)
class PeriodMs:
    """The length of the group's time span in milliseconds (the bucket, or the whole period)."""


@dataclass(frozen=True, slots=True)
class Binary:
    op: Operator
    left: Formula
    right: Formula


@dataclass(frozen=True, slots=True)
class Clamp:
    """`value` limited to [low, high]."""

    value: Formula
    low: float
    high: float


Formula = Part | Quantile | Const | PeriodMs | Binary | Clamp


def add(a: Formula, b: Formula) -> Formula:
    return Binary("+", a, b)


def sub(a: Formula, b: Formula) -> Formula:
    return Binary("-", a, b)


def mul(a: Formula, b: Formula) -> Formula:
    return Binary("*", a, b)


def div(a: Formula, b: Formula) -> Formula:
    return Binary("/", a, b)


def percent(a: Formula, b: Formula) -> Formula:
    return mul(Const(100.0), div(a, b))


def parts_of(formula: Formula) -> frozenset[str]:
    """Names of the parts `formula` reads."""
    if isinstance(formula, Part | Quantile):
        return frozenset({formula.name})
    if isinstance(formula, Binary):
        return parts_of(formula.left) | parts_of(formula.right)
    if isinstance(formula, Clamp):
        return parts_of(formula.value)
    return frozenset()


def substitute(formula: Formula, parts: dict[str, Formula]) -> Formula:
    """`formula` with each `Part` named in `parts` replaced by its formula there."""
    if isinstance(formula, Part):
        return parts.get(formula.name, formula)
    if isinstance(formula, Binary):
        return Binary(formula.op, substitute(formula.left, parts), substitute(formula.right, parts))
    if isinstance(formula, Clamp):
        return Clamp(substitute(formula.value, parts), formula.low, formula.high)
    return formula


def render(formula: Formula) -> str:
    """Human-readable form for the docs, e.g. `100 × rebuffer_ms ÷ (play_ms + rebuffer_ms)`."""
    if isinstance(formula, Part):
        return formula.name
    if isinstance(formula, Quantile):
        return f"q{formula.level * 100:g}({formula.name})"
    if isinstance(formula, Const):
        return f"{formula.value:g}"
    if isinstance(formula, PeriodMs):
        return "period_ms"
    if isinstance(formula, Clamp):
        return f"clamp({render(formula.value)}, {formula.low:g}, {formula.high:g})"
    symbol = {"+": "+", "-": "−", "*": "×", "/": "÷"}[formula.op]

    def side(f: Formula) -> str:
        text = render(f)
        return f"({text})" if isinstance(f, Binary) and f.op in "+-" and formula.op in "*/" else text

    right = render(formula.right)
    if isinstance(formula.right, Binary) and (formula.op == "/" or formula.right.op in "+-"):
        right = f"({right})"
    return f"{side(formula.left)} {symbol} {right}"
