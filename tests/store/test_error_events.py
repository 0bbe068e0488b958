"""Migration 5: `error_events` holds every error and ad error of `events`, stored before it or after, once
each, even when the migration runs again after a crash or a spool segment is inserted twice."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

from sightline.catalog.events import ERROR_EVENT_TYPES, ERROR_EVENTS_TABLE
from sightline.ingest.native import BATCH, to_event_table
from sightline.query.errors import ERROR_EVENTS
from sightline.query.printer import print_definition
from sightline.store import EmbeddedStore
from sightline.store.migrations import apply_migrations
from sightline.store.schema import error_events_ddl, event_columns, render
from tests.handwritten import by_hand

CUSTOMER = 7
START_MS = 1_780_000_000_000


def batch(view: int, events: list[tuple[str, int]]) -> pa.Table:
    view_id = str(uuid.UUID(int=((START_MS + view) << 80) | (0x7 << 76) | (0b10 << 62) | view))
    rows: list[dict[str, Any]] = [
        {"event": name, "ts": START_MS + view + seq * 1000, "seq": seq, "fatal": int(name == "error" and seq > 2),
         "error_code": f"E{view}-{seq}" if "error" in name else ""}
        for name, seq in events
    ]  # fmt: skip
    parsed = BATCH.validate_python({"view_id": view_id, "dimensions": {"cdn": f"cdn-{view}"}, "events": rows})
    return to_event_table(CUSTOMER, [parsed])


def rows(store: EmbeddedStore, table: str, where: str = "1") -> list[tuple[Any, ...]]:
    columns = ", ".join(f"`{c.name}`" for c in event_columns())
    found = store.query(by_hand(f"SELECT {columns} FROM {table} WHERE {where} ORDER BY view_id, seq")).to_pylist()
    return [tuple(row.values()) for row in found]


def test_error_events_hold_each_error_of_events_once(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "data")
    try:
        assert apply_migrations(store, until=4) == [1, 2, 3, 4]
        store.insert_events(batch(1, [("play_request", 0), ("error", 1), ("heartbeat", 2), ("error", 3)]))
        store.insert_events(batch(2, [("ad_request", 0), ("ad_error", 1), ("end", 2)]))
        assert apply_migrations(store, until=5) == [5]
        errors_in_events = "event IN ('error', 'ad_error')"
        assert len(rows(store, ERROR_EVENTS_TABLE)) == 3
        assert rows(store, ERROR_EVENTS_TABLE) == rows(store, "events", errors_in_events)

        later = batch(3, [("play_request", 0), ("error", 1), ("exit", 2)])
        store.insert_events(later, dedup_token="segment-1")
        store.insert_events(later, dedup_token="segment-1")  # a spool segment inserted again after a crash
        for statement in render(error_events_ddl(5)):  # the migration run again, as after a crash before its record
            store.execute(by_hand(statement))
        store.insert_events(batch(4, [("ad_error", 0)]))
        assert len(rows(store, ERROR_EVENTS_TABLE)) == 5
        assert rows(store, ERROR_EVENTS_TABLE) == rows(store, "events", errors_in_events)
        assert len(rows(store, "events")) == 11
    finally:
        store.close()


def test_the_error_api_counts_only_events_the_table_holds() -> None:
    printed = {print_definition(condition) for condition in ERROR_EVENTS.values()}
    assert printed == {f"`event` = '{name}'" for name in ERROR_EVENT_TYPES}
