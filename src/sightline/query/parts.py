"""The catalog's parts and view columns as SQL AST: what the schema's materialized views compute from each
block of `events`, and what a plan that reads `events` computes alike, built here once for both.

A part's state is its aggregate over the events where its condition holds: `sumIf(toUInt64(expression),
condition)`, `uniqStateIf(expression, condition)`, or a quantile sketch's state; a view column's value is its
aggregate over its expression (`catalog.parts`). The catalog's expressions (`catalog.expression`) become nodes of
`query.ast`: columns of `events`, functions of the allowlist, and constants the printer prints as they are.
"""

from __future__ import annotations

from sightline.catalog.expression import AllOf, AnyOf, Call, Compare, Expression, Field, OneOf, Value
from sightline.catalog.parts import SKETCH_ACCURACY, SKETCH_LEVEL, PartSpec, ViewColumnSpec
from sightline.query.ast import Binary, BinaryOperator, Column, Expr, Func, InList, Integer, Symbol

SKETCH = (SKETCH_ACCURACY, SKETCH_LEVEL)
"""The parameters of a quantile sketch's states: its accuracy, and the level its type names."""
_STATE_FUNCTIONS = {"uniq": "uniqStateIf", "ddsketch": "quantileDDStateIf", "tdigest": "quantileTDigestStateIf"}


def expression(node: Expression) -> Expr:
    """A catalog expression as an AST expression."""
    if isinstance(node, Field):
        return Column(node.name)
    if isinstance(node, Value):
        return Integer(node.value) if isinstance(node.value, int) else Symbol(node.value)
    if isinstance(node, Compare):
        return Binary(node.op, expression(node.left), expression(node.right))
    if isinstance(node, OneOf):
        return InList(Column(node.field.name), tuple(Symbol(v) for v in node.values))
    if isinstance(node, AllOf | AnyOf):
        return _joined("AND" if isinstance(node, AllOf) else "OR", node.terms)
    if isinstance(node, Call):
        return Func(node.function, tuple(expression(arg) for arg in node.args))
    return _joined("*", (node.left, node.right))


def _joined(op: BinaryOperator, terms: tuple[Expression, ...]) -> Expr:
    joined = expression(terms[0])
    for term in terms[1:]:
        joined = Binary(op, joined, expression(term))
    return joined


def part_state(part: PartSpec, counted: bool = True) -> Func:
    """The state of `part` over the events of a group: a sum, a distinct-count state or a sketch's state; an
    empty one (0, or a state of nothing) when the part is not `counted` there."""
    value = expression(part.expression)
    condition = expression(part.condition) if counted else Integer(0)
    if part.aggregate == "sum":
        return Func("sumIf", (Func("toUInt64", (value,)), condition))
    parameters = SKETCH if part.aggregate == "ddsketch" else ()
    return Func(_STATE_FUNCTIONS[part.aggregate], (value, condition), parameters)


def part_counted(parts: tuple[PartSpec, ...]) -> Expr:
    """Whether an event counts in any of `parts` (the condition of a materialized view of parts)."""
    return _joined("OR", tuple(part.condition for part in parts))


def view_column_value(column: ViewColumnSpec) -> Func:
    """The value of a column of `views` over the events of a view: its aggregate of its expression."""
    return Func(column.aggregate, (expression(column.expression),))
