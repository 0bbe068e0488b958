"""Additive parts of the rollups and the per-view columns of `views`, declared as data.

A part is an aggregate over event rows that can be merged across rows of any grain: a sum, a
distinct-count state or a quantile sketch. Every metric is a formula over parts (Cube's model), so
ratios are computed from summed parts and never averaged.

Attribution (docs/architecture.md): view outcomes (attempts, plays, startup, VSF, EBVS, VPF, completion,
unique viewers) count in the bucket of the view's start, taken from its UUIDv7 id; time-based
quantities (play time, stalls, bitrate, errors, ads) count in the bucket of the event.

`expression` and `condition` are trusted SQL fragments over the columns of `events`; they are part of
the schema, written here once, and never carry user input.

Parts and view columns have versions, as dimensions do: a declaration that changed at schema version v
(`schema_version`) keeps the one it `replaces`, which the tables held before v; the migration to v
recounts them from `events` (`store.schema.recounted_ddl`). `declared_at` gives the declarations of a
version, so that every migration builds the schema of its own version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, Self, TypeVar

Aggregate = Literal["sum", "uniq", "tdigest", "ddsketch"]
Attribution = Literal["view_start", "event_time"]

SKETCH_ACCURACY = 0.005
"""The relative accuracy a of the quantile sketches (ClickHouse's `quantileDD`, a DDSketch with a logarithmic
mapping). The sketch answers the level q of n values with the value at rank floor(q·(n − 1)) of the sorted values
(the lower order statistic; the counts in its buckets are exact, whatever the grouping and order of merges),
read back from its bucket within a of it: 0 is kept exactly, and a value v ≥ 1 falls in the bucket
[g^k, g^(k+1)), g = (1 + a) ÷ (1 − a), which answers g^k·(1 + a), within a·v of v. Times are integer
milliseconds, so every value is 0 or ≥ 1. Half of the 1 % promised (docs/metrics.md), so that the API's
rounding to 0.1 ms keeps the promise for every start time of 10 ms and more."""
SKETCH_LEVEL = 0.5
"""The level named in a sketch's type and states; a sketch answers every level, given when it is read."""


@dataclass(frozen=True, slots=True)
class PartSpec:
    """One additive part stored in every rollup."""

    name: str
    aggregate: Aggregate
    attribution: Attribution
    description: str
    expression: str = "1"
    condition: str = "1"
    argument_type: str = "UInt64"
    schema_version: int = 1
    """The schema version from which the rollups hold the part as declared here."""
    replaces: PartSpec | None = None
    """The declaration the rollups held before `schema_version` (None: the part is new then)."""


FATAL_ERROR = "event = 'error' AND fatal = 1"
TERMINAL = "event IN ('end', 'exit')"
LIVE_SAMPLE = "live_latency_ms > 0 AND streamtype = 'live'"
"""A live-edge latency sample: of an event of a live view (a VOD view has no live edge, whatever it sent)."""
RECOUNTED_VERSION = 8
"""The schema version that recounted the startup-time quantiles (a DDSketch, was a t-digest) and the live
latency (live views' samples only, was any sample) from `events`."""


def _count(name: str, attribution: Attribution, condition: str, description: str) -> PartSpec:
    return PartSpec(name, "sum", attribution, description, condition=condition)


def _total(name: str, expression: str, description: str, condition: str = "1") -> PartSpec:
    return PartSpec(name, "sum", "event_time", description, expression=expression, condition=condition)


def _ad_count(name: str, event: str, description: str) -> PartSpec:
    return _count(name, "event_time", f"event = '{event}'", description)


PARTS: tuple[PartSpec, ...] = (
    _count("attempts", "view_start", "event = 'play_request'", "Views with a play request."),
    _count("plays", "view_start", "event = 'first_frame'", "Views that rendered a first frame."),
    PartSpec(
        "startup_ms_sum",
        "sum",
        "view_start",
        "Sum of startup times of views that started.",
        expression="startup_ms",
        condition="event = 'first_frame'",
    ),
    PartSpec(
        "startup_ms_sketch",
        "ddsketch",
        "view_start",
        "Quantile sketch (DDSketch) of startup times of views that started.",
        expression="startup_ms",
        condition="event = 'first_frame'",
        argument_type="UInt32",
        schema_version=RECOUNTED_VERSION,
        replaces=PartSpec(
            "startup_ms_digest",
            "tdigest",
            "view_start",
            "T-digest of startup times of views that started.",
            expression="startup_ms",
            condition="event = 'first_frame'",
            argument_type="UInt32",
        ),
    ),
    _count(
        "vsf_views",
        "view_start",
        f"{FATAL_ERROR} AND started = 0",
        "Views that failed with a fatal error before the first frame.",
    ),
    _count(
        "vsf_business_views",
        "view_start",
        f"{FATAL_ERROR} AND started = 0 AND business_error = 1",
        "VSF views whose fatal error is a business exception.",
    ),
    _count(
        "ebvs_views",
        "view_start",
        f"{TERMINAL} AND started = 0",
        "Views that ended before the first frame without a fatal error.",
    ),
    _count(
        "vpf_views",
        "view_start",
        f"{FATAL_ERROR} AND started = 1",
        "Views that failed with a fatal error after the first frame.",
    ),
    _count(
        "vpf_business_views",
        "view_start",
        f"{FATAL_ERROR} AND started = 1 AND business_error = 1",
        "VPF views whose fatal error is a business exception.",
    ),
    _count("completed_views", "view_start", "event = 'end' AND started = 1", "Views played to the end."),
    _count(
        "ended_views",
        "view_start",
        f"{TERMINAL} OR ({FATAL_ERROR})",
        "Views closed by end, exit or a fatal error.",
    ),
    PartSpec(
        "viewers",
        "uniq",
        "view_start",
        "Distinct viewer ids among views that started.",
        expression="viewerid",
        condition="event = 'first_frame'",
        argument_type="String",
    ),
    PartSpec(
        "anonymous_viewers",
        "uniq",
        "view_start",
        "Distinct viewer ids without a subscriber id among views that started.",
        expression="viewerid",
        condition="event = 'first_frame' AND subscriberid = ''",
        argument_type="String",
    ),
    PartSpec(
        "subscribers",
        "uniq",
        "view_start",
        "Distinct subscriber ids among views that started.",
        expression="subscriberid",
        condition="event = 'first_frame' AND subscriberid != ''",
        argument_type="String",
    ),
    _total("play_ms", "play_ms", "Content play time."),
    _total("rebuffer_ms", "rebuffer_ms", "Stall time, startup and seek recovery excluded."),
    _count("rebuffer_count", "event_time", "event = 'stall_start'", "Stalls."),
    _total("bitrate_play", "toUInt64(interval_bitrate_kbps) * play_ms", "Σ bitrate (kbps) × play time (ms)."),
    _total("dropped_frames", "dropped_frames", "Frames dropped."),
    _total("bytes", "bytes", "Media bytes downloaded."),
    _count("errors", "event_time", "event = 'error'", "Error events, fatal or not."),
    _count("fatal_errors", "event_time", FATAL_ERROR, "Fatal error events."),
    _count(
        "fatal_business_errors",
        "event_time",
        f"{FATAL_ERROR} AND business_error = 1",
        "Fatal error events that are business exceptions.",
    ),
    _count(
        "business_errors",
        "event_time",
        "event = 'error' AND business_error = 1",
        "Error events that are business exceptions.",
    ),
    _count("bitrate_switches", "event_time", "event = 'rendition_change'", "Rendition changes."),
    _count(
        "upswitches",
        "event_time",
        "event = 'rendition_change' AND rendition_bitrate_kbps > interval_bitrate_kbps",
        "Rendition changes to a higher bitrate.",
    ),
    _count(
        "downswitches",
        "event_time",
        "event = 'rendition_change' AND rendition_bitrate_kbps < interval_bitrate_kbps",
        "Rendition changes to a lower bitrate.",
    ),
    PartSpec(
        "live_latency_sum",
        "sum",
        "event_time",
        "Σ live-edge latency samples of live views (ms).",
        expression="live_latency_ms",
        condition=LIVE_SAMPLE,
        schema_version=RECOUNTED_VERSION,
        replaces=_total(
            "live_latency_sum", "live_latency_ms", "Σ live-edge latency samples (ms).", "live_latency_ms > 0"
        ),
    ),
    PartSpec(
        "live_latency_count",
        "sum",
        "event_time",
        "Live-edge latency samples of live views.",
        condition=LIVE_SAMPLE,
        schema_version=RECOUNTED_VERSION,
        replaces=_count("live_latency_count", "event_time", "live_latency_ms > 0", "Live-edge latency samples."),
    ),
    PartSpec(
        "active_views",
        "uniq",
        "event_time",
        "Distinct views that played content in the bucket.",
        expression="view_id",
        condition="play_ms > 0",
        argument_type="UUID",
    ),
    _ad_count("ad_requests", "ad_request", "Ad requests."),
    _ad_count("ad_impressions", "ad_impression", "Ad impressions."),
    _ad_count("ad_starts", "ad_start", "Ads that started playing."),
    _ad_count("ad_first_quartiles", "ad_first_quartile", "Ads played to 25 %."),
    _ad_count("ad_midpoints", "ad_midpoint", "Ads played to 50 %."),
    _ad_count("ad_third_quartiles", "ad_third_quartile", "Ads played to 75 %."),
    _ad_count("ad_completes", "ad_complete", "Ads played to the end."),
    _ad_count("ad_skips", "ad_skip", "Ads skipped."),
    _ad_count("ad_clicks", "ad_click", "Ad click-throughs."),
    _ad_count("ad_errors", "ad_error", "Ad errors."),
    _ad_count("ad_stalls", "ad_stall", "Stalls during ads."),
    _total("ad_ms", "ad_ms", "Ad play time."),
)

ViewAggregate = Literal["sum", "max", "min"]


@dataclass(frozen=True, slots=True)
class ViewColumnSpec:
    """A column of `views`: one value per view, merged across insert blocks with `aggregate`."""

    name: str
    aggregate: ViewAggregate
    expression: str
    clickhouse_type: str
    description: str
    schema_version: int = 1
    """The schema version from which `views` holds the column as declared here."""
    replaces: ViewColumnSpec | None = None
    """The declaration `views` held before `schema_version` (None: the column is new then)."""


def _view_sum(name: str, expression: str, description: str) -> ViewColumnSpec:
    return ViewColumnSpec(name, "sum", expression, "UInt64", description)


def _view_flag(name: str, condition: str, description: str) -> ViewColumnSpec:
    return ViewColumnSpec(name, "max", f"toUInt8({condition})", "UInt8", description)


TS = "DateTime64(3, 'UTC')"

VIEW_COLUMNS: tuple[ViewColumnSpec, ...] = (
    ViewColumnSpec("first_ts", "min", "ts", TS, "Time of the view's first event."),
    ViewColumnSpec("last_ts", "max", "ts", TS, "Time of the view's last event."),
    _view_sum("event_count", "1", "Events received."),
    ViewColumnSpec("max_seq", "max", "seq", "UInt32", "Highest event sequence number received."),
    _view_flag("play_requested", "event = 'play_request'", "1 when the view has a play request."),
    _view_flag("started", "event = 'first_frame'", "1 when the view rendered a first frame."),
    ViewColumnSpec(
        "first_frame_ts",
        "max",
        "if(event = 'first_frame', ts, toDateTime64(0, 3, 'UTC'))",
        TS,
        "Time of the first frame (1970 when none).",
    ),
    ViewColumnSpec(
        "startup_ms",
        "max",
        "if(event = 'first_frame', startup_ms, 0)",
        "UInt32",
        "Play request to first frame, pre-roll ads excluded.",
    ),
    _view_sum("play_ms", "play_ms", "Content play time."),
    _view_sum("rebuffer_ms", "rebuffer_ms", "Stall time."),
    _view_sum("rebuffer_count", "event = 'stall_start'", "Stalls."),
    _view_sum("bitrate_play", "toUInt64(interval_bitrate_kbps) * play_ms", "Σ bitrate (kbps) × play time (ms)."),
    _view_sum("dropped_frames", "dropped_frames", "Frames dropped."),
    _view_sum("bytes", "bytes", "Media bytes downloaded."),
    _view_sum("errors", "event = 'error'", "Error events."),
    _view_sum("fatal_errors", f"{FATAL_ERROR}", "Fatal error events."),
    _view_sum("bitrate_switches", "event = 'rendition_change'", "Rendition changes."),
    ViewColumnSpec(
        "live_latency_sum",
        "sum",
        f"if({LIVE_SAMPLE}, live_latency_ms, 0)",
        "UInt64",
        "Σ live-edge latency samples of a live view (ms).",
        RECOUNTED_VERSION,
        _view_sum("live_latency_sum", "live_latency_ms", "Σ live-edge latency samples (ms)."),
    ),
    ViewColumnSpec(
        "live_latency_count",
        "sum",
        LIVE_SAMPLE,
        "UInt64",
        "Live-edge latency samples of a live view.",
        RECOUNTED_VERSION,
        _view_sum("live_latency_count", "live_latency_ms > 0", "Live-edge latency samples."),
    ),
    _view_sum("ad_ms", "ad_ms", "Ad play time."),
    _view_sum("ad_impressions", "event = 'ad_impression'", "Ad impressions."),
    _view_sum("ad_errors", "event = 'ad_error'", "Ad errors."),
    _view_flag("vsf", f"{FATAL_ERROR} AND started = 0", "Fatal error before the first frame."),
    _view_flag("ebvs", f"{TERMINAL} AND started = 0", "Ended before the first frame without a fatal error."),
    _view_flag("vpf", f"{FATAL_ERROR} AND started = 1", "Fatal error after the first frame."),
    _view_flag("completed", "event = 'end' AND started = 1", "Played to the end."),
    _view_flag("exited", "event = 'exit' AND started = 1", "Left after the first frame."),
    _view_flag(
        "business_error",
        "event = 'error' AND fatal = 1 AND business_error = 1",
        "The fatal error was a business exception.",
    ),
    ViewColumnSpec(
        "fatal_error_code",
        "max",
        f"if({FATAL_ERROR}, error_code, '')",
        "LowCardinality(String)",
        "Code of the fatal error, if any.",
    ),
)

OUTCOMES: tuple[str, ...] = ("vsf", "ebvs", "vpf", "completed", "exited")
"""Terminal outcomes of a view: at most one is 1 for a closed view; none for a view still open."""


class _Versioned(Protocol):
    @property
    def schema_version(self) -> int: ...
    @property
    def replaces(self) -> Self | None: ...


Spec = TypeVar("Spec", bound=_Versioned)


def declared_at(specs: tuple[Spec, ...], version: int | None) -> tuple[Spec, ...]:
    """`specs` as schema `version` declared them (None: the newest): each by the declaration it replaces while
    its `schema_version` is later, and left out where it had none then."""
    found = []
    for spec in specs:
        declared: Spec | None = spec
        while declared is not None and version is not None and declared.schema_version > version:
            declared = declared.replaces
        if declared is not None:
            found.append(declared)
    return tuple(found)
