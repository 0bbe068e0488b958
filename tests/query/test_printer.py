"""The printer: exact SQL for small ASTs, the tenant guard on every table read, values only as parameters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sightline.query.ast import (
    Aliased,
    Binary,
    Column,
    Func,
    InList,
    Integer,
    Join,
    Lambda,
    Number,
    OrderBy,
    Param,
    ScalarSelect,
    Select,
    Table,
    UnionAll,
    Window,
    and_all,
)
from sightline.query.printer import print_select

PLAYS = Aliased(Func("sum", (Column("plays"),)), "viewercount")


@pytest.mark.parametrize(
    ("select", "sql", "params"),
    [
        (
            Select((PLAYS,), Table("rollup_1h", 7)),
            "SELECT sum(`plays`) AS `viewercount` FROM `rollup_1h` WHERE `customer_id` = {p0:UInt32}",
            {"p0": 7},
        ),
        (
            Select(
                (Aliased(Column("cdn"), "cdn"), PLAYS),
                Table("rollup_1h", 7),
                where=InList(Column("country"), (Param("US", "String"), Param("CA", "String"))),
                group_by=(Column("cdn"),),
                order_by=(OrderBy(Column("viewercount"), "DESC"),),
                limit=10,
                offset=20,
            ),
            "SELECT `cdn` AS `cdn`, sum(`plays`) AS `viewercount` FROM `rollup_1h` WHERE `customer_id` = "
            "{p0:UInt32} AND `country` IN ({p1:String}, {p2:String}) GROUP BY `cdn` ORDER BY `viewercount` DESC "
            "LIMIT 10 OFFSET 20",
            {"p0": 7, "p1": "US", "p2": "CA"},
        ),
        (
            Select(
                (Aliased(Binary("-", Column("a"), Binary("-", Column("b"), Column("c"))), "x"),),
                Table("events", 1),
                where=Binary("OR", Binary("=", Column("a"), Number(1)), Binary("=", Column("b"), Number(2))),
            ),
            "SELECT `a` - (`b` - `c`) AS `x` FROM `events` WHERE `customer_id` = {p0:UInt32} AND "
            "(`a` = 1.0 OR `b` = 2.0)",
            {"p0": 1},
        ),
        (
            Select(
                (Aliased(Func("quantileDDMerge", (Column("d"),), (0.005, 0.95)), "p95"),),
                UnionAll((Select((PLAYS,), Table("rollup_1m", 3)), Select((PLAYS,), Table("events", 3)))),
            ),
            "SELECT quantileDDMerge(0.005, 0.95)(`d`) AS `p95` FROM (SELECT sum(`plays`) AS `viewercount` FROM "
            "`rollup_1m` WHERE `customer_id` = {p0:UInt32} UNION ALL SELECT sum(`plays`) AS `viewercount` FROM "
            "`events` WHERE `customer_id` = {p1:UInt32})",
            {"p0": 3, "p1": 3},
        ),
        (
            Select(
                (Aliased(Column("cdn"), "cdn"), Aliased(Column("errors"), "errors"), Aliased(Column("a"), "a")),
                Join(
                    "FULL",
                    Select((Aliased(Func("count", ()), "errors"),), Table("events", 5), group_by=(Column("cdn"),)),
                    Select((Aliased(Func("sum", (Column("attempts"),)), "a"),), Table("rollup_1h", 5)),
                    (Column("cdn"),),
                ),
            ),
            "SELECT `cdn` AS `cdn`, `errors` AS `errors`, `a` AS `a` FROM (SELECT count() AS `errors` FROM `events` "
            "WHERE `customer_id` = {p0:UInt32} GROUP BY `cdn`) AS `l` FULL OUTER JOIN (SELECT sum(`attempts`) AS `a` "
            "FROM `rollup_1h` WHERE `customer_id` = {p1:UInt32}) AS `r` USING (`cdn`)",
            {"p0": 5, "p1": 5},
        ),
        (
            Select(
                (PLAYS,),
                Join("LEFT", Select((PLAYS,), Table("events", 5)), Select((PLAYS,), Table("views", 5)), ()),
                where=Binary("=", Column("view_id"), Param("018f40e7-1f4a-7bb6-a0bf-fa1c38f870a5", "UUID")),
            ),
            "SELECT sum(`plays`) AS `viewercount` FROM (SELECT sum(`plays`) AS `viewercount` FROM `events` WHERE "
            "`customer_id` = {p0:UInt32}) AS `l` CROSS JOIN (SELECT sum(`plays`) AS `viewercount` FROM `views` WHERE "
            "`customer_id` = {p1:UInt32}) AS `r` WHERE `view_id` = {p2:UUID}",
            {"p0": 5, "p1": 5, "p2": "018f40e7-1f4a-7bb6-a0bf-fa1c38f870a5"},
        ),
        (
            Select(
                (
                    Aliased(
                        Func(
                            "arrayMap",
                            (
                                Lambda(("x", "i"), Binary("*", Column("x"), Column("i"))),
                                Column("titles"),
                                Func("arrayEnumerate", (Column("titles"),)),
                            ),
                        ),
                        "y",
                    ),
                    Aliased(Func("arrayElement", (Column("titles"), Integer(1))), "first"),
                    Aliased(ScalarSelect(Select((Aliased(Func("count", ()), "n"),), Table("views", 8))), "n"),
                    Aliased(Window(Func("sum", (Column("n"),)), (Column("kind"), Column("first"))), "total"),
                    Aliased(Window(Func("count", ())), "rows"),
                ),
                Select((Aliased(Column("titles"), "titles"),), Table("views", 8, final=True), limit=5),
            ),
            "SELECT arrayMap((`x`, `i`) -> `x` * `i`, `titles`, arrayEnumerate(`titles`)) AS `y`, "
            "arrayElement(`titles`, 1) AS `first`, (SELECT count() AS `n` FROM `views` WHERE `customer_id` = "
            "{p0:UInt32}) AS `n`, sum(`n`) OVER (PARTITION BY `kind`, `first`) AS `total`, count() OVER () AS `rows` "
            "FROM (SELECT `titles` AS `titles` FROM `views` FINAL WHERE `customer_id` = "
            "{p1:UInt32} LIMIT 5 OFFSET 0)",
            {"p0": 8, "p1": 8},
        ),
        (
            Select(
                (PLAYS,),
                Table("views", 9),
                where=Func("has", (Param((3, 1, 2), "Array(UInt64)"), Column("subscriber_hash"))),
            ),
            "SELECT sum(`plays`) AS `viewercount` FROM `views` WHERE `customer_id` = {p0:UInt32} AND "
            "has({p1:Array(UInt64)}, `subscriber_hash`)",
            {"p0": 9, "p1": "[3,1,2]"},
        ),
    ],
)
def test_printed_sql(select: Select, sql: str, params: dict[str, object]) -> None:
    assert print_select(select) == (sql, params)


@pytest.mark.parametrize("name", ["plays; DROP TABLE events", "a`b", "Plays", "x" * 65, "1abc", ""])
def test_identifiers_outside_the_pattern_cannot_be_built(name: str) -> None:
    with pytest.raises(ValueError, match="not an identifier"):
        Column(name)
    with pytest.raises(ValueError, match="not an identifier"):
        Table(name, 1)


def test_lambda_parameters_are_identifiers() -> None:
    with pytest.raises(ValueError, match="not an identifier"):
        Lambda(("x) -> 1; DROP",), Column("x"))
    with pytest.raises(ValueError, match="needs a parameter"):
        Lambda((), Column("x"))


def test_functions_outside_the_allowlist_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="function not allowed"):
        Func("file", (Param("/etc/passwd", "String"),))


def test_order_direction_is_checked_again_when_printed() -> None:
    select = Select((PLAYS,), Table("rollup_1h", 1), order_by=(OrderBy(Column("plays"), "DESC; DROP"),))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="order direction"):
        print_select(select)


def test_join_kind_is_checked_again_when_printed() -> None:
    side = Select((PLAYS,), Table("rollup_1h", 1))
    select = Select((PLAYS,), Join("RIGHT; DROP", side, side, (Column("cdn"),)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="join kind"):
        print_select(select)


def _filtered(value: str) -> Select:
    where = and_all(
        [InList(Column("cdn"), (Param(value, "String"),)), Binary("=", Column("country"), Param(value, "String"))]
    )
    return Select((PLAYS,), Table("rollup_1h", 42), where=where)


@given(st.text(max_size=200))
def test_values_never_enter_the_sql_text(value: str) -> None:
    sql, params = print_select(_filtered(value))
    assert sql == print_select(_filtered("reference"))[0]  # the text does not depend on the value
    assert params == {"p0": 42, "p1": value, "p2": value}


def tables_read(select: Select) -> list[Table]:
    if isinstance(select.source, Table):
        return [select.source]
    if isinstance(select.source, Join):
        return tables_read(select.source.left) + tables_read(select.source.right)
    if isinstance(select.source, Select):
        return tables_read(select.source)
    return [t for inner in select.source.selects for t in tables_read(inner)]


@given(
    st.integers(min_value=1, max_value=2**32 - 1),
    st.lists(st.sampled_from(["rollup_1h", "events"]), min_size=1, max_size=4),
    st.booleans(),
    st.booleans(),
)
def test_every_table_read_is_guarded_by_its_customer(
    customer_id: int, tables: list[str], joined: bool, nested: bool
) -> None:
    select = Select((PLAYS,), UnionAll(tuple(Select((PLAYS,), Table(t, customer_id)) for t in tables)))
    if joined:  # the same reads, as the left side of a join with one more read on the right
        select = Select((PLAYS,), Join("LEFT", select, Select((PLAYS,), Table("views", customer_id)), ()))
        tables = [*tables, "views"]
    if nested:  # the same reads, in a subquery
        select = Select((PLAYS,), select)
    sql, params = print_select(select)
    guards = sql.count("WHERE `customer_id` = {p")
    assert guards == len(tables_read(select)) == len(tables)
    assert list(params.values()) == [customer_id] * len(tables)
