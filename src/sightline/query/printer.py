"""The printer: the only place query SQL text is made, from the AST of `query.ast`.

`print_select` returns the SQL and its parameters. Values become `{pN:Type}` placeholders bound by
the engine; identifiers and functions were validated when their nodes were built; each SELECT that
reads a `Table` gets `customer_id = {pN:UInt32}` as the first conjunct of its WHERE.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sightline.query.ast import (
    Aliased,
    Binary,
    Column,
    Expr,
    Func,
    InList,
    InSelect,
    Integer,
    Join,
    Lambda,
    Number,
    Param,
    ParamValue,
    ScalarSelect,
    Select,
    Table,
    Trusted,
    Window,
)

_PARAM_TYPE = re.compile(r"^(String|UInt8|UInt16|UInt32|UInt64|Int64|Float64|DateTime|UUID|Array\((UInt64|Int64)\))$")
_JOINS = {"LEFT": "LEFT OUTER JOIN", "FULL": "FULL OUTER JOIN"}
_PRECEDENCE = {"OR": 1, "AND": 2, "=": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "+": 4, "-": 4, "*": 5, "/": 5}

SqlParams = dict[str, str | int | float]


class _Printer:
    def __init__(self) -> None:
        self.params: SqlParams = {}

    def bind(self, value: ParamValue, clickhouse_type: str) -> str:
        if not _PARAM_TYPE.match(clickhouse_type):
            raise ValueError(f"parameter type not allowed: {clickhouse_type!r}")
        name = f"p{len(self.params)}"
        if isinstance(value, datetime):
            value = int(value.astimezone(UTC).timestamp())
        elif isinstance(value, tuple):  # integers only: the engine's text of an array
            value = "[" + ",".join(str(int(v)) for v in value) + "]"
        self.params[name] = value
        return f"{{{name}:{clickhouse_type}}}"

    def expr(self, node: Expr, parent: int = 0) -> str:
        if isinstance(node, Column):
            return f"`{node.table}`.`{node.name}`" if node.table else f"`{node.name}`"
        if isinstance(node, Param):
            return self.bind(node.value, node.clickhouse_type)
        if isinstance(node, Number):
            return repr(float(node.value))
        if isinstance(node, Integer):
            return str(int(node.value))
        if isinstance(node, Lambda):
            return f"({', '.join(f'`{name}`' for name in node.params)}) -> {self.expr(node.body)}"
        if isinstance(node, ScalarSelect):
            return f"({self.select(node.select)})"
        if isinstance(node, Window):
            partition = ", ".join(self.expr(e) for e in node.partition_by)
            return f"{self.expr(node.func)} OVER ({'PARTITION BY ' + partition if partition else ''})"
        if isinstance(node, Trusted):
            return f"({node.sql})"
        if isinstance(node, Func):
            levels = f"({', '.join(repr(float(p)) for p in node.parameters)})" if node.parameters else ""
            return f"{node.name}{levels}({', '.join(self.expr(a) for a in node.args)})"
        if isinstance(node, InSelect):
            return f"{self.expr(node.expr, 3)} IN ({self.select(node.select)})"
        if isinstance(node, InList):
            values = ", ".join(self.expr(v) for v in node.values)
            return f"{self.expr(node.expr, 3)} {'NOT IN' if node.negated else 'IN'} ({values})"
        return self.binary(node, parent)

    def binary(self, node: Binary, parent: int) -> str:
        precedence = _PRECEDENCE[node.op]
        # right operand binds one tighter: a - (b - c) keeps its parentheses
        text = f"{self.expr(node.left, precedence)} {node.op} {self.expr(node.right, precedence + 1)}"
        return f"({text})" if precedence < parent else text

    def aliased(self, column: Aliased) -> str:
        return f"{self.expr(column.expr)} AS `{column.alias}`"

    def select(self, node: Select) -> str:
        parts = ["SELECT " + ", ".join(self.aliased(c) for c in node.columns)]
        conditions: list[str] = []
        if isinstance(node.source, Table):
            parts.append(f"FROM `{node.source.name}`" + (" FINAL" if node.source.final else ""))
            conditions.append(f"`customer_id` = {self.bind(node.source.customer_id, 'UInt32')}")
        elif isinstance(node.source, Join):
            parts.append(self.join(node.source))
        elif isinstance(node.source, Select):
            parts.append(f"FROM ({self.select(node.source)})")
        else:
            parts.append("FROM (" + " UNION ALL ".join(self.select(s) for s in node.source.selects) + ")")
        if node.where is not None:
            conditions.append(self.expr(node.where, _PRECEDENCE["AND"]))
        if conditions:
            parts.append("WHERE " + " AND ".join(conditions))
        if node.group_by:
            parts.append("GROUP BY " + ", ".join(self.expr(g) for g in node.group_by))
        if node.having is not None:
            parts.append("HAVING " + self.expr(node.having))
        if node.order_by:
            parts.append(
                "ORDER BY " + ", ".join(f"{self.expr(o.expr)} {_direction(o.direction)}" for o in node.order_by)
            )
        if node.limit is not None:
            parts.append(f"LIMIT {int(node.limit)} OFFSET {int(node.offset)}")
        return " ".join(parts)

    def join(self, node: Join) -> str:
        if node.kind not in _JOINS:  # checked again here: keywords are printed as they are
            raise ValueError(f"join kind not allowed: {node.kind!r}")
        left, right = f"({self.select(node.left)}) AS `l`", f"({self.select(node.right)}) AS `r`"
        if not node.using:
            return f"FROM {left} CROSS JOIN {right}"
        return f"FROM {left} {_JOINS[node.kind]} {right} USING ({', '.join(self.expr(c) for c in node.using)})"


def _direction(direction: str) -> str:
    if direction not in ("ASC", "DESC"):  # checked again here: keywords are printed as they are
        raise ValueError(f"order direction not allowed: {direction!r}")
    return direction


def print_select(select: Select) -> tuple[str, SqlParams]:
    """The SQL text of `select` and the values of its placeholders."""
    printer = _Printer()
    return printer.select(select), printer.params
