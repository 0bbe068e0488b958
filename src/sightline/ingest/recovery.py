"""The collector's view state rebuilt from the store at start.

The sessionizer's state is in memory. Without this, a restart would forget which `seq`s each view sent
(a client's retry after the restart would be stored twice) and which views were open (they would never
get their `exit`, so an attempt that never started would never count as EBVS). At start, for each
customer, the views with events in the last `LOOKBACK_MS` that are still open, or that sent something
in the last 30 minutes, are restored with their `seq`s, state, last event time and dimensions; so are the
views still open that fell silent before that and started in the `STALE_LOOKBACK_MS` before (a collector
down for longer than the lookback), from `views`, with their highest `seq`. The sweeper then closes those
idle for 30 minutes at their last event's time, as if no restart happened. `restore_views` restores
given views whatever their age (the views of CMCD events a crash may have stored already, which the
collector offers again: `ingest.intake`).
Invariant: runs after the spool's replay (the store holds every acknowledged event) and before serving.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from sightline.catalog import DIMENSIONS
from sightline.catalog.parts import OUTCOMES
from sightline.ingest.sessions import IDLE_CLOSE_MS, TERMINAL, Sessionizer, view_start_ms
from sightline.query.ast import (
    Aliased,
    Binary,
    Column,
    Expr,
    Func,
    InList,
    InSelect,
    Integer,
    Param,
    Select,
    Table,
    and_all,
)
from sightline.query.compile import moment
from sightline.query.printer import Statement, print_select
from sightline.query.timeline import EVENTS_BEFORE_START
from sightline.store.base import Store

LOOKBACK_MS = 24 * 3600 * 1000
"""How far back the events of recent views are read (their `seq`s keep a client's retry out)."""
NO_SEQ = 2**32 - 1
"""The `closed_at` of a view without a terminal event (above every `seq`)."""
STALE_LOOKBACK_MS = 30 * 24 * 3600 * 1000
"""How far back views still open and silent since before `LOOKBACK_MS` are looked for: older ones stay open."""


def _view_columns() -> tuple[Aliased, ...]:
    """Per view of a SELECT on `events` grouped by view: its seqs, started, closed (and its terminal event's seq),
    last event time, dimensions."""
    terminal = Binary(
        "OR",
        InList(Column("event"), tuple(Param(name, "String") for name in sorted(TERMINAL))),
        Binary("AND", Binary("=", Column("event"), Param("error", "String")), Binary("=", Column("fatal"), Integer(1))),
    )
    return (
        Aliased(Func("toString", (Column("view_id"),)), "view"),
        Aliased(Func("groupArray", (Column("seq"),)), "seqs"),
        Aliased(Func("max", (Column("started"),)), "was_started"),
        Aliased(Func("max", (Func("if", (terminal, Integer(1), Integer(0))),)), "is_closed"),
        Aliased(Func("min", (Func("if", (terminal, Column("seq"), Integer(NO_SEQ))),)), "closed_at"),
        Aliased(Func("max", (Func("toUnixTimestamp64Milli", (Column("ts"),)),)), "last_ts"),
        *(Aliased(Func("argMax", (Column(d.name), Column("ts"))), f"dim_{d.name}") for d in DIMENSIONS),
    )


def _since(ms: int, column: str = "ts") -> Expr:
    """`column >= ms` (epoch milliseconds, to the second below), bounded as every stored time is (`moment`)."""
    return Binary(">=", Column(column), moment(datetime.fromtimestamp(ms // 1000, UTC)))


def recent_views_query(customer_id: int, now_ms: int) -> Select:
    """One row per view of `customer_id` open in the lookback, active in the last 30 minutes, or started in them
    or after (by its id's time: the views the collector does not read back, `ingest.pipeline.is_fresh`)."""
    started_ms = Func("toUnixTimestamp64Milli", (Func("UUIDv7ToDateTime", (Column("view_id"),)),))
    recent = Param(now_ms - IDLE_CLOSE_MS, "Int64")
    return Select(
        columns=_view_columns(),
        source=Table("events", customer_id),
        where=_since(now_ms - LOOKBACK_MS),
        group_by=(Column("view_id"),),
        having=Binary(
            "OR",
            Binary("OR", Binary("=", Column("is_closed"), Integer(0)), Binary(">=", Column("last_ts"), recent)),
            Binary(">=", started_ms, recent),
        ),
    )


def views_query(customer_id: int, view_ids: list[bytes]) -> Select:
    """One row per view of `view_ids` (UUIDv7) of `customer_id` with events, in the columns of
    `recent_views_query`; events are looked for from `EVENTS_BEFORE_START` before the earliest view's start."""
    earliest = min(view_start_ms(view_id) for view_id in view_ids)
    ids = InList(Column("view_id"), tuple(Param(str(uuid.UUID(bytes=view_id)), "UUID") for view_id in view_ids))
    return Select(
        columns=_view_columns(),
        source=Table("events", customer_id),
        where=Binary("AND", _since(earliest - EVENTS_BEFORE_START // timedelta(milliseconds=1)), ids),
        group_by=(Column("view_id"),),
    )


def stored_views_query(customer_id: int, view_ids: list[bytes]) -> Select:
    """The views of `view_ids` (UUIDv7) of `customer_id` that `views` holds, found by its key (the view's start is
    its id's time): cheap, where reading a view's events takes the hours since its start."""
    starts = [view_start_ms(view_id) for view_id in view_ids]
    since = _since(min(starts), "view_start")
    until = Binary("<", Column("view_start"), moment(datetime.fromtimestamp(max(starts) // 1000 + 1, UTC)))
    ids = InList(Column("view_id"), tuple(Param(str(uuid.UUID(bytes=view_id)), "UUID") for view_id in view_ids))
    return Select(
        (Aliased(Func("toString", (Column("view_id"),)), "view"),),
        Table("views", customer_id),
        where=and_all([since, until, ids]),
        group_by=(Column("view_id"),),
    )


def stale_views_query(customer_id: int, now_ms: int) -> Select:
    """One row per view of `customer_id` started in the `STALE_LOOKBACK_MS` before now, still open (no
    outcome), whose last event is older than `LOOKBACK_MS`; in the columns of `recent_views_query`. The
    views are found on the few columns that say so (merged with FINAL), then their other columns are read
    for those views alone and merged by `max`, as `views` merges them."""
    started = _since(now_ms - STALE_LOOKBACK_MS, "view_start")
    silent = Binary("<", Func("toUnixTimestamp64Milli", (Column("last_ts"),)), Param(now_ms - LOOKBACK_MS, "Int64"))
    is_open = [Binary("=", Column(outcome), Integer(0)) for outcome in OUTCOMES]
    conditions: list[Expr] = [started, silent, *is_open]
    stale = Select(
        (Aliased(Column("view_id"), "view_id"),), Table("views", customer_id, final=True), and_all(conditions)
    )
    columns = (
        Aliased(Func("toString", (Column("view_id"),)), "view"),
        Aliased(Func("array", (Func("max", (Column("max_seq"),)),)), "seqs"),
        Aliased(Func("max", (Column("started"),)), "was_started"),
        Aliased(Integer(0), "is_closed"),
        Aliased(Integer(NO_SEQ), "closed_at"),
        Aliased(Func("toUnixTimestamp64Milli", (Func("max", (Column("last_ts"),)),)), "last_ts"),
        *(Aliased(Func("max", (Column(d.name),)), f"dim_{d.name}") for d in DIMENSIONS),
    )
    where = Binary("AND", started, InSelect(Column("view_id"), stale))
    return Select(columns, Table("views", customer_id), where=where, group_by=(Column("view_id"),))


def restore_sessions(store: Store, sessions: Sessionizer, customer_ids: list[int], now_ms: int) -> int:
    """Restore the recent and the stale open views of `customer_ids` into `sessions`, least recently active
    first; how many."""
    queries = [
        (customer_id, query)
        for customer_id in customer_ids
        for query in (recent_views_query(customer_id, now_ms), stale_views_query(customer_id, now_ms))
    ]
    return _restore(store.read_internal, sessions, queries)


def restore_views(store: Store, sessions: Sessionizer, view_ids: dict[int, list[bytes]]) -> int:
    """Restore the given views (by customer) that have events in the store into `sessions`, so that events of
    theirs stored already are recognised when they are offered again; how many. The views the store does not
    hold (most often: new ones) cost one lookup by key, not a read of their events."""
    queries = []
    for customer_id, ids in view_ids.items():
        stored = (
            store.query(print_select(stored_views_query(customer_id, ids))).column("view").to_pylist() if ids else []
        )
        if stored:
            queries.append((customer_id, views_query(customer_id, [uuid.UUID(view).bytes for view in stored])))
    return _restore(store.query, sessions, queries)


def _restore(read: Callable[[Statement], pa.Table], sessions: Sessionizer, queries: list[tuple[int, Select]]) -> int:
    """Restore the views the `queries` find (run by `read`: a query session of the store for a few views while it
    serves, so as not to wait for its inserts; the internal session at start)."""
    rows: list[tuple[int, dict[str, Any]]] = []
    for customer_id, query in queries:
        table = read(print_select(query))
        rows.extend((customer_id, row) for row in table.to_pylist())
    for customer_id, row in sorted(rows, key=lambda pair: int(pair[1]["last_ts"])):
        sessions.restore(
            customer_id,
            uuid.UUID(row["view"]).bytes,
            {d.name: row[f"dim_{d.name}"] for d in DIMENSIONS},
            seqs=set(row["seqs"]),
            started=bool(row["was_started"]),
            closed_at=int(row["closed_at"]) if row["is_closed"] else None,
            last_ts=int(row["last_ts"]),
        )
    return len(rows)
