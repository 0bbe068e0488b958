"""The printer's statements besides SELECT: inserts and deletes of one customer's rows, the collector's batch,
settings; values only as parameters, the customer's guard always there, no statement made elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sightline.query.ast import (
    Aliased,
    BatchInsert,
    BatchStored,
    Binary,
    Column,
    Delete,
    Func,
    InList,
    InSelect,
    Insert,
    Integer,
    Null,
    Param,
    Row,
    ScalarSelect,
    Select,
    Symbol,
    Table,
)
from sightline.query.printer import (
    Statement,
    print_batch_insert,
    print_batch_stored,
    print_definition,
    print_delete,
    print_insert,
    print_kill_query,
    print_partition_versions,
    print_select,
    print_session_setting,
)

SLICES = Func("has", (Param((3, 1), "Array(UInt64)"), Column("slice")))


def _views_of(customer_id: int) -> Select:
    return Select((Aliased(Column("view_id"), "view_id"),), Table("views", customer_id))


@pytest.mark.parametrize(
    ("statement", "sql", "params"),
    [
        (
            print_insert(
                Insert(
                    "stored_day_slices", 7, Row((Aliased(Param("paths", "String"), "kind"), Aliased(Integer(9), "n")))
                )
            ),
            "INSERT INTO `stored_day_slices` (`customer_id`, `kind`, `n`) SELECT {p0:UInt32} AS `customer_id`, "
            "{p1:String} AS `kind`, 9 AS `n`",
            {"p0": 7, "p1": "paths"},
        ),
        (
            print_insert(Insert("path_entries", 7, Select((Aliased(Column("n"), "n"),), Table("views", 7)))),
            "INSERT INTO `path_entries` (`customer_id`, `n`) SELECT {p0:UInt32} AS `customer_id`, `n` AS `n` "
            "FROM `views` WHERE `customer_id` = {p1:UInt32}",
            {"p0": 7, "p1": 7},
        ),
        (
            print_delete(Delete("path_entries", 7, SLICES)),
            "DELETE FROM `path_entries` WHERE `customer_id` = {p0:UInt32} AND has({p1:Array(UInt64)}, `slice`)",
            {"p0": 7, "p1": "[3,1]"},
        ),
        (
            print_delete(Delete("path_entries", 7, Binary("OR", SLICES, Binary("=", Column("n"), Integer(0))))),
            "DELETE FROM `path_entries` WHERE `customer_id` = {p0:UInt32} AND (has({p1:Array(UInt64)}, `slice`) "
            "OR `n` = 0)",
            {"p0": 7, "p1": "[3,1]"},
        ),
        (
            print_batch_insert(
                BatchInsert(
                    "events", ("customer_id", "ts"), (Column("customer_id"), Func("toDateTime", (Column("ts"),)))
                ),
                {"insert_deduplicate": 1, "insert_deduplication_token": "seg-1"},
            ),
            "INSERT INTO `events` (`customer_id`, `ts`) SELECT `customer_id`, toDateTime(`ts`) FROM Python(batch) "
            "SETTINGS insert_deduplicate = 1, insert_deduplication_token = {s_insert_deduplication_token:String}",
            {"s_insert_deduplication_token": "seg-1"},
        ),
        (
            print_select(Select((Aliased(Null(), "x"),), Table("views", 2))).with_settings({"log_comment": "q-1"}),
            "SELECT NULL AS `x` FROM `views` WHERE `customer_id` = {p0:UInt32} "
            "SETTINGS log_comment = {s_log_comment:String}",
            {"p0": 2, "s_log_comment": "q-1"},
        ),
        (
            print_batch_stored(
                BatchStored(
                    BatchInsert(
                        "events", ("customer_id", "ts"), (Column("customer_id"), Func("toDateTime", (Column("ts"),)))
                    ),
                    ("customer_id", "ts"),
                    InList(Column("customer_id"), (Param(4, "UInt32"), Param(5, "UInt32"))),
                )
            ),
            "SELECT count() AS n FROM `events` WHERE `customer_id` IN ({p0:UInt32}, {p1:UInt32}) "
            "AND (`customer_id`, `ts`) IN (SELECT `customer_id`, toDateTime(`ts`) FROM Python(batch))",
            {"p0": 4, "p1": 5},
        ),
        (
            print_batch_insert(
                BatchInsert(
                    "events", ("customer_id", "ts"), (Column("customer_id"), Func("toDateTime", (Column("ts"),)))
                ),
                {},
                (("customer_id", "UInt32"), ("ts", "Int64")),
            ),
            "INSERT INTO `events` (`customer_id`, `ts`) SELECT `customer_id`, toDateTime(`ts`) "
            "FROM input('customer_id UInt32, ts Int64') FORMAT ArrowStream",
            {},
        ),
        (
            print_batch_stored(
                BatchStored(
                    BatchInsert("events", ("customer_id",), (Column("customer_id"),)),
                    ("customer_id",),
                    Binary("=", Column("customer_id"), Param(4, "UInt32")),
                ),
                "sent_keys",
            ),
            "SELECT count() AS n FROM `events` WHERE `customer_id` = {p0:UInt32} "
            "AND (`customer_id`) IN (SELECT `customer_id` FROM `sent_keys`)",
            {"p0": 4},
        ),
        (print_kill_query("sightline-1"), "KILL QUERY WHERE query_id = {p0:String} SYNC", {"p0": "sightline-1"}),
        (print_session_setting("max_execution_time", 200.0), "SET max_execution_time = 200.0", {}),
        (print_session_setting("output_format_float_precision", 4), "SET output_format_float_precision = 4", {}),
        (
            print_partition_versions("views"),
            "SELECT partition, max(max_block_number) AS version FROM system.parts "
            "WHERE database = currentDatabase() AND table = {p0:String} AND active GROUP BY partition",
            {"p0": "views"},
        ),
        (
            print_partition_versions("views_local", "sightline"),
            "SELECT partition, sum(replica_version) AS version FROM (SELECT hostName() AS replica, partition, "
            "max(max_block_number) AS replica_version FROM clusterAllReplicas(sightline, system.parts) "
            "WHERE database = currentDatabase() AND table = {p0:String} AND active GROUP BY replica, partition) "
            "GROUP BY partition",
            {"p0": "views_local"},
        ),
    ],
)
def test_printed_statements(statement: Statement, sql: str, params: dict[str, object]) -> None:
    assert (statement.sql, statement.params) == (sql, params)


@pytest.mark.parametrize("cluster", ["a b", "c, system.tables", "x)", ""])
def test_a_cluster_name_is_an_identifier(cluster: str) -> None:
    with pytest.raises(ValueError, match="cluster"):
        print_partition_versions("views_local", cluster)


def test_symbols_are_printed_quoted_and_cannot_hold_a_quote() -> None:
    assert print_definition(Func("toStartOfHour", (Column("ts"), Symbol("UTC")))) == "toStartOfHour(`ts`, 'UTC')"
    for value in ("it's", "a\\b", "x\ny", "é"):
        with pytest.raises(ValueError, match="not a symbol"):
            Symbol(value)


def test_a_definition_binds_nothing() -> None:
    with pytest.raises(ValueError, match="no bound value"):
        print_definition(Binary("=", Column("cdn"), Param("akamai", "String")))
    with pytest.raises(ValueError, match="no bound value"):
        print_definition(ScalarSelect(Select((Aliased(Integer(1), "x"),), Table("views", 1))))


def test_an_insert_writes_its_customer_id_itself() -> None:
    with pytest.raises(ValueError, match="writes customer_id itself"):
        print_insert(Insert("path_entries", 7, Row((Aliased(Integer(8), "customer_id"),))))


@pytest.mark.parametrize(
    "rows",
    [
        Select((Aliased(Column("n"), "n"),), Table("views", 8)),
        Select((Aliased(Column("n"), "n"),), Table("views", 7), where=InSelect(Column("view_id"), _views_of(8))),
        Row((Aliased(ScalarSelect(Select((Aliased(Func("count", ()), "n"),), Table("views", 8))), "n"),)),
    ],
)
def test_an_insert_reads_only_its_customers_tables(rows: Select | Row) -> None:
    with pytest.raises(ValueError, match="reads customers \\[8\\]"):
        print_insert(Insert("path_entries", 7, rows))


def test_a_delete_reads_only_its_customers_tables() -> None:
    with pytest.raises(ValueError, match="reads customers \\[8\\]"):
        print_delete(Delete("path_entries", 7, InSelect(Column("view_id"), _views_of(8))))


def test_a_batch_is_matched_by_columns_its_insert_stores() -> None:
    insert = BatchInsert("events", ("customer_id",), (Column("customer_id"),))
    with pytest.raises(ValueError, match="a key of columns the insert stores"):
        BatchStored(insert, ("view_id",), Binary("=", Column("customer_id"), Integer(1)))


@pytest.mark.parametrize(
    "sent", [(("ts", "String') FROM events --"),), (("ts'", "String"),), (("ts", "Nullable(String)"),)]
)
def test_the_structure_of_a_sent_batch_is_of_names_and_allowed_types(sent: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(ValueError, match="not a column of a sent batch"):
        print_batch_insert(BatchInsert("events", ("ts",), (Column("ts"),)), {}, sent)


def test_a_statement_is_made_by_the_printer_alone() -> None:
    with pytest.raises(TypeError, match="printer alone"):
        Statement("SELECT 1", {}, object())  # type: ignore[arg-type]


values = st.one_of(
    st.text(max_size=100),
    st.integers(min_value=0, max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
)


def _typed(value: str | int | float | datetime) -> Param:
    kind = {str: "String", int: "UInt64", float: "Float64", datetime: "DateTime"}[type(value)]
    return Param(value, kind)


@given(st.integers(min_value=0, max_value=2**32 - 1), st.lists(values, min_size=1, max_size=5))
def test_inserted_values_never_enter_the_sql_text(customer_id: int, row: list[str | int | float | datetime]) -> None:
    def insert(of: list[str | int | float | datetime]) -> Statement:
        columns = tuple(Aliased(_typed(v), f"c{k}") for k, v in enumerate(of))
        return print_insert(Insert("stored_day_slices", customer_id, Row(columns)))

    samples: dict[type, str | int | float | datetime] = {
        str: "x",
        int: 1,
        float: 1.0,
        datetime: datetime(2001, 1, 1, tzinfo=UTC),
    }
    reference = [samples[type(v)] for v in row]
    statement = insert(row)
    assert statement.sql == insert(reference).sql  # the text does not depend on the values
    assert statement.sql.startswith("INSERT INTO `stored_day_slices` (`customer_id`, ")
    assert statement.params["p0"] == customer_id  # the customer's column first, bound
    assert len(statement.params) == len(row) + 1


@given(st.integers(min_value=0, max_value=2**32 - 1), st.text(max_size=100), st.booleans())
def test_deleted_rows_are_the_customers_whatever_the_condition(customer_id: int, value: str, nested: bool) -> None:
    def delete(of: str) -> Statement:
        condition = Binary("=", Column("kind"), Param(of, "String"))
        if nested:  # a condition on a subquery of the customer's own table
            where = Binary("AND", condition, InSelect(Column("view_id"), _views_of(customer_id)))
            return print_delete(Delete("stored_day_slices", customer_id, Binary("OR", where, condition)))
        return print_delete(Delete("stored_day_slices", customer_id, condition))

    statement = delete(value)
    assert statement.sql == delete("reference").sql
    guarded = "DELETE FROM `stored_day_slices` WHERE `customer_id` = {p0:UInt32} AND "
    assert statement.sql.startswith(guarded + ("(" if nested else ""))  # an OR cannot reach around the guard
    assert statement.params["p0"] == customer_id
    assert value in statement.params.values()


@given(st.text(max_size=100))
def test_a_setting_of_text_is_bound(value: str) -> None:
    statement = print_select(_views_of(1)).with_settings({"log_comment": value})
    assert statement.sql == print_select(_views_of(1)).with_settings({"log_comment": "reference"}).sql
    assert statement.params["s_log_comment"] == value
