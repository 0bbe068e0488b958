"""Playback event types and the per-event fields a beacon carries besides the view's dimensions.

Invariants the ingest path guarantees (and the simulator honours), on which views and rollups rely:
- `play_ms`, `rebuffer_ms`, `ad_ms`, `dropped_frames` and `bytes` are deltas since the view's previous
  event; `interval_bitrate_kbps` is the rendition bitrate in effect during that interval.
- `started` is the view's state at the event: 1 once the first frame has rendered.
- a view has one `play_request`, at most one `first_frame` (which carries `startup_ms`) and exactly
  one terminal event once closed: `end`, `exit` or an `error` with `fatal` = 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EVENT_TYPES: tuple[str, ...] = (
    "play_request",
    "first_frame",
    "pause",
    "resume",
    "seek_start",
    "seek_end",
    "stall_start",
    "stall_end",
    "rendition_change",
    "heartbeat",
    "error",
    "end",
    "exit",
    "cdn_change",
    "ad_request",
    "ad_impression",
    "ad_start",
    "ad_first_quartile",
    "ad_midpoint",
    "ad_third_quartile",
    "ad_complete",
    "ad_skip",
    "ad_click",
    "ad_error",
    "ad_stall",
)

TERMINAL_EVENTS: frozenset[str] = frozenset({"end", "exit"})
ERROR_EVENT_TYPES: tuple[str, ...] = ("error", "ad_error")
ERROR_EVENTS_TABLE = "error_events"
"""The table that holds every event of `ERROR_EVENT_TYPES`, as `events` does (schema migration 5)."""

FieldKind = Literal["count", "gauge", "flag", "text"]


@dataclass(frozen=True, slots=True)
class EventFieldSpec:
    """A per-event field: its beacon key (= column name), ClickHouse type and meaning."""

    name: str
    clickhouse_type: str
    kind: FieldKind
    description: str


EVENT_FIELDS: tuple[EventFieldSpec, ...] = (
    EventFieldSpec("seq", "UInt32", "gauge", "Sequence number of the event within its view, from 0."),
    EventFieldSpec("started", "UInt8", "flag", "1 once the view has rendered its first frame."),
    EventFieldSpec(
        "startup_ms",
        "UInt32",
        "gauge",
        "On `first_frame`: play request to first frame, pre-roll ads excluded.",
    ),
    EventFieldSpec("play_ms", "UInt32", "count", "Content play time since the previous event."),
    EventFieldSpec(
        "rebuffer_ms",
        "UInt32",
        "count",
        "Stall time since the previous event (startup and seek recovery excluded).",
    ),
    EventFieldSpec(
        "interval_bitrate_kbps", "UInt32", "gauge", "Rendition bitrate in effect while `play_ms` was played."
    ),
    EventFieldSpec("dropped_frames", "UInt32", "count", "Frames dropped since the previous event."),
    EventFieldSpec("bytes", "UInt64", "count", "Media bytes downloaded since the previous event."),
    EventFieldSpec("ad_ms", "UInt32", "count", "Ad play time since the previous event."),
    EventFieldSpec(
        "live_latency_ms",
        "UInt32",
        "gauge",
        "Live views: distance from the live edge at the event (0 when unknown).",
    ),
    EventFieldSpec("rendition_bitrate_kbps", "UInt32", "gauge", "On `rendition_change`: the new bitrate."),
    EventFieldSpec("rendition_width", "UInt16", "gauge", "On `rendition_change`: the new width in pixels."),
    EventFieldSpec("rendition_height", "UInt16", "gauge", "On `rendition_change`: the new height in pixels."),
    EventFieldSpec("rendition_fps", "Float32", "gauge", "On `rendition_change`: the new frame rate."),
    EventFieldSpec("rendition_codec", "LowCardinality(String)", "text", "On `rendition_change`: the new video codec."),
    EventFieldSpec(
        "fatal", "UInt8", "flag", "On `error`: 1 when playback cannot go on (ad errors never end the view)."
    ),
    EventFieldSpec("error_code", "LowCardinality(String)", "text", "On errors: the player's error code."),
    EventFieldSpec("error_message", "String", "text", "On errors: the player's message."),
    EventFieldSpec(
        "business_error",
        "UInt8",
        "flag",
        "On errors: 1 for business exceptions (entitlement, geo-block, concurrency limit).",
    ),
    EventFieldSpec("ad_position", "LowCardinality(String)", "text", "On ad events: preroll, midroll or postroll."),
    EventFieldSpec("ad_id", "String", "text", "On ad events: the creative's identifier."),
)
