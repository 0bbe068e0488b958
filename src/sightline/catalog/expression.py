"""Expressions over the columns of `events`, declared as data: what a part counts and when, what a column of
`views` holds for one event.

The catalog holds no SQL text: the query layer turns these into its SQL AST (`query.parts`), which the one
printer prints, for the queries that read `events` and for the materialized views of the schema alike.
Constants are the catalog's own (event types, flags, 0), never input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Comparison = Literal["=", "!=", "<", ">"]
Function = Literal["toUInt8", "toUInt64", "toDateTime64", "if"]


@dataclass(frozen=True, slots=True)
class Field:
    """A column of `events`."""

    name: str


@dataclass(frozen=True, slots=True)
class Value:
    """A constant: an integer, or a string such as an event type."""

    value: int | str


@dataclass(frozen=True, slots=True)
class Compare:
    op: Comparison
    left: Expression
    right: Expression


@dataclass(frozen=True, slots=True)
class OneOf:
    """`field` is one of `values`."""

    field: Field
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every term holds (AND)."""

    terms: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Some term holds (OR)."""

    terms: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Call:
    function: Function
    args: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Product:
    left: Expression
    right: Expression


Expression = Field | Value | Compare | OneOf | AllOf | AnyOf | Call | Product

ALWAYS = Value(1)
"""The condition of a part counted on every event."""


def is_event(name: str) -> Compare:
    """The event is of type `name`."""
    return Compare("=", Field("event"), Value(name))


def equals(field: str, value: int | str) -> Compare:
    return Compare("=", Field(field), Value(value))


def all_of(*terms: Expression) -> AllOf:
    return AllOf(terms)


def any_of(*terms: Expression) -> AnyOf:
    return AnyOf(terms)


def when(condition: Expression, then: Expression, otherwise: Expression) -> Call:
    """`then` where `condition` holds, else `otherwise`."""
    return Call("if", (condition, then, otherwise))


def flag(condition: Expression) -> Call:
    """1 where `condition` holds, else 0."""
    return Call("toUInt8", (condition,))
