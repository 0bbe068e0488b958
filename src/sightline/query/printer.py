"""The printer: the only place SQL text of a statement is made, from the AST of `query.ast`.

Every statement the store runs is a `Statement` made here (besides the schema's DDL, `store.schema`): reads
(`print_select`), inserts and deletes of one customer's rows (`print_insert`, `print_delete`), the collector's
batch of events (`print_batch_insert`; how much of it is stored, `print_batch_stored`) and the store's own few
(session settings, partition versions, cancelling, a health check). A `Statement` cannot be made elsewhere:
its constructor asks for a token only this module holds, so `store.query("SELECT 1")` does not type-check.

Values become `{pN:Type}` placeholders bound by the engine; identifiers and functions were validated when
their nodes were built; each SELECT that reads a `Table` gets `customer_id = {pN:UInt32}` as the first
conjunct of its WHERE, a DELETE gets it first too, and an INSERT writes the customer id itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import UnionType

from sightline.query.ast import (
    IDENTIFIER,
    SYMBOL,
    Aliased,
    BatchInsert,
    BatchStored,
    Binary,
    Column,
    Delete,
    Expr,
    Func,
    InList,
    InSelect,
    Insert,
    Integer,
    Join,
    Lambda,
    Null,
    Number,
    Param,
    ParamValue,
    Row,
    ScalarSelect,
    Select,
    Symbol,
    Table,
    UnionAll,
    Window,
)

_PARAM_TYPE = re.compile(r"^(String|UInt8|UInt16|UInt32|UInt64|Int64|Float64|DateTime|UUID|Array\((UInt64|Int64)\))$")
_INPUT_TYPE = re.compile(r"^(UInt8|UInt16|UInt32|UInt64|Int64|Float32|Float64|String|FixedString\(16\))$")
_JOINS = {"LEFT": "LEFT OUTER JOIN", "FULL": "FULL OUTER JOIN"}
_PRECEDENCE = {"OR": 1, "AND": 2, "=": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3, "+": 4, "-": 4, "*": 5, "/": 5}

SqlParams = dict[str, str | int | float]
Setting = int | float | str
"""A value of an engine setting: numbers are printed, text is bound."""


class _Token:
    """Held by this module alone: what a `Statement`'s constructor asks for."""


_PRINTED = _Token()


class SqlText(tuple[str, SqlParams]):
    """SQL text and the values of its placeholders, a pair (`sql, params = …`). The store runs two kinds of it
    only: `Statement`, made here, and the schema's `store.migrations.SchemaStatement`."""

    __slots__ = ()

    @property
    def sql(self) -> str:
        return self[0]

    @property
    def params(self) -> SqlParams:
        return self[1]


class Statement(SqlText):
    """A statement as this module printed it. Only this module makes one (see the module's docstring)."""

    __slots__ = ()

    def __new__(cls, sql: str, params: SqlParams, printed_by: _Token) -> Statement:
        if printed_by is not _PRINTED:
            raise TypeError("a Statement is made by sightline.query.printer alone")
        return super().__new__(cls, (sql, params))

    def with_settings(self, settings: Mapping[str, Setting]) -> Statement:
        """The statement with a SETTINGS clause (`log_comment` for a tag, the deduplication token of an
        insert): names are identifiers, numbers printed, text bound as `{s_name:String}`. For a statement
        that has no SETTINGS yet (none printed here has)."""
        params = dict(self.params)
        clauses = []
        for name, value in settings.items():
            if not IDENTIFIER.match(name):
                raise ValueError(f"not a setting: {name!r}")
            if isinstance(value, str):
                params[f"s_{name}"] = value
                clauses.append(f"{name} = {{s_{name}:String}}")
            else:
                clauses.append(f"{name} = {_number(value)}")
        return Statement(f"{self.sql} SETTINGS {', '.join(clauses)}", params, _PRINTED) if clauses else self


def _number(value: int | float) -> str:
    return str(int(value)) if isinstance(value, int) else repr(float(value))


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
        if isinstance(node, Symbol):
            if not SYMBOL.match(node.value):  # checked again here: printed as it is
                raise ValueError(f"not a symbol: {node.value!r}")
            return f"'{node.value}'"
        if isinstance(node, Null):
            return "NULL"
        if isinstance(node, Lambda):
            return f"({', '.join(f'`{name}`' for name in node.params)}) -> {self.expr(node.body)}"
        if isinstance(node, ScalarSelect):
            return f"({self.select(node.select)})"
        if isinstance(node, Window):
            partition = ", ".join(self.expr(e) for e in node.partition_by)
            return f"{self.expr(node.func)} OVER ({'PARTITION BY ' + partition if partition else ''})"
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


def print_select(select: Select) -> Statement:
    """The SQL text of `select` and the values of its placeholders."""
    printer = _Printer()
    return Statement(printer.select(select), printer.params, _PRINTED)


def print_insert(insert: Insert) -> Statement:
    """`INSERT INTO table (customer_id, …) SELECT {customer} AS customer_id, …`: the rows of `insert.rows`, each
    with the insert's customer id. ValueError when the rows name `customer_id` or read another customer's table."""
    columns = insert.rows.columns
    if any(column.alias == "customer_id" for column in columns):
        raise ValueError("an insert writes customer_id itself")
    _check_reads(insert.customer_id, insert.rows)
    printer = _Printer()
    customer = Aliased(Param(insert.customer_id, "UInt32"), "customer_id")
    names = ", ".join(f"`{c.alias}`" for c in (customer, *columns))
    if isinstance(insert.rows, Row):
        rows = "SELECT " + ", ".join(printer.aliased(c) for c in (customer, *columns))
    else:
        rows = printer.select(replace(insert.rows, columns=(customer, *columns)))
    return Statement(f"INSERT INTO `{insert.table}` ({names}) {rows}", printer.params, _PRINTED)


def print_delete(delete: Delete) -> Statement:
    """`DELETE FROM table WHERE customer_id = {customer} AND (where)`. ValueError when `where` reads another
    customer's table."""
    _check_reads(delete.customer_id, delete.where)
    printer = _Printer()
    guard = printer.bind(delete.customer_id, "UInt32")
    where = printer.expr(delete.where, _PRECEDENCE["AND"] + 1)
    return Statement(
        f"DELETE FROM `{delete.table}` WHERE `customer_id` = {guard} AND {where}", printer.params, _PRINTED
    )


BatchStructure = tuple[tuple[str, str], ...]
"""The columns of a batch sent to a server, (name, ClickHouse type) each: the structure of `input(…)`, or of an
external table (`print_batch_stored`)."""


def print_batch_insert(
    insert: BatchInsert, settings: Mapping[str, Setting], sent: BatchStructure | None = None
) -> Statement:
    """`INSERT INTO table (columns) SELECT values FROM Python(batch) SETTINGS …` (see `BatchInsert`); for a batch
    `sent` to a server as the insert's data, `… FROM input('name Type, …') SETTINGS … FORMAT ArrowStream`."""
    printer = _Printer()
    names = ", ".join(f"`{name}`" for name in insert.columns)
    values = ", ".join(printer.expr(value) for value in insert.values)
    source = "Python(batch)" if sent is None else f"input('{_structure(sent)}')"
    sql = f"INSERT INTO `{insert.table}` ({names}) SELECT {values} FROM {source}"
    statement = Statement(sql, printer.params, _PRINTED).with_settings(settings)
    return statement if sent is None else Statement(f"{statement.sql} FORMAT ArrowStream", statement.params, _PRINTED)


def _structure(sent: BatchStructure) -> str:
    for name, clickhouse_type in sent:  # printed as they are, inside a quoted literal
        if not IDENTIFIER.match(name) or not _INPUT_TYPE.match(clickhouse_type):
            raise ValueError(f"not a column of a sent batch: {name!r} {clickhouse_type!r}")
    return ", ".join(f"{name} {clickhouse_type}" for name, clickhouse_type in sent)


def print_batch_stored(count: BatchStored, external: str | None = None) -> Statement:
    """`SELECT count() AS n FROM table WHERE within AND (key) IN (SELECT key's values FROM Python(batch))` (see
    `BatchStored`); from the `external` table that a server receives with the query, when one is named."""
    if external is not None and not IDENTIFIER.match(external):
        raise ValueError(f"not an identifier: {external!r}")
    printer = _Printer()
    stored = dict(zip(count.insert.columns, count.insert.values, strict=True))
    within = printer.expr(count.within, _PRECEDENCE["AND"] + 1)
    keys = ", ".join(f"`{name}`" for name in count.key)
    values = ", ".join(printer.expr(stored[name]) for name in count.key)
    batch = f"SELECT {values} FROM " + ("Python(batch)" if external is None else f"`{external}`")
    sql = f"SELECT count() AS n FROM `{count.insert.table}` WHERE {within} AND ({keys}) IN ({batch})"
    return Statement(sql, printer.params, _PRINTED)


def print_session_setting(name: str, value: int | float) -> Statement:
    """`SET name = value`, a setting of the session that runs it (its time and memory limits, its JSON output)."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"not a setting: {name!r}")
    return Statement(f"SET {name} = {_number(value)}", {}, _PRINTED)


def print_kill_tagged(tag: str) -> Statement:
    """Stops the queries whose `log_comment` is `tag` (`Statement.with_settings`), waiting until they have stopped;
    answers a row per query stopped."""
    return Statement("KILL QUERY WHERE Settings['log_comment'] = {p0:String} SYNC", {"p0": tag}, _PRINTED)


def print_cluster_replicas(cluster: str) -> Statement:
    """How many replicas the server's `remote_servers` gives the cluster `cluster` (`replicas`; 0: none of that
    name)."""
    return Statement(
        "SELECT count() AS replicas FROM system.clusters WHERE cluster = {p0:String}", {"p0": cluster}, _PRINTED
    )


def print_kill_query(query_id: str) -> Statement:
    """Stops the query of a server whose `query_id` is `query_id`, waiting until it has stopped; answers a row per
    query stopped."""
    return Statement("KILL QUERY WHERE query_id = {p0:String} SYNC", {"p0": query_id}, _PRINTED)


def print_partition_versions(table: str, cluster: str | None = None) -> Statement:
    """The version of each partition of `table` (`partition`, `version`): the largest block number among its
    active parts (`store.base.Store.partition_versions`). On `cluster`, `table` is a local table
    (`store.schema.local_name`) and the version is the sum over every replica of the largest block number of
    its parts: block numbers are counted per shard, and each replica's grows with every insert it holds, so the
    sum changes when any shard's partition does (a replica catching up changes it too: a partition is then
    taken as changed, never the reverse)."""
    if not IDENTIFIER.match(table):
        raise ValueError(f"not an identifier: {table!r}")
    if cluster is not None and not IDENTIFIER.match(cluster):
        raise ValueError(f"not a cluster name: {cluster!r}")
    parts = "system.parts" if cluster is None else f"clusterAllReplicas({cluster}, system.parts)"
    where = "WHERE database = currentDatabase() AND table = {p0:String} AND active"
    if cluster is None:
        sql = f"SELECT partition, max(max_block_number) AS version FROM {parts} {where} GROUP BY partition"
    else:
        sql = (
            "SELECT partition, sum(replica_version) AS version FROM (SELECT hostName() AS replica, partition, "
            f"max(max_block_number) AS replica_version FROM {parts} {where} GROUP BY replica, partition) "
            "GROUP BY partition"
        )
    return Statement(sql, {"p0": table}, _PRINTED)


PING = Statement("SELECT 1", {}, _PRINTED)
"""A query that needs nothing but a working engine (the health check)."""


def _check_reads(customer_id: int, node: Select | Row | Expr) -> None:
    others = customers_read(node) - {customer_id}
    if others:
        raise ValueError(f"a statement of customer {customer_id} reads customers {sorted(others)}")


def customers_read(node: Select | Row | Expr) -> set[int]:
    """The customers whose tables `node` reads, in its sources and in its expressions' subqueries."""
    if isinstance(node, Row):
        return {c for column in node.columns for c in customers_read(column.expr)}
    if isinstance(node, Select):
        exprs = [c.expr for c in node.columns] + list(node.group_by) + [o.expr for o in node.order_by]
        exprs += [e for e in (node.where, node.having) if e is not None]
        return _source_customers(node.source) | {c for e in exprs for c in customers_read(e)}
    if isinstance(node, InSelect):
        return customers_read(node.expr) | customers_read(node.select)
    if isinstance(node, ScalarSelect):
        return customers_read(node.select)
    if isinstance(node, Func):
        return {c for arg in node.args for c in customers_read(arg)}
    if isinstance(node, Binary):
        return customers_read(node.left) | customers_read(node.right)
    if isinstance(node, InList):
        return customers_read(node.expr)
    if isinstance(node, Lambda):
        return customers_read(node.body)
    if isinstance(node, Window):
        return customers_read(node.func) | {c for e in node.partition_by for c in customers_read(e)}
    return set()


def _source_customers(source: Table | UnionAll | Join | Select) -> set[int]:
    if isinstance(source, Table):
        return {source.customer_id}
    if isinstance(source, Join):
        return customers_read(source.left) | customers_read(source.right)
    if isinstance(source, Select):
        return customers_read(source)
    return {c for select in source.selects for c in customers_read(select)}


def print_definition(expr: Expr) -> str:
    """`expr` as the schema's DDL writes it (a column or condition of a materialized view): constants printed
    as they are; ValueError when it holds a value to bind or reads a table (a definition binds nothing)."""
    printer = _Printer()
    text = printer.expr(expr)
    if printer.params:
        raise ValueError("a definition holds no bound value and reads no table")
    return text


def require_printed(statement: object, kinds: type[SqlText] | UnionType) -> None:
    """TypeError unless `statement` is of `kinds`: a store runs no text made elsewhere (mypy refuses it too)."""
    if not isinstance(statement, kinds):
        raise TypeError(f"the store runs printed statements only, not {type(statement).__name__}")
