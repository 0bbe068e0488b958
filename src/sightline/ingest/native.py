"""The native beacon format: a batch of events of one playback view, carrying the view's dimensions.

The models are built from the catalog, so a dimension or event field added there is accepted here
and documented in docs/beacon-format.md without further edits. Invariants of a valid batch:
- `view_id` is a UUIDv7 minted by the player when the view starts (its time is the view's start);
- 1 to `MAX_EVENTS` events, each with a known `event` type and `ts` in epoch milliseconds, a JSON integer
  (a string or a fraction is refused; the window of times stored is `ingest.window`'s);
- counters are non-negative and within their column's range; strings are at most 512 characters.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired, Required, TypeAlias

import pyarrow as pa
from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict  # pydantic needs typing_extensions' before Python 3.12

from sightline.catalog import DIMENSIONS, EVENT_FIELDS, EVENT_TYPES
from sightline.store.layout import ViewEvents, view_events_table

MAX_EVENTS = 1000
MAX_TEXT = 512
MIN_TS_MS = 946_684_800_000  # 2000-01-01
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01

_UINT_MAX = {"UInt8": 2**8 - 1, "UInt16": 2**16 - 1, "UInt32": 2**32 - 1, "UInt64": 2**64 - 1}
_STRICT = ConfigDict(extra="forbid")
_TS_DESCRIPTION = "When, in milliseconds since the epoch (UTC)."
_SEQ = "The event's number within its view, from 0 (required: a repeated one is a duplicate)."
_REQUIRED = frozenset({"event", "ts", "seq"})


def _field_type(clickhouse_type: str, description: str, pattern: str | None = None, default: bool = True) -> Any:
    """An optional field of a column's type and range; when left out, given its default (0, 0.0 or "") if
    `default`, else absent."""
    kind: Any
    zero: Any
    if clickhouse_type in _UINT_MAX:
        kind, zero, field = int, 0, Field(ge=0, le=_UINT_MAX[clickhouse_type], description=description)
    elif clickhouse_type == "Float32":
        kind, zero, field = float, 0.0, Field(ge=0, le=1e6, description=description)
    else:
        kind, zero, field = str, "", Field(max_length=MAX_TEXT, pattern=pattern, description=description)
    return NotRequired[Annotated[kind, field, Field(default=zero)] if default else Annotated[kind, field]]


def _uuid_v7(value: uuid.UUID) -> uuid.UUID:
    if value.version != 7:
        raise ValueError("view_id must be a UUIDv7 (its time is the view's start)")
    return value


if TYPE_CHECKING:
    ViewDimensions: TypeAlias = dict[str, Any]
    BeaconEvent: TypeAlias = dict[str, Any]
else:
    ViewDimensions = TypedDict(
        "ViewDimensions",
        {d.name: _field_type(d.clickhouse_type, d.description, d.pattern) for d in DIMENSIONS},
        total=False,
    )
    ViewDimensions.__doc__ = "The view's dimensions; every one is optional (empty string or 0 when unknown)."
    ViewDimensions.__pydantic_config__ = _STRICT
    BeaconEvent = TypedDict(
        "BeaconEvent",
        {
            "event": Required[Annotated[Literal[EVENT_TYPES], Field(description="What happened.")]],
            "ts": Required[Annotated[int, Field(strict=True, ge=MIN_TS_MS, le=MAX_TS_MS, description=_TS_DESCRIPTION)]],
            "seq": Required[Annotated[int, Field(strict=True, ge=0, le=_UINT_MAX["UInt32"], description=_SEQ)]],
            **{
                f.name: _field_type(f.clickhouse_type, f.description, default=False)
                for f in EVENT_FIELDS
                if f.name not in _REQUIRED
            },
        },
        total=False,
    )
    BeaconEvent.__doc__ = (
        "One playback event; fields that do not apply to its type are left out, and stay out of the validated "
        "dict: the store gives them their default (`store.layout`)."
    )
    BeaconEvent.__pydantic_config__ = _STRICT


@with_config(_STRICT)
class BeaconBatch(TypedDict):
    """What a player POSTs: events of one view, in any order, with the view's dimensions (null: none)."""

    view_id: Annotated[uuid.UUID, AfterValidator(_uuid_v7), Field(description="UUIDv7 minted when the view started.")]
    dimensions: NotRequired[ViewDimensions | None]
    events: Annotated[list[BeaconEvent], Field(min_length=1, max_length=MAX_EVENTS)]


BATCH: TypeAdapter[BeaconBatch] = TypeAdapter(BeaconBatch)
"""Validates a whole batch: every dimension left out is given its default, an event's fields left out stay out."""
EVENT: TypeAdapter[BeaconEvent] = TypeAdapter(BeaconEvent)
VIEW_DIMENSIONS: TypeAdapter[ViewDimensions] = TypeAdapter(ViewDimensions)


def dimensions_of(batch: BeaconBatch) -> dict[str, Any]:
    """A validated batch's dimensions, every one present (defaults when the batch sent none)."""
    given = batch.get("dimensions")
    return given if given is not None else VIEW_DIMENSIONS.validate_python({})


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
            (customer_id, batch["view_id"].bytes, dimensions_of(batch), event)
            for batch in batches
            for event in batch["events"]
        ]
    )
