"""The columnar layout of an event batch handed to `Store.insert_events`, and the insert that reads it.

A batch is an Arrow table with one column per `events` column, named alike, except that `view_id` is
the UUID's 16 bytes (big-endian, fixed_size_binary(16)) and `ts` is milliseconds since the epoch
(int64). The engine converts both, which is far faster than converting in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from sightline.catalog import DIMENSIONS, EVENT_FIELDS
from sightline.query.ast import (
    Aliased,
    BatchInsert,
    BatchStored,
    Binary,
    Column,
    Expr,
    Func,
    InList,
    OrderBy,
    Param,
    Select,
    Symbol,
    Table,
)
from sightline.query.printer import BatchStructure
from sightline.store.base import DataArrival
from sightline.store.schema import event_columns

EVENT_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in event_columns())
_ARROW_TYPES: dict[str, pa.DataType] = {
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt32": pa.uint32(),
    "UInt64": pa.uint64(),
    "Float32": pa.float32(),
}
_KEY_TYPES = {"customer_id": pa.uint32(), "view_id": pa.binary(16), "ts": pa.int64(), "event": pa.string()}
EVENT_SCHEMA = pa.schema(
    [(c.name, _KEY_TYPES.get(c.name) or _ARROW_TYPES.get(c.clickhouse_type, pa.string())) for c in event_columns()]
)
"""The canonical Arrow schema of the layout: what `conform` makes of every batch."""
_SENT_TYPES = {pa.binary(16): "FixedString(16)", pa.int64(): "Int64", pa.string(): "String"}
EVENTS_SENT: BatchStructure = tuple(
    (field.name, _SENT_TYPES.get(field.type) or next(n for n, t in _ARROW_TYPES.items() if t == field.type))
    for field in EVENT_SCHEMA
)
"""The canonical layout as a server receives it (`conform`ed, in Arrow): the structure of the insert's input."""
_ADDED_LATER = {d.name: d for d in DIMENSIONS if d.schema_version > 1}


def _stored_value(name: str) -> Expr:
    """Column `name` of `events` from the batch's column of that name."""
    if name == "view_id":
        return Func("toUUID", (Func("UUIDNumToString", (Column("view_id"),)),))
    if name == "ts":
        return Func("fromUnixTimestamp64Milli", (Column("ts"), Symbol("UTC")))
    return Column(name)


EVENTS_INSERT = BatchInsert("events", EVENT_COLUMN_NAMES, tuple(_stored_value(n) for n in EVENT_COLUMN_NAMES))
"""The insert of a batch in this layout into `events` (printed by `query.printer.print_batch_insert`)."""

STORED_KEY = ("customer_id", "view_id", "seq", "ts")
"""What identifies an event of a batch among the stored ones (`Store.count_stored`)."""


def events_stored(customer_ids: list[int], low_ms: int, high_ms: int) -> BatchStored:
    """How many rows of a batch of `customer_ids`' events, at times from `low_ms` to `high_ms`, `events` holds
    (printed by `query.printer.print_batch_stored`): searched among those customers' rows at those times."""
    ts = Column("ts")
    customers = InList(Column("customer_id"), tuple(Param(c, "UInt32") for c in customer_ids))
    times = Binary("AND", Binary(">=", ts, _moment(low_ms)), Binary("<=", ts, _moment(high_ms)))
    return BatchStored(EVENTS_INSERT, STORED_KEY, Binary("AND", customers, times))


def _moment(ms: int) -> Func:
    return Func("fromUnixTimestamp64Milli", (Param(ms, "Int64"), Symbol("UTC")))


def _copied_value(name: str) -> Expr:
    """Column `name` of a batch from the column of `events` (the inverse of `_stored_value`); named by table,
    as the batch's columns are aliased with the names of the table's."""
    column = Column(name, "events")
    if name == "view_id":
        return Func("UUIDStringToNum", (Func("toString", (column,)),))
    if name == "ts":
        return Func("toUnixTimestamp64Milli", (column,))
    if name == "event":
        return Func("toString", (column,))
    return column


def stored_batch(customer_id: int, low_ms: int, high_ms: int) -> Select:
    """`customer_id`'s events at times in [low_ms, high_ms) as a batch of this layout, in the order of their key
    (so that the same events make the same batch)."""
    ts = Column("ts", "events")
    within = Binary("AND", Binary(">=", ts, _moment(low_ms)), Binary("<", ts, _moment(high_ms)))
    return Select(
        tuple(Aliased(_copied_value(name), name) for name in EVENT_COLUMN_NAMES),
        Table("events", customer_id),
        where=within,
        order_by=tuple(OrderBy(Column(name, "events"), "ASC") for name in ("view_id", "seq", "ts")),
    )


def with_added_dimensions(batch: pa.Table) -> pa.Table:
    """`batch` with the dimensions that later migrations added and it lacks (a spool segment written by an
    older version), empty: "" or 0. Columns are put in the layout's order; other columns are left as they are."""
    missing = [name for name in EVENT_COLUMN_NAMES if name in _ADDED_LATER and name not in batch.column_names]
    if not missing:
        return batch
    columns = {name: batch.column(name) for name in batch.column_names}
    for name in missing:
        number = _ADDED_LATER[name].kind == "number"
        columns[name] = pa.array([0 if number else ""] * batch.num_rows, pa.uint32() if number else pa.string())
    order = [n for n in EVENT_COLUMN_NAMES if n in columns] + [n for n in columns if n not in EVENT_COLUMN_NAMES]
    return pa.table({name: columns[name] for name in order})


def check_batch(batch: pa.Table) -> None:
    """Raise ValueError when `batch` does not have the layout's columns and key types."""
    present = set(batch.column_names)
    missing = [n for n in EVENT_COLUMN_NAMES if n not in present]
    if missing:
        raise ValueError(f"event batch lacks columns {missing}")
    if batch.schema.field("view_id").type != pa.binary(16):
        raise ValueError("event batch column view_id must be fixed_size_binary(16)")
    if batch.schema.field("ts").type != pa.int64():
        raise ValueError("event batch column ts must be int64 milliseconds")


@dataclass(frozen=True, slots=True)
class ViewEvents:
    """Events of one view as the collector admitted them: dicts of the native event model (`ts` and `event`
    required, other fields optional), with the view's dimensions (missing ones empty)."""

    customer_id: int
    view_id: bytes
    dimensions: dict[str, Any]
    events: list[dict[str, Any]]


_DIMENSION_DEFAULTS: dict[str, Any] = {d.name: 0 if d.kind == "number" else "" for d in DIMENSIONS}
_FIELD_DEFAULTS: dict[str, Any] = {
    f.name: 0.0 if f.clickhouse_type.startswith("Float") else "" if "String" in f.clickhouse_type else 0
    for f in EVENT_FIELDS
}


_EVENT_PART = pa.schema([EVENT_SCHEMA.field(name) for name in ("ts", "event", *_FIELD_DEFAULTS)])
_DIMENSION_PART = pa.schema([EVENT_SCHEMA.field(name) for name in _DIMENSION_DEFAULTS])
_DEFAULTS = {**_DIMENSION_DEFAULTS, **_FIELD_DEFAULTS}


_CONTROLS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
"""Control characters but tab, line feed and carriage return (NUL, ESC, …: C0, DEL and C1)."""


def _filled(table: pa.Table, name: str) -> pa.ChunkedArray:
    """Column `name` of `table` with its missing values (a key a dict left out) as the field's default, and,
    in text, each control character (`_CONTROLS`) as U+FFFD."""
    column = table.column(name)
    if pa.types.is_string(column.type):  # before the defaults: most event text fields are left out (null)
        column = pc.replace_substring_regex(column, pattern=_CONTROLS, replacement="\ufffd")
    return pc.fill_null(column, _DEFAULTS[name]) if column.null_count else column


def view_events_table(runs: list[ViewEvents]) -> pa.Table:
    """`runs` as one batch of the layout (`EVENT_SCHEMA`). Arrow converts the event dicts and each run's
    dimensions once (the run's are then repeated by index), so no Python loop runs per event and column.
    Control characters in text are stored as U+FFFD (docs/beacon-format.md)."""
    counts = np.fromiter((len(run.events) for run in runs), dtype=np.int64, count=len(runs))
    run_of_row = pa.array(np.repeat(np.arange(len(runs)), counts))
    events = pa.Table.from_pylist([event for run in runs for event in run.events], schema=_EVENT_PART)
    dimensions = pa.Table.from_pylist([run.dimensions for run in runs], schema=_DIMENSION_PART)
    columns = {
        "customer_id": pa.array([run.customer_id for run in runs], pa.uint32()).take(run_of_row),
        "view_id": pa.array([run.view_id for run in runs], pa.binary(16)).take(run_of_row),
        **{name: _filled(dimensions, name).take(run_of_row) for name in _DIMENSION_PART.names},
        "ts": events.column("ts"),
        "event": events.column("event"),
        **{name: _filled(events, name) for name in _FIELD_DEFAULTS},
    }
    return pa.table([columns[field.name] for field in EVENT_SCHEMA], schema=EVENT_SCHEMA)


def conform(batch: pa.Table) -> pa.Table:
    """`batch` with exactly the layout's columns, in order, of the canonical types (ValueError if it cannot be)."""
    check_batch(batch)
    if batch.schema == EVENT_SCHEMA:
        return batch
    try:
        return batch.select(list(EVENT_COLUMN_NAMES)).cast(EVENT_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ValueError(f"event batch does not convert to the layout: {error}") from error


def view_start_ms(view_ids: pa.Array | pa.ChunkedArray) -> NDArray[np.int64]:
    """The start time (ms) of each view: the first 48 bits of its UUIDv7 id, big-endian."""
    ids = view_ids.combine_chunks() if isinstance(view_ids, pa.ChunkedArray) else view_ids
    raw = np.frombuffer(ids.buffers()[1], dtype=np.uint8)[ids.offset * 16 : (ids.offset + len(ids)) * 16]
    head = raw.reshape(-1, 16)[:, :6].astype(np.int64)
    starts: NDArray[np.int64] = (head << np.array([40, 32, 24, 16, 8, 0], dtype=np.int64)).sum(axis=1)
    return starts


def arrivals_of(batch: pa.Table) -> tuple[DataArrival, ...]:
    """What a batch in this layout brings, per customer: the span of its event times and view starts."""
    if batch.num_rows == 0:
        return ()
    customers = batch.column("customer_id").to_numpy()
    ts = batch.column("ts").to_numpy()
    starts = view_start_ms(batch.column("view_id"))
    arrivals = []
    for customer in np.unique(customers):
        rows = customers == customer
        low = min(int(ts[rows].min()), int(starts[rows].min()))
        high = max(int(ts[rows].max()), int(starts[rows].max()))
        arrivals.append(DataArrival(int(customer), low, high))
    return tuple(arrivals)
