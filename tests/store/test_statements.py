"""The store runs printed statements only, and the printer's inserts and deletes touch one customer's rows."""

from __future__ import annotations

import pytest

from sightline.query.ast import Aliased, Column, Delete, Func, Insert, Integer, Param, Row, Select, Symbol, Table
from sightline.query.printer import PING, print_delete, print_insert, print_select
from sightline.store import EmbeddedStore
from sightline.store.schema import STORED_DAY_SLICES_TABLE


def test_text_is_refused(store: EmbeddedStore) -> None:
    # mypy --strict refuses each of these calls (`warn_unused_ignores` would fail the lint if it did not)
    with pytest.raises(TypeError, match="printed statements only"):
        store.query("SELECT 1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="printed statements only"):
        store.execute("DROP TABLE events")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="printed statements only"):
        store.read_internal(("SELECT 1", {}))  # type: ignore[arg-type]
    assert store.query(PING).num_rows == 1


def _record(customer_id: int, slice_id: int) -> Insert:
    day = Func("toDate", (Func("toDateTime", (Param(86400 * 20_000, "Int64"),)), Symbol("UTC")))
    columns = (
        Aliased(Param("contentpaths", "String"), "kind"),
        Aliased(day, "day"),
        Aliased(Integer(slice_id), "slice"),
        Aliased(Param(5, "UInt64"), "views_version"),
    )
    return Insert(STORED_DAY_SLICES_TABLE, customer_id, Row(columns))


def _slices(store: EmbeddedStore, customer_id: int) -> list[int]:
    select = Select((Aliased(Column("slice"), "slice"),), Table(STORED_DAY_SLICES_TABLE, customer_id))
    return sorted(store.query(print_select(select)).column("slice").to_pylist())


def test_inserts_and_deletes_are_of_one_customer(store: EmbeddedStore) -> None:
    for customer_id, slice_id in ((7, 1), (7, 2), (8, 1), (8, 2)):
        store.execute(print_insert(_record(customer_id, slice_id)))
    assert _slices(store, 7) == _slices(store, 8) == [1, 2]
    # the same condition, deleting customer 7's: customer 8's rows stay
    store.execute(
        print_delete(Delete(STORED_DAY_SLICES_TABLE, 7, Func("has", (Param((1,), "Array(UInt64)"), Column("slice")))))
    )
    assert _slices(store, 7) == [2]
    assert _slices(store, 8) == [1, 2]
