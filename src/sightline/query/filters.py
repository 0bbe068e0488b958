"""The `filter` parameter of the query API, parsed into an immutable filter tree.

`parse_filter` accepts SmartSight's three filter syntaxes (reference §3.2) and returns one tree;
`sightline.query.qoefilter` parses `qoefilter` into the same tree. The parsers are pure: the caller
passes the allowed names, values stay verbatim (trimmed, never escaped: they are bound as SQL
parameters later), and any input string either parses or raises `FilterError`.

Grammar of `filter` (`ws` is Unicode whitespace; a blank text means "no filter" and parses to None):

    filter     := brackets | list
    brackets   := ws* ( "[" condition "]" ws* )+       -- chosen when the first non-blank character is "["
    list       := condition ( "," condition )*          -- legacy `a=b` and stream-analytics `a=b|c, d=e`
    condition  := ws* field ws* operator values
    field      := the text before the condition's first "=", "!", "<" or ">", trimmed; a key of `fields`
    operator   := "!=" | ">=" | "<=" | "=" | ">" | "<"    -- the longest at that place; "!" alone is an error
    values     := value ( "|" value )*
    value      := the text up to the next "|" or the condition's end, trimmed, non-empty

- A condition ends at "]" in `brackets` and at "," in `list`. "[" and "]" are reserved in both
  syntaxes: inside a bracket "[" is an error (brackets do not nest), between brackets only
  whitespace may stand, and in `list` any bracket is an error. "," is an ordinary character inside
  a bracket (`[city=Washington, D.C.]`). "|" always separates alternatives.
- Everything after the operator up to the next separator is value text, so values may hold
  "=", "!", "<", ">", quotes, ";", "--", ")" and spaces: they are just characters.
- `=` with several values means any of them (IN); `!=` with several, none of them (NOT IN).
  `>`, `>=`, `<`, `<=` need a numeric field and exactly one value.
- On a numeric field every value is a `number`: `[+-]? (digits ["." digits*] | "." digits)
  ([eE] [+-]? digits)?` in ASCII digits; an int when it has no point or exponent (within the
  signed 64-bit range), else a finite float. On a string field a value is the trimmed text.
- One condition is returned as a `Condition`, several as `And` of them, in input order.

Limits for both parameters: at most `MAX_LENGTH` characters, `MAX_CONDITIONS` conditions and
`MAX_VALUES` values; control characters other than tab, CR and LF, and lone surrogates, are refused.
Positions in messages are 0-based character offsets into the text as given.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "MAX_CONDITIONS",
    "MAX_LENGTH",
    "MAX_VALUES",
    "And",
    "Condition",
    "FieldKind",
    "FilterError",
    "Node",
    "Operator",
    "Or",
    "Parameter",
    "fields_of",
    "parse_filter",
]

Operator = Literal["=", "!=", ">", ">=", "<", "<="]
FieldKind = Literal["string", "number"]
Parameter = Literal["filter", "qoefilter"]

MAX_LENGTH = 4096
MAX_CONDITIONS = 50
MAX_VALUES = 200

OPERATORS: dict[str, Operator] = {"=": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
COMPARISONS: frozenset[Operator] = frozenset({">", ">=", "<", "<="})

_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_OPERATOR = re.compile(r"!=|>=|<=|[=<>!]")
_BRACKET = re.compile(r"[\[\]]")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT64 = 2**63


@dataclass(frozen=True, slots=True)
class Condition:
    """`field op values`: `=` matches any of the values, `!=` none of them; a comparison has one value."""

    field: str
    op: Operator
    values: tuple[str | float, ...]


@dataclass(frozen=True, slots=True)
class And:
    """Every child holds."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child holds."""

    children: tuple[Node, ...]


Node: TypeAlias = Condition | And | Or


class FilterError(ValueError):
    """A `filter` or `qoefilter` the API must refuse with a 400; `allowed` lists valid names when relevant."""

    def __init__(self, parameter: Parameter, message: str, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.parameter: Parameter = parameter
        self.message = message
        self.allowed = allowed


def parse_filter(text: str, fields: Mapping[str, FieldKind]) -> Node | None:
    """The tree of `text` in any of the three filter syntaxes (module docstring); None when blank."""
    check_text(text, "filter")
    start = _skip_blank(text, 0)
    if start == len(text):
        return None
    spans = _bracket_spans(text, start) if text[start] == "[" else _list_spans(text, start)
    conditions = tuple(_condition(text, begin, end, fields) for begin, end in spans)
    values = sum(len(condition.values) for condition in conditions)
    if values > MAX_VALUES:
        raise FilterError("filter", f"filter has {values} values; at most {MAX_VALUES} are allowed")
    return conditions[0] if len(conditions) == 1 else And(conditions)


def fields_of(node: Node) -> frozenset[str]:
    """The field (or metric) names `node` reads."""
    if isinstance(node, Condition):
        return frozenset({node.field})
    return frozenset().union(*(fields_of(child) for child in node.children))


def check_text(text: str, parameter: Parameter) -> None:
    """Refuse a text that is too long or holds control characters or lone surrogates."""
    if len(text) > MAX_LENGTH:
        raise FilterError(parameter, f"{parameter} is {len(text)} characters long; at most {MAX_LENGTH} are allowed")
    forbidden = _FORBIDDEN.search(text)
    if forbidden:
        code = ord(forbidden.group())
        raise FilterError(
            parameter, f"character U+{code:04X} at position {forbidden.start()} is not allowed in {parameter}"
        )


def check_conditions(count: int, parameter: Parameter) -> None:
    """Refuse more than `MAX_CONDITIONS` conditions."""
    if count > MAX_CONDITIONS:
        raise FilterError(parameter, f"{parameter} has more than {MAX_CONDITIONS} conditions")


def malformed(parameter: Parameter, position: int, detail: str) -> FilterError:
    """The error for a syntax error at `position`."""
    return FilterError(parameter, f"malformed {parameter} at position {position}: {detail}")


def unknown_name(parameter: Parameter, what: str, name: str, allowed: Collection[str]) -> FilterError:
    """The error for a name not in `allowed`, with the closest allowed name as a hint."""
    names = tuple(sorted(allowed))
    close = difflib.get_close_matches(name, names, n=1) if len(name) <= 64 else []
    hint = f"did you mean {quote(close[0])}? " if close else ""
    listed = ", ".join(names)
    return FilterError(parameter, f"unknown {what} {quote(name)} in {parameter}; {hint}allowed: {listed}", names)


def parse_number(text: str, parameter: Parameter, where: str) -> float:
    """The int or finite float `text` spells (grammar in the module docstring); `where` places it in messages."""
    if _INTEGER.fullmatch(text):
        number: float = int(text)
        in_range = -_INT64 <= number < _INT64
    elif _NUMBER.fullmatch(text):
        number = float(text)
        in_range = math.isfinite(number)
    else:
        raise FilterError(parameter, f"value {quote(text)} {where} is not a number")
    if not in_range:
        raise FilterError(parameter, f"value {quote(text)} {where} is out of range")
    return number


def quote(text: str) -> str:
    """`text` quoted for a message, cut to 40 characters."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _skip_blank(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _split(text: str, begin: int, end: int, separator: str) -> list[tuple[int, int]]:
    """The (begin, end) spans of `text[begin:end]` between occurrences of `separator`."""
    spans = []
    while (cut := text.find(separator, begin, end)) >= 0:
        spans.append((begin, cut))
        begin = cut + 1
    spans.append((begin, end))
    return spans


def _bracket_spans(text: str, position: int) -> list[tuple[int, int]]:
    """The spans inside the brackets of `brackets`, which starts at `position`."""
    spans: list[tuple[int, int]] = []
    while position < len(text):
        if text[position] != "[":
            raise malformed("filter", position, f"expected '[' but found {quote(text[position])}")
        bracket = _BRACKET.search(text, position + 1)
        if bracket is None:
            raise malformed("filter", len(text), "expected ']'")
        if bracket.group() == "[":
            raise malformed("filter", bracket.start(), "expected ']' before the next '[' (brackets do not nest)")
        spans.append((position + 1, bracket.start()))
        check_conditions(len(spans), "filter")
        position = _skip_blank(text, bracket.end())
    return spans


def _list_spans(text: str, position: int) -> list[tuple[int, int]]:
    """The comma-separated spans of `list`, which starts at `position`."""
    bracket = _BRACKET.search(text, position)
    if bracket:
        raise malformed(
            "filter",
            bracket.start(),
            f"unexpected {quote(bracket.group())}; in the bracket syntax every condition is in brackets, "
            "e.g. [country=US|CA][platform=Android]",
        )
    spans = _split(text, position, len(text), ",")
    check_conditions(len(spans), "filter")
    return spans


def _condition(text: str, begin: int, end: int, fields: Mapping[str, FieldKind]) -> Condition:
    """The condition in `text[begin:end]`."""
    found = _OPERATOR.search(text, begin, end)
    if found is None:
        name = text[begin:end].strip()
        if not name:
            raise malformed("filter", begin, "empty condition")
        raise malformed("filter", end, f"expected an operator (=, !=, >, >=, <, <=) after {quote(name)}")
    operator = OPERATORS.get(found.group())
    if operator is None:
        raise malformed("filter", found.end(), "expected '=' after '!'")
    field = text[begin : found.start()].strip()
    if not field:
        raise malformed("filter", found.start(), f"expected a field name before {quote(operator)}")
    kind = fields.get(field)
    if kind is None:
        raise unknown_name("filter", "field", field, fields.keys())
    if operator in COMPARISONS and kind == "string":
        raise FilterError(
            "filter", f"operator {quote(operator)} needs a numeric field; {quote(field)} is a string field"
        )
    pieces = _split(text, found.end(), end, "|")
    if operator in COMPARISONS and len(pieces) > 1:
        raise FilterError("filter", f"operator {quote(operator)} takes one value; {quote(field)} has {len(pieces)}")
    values: list[str | float] = []
    for piece_begin, piece_end in pieces:
        raw = text[piece_begin:piece_end]
        value = raw.strip()
        if not value:
            raise FilterError("filter", f"empty value for {quote(field)} at position {piece_begin}")
        position = piece_begin + len(raw) - len(raw.lstrip())
        if kind == "number":
            values.append(parse_number(value, "filter", f"for {quote(field)} at position {position}"))
        else:
            values.append(value)
    return Condition(field, operator, tuple(values))
