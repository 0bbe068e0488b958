"""The columnar layout of an event batch handed to `Store.insert_events`, and the SQL that reads it.

A batch is an Arrow table with one column per `events` column, named alike, except that `view_id` is
the UUID's 16 bytes (big-endian, fixed_size_binary(16)) and `ts` is milliseconds since the epoch
(int64). The engine converts both, which is far faster than converting in Python.
"""

from __future__ import annotations

import pyarrow as pa

from sightline.store.schema import event_columns

EVENT_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in event_columns())


def _select_expression(name: str) -> str:
    if name == "view_id":
        return "toUUID(UUIDNumToString(view_id))"
    if name == "ts":
        return "fromUnixTimestamp64Milli(ts, 'UTC')"
    return f"`{name}`"


def insert_select_sql(source: str) -> str:
    """`INSERT INTO events … SELECT … FROM <source>` for a batch in this layout."""
    columns = ", ".join(f"`{n}`" for n in EVENT_COLUMN_NAMES)
    selects = ", ".join(_select_expression(n) for n in EVENT_COLUMN_NAMES)
    return f"INSERT INTO events ({columns}) SELECT {selects} FROM {source}"


def check_batch(batch: pa.Table) -> None:
    """Raise ValueError when `batch` does not have the layout's columns and key types."""
    missing = [n for n in EVENT_COLUMN_NAMES if n not in batch.column_names]
    if missing:
        raise ValueError(f"event batch lacks columns {missing}")
    if batch.schema.field("view_id").type != pa.binary(16):
        raise ValueError("event batch column view_id must be fixed_size_binary(16)")
    if batch.schema.field("ts").type != pa.int64():
        raise ValueError("event batch column ts must be int64 milliseconds")
