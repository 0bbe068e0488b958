"""The native beacon format: a batch of events of one playback view, carrying the view's dimensions.

The models are built from the catalog, so a dimension or event field added there is accepted here
and documented in docs/beacon-format.md without further edits. Invariants of a valid batch:
- `view_id` is a UUIDv7 minted by the player when the view starts (its time is the view's start);
- 1 to `MAX_EVENTS` events, each with a known `event` type and `ts` in epoch milliseconds;
- counters are non-negative and within their column's range; strings are at most 512 characters.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from sightline.catalog import DIMENSIONS, EVENT_FIELDS, EVENT_TYPES
from sightline.store.layout import ViewEvents, view_events_table

MAX_EVENTS = 1000
MAX_TEXT = 512
MIN_TS_MS = 946_684_800_000  # 2000-01-01
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01

_UINT_MAX = {"UInt8": 2**8 - 1, "UInt16": 2**16 - 1, "UInt32": 2**32 - 1, "UInt64": 2**64 - 1}
_STRICT = ConfigDict(extra="forbid", frozen=True)


def _field_definition(clickhouse_type: str, description: str, pattern: str | None = None) -> tuple[Any, Any]:
    if clickhouse_type in _UINT_MAX:
        return int, Field(default=0, ge=0, le=_UINT_MAX[clickhouse_type], description=description)
    if clickhouse_type == "Float32":
        return float, Field(default=0.0, ge=0, le=1e6, description=description)
    return str, Field(default="", max_length=MAX_TEXT, pattern=pattern, description=description)


if TYPE_CHECKING:
    ViewDimensions = BaseModel
    BeaconEvent = BaseModel
else:
    ViewDimensions = create_model(
        "ViewDimensions",
        __config__=_STRICT,
        __doc__="The view's dimensions; every one is optional (empty string or 0 when unknown).",
        **{d.name: _field_definition(d.clickhouse_type, d.description, d.pattern) for d in DIMENSIONS},
    )
    BeaconEvent = create_model(
        "BeaconEvent",
        __config__=_STRICT,
        __doc__="One playback event; fields that do not apply to its type are left out.",
        event=(Literal[EVENT_TYPES], Field(description="What happened.")),
        ts=(int, Field(ge=MIN_TS_MS, le=MAX_TS_MS, description="When, in milliseconds since the epoch (UTC).")),
        **{f.name: _field_definition(f.clickhouse_type, f.description) for f in EVENT_FIELDS},
    )


class BeaconBatch(BaseModel):
    """What a player POSTs: events of one view, in any order, with the view's dimensions."""

    model_config = _STRICT

    view_id: uuid.UUID = Field(description="UUIDv7 minted when the view started.")
    dimensions: ViewDimensions = Field(default_factory=ViewDimensions)
    events: list[BeaconEvent] = Field(min_length=1, max_length=MAX_EVENTS)

    @field_validator("view_id")
    @classmethod
    def _uuid_v7(cls, value: uuid.UUID) -> uuid.UUID:
        if value.version != 7:
            raise ValueError("view_id must be a UUIDv7 (its time is the view's start)")
        return value


EventRow = tuple[int, bytes, dict[str, Any], dict[str, Any]]
"""(customer id, view id as 16 bytes, the view's dimensions, one event's fields)."""


def event_table(rows: list[EventRow]) -> pa.Table:
    """`rows` in the store's columnar layout (`store.layout`), one row per event; consecutive rows of one
    view and dimensions are converted as one run."""
    runs: list[ViewEvents] = []
    for customer_id, view_id, dimensions, event in rows:
        last = runs[-1] if runs else None
        if last and (last.customer_id, last.view_id) == (customer_id, view_id) and last.dimensions is dimensions:
            last.events.append(event)
        else:
            runs.append(ViewEvents(customer_id, view_id, dimensions, [event]))
    return view_events_table(runs)


def to_event_table(customer_id: int, batches: list[BeaconBatch]) -> pa.Table:
    """The events of `batches` in the store's columnar layout."""
    return event_table(
        [
            (customer_id, batch.view_id.bytes, batch.dimensions.model_dump(), event.model_dump())
            for batch in batches
            for event in batch.events
        ]
    )
