"""The SQL AST of the query layer: immutable nodes that only `query.printer` turns into text.

Invariants, held by construction:
- a value enters as `Param` and is printed as a bound parameter, never as text;
- an identifier is a `Column` or `Table` whose name matches `IDENTIFIER` (names come from the catalog);
- a function is a `Func` whose name is in `FUNCTIONS`;
- every table read is a `Table` carrying the customer id: the printer adds the tenant guard
  `customer_id = {…}` to the WHERE of the SELECT that reads it, so no query can be printed without it;
- every statement that writes is of one customer: an `Insert` writes the customer id of its rows itself and
  reads only that customer's tables, a `Delete` deletes only that customer's rows; the one exception is
  `BatchInsert`, the collector's batch of events of many customers, each row carrying its own;
- constants are the code's or the catalog's (`Number`, `Integer`, `Symbol`, `Null`), never input;
- a `Join` joins two SELECTs, each printed with its own tenant guard, on key columns by name;
- a SELECT may read another SELECT (a subquery) or use one as a value (`ScalarSelect`): the inner SELECT
  carries its own tenant guard; a `Lambda`'s parameters are identifiers, read in its body as `Column`s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")

FUNCTIONS: frozenset[str] = frozenset(
    {
        "sum", "sumIf", "uniqMerge", "uniqMergeState", "uniqStateIf", "quantileDDMerge", "quantileDDMergeState",
        "toStartOfMinute", "toStartOfFiveMinutes",
        "toStartOfTenMinutes", "toStartOfHour", "toStartOfDay", "toDateTime", "UUIDv7ToDateTime", "nullIf",
        "greatest", "least", "toInt64", "toUInt64", "toFloat64", "round", "toUnixTimestamp", "count", "ifNull", "if",
        "isNull", "max", "min", "uniqExact", "multiIf", "isFinite",
        # arrays, tuples and the aggregates of the named queries (smartquery/)
        "any", "anyIf", "avg", "avgIf", "countIf", "uniqExactIf", "maxIf", "minIf", "groupArray", "tuple",
        "tupleElement", "array", "arrayJoin", "arrayMap", "arrayFilter", "arraySort", "arraySlice", "arraySplit",
        "arrayEnumerate", "arrayPushBack", "arrayPopBack", "arrayConcat", "arrayElement", "arrayCount", "length",
        "range", "indexOf", "has", "cityHash64", "toUnixTimestamp64Milli", "toDate", "toUInt8", "toUInt32",
        "notEmpty", "not", "intDiv", "groupArrayIf", "groupUniqArrayIf", "arrayDistinct", "arraySum", "mapFromArrays",
        "arrayZip", "arrayFlatten", "uniqExactArray", "groupBitOrIf", "groupBitOr", "bitShiftLeft", "bitCount",
        "arrayUniq", "groupUniqArray",
        # the collector's state rebuilt at start (ingest/recovery.py)
        "argMax", "toString",
        # the parts' states and view columns (query/parts.py), the columns of an events batch (store/layout.py)
        "quantileDDStateIf", "quantileTDigestStateIf", "toDateTime64", "fromUnixTimestamp64Milli", "toUUID",
        "UUIDNumToString",
        # a customer's events in the layout of a batch (store/layout.py: `sightline copy`)
        "UUIDStringToNum",
    }
)  # fmt: skip

ParamValue = str | int | float | datetime | tuple[int, ...]
BinaryOperator = Literal["+", "-", "*", "/", "=", "!=", "<", "<=", ">", ">=", "AND", "OR"]
Direction = Literal["ASC", "DESC"]
JoinKind = Literal["LEFT", "FULL"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    table: str | None = None
    """The table the column is read from, when a column alias of the SELECT could shadow its name."""

    def __post_init__(self) -> None:
        for identifier in (self.name, self.table or self.name):
            if not IDENTIFIER.match(identifier):
                raise ValueError(f"not an identifier: {identifier!r}")


@dataclass(frozen=True, slots=True)
class Param:
    """A bound value; `clickhouse_type` is the placeholder's type, e.g. String, UInt32, DateTime, or
    Array(UInt64) for a tuple of integers."""

    value: ParamValue
    clickhouse_type: str


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric constant of the catalog (formula constants, quantile levels)."""

    value: float


@dataclass(frozen=True, slots=True)
class Integer:
    """An integer constant of our code (array positions, thresholds), printed as an integer literal."""

    value: int


@dataclass(frozen=True, slots=True)
class Func:
    name: str
    args: tuple[Expr, ...]
    parameters: tuple[float, ...] = ()
    """Parameters of a parametric aggregate, as in `quantileDDMerge(0.005, 0.95)(x)`."""

    def __post_init__(self) -> None:
        if self.name not in FUNCTIONS:
            raise ValueError(f"function not allowed: {self.name!r}")


@dataclass(frozen=True, slots=True)
class Binary:
    op: BinaryOperator
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class InList:
    expr: Expr
    values: tuple[Param | Symbol, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class InSelect:
    """`expr IN (select)`; the inner SELECT gets its own tenant guard."""

    expr: Expr
    select: Select


SYMBOL = re.compile(r"^[A-Za-z0-9_ .:/+-]{0,64}$")


@dataclass(frozen=True, slots=True)
class Symbol:
    """A string constant of the catalog or of our code (an event type, the time zone `UTC`), printed quoted;
    it matches `SYMBOL`, so it never needs escaping. A value of the input is a `Param`, never a `Symbol`."""

    value: str

    def __post_init__(self) -> None:
        if not SYMBOL.match(self.value):
            raise ValueError(f"not a symbol: {self.value!r}")


@dataclass(frozen=True, slots=True)
class Null:
    """No value (`NULL`)."""


@dataclass(frozen=True, slots=True)
class Lambda:
    """`(params) -> body`, an argument of the array functions; `body` reads the parameters as `Column`s."""

    params: tuple[str, ...]
    body: Expr

    def __post_init__(self) -> None:
        if not self.params:
            raise ValueError("a lambda needs a parameter")
        for name in self.params:
            if not IDENTIFIER.match(name):
                raise ValueError(f"not an identifier: {name!r}")


@dataclass(frozen=True, slots=True)
class ScalarSelect:
    """A SELECT of one row and one column used as a value; it gets its own tenant guard."""

    select: Select


@dataclass(frozen=True, slots=True)
class Window:
    """`func OVER (PARTITION BY partition_by)`: an aggregate over the rows of the SELECT's result that share
    the partition's values (over all of them when `partition_by` is empty)."""

    func: Func
    partition_by: tuple[Expr, ...] = ()


Expr = (
    Column
    | Param
    | Number
    | Integer
    | Symbol
    | Null
    | Func
    | Binary
    | InList
    | InSelect
    | Lambda
    | ScalarSelect
    | Window
)


@dataclass(frozen=True, slots=True)
class Aliased:
    expr: Expr
    alias: str

    def __post_init__(self) -> None:
        if not IDENTIFIER.match(self.alias):
            raise ValueError(f"not an identifier: {self.alias!r}")


@dataclass(frozen=True, slots=True)
class Table:
    """A table of the store, read for one customer only."""

    name: str
    customer_id: int
    final: bool = False
    """Read with `FINAL`: the rows of one key merged (one row per view in `views`), before WHERE."""

    def __post_init__(self) -> None:
        if not IDENTIFIER.match(self.name):
            raise ValueError(f"not an identifier: {self.name!r}")


@dataclass(frozen=True, slots=True)
class OrderBy:
    expr: Expr
    direction: Direction


@dataclass(frozen=True, slots=True)
class Select:
    columns: tuple[Aliased, ...]
    source: Table | UnionAll | Join | Select
    """A table, or a subquery: a UNION ALL, a JOIN or a SELECT."""
    where: Expr | None = None
    group_by: tuple[Expr, ...] = ()
    having: Expr | None = None
    order_by: tuple[OrderBy, ...] = ()
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class UnionAll:
    selects: tuple[Select, ...]


@dataclass(frozen=True, slots=True)
class Join:
    """`(left) kind JOIN (right) USING (using)`; a CROSS JOIN when `using` is empty. With `FULL`, a row of
    one side without a match on the other gets the other side's columns as their type's default (0, '')."""

    kind: JoinKind
    left: Select
    right: Select
    using: tuple[Column, ...]


@dataclass(frozen=True, slots=True)
class Row:
    """One row of values computed from no table (a SELECT without FROM), each column by its alias."""

    columns: tuple[Aliased, ...]


@dataclass(frozen=True, slots=True)
class Insert:
    """`INSERT INTO table` the rows of `rows` for customer `customer_id`: the printer writes the `customer_id`
    column itself, and refuses rows that read another customer's table or name `customer_id`."""

    table: str
    customer_id: int
    rows: Select | Row

    def __post_init__(self) -> None:
        if not IDENTIFIER.match(self.table):
            raise ValueError(f"not an identifier: {self.table!r}")


@dataclass(frozen=True, slots=True)
class Delete:
    """`DELETE FROM table` the rows of customer `customer_id` where `where` holds: the printer puts the
    customer's guard first, so no other customer's row can be deleted."""

    table: str
    customer_id: int
    where: Expr

    def __post_init__(self) -> None:
        if not IDENTIFIER.match(self.table):
            raise ValueError(f"not an identifier: {self.table!r}")


@dataclass(frozen=True, slots=True)
class BatchInsert:
    """`INSERT INTO table (columns) SELECT values FROM Python(batch)`: the collector's batch of events, an Arrow
    table bound to the name `batch` where the statement runs. Each value is an expression over the batch's
    columns; each row carries its own customer id, set by the collector from the ingest key."""

    table: str
    columns: tuple[str, ...]
    values: tuple[Expr, ...]

    def __post_init__(self) -> None:
        for identifier in (self.table, *self.columns):
            if not IDENTIFIER.match(identifier):
                raise ValueError(f"not an identifier: {identifier!r}")
        if len(self.columns) != len(self.values):
            raise ValueError("a batch insert needs one value per column")


@dataclass(frozen=True, slots=True)
class BatchStored:
    """How many rows of the collector's batch (`Python(batch)`), as `insert` stores them, its table holds: matched
    by the `key` columns, among the table's rows where `within` holds (the batch's customers and times: the batch
    holds many customers' rows, as in `BatchInsert`)."""

    insert: BatchInsert
    key: tuple[str, ...]
    within: Expr

    def __post_init__(self) -> None:
        if not self.key or not set(self.key) <= set(self.insert.columns):
            raise ValueError(f"a key of columns the insert stores, not {self.key!r}")


def and_all(conditions: list[Expr]) -> Expr | None:
    """The conjunction of `conditions`; None when there are none."""
    result: Expr | None = None
    for condition in conditions:
        result = condition if result is None else Binary("AND", result, condition)
    return result
