"""mux-embed beacons → per view, its dimensions and its events in the native model (docs/ingest-mux.md).

What mux-embed sends (read from its MIT-licensed npm package `mux-embed`, version 5.19.0): a POST whose body
is JSON text, `{"metadata": {...}, "events": [...]}`, of one player's events, in the order it sent them.
Each event is the player's state at that moment, its keys shortened (`mux_keys`) and delta-encoded: a
view's `viewstart` and `viewend`, and any event after 10 minutes of silence, carry every key; the others
only the keys whose value changed since the player's previous event, plus a few always sent (view id,
sequence number, viewer time, playhead, cumulative playing times, error fields). `viewer_time` is the
event's time in epoch ms; counters (`view_content_playback_time`, `view_rebuffer_duration`, …) are
cumulative over the view.

`decode_view` turns one view's events into native events (docs/beacon-format.md) and keeps per-view state
(`MuxViewState`): the latest value of each field it reads (undoing the delta encoding), the view's start
(which names the view: `pipeline.derived_view_id`), the cumulative counters already carried by native
events (each native event carries the deltas since the view's previous one), and flags (play request and
first frame sent, paused, ad started, closed). Invariants:
- events apply in sequence order; one whose `view_sequence_number` was already applied is a duplicate;
- a view without state (never seen, or forgotten by a restart or eviction) starts at its first event that
  carries `view_start`: `viewstart` starts it afresh; any later full event resynchronises it without
  counting again what was counted before, and without a second play request or first frame. Events
  before that one cannot be placed and are ignored;
- after the view's terminal event (`ended`, `viewend`, a fatal `error`) its events are ignored;
- every native event validates as `native.BeaconEvent`; one that does not is refused, and its deltas are lost.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from sightline.ingest.format import CollectError, Refusal
from sightline.ingest.mux_dimensions import (
    SOURCE_KEYS,
    UINT32_MAX,
    encodable,
    first_text,
    number,
    text,
    view_dimensions,
)
from sightline.ingest.mux_keys import expand_key
from sightline.ingest.native import EVENT, MAX_EVENTS, MAX_TS_MS, MIN_TS_MS

MAX_VIEW_ID = 128
MAX_KEY = 64
"""Longer keys are not mux-embed's and are skipped unread (it bounds the key cache)."""
MAX_COUNTER = 2**40

SIMPLE_EVENTS: dict[str, str] = {
    "seeking": "seek_start",
    "seeked": "seek_end",
    "rebufferstart": "stall_start",
    "rebufferend": "stall_end",
    "hb": "heartbeat",
    "cdnchange": "cdn_change",
    "ended": "end",
    "viewend": "exit",
    "adrequest": "ad_request",
    "adplay": "ad_impression",
    "adfirstquartile": "ad_first_quartile",
    "admidpoint": "ad_midpoint",
    "adthirdquartile": "ad_third_quartile",
    "adended": "ad_complete",
    "aderror": "ad_error",
}
"""mux events that map one to one. Stateful ones: `viewstart` → `play_request` (once); `playing` →
`first_frame` (the first) or `resume` (after a pause); `pause` → `pause`; `adplaying` → `ad_start` (once
per ad); `renditionchange` → `rendition_change` (when the bitrate changes); `error` → `error`.
Every other mux event (`play`, `waiting`, `requestcompleted`, `adbreakstart`, …) has no native event:
its counters are carried by the view's next native event."""

MEDIA_REQUEST_TYPES = frozenset({"media", "video", "audio", "video_init", "audio_init"})
AD_POSITIONS = frozenset({"preroll", "midroll", "postroll"})

DECODER_KEYS = frozenset(
    {
        "view_start",
        "view_time_to_first_frame",
        "view_content_playback_time",
        "ad_playing_time_ms_cumulative",
        "view_rebuffer_duration",
        "view_dropped_frame_count",
        "video_source_bitrate",
        "video_source_width",
        "video_source_height",
        "video_source_fps",
        "video_source_codec",
        "player_live_edge_program_time",
        "player_program_time",
        "ad_type",
        "ad_id",
        "ad_creative_id",
        "ad_universal_id",
    }
)
REMEMBERED_KEYS = DECODER_KEYS | SOURCE_KEYS
"""The fields whose latest value the view's state keeps (delta decoding)."""
OWN_KEYS = frozenset(
    {
        "player_error_code",
        "player_error_message",
        "player_error_severity",
        "player_error_business_exception",
        "request_type",
        "request_bytes_loaded",
    }
)
"""Fields read from the event that carries them only (mux-embed sends them whole, or they describe it)."""
_READ_KEYS = REMEMBERED_KEYS | OWN_KEYS


@dataclass(frozen=True, slots=True)
class MuxBeacon:
    """One mux event: its position in the body, identity, time, and the fields the decoder reads."""

    index: int
    env_key: str
    view: str
    seq: int
    ts: int
    event: str
    fields: Mapping[str, Any]


@dataclass(slots=True)
class MuxViewState:
    """What decoding a view needs to remember between bodies (see the module's invariants)."""

    view_start_ms: int
    fields: dict[str, Any]
    last_seq: int
    counted: dict[str, int]
    pending_bytes: int = 0
    bitrate_kbps: int = 0
    requested: bool = False
    started: bool = False
    paused: bool = False
    ad_started: bool = False
    closed: bool = False


@dataclass(frozen=True, slots=True)
class ViewDecoding:
    """The outcome of one view's events: the state to keep (None: the view is still unplaced), its
    dimensions, the native `(index, event)`s, and the mux events refused, ignored and duplicated."""

    state: MuxViewState | None
    dimensions: dict[str, Any]
    events: list[tuple[int, dict[str, Any]]]
    refused: list[Refusal] = field(default_factory=list)
    ignored: int = 0
    duplicates: int = 0


def parse_body(payload: Any) -> tuple[list[MuxBeacon], list[Refusal]]:
    """The events of a decoded body, and the refusals of those that are not mux events; the body
    is refused whole (`CollectError`) when it is not mux-embed's envelope."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise CollectError(400, "bad_batch", 'the body must be mux-embed\'s {"metadata": {...}, "events": [...]}')
    events = payload["events"]
    if not 1 <= len(events) <= MAX_EVENTS:
        raise CollectError(400, "bad_events", f"events must be a list of 1 to {MAX_EVENTS} events", "events")
    beacons: list[MuxBeacon] = []
    refused: list[Refusal] = []
    for index, raw in enumerate(events):
        try:
            beacons.append(_beacon(index, raw))
        except ValueError as error:
            refused.append(Refusal(index, "invalid", str(error)))
    return beacons, refused


def _beacon(index: int, raw: Any) -> MuxBeacon:
    if not isinstance(raw, dict):
        raise ValueError("an event must be a JSON object")
    fields = {long: value for key, value in raw.items() if len(key) <= MAX_KEY and (long := expand_key(key))}
    event, view, seq = fields.get("event"), fields.get("view_id"), fields.get("view_sequence_number")
    ts = number(fields.get("viewer_time"))
    if not isinstance(event, str) or not 0 < len(event) <= MAX_KEY:
        raise ValueError(f"event (e) must be an event name of 1 to {MAX_KEY} characters")
    if not isinstance(view, str) or not 0 < len(view) <= MAX_VIEW_ID:
        raise ValueError(f"view_id (xid) must be a string of 1 to {MAX_VIEW_ID} characters")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= UINT32_MAX:
        raise ValueError("view_sequence_number (xsqno) must be an integer from 1")
    if ts is None or not MIN_TS_MS <= ts <= MAX_TS_MS:
        raise ValueError("viewer_time (uti) must be milliseconds since the epoch, between 2000 and 2100")
    env_key = fields.get("env_key")
    return MuxBeacon(
        index=index,
        env_key=encodable(env_key) if isinstance(env_key, str) else "",
        view=encodable(view),
        seq=seq,
        ts=round(ts),
        event=encodable(event),
        fields={key: value for key, value in fields.items() if key in _READ_KEYS},
    )


def _ms(value: Any) -> int:
    found = number(value)
    return 0 if found is None else round(min(max(found, 0.0), MAX_COUNTER))


def _cumulative(fields: Mapping[str, Any]) -> dict[str, int]:
    """The view's counters so far; content play time is playhead progress without ad time."""
    ad_ms = _ms(fields.get("ad_playing_time_ms_cumulative"))
    return {
        "play_ms": max(0, _ms(fields.get("view_content_playback_time")) - ad_ms),
        "ad_ms": ad_ms,
        "rebuffer_ms": _ms(fields.get("view_rebuffer_duration")),
        "dropped_frames": _ms(fields.get("view_dropped_frame_count")),
    }


def _kbps(fields: Mapping[str, Any]) -> int:
    return round(_ms(fields.get("video_source_bitrate")) / 1000)


def _new_state(beacon: MuxBeacon, fields: dict[str, Any]) -> MuxViewState | None:
    start = number(fields.get("view_start"))
    if start is None or not MIN_TS_MS <= start <= MAX_TS_MS:
        return None
    counters = _cumulative(fields)
    first_frame = number(fields.get("view_time_to_first_frame")) is not None
    played = counters["play_ms"] or counters["ad_ms"] or counters["rebuffer_ms"]
    fresh = beacon.event == "viewstart" or not (first_frame or played)
    # Counted from here on (and, for a fresh view, from its viewstart): dropped frames are the video
    # element's own counter, so what it shows at the start belongs to what the element played before.
    state = MuxViewState(round(start), {}, 0, counters, bitrate_kbps=_kbps(fields))
    if not fresh:
        state.requested, state.started = True, first_frame
    return state


def _native_event(beacon: MuxBeacon, state: MuxViewState, fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """The native event of `beacon` with its own fields (no counters), updating the state's flags; None
    when the mux event has none."""
    name, own = beacon.event, beacon.fields
    if name == "viewstart" and not state.requested:
        state.requested, state.counted = True, _cumulative(fields)  # a view counts from its (whole) viewstart
        return {"event": "play_request", "ts": state.view_start_ms}
    if name == "playing" and not state.started:
        state.started, state.paused = True, False
        startup = number(fields.get("view_time_to_first_frame"))
        startup_ms = beacon.ts - state.view_start_ms if startup is None else startup
        return {"event": "first_frame", "startup_ms": round(min(max(startup_ms, 0), UINT32_MAX))}
    if name == "playing" and state.paused:
        state.paused = False
        return {"event": "resume"}
    if name == "pause" and state.started and not state.paused:
        state.paused = True
        return {"event": "pause"}
    if name == "adplaying" and not state.ad_started:
        state.ad_started = True
        return {"event": "ad_start", **_ad_fields(fields)}
    if name == "renditionchange":
        new, old = _kbps(fields), state.bitrate_kbps
        state.bitrate_kbps = new or old
        if not (new and old and new != old):
            return None
        return {"event": "rendition_change", "rendition_bitrate_kbps": new, **_rendition(fields)}
    if name == "error":
        fatal = text(own.get("player_error_severity")).lower() != "warning"
        state.closed = fatal
        return {
            "event": "error",
            "fatal": int(fatal),
            "business_error": int(bool(own.get("player_error_business_exception"))),
            "error_code": text(own.get("player_error_code")),
            "error_message": text(own.get("player_error_message")),
        }
    if name not in SIMPLE_EVENTS:
        return None
    native = SIMPLE_EVENTS[name]
    state.closed = native in ("end", "exit")
    state.ad_started = state.ad_started and native not in ("ad_impression", "ad_complete")
    return {"event": native, **(_ad_fields(fields) if native.startswith("ad_") else {})}


def _ad_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    position = text(fields.get("ad_type")).lower()
    ad_id = first_text(fields, ("ad_id", "ad_creative_id", "ad_universal_id"))
    return {"ad_position": position if position in AD_POSITIONS else "", "ad_id": ad_id}


def _rendition(fields: Mapping[str, Any]) -> dict[str, Any]:
    fps = number(fields.get("video_source_fps"))
    return {
        "rendition_width": min(_ms(fields.get("video_source_width")), 2**16 - 1),
        "rendition_height": min(_ms(fields.get("video_source_height")), 2**16 - 1),
        "rendition_fps": fps if fps is not None and 0 <= fps <= 1000 else 0.0,
        "rendition_codec": text(fields.get("video_source_codec")),
    }


def _live_latency_ms(fields: Mapping[str, Any]) -> int:
    edge, program = number(fields.get("player_live_edge_program_time")), number(fields.get("player_program_time"))
    return 0 if edge is None or program is None else min(_ms(edge - program), UINT32_MAX)


def _with_counters(
    native: dict[str, Any], beacon: MuxBeacon, state: MuxViewState, fields: Mapping[str, Any], bitrate_kbps: int
) -> dict[str, Any]:
    """`native` completed with its time, sequence, state and the deltas since the view's previous event."""
    now = _cumulative(fields)
    deltas = {name: max(0, value - state.counted[name]) for name, value in now.items()}
    state.counted = {name: max(value, state.counted[name]) for name, value in now.items()}
    event = {"ts": beacon.ts, "seq": beacon.seq, "started": int(state.started), **deltas, **native}
    event |= {"bytes": state.pending_bytes, "interval_bitrate_kbps": bitrate_kbps}
    event["live_latency_ms"] = _live_latency_ms(fields)
    state.pending_bytes = 0
    return event


def decode_view(state: MuxViewState | None, beacons: list[MuxBeacon]) -> ViewDecoding:
    """The native events of one view's `beacons` given its decoding `state` (not modified: the new state
    is in the result, for the caller to keep once the events are stored)."""
    current = copy.deepcopy(state)
    events: list[tuple[int, dict[str, Any]]] = []
    refused: list[Refusal] = []
    ignored = duplicates = 0
    for beacon in sorted(beacons, key=lambda b: b.seq):
        if current is not None and beacon.seq <= current.last_seq:
            duplicates += 1
            continue
        remembered = {key: value for key, value in beacon.fields.items() if key in REMEMBERED_KEYS}
        fields = {**(current.fields if current else {}), **remembered}
        current = current or _new_state(beacon, fields)
        if current is None or current.closed:
            ignored += 1
            if current is not None:
                current.last_seq = beacon.seq
            continue
        current.fields, current.last_seq = fields, beacon.seq
        bitrate_before = current.bitrate_kbps
        if beacon.event == "requestcompleted" and text(beacon.fields.get("request_type")) in MEDIA_REQUEST_TYPES:
            current.pending_bytes += _ms(beacon.fields.get("request_bytes_loaded"))
        native = _native_event(beacon, current, fields)
        if native is None:
            ignored += 1
            continue
        try:
            event = EVENT.validate_python(_with_counters(native, beacon, current, fields, bitrate_before))
        except ValidationError as error:
            refused.append(Refusal(beacon.index, "invalid", f"{beacon.event}: {error.errors()[0]['msg']}"))
            continue
        events.append((beacon.index, event))
    dimensions = view_dimensions(current.fields) if current else {}
    return ViewDecoding(current, dimensions, events, refused, ignored, duplicates)
