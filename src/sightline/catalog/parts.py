"""Additive parts of the rollups and the per-view columns of `views`, declared as data.

A part is an aggregate over event rows that can be merged across rows of any grain: a sum, a
distinct-count state or a quantile sketch. Every metric is a formula over parts (Cube's model), so
ratios are computed from summed parts and never averaged.

Attribution (docs/architecture.md): view outcomes (attempts, plays, startup, VSF, EBVS, VPF, completion,
unique viewers) count in the bucket of the view's start, taken from its UUIDv7 id; time-based
quantities (play time, stalls, bitrate, errors, ads) count in the bucket of the event.

`expression` and `condition` are expressions over the columns of `events` (`catalog.expression`), as data:
the query layer builds the SQL of the materialized views and of `events` plans from them alike.

Parts and view columns have versions, as dimensions do: a declaration that changed at schema version v
(`schema_version`) keeps the one it `replaces`, which the tables held before v; the migration to v
recounts them from `events` (`store.schema.recounted_ddl`). `declared_at` gives the declarations of a
version, so that every migration builds the schema of its own version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, Self, TypeVar

from sightline.catalog.expression import (
    ALWAYS,
    Call,
    Compare,
    Expression,
    Field,
    OneOf,
    Product,
    Value,
    all_of,
    any_of,
    equals,
    flag,
    is_event,
    when,
)

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
    expression: Expression = ALWAYS
    condition: Expression = ALWAYS
    argument_type: str = "UInt64"
    schema_version: int = 1
    """The schema version from which the rollups hold the part as declared here."""
    replaces: PartSpec | None = None
    """The declaration the rollups held before `schema_version` (None: the part is new then)."""


FATAL_ERROR = all_of(is_event("error"), equals("fatal", 1))
TERMINAL = OneOf(Field("event"), ("end", "exit"))
LATENCY_SAMPLE = Compare(">", Field("live_latency_ms"), Value(0))
LIVE_SAMPLE = all_of(LATENCY_SAMPLE, equals("streamtype", "live"))
BEFORE_START, AFTER_START = equals("started", 0), equals("started", 1)
BUSINESS = equals("business_error", 1)
FIRST_FRAME = is_event("first_frame")
BITRATE_PLAY = Product(Call("toUInt64", (Field("interval_bitrate_kbps"),)), Field("play_ms"))
"""A live-edge latency sample: of an event of a live view (a VOD view has no live edge, whatever it sent)."""
RECOUNTED_VERSION = 8
"""The schema version that recounted the startup-time quantiles (a DDSketch, was a t-digest) and the live
latency (live views' samples only, was any sample) from `events`."""


def _count(name: str, attribution: Attribution, condition: Expression, description: str) -> PartSpec:
    return PartSpec(name, "sum", attribution, description, condition=condition)


def _total(name: str, expression: Expression, description: str, condition: Expression = ALWAYS) -> PartSpec:
    return PartSpec(name, "sum", "event_time", description, expression=expression, condition=condition)


def _field_total(name: str, description: str) -> PartSpec:
    """The sum of the field of the same name."""
    return _total(name, Field(name), description)


def _ad_count(name: str, event: str, description: str) -> PartSpec:
    return _count(name, "event_time", is_event(event), description)


PARTS: tuple[PartSpec, ...] = (
    _count("attempts", "view_start", is_event("play_request"), "Views with a play request."),
    _count("plays", "view_start", FIRST_FRAME, "Views that rendered a first frame."),
    PartSpec(
        "startup_ms_sum",
        "sum",
        "view_start",
        "Sum of startup times of views that started.",
        expression=Field("startup_ms"),
        condition=FIRST_FRAME,
    ),
    PartSpec(
        "startup_ms_sketch",
        "ddsketch",
        "view_start",
        "Quantile sketch (DDSketch) of startup times of views that started.",
        expression=Field("startup_ms"),
        condition=FIRST_FRAME,
        argument_type="UInt32",
        schema_version=RECOUNTED_VERSION,
        replaces=PartSpec(
            "startup_ms_digest",
            "tdigest",
            "view_start",
            "T-digest of startup times of views that started.",
            expression=Field("startup_ms"),
            condition=FIRST_FRAME,
            argument_type="UInt32",
        ),
    ),
    _count(
        "vsf_views",
        "view_start",
        all_of(FATAL_ERROR, BEFORE_START),
        "Views that failed with a fatal error before the first frame.",
    ),
    _count(
        "vsf_business_views",
        "view_start",
        all_of(FATAL_ERROR, BEFORE_START, BUSINESS),
        "VSF views whose fatal error is a business exception.",
    ),
    _count(
        "ebvs_views",
        "view_start",
        all_of(TERMINAL, BEFORE_START),
        "Views that ended before the first frame without a fatal error.",
    ),
    _count(
        "vpf_views",
        "view_start",
        all_of(FATAL_ERROR, AFTER_START),
        "Views that failed with a fatal error after the first frame.",
    ),
    _count(
        "vpf_business_views",
        "view_start",
        all_of(FATAL_ERROR, AFTER_START, BUSINESS),
        "VPF views whose fatal error is a business exception.",
    ),
    _count("completed_views", "view_start", all_of(is_event("end"), AFTER_START), "Views played to the end."),
    _count(
        "ended_views",
        "view_start",
        any_of(TERMINAL, FATAL_ERROR),
        "Views closed by end, exit or a fatal error.",
    ),
    PartSpec(
        "viewers",
        "uniq",
        "view_start",
        "Distinct viewer ids among views that started.",
        expression=Field("viewerid"),
        condition=FIRST_FRAME,
        argument_type="String",
    ),
    PartSpec(
        "anonymous_viewers",
        "uniq",
        "view_start",
        "Distinct viewer ids without a subscriber id among views that started.",
        expression=Field("viewerid"),
        condition=all_of(FIRST_FRAME, equals("subscriberid", "")),
        argument_type="String",
    ),
    PartSpec(
        "subscribers",
        "uniq",
        "view_start",
        "Distinct subscriber ids among views that started.",
        expression=Field("subscriberid"),
        condition=all_of(FIRST_FRAME, Compare("!=", Field("subscriberid"), Value(""))),
        argument_type="String",
    ),
    _field_total("play_ms", "Content play time."),
    _field_total("rebuffer_ms", "Stall time, startup and seek recovery excluded."),
    _count("rebuffer_count", "event_time", is_event("stall_start"), "Stalls."),
    _total("bitrate_play", BITRATE_PLAY, "Σ bitrate (kbps) × play time (ms)."),
    _field_total("dropped_frames", "Frames dropped."),
    _field_total("bytes", "Media bytes downloaded."),
    _count("errors", "event_time", is_event("error"), "Error events, fatal or not."),
    _count("fatal_errors", "event_time", FATAL_ERROR, "Fatal error events."),
    _count(
        "fatal_business_errors",
        "event_time",
        all_of(FATAL_ERROR, BUSINESS),
        "Fatal error events that are business exceptions.",
    ),
    _count(
        "business_errors",
        "event_time",
        all_of(is_event("error"), BUSINESS),
        "Error events that are business exceptions.",
    ),
    _count("bitrate_switches", "event_time", is_event("rendition_change"), "Rendition changes."),
    _count(
        "upswitches",
        "event_time",
        all_of(
            is_event("rendition_change"), Compare(">", Field("rendition_bitrate_kbps"), Field("interval_bitrate_kbps"))
        ),
        "Rendition changes to a higher bitrate.",
    ),
    _count(
        "downswitches",
        "event_time",
        all_of(
            is_event("rendition_change"), Compare("<", Field("rendition_bitrate_kbps"), Field("interval_bitrate_kbps"))
        ),
        "Rendition changes to a lower bitrate.",
    ),
    PartSpec(
        "live_latency_sum",
        "sum",
        "event_time",
        "Σ live-edge latency samples of live views (ms).",
        expression=Field("live_latency_ms"),
        condition=LIVE_SAMPLE,
        schema_version=RECOUNTED_VERSION,
        replaces=_total(
            "live_latency_sum", Field("live_latency_ms"), "Σ live-edge latency samples (ms).", LATENCY_SAMPLE
        ),
    ),
    PartSpec(
        "live_latency_count",
        "sum",
        "event_time",
        "Live-edge latency samples of live views.",
        condition=LIVE_SAMPLE,
        schema_version=RECOUNTED_VERSION,
        replaces=_count("live_latency_count", "event_time", LATENCY_SAMPLE, "Live-edge latency samples."),
    ),
    PartSpec(
        "active_views",
        "uniq",
        "event_time",
        "Distinct views that played content in the bucket.",
        expression=Field("view_id"),
        condition=Compare(">", Field("play_ms"), Value(0)),
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
    _field_total("ad_ms", "Ad play time."),
)

ViewAggregate = Literal["sum", "max", "min"]


@dataclass(frozen=True, slots=True)
class ViewColumnSpec:
    """A column of `views`: one value per view, merged across insert blocks with `aggregate`."""

    name: str
    aggregate: ViewAggregate
    expression: Expression
    clickhouse_type: str
    description: str
    schema_version: int = 1
    """The schema version from which `views` holds the column as declared here."""
    replaces: ViewColumnSpec | None = None
    """The declaration `views` held before `schema_version` (None: the column is new then)."""


def _view_sum(name: str, expression: Expression, description: str) -> ViewColumnSpec:
    return ViewColumnSpec(name, "sum", expression, "UInt64", description)


def _view_flag(name: str, condition: Expression, description: str) -> ViewColumnSpec:
    return ViewColumnSpec(name, "max", flag(condition), "UInt8", description)


TS = "DateTime64(3, 'UTC')"

VIEW_COLUMNS: tuple[ViewColumnSpec, ...] = (
    ViewColumnSpec("first_ts", "min", Field("ts"), TS, "Time of the view's first event."),
    ViewColumnSpec("last_ts", "max", Field("ts"), TS, "Time of the view's last event."),
    _view_sum("event_count", ALWAYS, "Events received."),
    ViewColumnSpec("max_seq", "max", Field("seq"), "UInt32", "Highest event sequence number received."),
    _view_flag("play_requested", is_event("play_request"), "1 when the view has a play request."),
    _view_flag("started", FIRST_FRAME, "1 when the view rendered a first frame."),
    ViewColumnSpec(
        "first_frame_ts",
        "max",
        when(FIRST_FRAME, Field("ts"), Call("toDateTime64", (Value(0), Value(3), Value("UTC")))),
        TS,
        "Time of the first frame (1970 when none).",
    ),
    ViewColumnSpec(
        "startup_ms",
        "max",
        when(FIRST_FRAME, Field("startup_ms"), Value(0)),
        "UInt32",
        "Play request to first frame, pre-roll ads excluded.",
    ),
    _view_sum("play_ms", Field("play_ms"), "Content play time."),
    _view_sum("rebuffer_ms", Field("rebuffer_ms"), "Stall time."),
    _view_sum("rebuffer_count", is_event("stall_start"), "Stalls."),
    _view_sum("bitrate_play", BITRATE_PLAY, "Σ bitrate (kbps) × play time (ms)."),
    _view_sum("dropped_frames", Field("dropped_frames"), "Frames dropped."),
    _view_sum("bytes", Field("bytes"), "Media bytes downloaded."),
    _view_sum("errors", is_event("error"), "Error events."),
    _view_sum("fatal_errors", FATAL_ERROR, "Fatal error events."),
    _view_sum("bitrate_switches", is_event("rendition_change"), "Rendition changes."),
    ViewColumnSpec(
        "live_latency_sum",
        "sum",
        when(LIVE_SAMPLE, Field("live_latency_ms"), Value(0)),
        "UInt64",
        "Σ live-edge latency samples of a live view (ms).",
        RECOUNTED_VERSION,
        _view_sum("live_latency_sum", Field("live_latency_ms"), "Σ live-edge latency samples (ms)."),
    ),
    ViewColumnSpec(
        "live_latency_count",
        "sum",
        LIVE_SAMPLE,
        "UInt64",
        "Live-edge latency samples of a live view.",
        RECOUNTED_VERSION,
        _view_sum("live_latency_count", LATENCY_SAMPLE, "Live-edge latency samples."),
    ),
    _view_sum("ad_ms", Field("ad_ms"), "Ad play time."),
    _view_sum("ad_impressions", is_event("ad_impression"), "Ad impressions."),
    _view_sum("ad_errors", is_event("ad_error"), "Ad errors."),
    _view_flag("vsf", all_of(FATAL_ERROR, BEFORE_START), "Fatal error before the first frame."),
    _view_flag("ebvs", all_of(TERMINAL, BEFORE_START), "Ended before the first frame without a fatal error."),
    _view_flag("vpf", all_of(FATAL_ERROR, AFTER_START), "Fatal error after the first frame."),
    _view_flag("completed", all_of(is_event("end"), AFTER_START), "Played to the end."),
    _view_flag("exited", all_of(is_event("exit"), AFTER_START), "Left after the first frame."),
    _view_flag(
        "business_error",
        all_of(FATAL_ERROR, BUSINESS),
        "The fatal error was a business exception.",
    ),
    ViewColumnSpec(
        "fatal_error_code",
        "max",
        when(FATAL_ERROR, Field("error_code"), Value("")),
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
