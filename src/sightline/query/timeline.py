"""The event timeline of one view: its events in order, with every per-event field of the catalog.

The view is found by its id and the time its UUIDv7 encodes (its start): the SELECT reads `events` under
the tenant guard, from `EVENTS_BEFORE_START` before the view's start (floored to the second) to its last event
(`views.last_ts`: up to 7 days after its start, as the collector's window has it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sightline.catalog import EVENT_FIELDS
from sightline.query.ast import Aliased, Binary, Column, Func, OrderBy, Param, Select, Table, and_all
from sightline.query.compile import in_range
from sightline.query.period import Period
from sightline.query.pipeline import Compiled

TIMELINE_FIELDS: tuple[str, ...] = ("timestamp", "event", *(f.name for f in EVENT_FIELDS))
"""The fields of a timeline event: its time (epoch s, ms as a fraction), type and the catalog's fields."""
ALWAYS: frozenset[str] = frozenset({"timestamp", "event", "seq", "started"})
"""Fields every timeline event shows; the others only when they have a value (not 0 or empty)."""


EVENTS_BEFORE_START = timedelta(days=1)
"""How long before its view's start an event may be: the collector stores events from its window's lead
(`event_max_ahead_s`, a day by default) before their view's start (`ingest.window`)."""
LATEST_START_MS = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp()) * 1000
"""No view starts from 2100 on (the collectors refuse such times); 48 bits of ms reach the year 10889, past what a
datetime holds."""


def view_start(view_id: uuid.UUID) -> datetime | None:
    """The start a UUIDv7 view id encodes (its first 48 bits, ms); None for another UUID version, or a start from
    2100 on (no view's)."""
    start_ms = view_id.int >> 80
    if view_id.version != 7 or start_ms >= LATEST_START_MS:
        return None
    return datetime.fromtimestamp(start_ms / 1000, UTC)


def view_period(start: datetime) -> Period:
    """The whole minute holding `start`: the period of a session query for that one view."""
    minute = start.replace(second=0, microsecond=0)
    return Period(minute, minute + timedelta(minutes=1))


def compile_timeline(customer_id: int, view_id: uuid.UUID, start: datetime, last_event: datetime) -> Compiled:
    """The events of the view in order (sequence, then time); `last_event`: the time of its last one."""
    ts = Column("ts")
    columns = [Aliased(ts, "timestamp"), Aliased(Func("toString", (Column("event"),)), "event")]
    columns += [Aliased(Column(name), name) for name in TIMELINE_FIELDS[2:]]
    floor = start.replace(microsecond=0)
    until = max(floor, last_event.replace(microsecond=0)) + timedelta(seconds=1)
    where = and_all(
        [Binary("=", Column("view_id"), Param(str(view_id), "UUID")), in_range(ts, floor - EVENTS_BEFORE_START, until)]
    )
    order = (OrderBy(Column("seq"), "ASC"), OrderBy(ts, "ASC"))
    return Compiled(Select(tuple(columns), Table("events", customer_id), where=where, order_by=order))
