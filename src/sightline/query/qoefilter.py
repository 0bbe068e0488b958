"""The `qoefilter` parameter: session-level conditions on per-view metrics, parsed into a filter tree.

Accepts the current syntax `latency>3 AND bufferingratio>5` and the legacy one
`bufferingratio > 10 , buffcount > 1` (reference §3.3). Limits, refused characters and positions in
messages are those of `sightline.query.filters`.

Grammar (tokens may be separated by whitespace; a blank text means "no qoefilter" and parses to None):

    qoefilter   := conjunction ( OR conjunction )*
    conjunction := comparison ( ( AND | "," ) comparison )*
    comparison  := metric operator number
    metric      := [A-Za-z_][A-Za-z0-9_]*, a key of `metrics`
    operator    := "!=" | ">=" | "<=" | "=" | ">" | "<"
    number      := [+-]? (digits ["." digits*] | "." digits) ([eE] [+-]? digits)?
    AND, OR     := the words, in any letter case

AND (and ",", its legacy spelling) binds tighter than OR; there are no parentheses. A comparison is a
one-value `Condition`; a conjunction of several is an `And`, a disjunction of several an `Or`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from sightline.query.filters import (
    OPERATORS,
    And,
    Condition,
    Node,
    Or,
    check_conditions,
    check_text,
    malformed,
    parse_number,
    quote,
    unknown_name,
)

__all__ = ["parse_qoefilter"]

TokenKind = Literal["number", "name", "operator", "comma"]
Token = tuple[TokenKind, str, int]
"""(kind, text, position)."""

_TOKEN = re.compile(
    r"\s*(?:(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<operator>!=|>=|<=|[=<>])|(?P<comma>,))"
)
_KINDS: dict[str, TokenKind] = {"number": "number", "name": "name", "operator": "operator", "comma": "comma"}
_KEYWORDS = frozenset({"AND", "OR"})


def parse_qoefilter(text: str, metrics: Mapping[str, str]) -> Node | None:
    """The tree of `text` (module docstring); `metrics` maps the allowed metric names to descriptions."""
    check_text(text, "qoefilter")
    tokens = _tokens(text)
    if not tokens:
        return None
    conjunctions: list[list[Condition]] = [[]]
    count = 0
    index = 0
    while True:
        condition, index = _comparison(tokens, index, len(text), metrics)
        conjunctions[-1].append(condition)
        count += 1
        check_conditions(count, "qoefilter")
        if index == len(tokens):
            break
        kind, word, position = tokens[index]
        connective = word.upper() if kind == "name" else word
        if connective == "OR":
            conjunctions.append([])
        elif connective not in ("AND", ","):
            raise malformed("qoefilter", position, f"expected AND, OR or ',' but found {quote(word)}")
        index += 1
    terms: list[Node] = [group[0] if len(group) == 1 else And(tuple(group)) for group in conjunctions]
    return terms[0] if len(terms) == 1 else Or(tuple(terms))


def _tokens(text: str) -> list[Token]:
    """The tokens of `text`; an error at the first character that starts none."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            start = len(text) - len(text[position:].lstrip())
            if start == len(text):
                break
            found = quote(text[start])
            hint = "; parentheses are not supported, AND binds tighter than OR" if text[start] in "()" else ""
            raise malformed("qoefilter", start, f"unexpected character {found}{hint}")
        kind = _KINDS[str(match.lastgroup)]
        tokens.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


def _comparison(tokens: list[Token], index: int, end: int, metrics: Mapping[str, str]) -> tuple[Condition, int]:
    """The comparison starting at `tokens[index]` and the index after it; `end` is the text's length."""
    metric = _expect(tokens, index, "name", "a metric name", end)
    if metric.upper() in _KEYWORDS:
        raise malformed("qoefilter", tokens[index][2], f"expected a metric name but found {quote(metric)}")
    if metric not in metrics:
        raise unknown_name("qoefilter", "metric", metric, metrics.keys())
    operator = OPERATORS[_expect(tokens, index + 1, "operator", "an operator (=, !=, >, >=, <, <=)", end)]
    number = _expect(tokens, index + 2, "number", "a number", end)
    value = parse_number(number, "qoefilter", f"for {quote(metric)} at position {tokens[index + 2][2]}")
    return Condition(metric, operator, (value,)), index + 3


def _expect(tokens: list[Token], index: int, kind: TokenKind, expected: str, end: int) -> str:
    """The text of `tokens[index]` when it is a `kind`; else a syntax error naming `expected`."""
    if index == len(tokens):
        raise malformed("qoefilter", end, f"expected {expected}")
    found_kind, text, position = tokens[index]
    if found_kind != kind:
        raise malformed("qoefilter", position, f"expected {expected} but found {quote(text)}")
    return text
