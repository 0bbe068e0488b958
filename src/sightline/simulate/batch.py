"""Arrow tables of a simulated batch of views: the event rows in the store's insert layout, and the
ground truth (one row per view).

Invariants: the events table has every column of `sightline.store.layout` with the ClickHouse type's
width; per view, every row carries the view's dimensions; the truth's sums equal the sums of the events
before the end of the period (a view still going on at the end is `open` in the truth).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from sightline.catalog.dimensions import DIMENSIONS
from sightline.catalog.events import EVENT_TYPES
from sightline.simulate.audience import Customer
from sightline.simulate.columns import ViewIds, fixed16
from sightline.simulate.timeline import AD_EVENTS, EVENT, TEMPLATES, T, Timeline
from sightline.simulate.views import OUTCOMES, ViewBatch
from sightline.simulate.world import ERRORS, LADDER
from sightline.store.layout import EVENT_COLUMN_NAMES
from sightline.store.schema import event_columns

_NUMERIC = {
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt32": pa.uint32(),
    "UInt64": pa.uint64(),
    "Float32": pa.float32(),
}
_TYPES = {c.name: _NUMERIC[c.clickhouse_type] for c in event_columns() if c.clickhouse_type in _NUMERIC}
_TYPES["ts"] = pa.int64()
_EVENTS = pa.array(list(EVENT_TYPES))
_ERROR_CODES = pa.array(["", *(e.code for e in ERRORS)])
_ERROR_MESSAGES = pa.array(["", *(e.message for e in ERRORS)])
_BUSINESS = np.array([e.business for e in ERRORS])
_AD_POSITIONS = pa.array(["", "preroll", "midroll", "postroll"])
_CODECS = pa.array(["", "avc1", "hvc1"])
_BITRATE = np.array([r.bitrate_kbps for r in LADDER], dtype=np.int64)
_WIDTH = np.array([r.width for r in LADDER])
_HEIGHT = np.array([r.height for r in LADDER])
_FPS = np.array([r.fps for r in LADDER])
_CODEC = np.array([_CODECS.to_pylist().index(r.codec) for r in LADDER], dtype=np.int32)
_CREATIVE_TEMPLATES = np.array([t.startswith("ad_") and t not in ("ad_error", "ad_nofill") for t in TEMPLATES])
TRUTH_OUTCOMES = (*OUTCOMES, "open")
"""A view's outcome in the truth: the model's, or `open` for a view still going on at the end of the period."""
OPEN = TRUTH_OUTCOMES.index("open")


def _dict(codes: NDArray[np.integer], values: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32), pa.int32()), values)


def events_table(
    customer: Customer, batch: ViewBatch, tl: Timeline, ids: ViewIds, rng: np.random.Generator
) -> pa.Table:
    """The batch's events in the insert layout, ordered by (view, seq)."""
    g, view, event = batch.groups, tl.view, tl.event
    group = tl.group
    code = g.code[group]
    n = view.size
    is_error = (event == EVENT["error"]) | (event == EVENT["ad_error"])
    is_rendition = event == EVENT["rendition_change"]
    new_level = np.where(is_rendition, code, 0)
    interval = _BITRATE[tl.level_before]
    latency = batch.live_latency_ms[view] * rng.lognormal(0.0, 0.15, n)
    sampled = (event == EVENT["heartbeat"]) & (batch.live_latency_ms[view] > 0)  # live views' heartbeats
    columns: dict[str, pa.Array | NDArray[np.generic]] = {
        "customer_id": np.full(n, customer.customer_id),
        "view_id": fixed16(ids.bytes16()[view]),
        "ts": tl.ts,
        "event": _dict(event, _EVENTS),
        "seq": tl.seq,
        "started": tl.started,
        "startup_ms": np.where(event == EVENT["first_frame"], tl.extra_ms, 0),
        "play_ms": tl.play_ms,
        "rebuffer_ms": tl.rebuffer_ms,
        "interval_bitrate_kbps": interval,
        "dropped_frames": rng.poisson(tl.play_ms / 60_000 * batch.dropped_per_min[view]),
        "bytes": interval * tl.play_ms // 8,
        "ad_ms": tl.ad_ms,
        "live_latency_ms": np.where(sampled, np.maximum(latency, 1), 0).astype(np.int64),
        "rendition_bitrate_kbps": _BITRATE[new_level],
        "rendition_width": _WIDTH[new_level],
        "rendition_height": _HEIGHT[new_level],
        "rendition_fps": _FPS[new_level],
        "rendition_codec": _dict(_CODEC[new_level], _CODECS),
        "fatal": (g.template[group] == T["fail"]).astype(np.int64),
        "error_code": _dict(np.where(is_error, code + 1, 0), _ERROR_CODES),
        "error_message": _dict(np.where(is_error, code + 1, 0), _ERROR_MESSAGES),
        "business_error": (is_error & _BUSINESS[np.where(is_error, code, 0)]).astype(np.int64),
        "ad_position": _dict(np.where(AD_EVENTS[event], g.ad_position[group], 0), _AD_POSITIONS),
        "ad_id": _dict(
            np.where(AD_EVENTS[event] & _CREATIVE_TEMPLATES[g.template[group]], code, 0), customer.creatives
        ),
    }
    for name, coded in batch.dims.strings.items():
        columns[name] = _dict(coded.codes[view], coded.values)
    for name, numbers in batch.dims.numbers.items():
        columns[name] = numbers[view]
    return pa.table({name: _arrow(name, columns[name]) for name in EVENT_COLUMN_NAMES})


def _arrow(name: str, column: pa.Array | NDArray[np.generic]) -> pa.Array:
    if isinstance(column, pa.Array):
        return column
    return pa.array(column.astype(_TYPES[name].to_pandas_dtype()), _TYPES[name])


TRUTH_COUNTS: tuple[str, ...] = (
    "startup_ms",
    "play_ms",
    "rebuffer_ms",
    "rebuffer_count",
    "bitrate_play",
    "errors",
    "fatal_errors",
    "event_count",
    "ad_impressions",
    "ad_errors",
)


def truth_table(
    customer: Customer,
    batch: ViewBatch,
    tl: Timeline,
    ids: ViewIds,
    session: NDArray[np.uint64],
    session_view: NDArray[np.int64],
    end_ms: int,
) -> pa.Table:
    """One row per view: identity, start, its viewing session and place in it, every dimension, outcome
    and true totals, as of `end_ms` (the end of the period): the model's, except for a view still going on
    then, which is `open`, with the totals of its events before `end_ms`; `incidents` names the incidents that
    touched the view (joined by ","; "" for none)."""
    n = batch.start_ms.size
    inside = tl.ts < end_ms
    going_on = np.bincount(tl.view[~inside], minlength=n) > 0

    def counted(rows: NDArray[np.bool_]) -> NDArray[np.int64]:
        return np.bincount(tl.view[rows & inside], minlength=n).astype(np.int64)

    def summed(values: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.bincount(tl.view[inside], weights=values[inside], minlength=n).astype(np.int64)

    def as_of_end(model: NDArray[np.int64], before_end: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.where(going_on, before_end, model)

    event = {name: tl.event == EVENT[name] for name in ("first_frame", "stall_start", "error")}
    fatal = event["error"] & (batch.groups.template[tl.group] == T["fail"])
    started = as_of_end((batch.outcome >= 2).astype(np.int64), counted(event["first_frame"]))
    values: dict[str, NDArray[np.int64]] = {
        "startup_ms": np.where(started == 1, batch.startup_ms, 0),
        "play_ms": as_of_end(batch.play_ms, summed(tl.play_ms)),
        "rebuffer_ms": as_of_end(batch.rebuffer_ms, summed(tl.rebuffer_ms)),
        "rebuffer_count": as_of_end(batch.rebuffer_count, counted(event["stall_start"])),
        "bitrate_play": summed(_BITRATE[tl.level_before] * tl.play_ms),
        "errors": as_of_end(batch.errors, counted(event["error"])),
        "fatal_errors": as_of_end(np.isin(batch.outcome, (0, 2)).astype(np.int64), counted(fatal)),
        "event_count": counted(np.ones(tl.view.size, dtype=bool)),
        "ad_impressions": counted(tl.event == EVENT["ad_impression"]),
        "ad_errors": counted(tl.event == EVENT["ad_error"]),
    }
    last_ts = np.zeros(n, dtype=np.int64)
    np.maximum.at(last_ts, tl.view[inside], tl.ts[inside])
    columns: dict[str, pa.Array] = {
        "customer_id": pa.array(np.full(n, customer.customer_id, dtype=np.uint32)),
        "view_id": ids.strings(),
        "view_start": pa.array(batch.start_ms, pa.timestamp("ms", tz="UTC")),
        "end_ts": pa.array(last_ts, pa.timestamp("ms", tz="UTC")),
        "session": pa.array(session.astype(np.uint64)),
        "session_view": pa.array(session_view.astype(np.uint32)),
        "outcome": _dict(np.where(going_on, OPEN, batch.outcome), pa.array(list(TRUTH_OUTCOMES))),
        "started": pa.array(started.astype(np.uint8)),
        "incidents": batch.effects.incidents.arrow(),
        **{name: pa.array(values[name].astype(np.uint64)) for name in TRUTH_COUNTS},
    }
    for d in DIMENSIONS:
        if d.kind == "number":
            columns[d.name] = pa.array(batch.dims.numbers[d.name].astype(np.uint32))
        else:
            coded = batch.dims.strings[d.name]
            columns[d.name] = _dict(coded.codes, coded.values)
    return pa.table(columns)
