"""The collector's view state rebuilt from the store at start.

The sessionizer's state is in memory. Without this, a restart would forget which `seq`s each view sent
(a client's retry after the restart would be stored twice) and which views were open (they would never
get their `exit`, so an attempt that never started would never count as EBVS). At start, for each
customer, the views with events in the last `LOOKBACK_MS` that are still open, or that sent something
in the last 30 minutes, are restored with their `seq`s, state, last event time and dimensions; the
sweeper then closes those idle for 30 minutes at their last event's time, as if no restart happened.
Invariant: runs after the spool's replay (the store holds every acknowledged event) and before serving.
"""

from __future__ import annotations

import uuid
from typing import Any

from sightline.catalog import DIMENSIONS
from sightline.ingest.sessions import IDLE_CLOSE_MS, TERMINAL, Sessionizer
from sightline.query.ast import Aliased, Binary, Column, Func, InList, Integer, Param, Select, Table
from sightline.query.printer import print_select
from sightline.store.base import Store

LOOKBACK_MS = 24 * 3600 * 1000
"""How far back open views are looked for: a view silent longer than this before a restart is not closed."""


def recent_views_query(customer_id: int, now_ms: int) -> Select:
    """One row per view of `customer_id` open in the lookback, or active in the last 30 minutes."""
    terminal = Binary(
        "OR",
        InList(Column("event"), tuple(Param(name, "String") for name in sorted(TERMINAL))),
        Binary("AND", Binary("=", Column("event"), Param("error", "String")), Binary("=", Column("fatal"), Integer(1))),
    )
    columns = (
        Aliased(Func("toString", (Column("view_id"),)), "view"),
        Aliased(Func("groupArray", (Column("seq"),)), "seqs"),
        Aliased(Func("max", (Column("started"),)), "was_started"),
        Aliased(Func("max", (Func("if", (terminal, Integer(1), Integer(0))),)), "is_closed"),
        Aliased(Func("max", (Func("toUnixTimestamp64Milli", (Column("ts"),)),)), "last_ts"),
        *(Aliased(Func("argMax", (Column(d.name), Column("ts"))), f"dim_{d.name}") for d in DIMENSIONS),
    )
    return Select(
        columns=columns,
        source=Table("events", customer_id),
        where=Binary(">=", Column("ts"), Func("toDateTime", (Param((now_ms - LOOKBACK_MS) // 1000, "Int64"),))),
        group_by=(Column("view_id"),),
        having=Binary(
            "OR",
            Binary("=", Column("is_closed"), Integer(0)),
            Binary(">=", Column("last_ts"), Param(now_ms - IDLE_CLOSE_MS, "Int64")),
        ),
    )


def restore_sessions(store: Store, sessions: Sessionizer, customer_ids: list[int], now_ms: int) -> int:
    """Restore the recent views of `customer_ids` into `sessions`, least recently active first; how many."""
    rows: list[tuple[int, dict[str, Any]]] = []
    for customer_id in customer_ids:
        table = store.read_internal(*print_select(recent_views_query(customer_id, now_ms)))
        rows.extend((customer_id, row) for row in table.to_pylist())
    for customer_id, row in sorted(rows, key=lambda pair: int(pair[1]["last_ts"])):
        sessions.restore(
            customer_id,
            uuid.UUID(row["view"]).bytes,
            {d.name: row[f"dim_{d.name}"] for d in DIMENSIONS},
            seqs=set(row["seqs"]),
            started=bool(row["was_started"]),
            closed=bool(row["is_closed"]),
            last_ts=int(row["last_ts"]),
        )
    return len(rows)
