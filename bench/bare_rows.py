"""`INSERT INTO events SELECT … FROM numbers(n)`: rows of the events layout made by the engine alone.

The rows have the width of a simulated event (every column filled, 10 events per view, a few values
per dimension) so that the bare insert and the bulk path pay for the same columns and the same
materialized views; what differs is where the rows come from.
"""

from __future__ import annotations

from sightline.store.schema import Column, event_columns

_VIEW = "intDiv(number, 10)"
_START_MS = 1_780_000_000_000


def _value(column: Column) -> str:
    special = {
        "customer_id": "toUInt32(1001 + number % 2)",
        "view_id": (
            "toUUID(UUIDNumToString(toFixedString(unhex(concat(leftPad(hex(toUInt64("
            + str(_START_MS)
            + " + "
            + _VIEW
            + " * 50)), "
            "12, '0'), '7000', '8', leftPad(hex(" + _VIEW + "), 15, '0'))), 16)))"
        ),
        "ts": f"fromUnixTimestamp64Milli(toInt64({_START_MS} + {_VIEW} * 50 + (number % 10) * 30000), 'UTC')",
        "event": "['play_request', 'first_frame', 'heartbeat', 'heartbeat', 'heartbeat', 'stall_start', "
        "'stall_end', 'rendition_change', 'heartbeat', 'end'][number % 10 + 1]",
        "seq": "toUInt32(number % 10)",
        "started": "toUInt8(number % 10 > 0)",
    }
    if column.name in special:
        return special[column.name]
    ctype = column.clickhouse_type
    salt = sum(map(ord, column.name))
    if ctype == "String":  # high cardinality: ids and titles, one per view
        return f"toString({_VIEW} * {salt})"
    if "String" in ctype:  # a dimension constant within a view, from a few values
        cardinality = 3 + salt % 17
        values = ", ".join(f"'{column.name}-{i}'" for i in range(cardinality))
        return f"[{values}][{_VIEW} * {salt} % {cardinality} + 1]"
    if ctype == "Float32":
        return "toFloat32(30)"
    if ctype == "UInt8":
        return f"toUInt8(number % {salt % 50 + 50} = 0)"
    return f"to{ctype}(number * {salt} % 5000)"


def bare_insert_sql(rows: int) -> str:
    names = ", ".join(f"`{c.name}`" for c in event_columns())
    values = ",\n  ".join(_value(c) for c in event_columns())
    return (
        f"INSERT INTO events ({names})\nSELECT\n  {values}\nFROM numbers({int(rows)})\n"
        "SETTINGS parallel_view_processing = 1"
    )
