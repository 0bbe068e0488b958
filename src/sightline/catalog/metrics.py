"""The metrics of the query API: name, unit, definition, formula over parts, dashboards.

Names follow SmartSight's where it has one (viewercount, attempts, playdur, latency, bufferingratio,
…), so that a client written for SmartSight works unchanged. Invariant: every formula reads only
parts of `catalog.parts`, and a metric's value over a group is its formula over the group's summed
parts (never an average of per-row ratios).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sightline.catalog.formula import (
    Clamp,
    Const,
    Formula,
    Part,
    PeriodMs,
    Quantile,
    add,
    div,
    mul,
    parts_of,
    percent,
    sub,
    substitute,
)
from sightline.catalog.parts import PARTS

Unit = Literal["count", "percent", "seconds", "minutes", "kbps", "bytes", "per hour", "views", "score", "ratio"]
Dashboard = Literal["kpis", "video experience", "ad experience", "content insights", "errors", "alerts"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    label: str
    unit: Unit
    formula: Formula
    definition: str
    dashboards: tuple[Dashboard, ...]
    ad: bool = False
    concurrency: bool = False
    """True for counts that `concurrency=1` can restrict to what happened inside the period."""
    business: bool = False
    """True for error metrics that leave business exceptions out unless `businesserror=true`."""

    def formula_for(self, include_business: bool) -> Formula:
        """The formula, with business exceptions left out of an error metric unless `include_business`."""
        if include_business or not self.business:
            return self.formula
        return substitute(self.formula, WITHOUT_BUSINESS)


WITHOUT_BUSINESS: dict[str, Formula] = {
    "errors": sub(Part("errors"), Part("business_errors")),
    "fatal_errors": sub(Part("fatal_errors"), Part("fatal_business_errors")),
    "vsf_views": sub(Part("vsf_views"), Part("vsf_business_views")),
    "vpf_views": sub(Part("vpf_views"), Part("vpf_business_views")),
}
"""Error parts → the same parts without business exceptions (entitlement, geo-block, concurrency limit)."""


P = Part
KPI: tuple[Dashboard, ...] = ("kpis", "video experience")
VX: tuple[Dashboard, ...] = ("video experience",)
ADS: tuple[Dashboard, ...] = ("ad experience",)
SECOND = Const(1000.0)
MINUTE = Const(60_000.0)
HOUR = Const(3_600_000.0)
STARTUP_S = div(div(P("startup_ms_sum"), P("plays")), SECOND)
REBUFFER_RATIO = div(P("rebuffer_ms"), add(P("play_ms"), P("rebuffer_ms")))


def _startup_quantile(name: str, label: str, level: float) -> MetricSpec:
    return MetricSpec(
        name,
        label,
        "seconds",
        div(Quantile("startup_ms_sketch", level), SECOND),
        f"The {label.lower()} of the views that started: the start time at rank ⌊q·(n − 1)⌋ of their n start "
        "times in order (q the level), within 1 % (DDSketch), whichever table answers.",
        KPI,
    )


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "viewercount", "Plays", "views", P("plays"), "Views that rendered a first frame.", KPI, concurrency=True
    ),
    MetricSpec(
        "attempts",
        "Attempts",
        "views",
        P("attempts"),
        "Views with a play request, whether or not they started (rendered a first frame).",
        KPI,
        concurrency=True,
    ),
    MetricSpec(
        "endedplays",
        "Ended plays",
        "views",
        sub(sub(P("ended_views"), P("vsf_views")), P("ebvs_views")),
        "Plays that ended (end, exit or failure after the first frame).",
        KPI,
        concurrency=True,
    ),
    MetricSpec(
        "completedplays",
        "Completed plays",
        "views",
        P("completed_views"),
        "Plays that reached the end of the content.",
        ("content insights",),
    ),
    MetricSpec(
        "completionrate",
        "Completion rate",
        "percent",
        percent(P("completed_views"), P("plays")),
        "Completed plays ÷ plays.",
        ("content insights",),
    ),
    MetricSpec(
        "concurviewavg",
        "Average concurrent views",
        "views",
        div(P("play_ms"), PeriodMs()),
        "Views playing at an average moment of the period: play time ÷ period length.",
        KPI,
        concurrency=True,
    ),
    MetricSpec(
        "playdur",
        "Play time",
        "minutes",
        div(P("play_ms"), MINUTE),
        "Content play time (ads and stalls excluded), in minutes.",
        KPI,
        concurrency=True,
    ),
    MetricSpec(
        "latency",
        "Video start time",
        "seconds",
        STARTUP_S,
        "Average time from play request to first frame, pre-roll ads excluded, over views that started.",
        KPI,
    ),
    MetricSpec(
        "avg_latency",
        "Average video start time",
        "seconds",
        STARTUP_S,
        "Same as latency: the mean start time of views that started.",
        KPI,
    ),
    _startup_quantile("median_latency", "Median video start time", 0.5),
    _startup_quantile("p95_latency", "95th percentile video start time", 0.95),
    _startup_quantile("p99_latency", "99th percentile video start time", 0.99),
    MetricSpec(
        "bufferingratio",
        "Rebuffering ratio",
        "percent",
        mul(Const(100.0), REBUFFER_RATIO),
        "Stall time ÷ (play time + stall time); startup and seek recovery are not stalls.",
        KPI,
    ),
    MetricSpec(
        "cirrbufferingratio",
        "Connection-induced rebuffering ratio",
        "percent",
        mul(Const(100.0), REBUFFER_RATIO),
        "Stall time ÷ watch time. Seek recovery is never counted as a stall, so every stall is "
        "connection-induced and this equals bufferingratio.",
        VX,
    ),
    MetricSpec("buffcount", "Stalls", "count", P("rebuffer_count"), "Stalls after the first frame.", VX),
    MetricSpec(
        "rebufferfrequency",
        "Rebuffer frequency",
        "per hour",
        div(P("rebuffer_count"), div(P("play_ms"), HOUR)),
        "Stalls per hour of play time.",
        VX,
    ),
    MetricSpec(
        "failurerate",
        "Video start failure (business exceptions excluded)",
        "percent",
        percent(sub(P("vsf_views"), P("vsf_business_views")), P("attempts")),
        "Attempts that failed with a fatal error before the first frame, business exceptions always left out, "
        "÷ attempts. The same as `vsf` by default; with `businesserror=true` `vsf` counts business exceptions "
        "and this still does not.",
        KPI,
    ),
    MetricSpec(
        "vsf",
        "Video start failure",
        "percent",
        percent(P("vsf_views"), P("attempts")),
        "Attempts that failed with a fatal error before the first frame ÷ attempts.",
        KPI,
        business=True,
    ),
    MetricSpec(
        "videostartfailures",
        "Video start failures",
        "views",
        P("vsf_views"),
        "Attempts that failed with a fatal error before the first frame.",
        ("errors",),
        business=True,
    ),
    MetricSpec(
        "ebvs",
        "Exits before video start",
        "percent",
        percent(P("ebvs_views"), P("attempts")),
        "Attempts that ended before the first frame without a fatal error ÷ attempts.",
        KPI,
    ),
    MetricSpec(
        "exitsbeforevideostart",
        "Exits before video start (views)",
        "views",
        P("ebvs_views"),
        "Attempts that ended before the first frame without a fatal error.",
        VX,
    ),
    MetricSpec(
        "vpf",
        "Video playback failure",
        "percent",
        percent(P("vpf_views"), P("plays")),
        "Plays that failed with a fatal error after the first frame ÷ plays.",
        KPI,
        business=True,
    ),
    MetricSpec(
        "playbackfailures",
        "Playback failures",
        "views",
        P("vpf_views"),
        "Plays that failed with a fatal error after the first frame.",
        ("errors",),
        business=True,
    ),
    MetricSpec(
        "totalstartupfailure",
        "Startup failures",
        "views",
        add(P("vsf_views"), P("ebvs_views")),
        "Attempts whose playback never started (VSF + EBVS).",
        ("errors",),
        business=True,
    ),
    MetricSpec(
        "errors",
        "Errors",
        "count",
        P("errors"),
        "Player error events (`error`), fatal or not. Ad errors (`ad_error`) are not counted: see `aderrors`.",
        ("errors",),
        business=True,
    ),
    MetricSpec(
        "fatalerrors",
        "Fatal errors",
        "count",
        P("fatal_errors"),
        "Player error events that ended playback (fatal). Ad errors are not counted.",
        ("errors",),
        business=True,
    ),
    MetricSpec(
        "errorsperplay",
        "Errors per play",
        "ratio",
        div(P("errors"), P("plays")),
        "Player error events ÷ plays. Ad errors are not counted.",
        ("errors",),
        business=True,
    ),
    MetricSpec(
        "uniqueviewercount",
        "Unique viewers",
        "count",
        P("viewers"),
        "Distinct viewer ids among views that started (approximate, within 1 %).",
        KPI,
    ),
    MetricSpec(
        "unique_subscribers",
        "Unique subscribers",
        "count",
        P("subscribers"),
        "Distinct subscriber ids among views that started.",
        KPI,
    ),
    MetricSpec(
        "uniquesubscribercount",
        "Unique subscribers (legacy name)",
        "count",
        P("subscribers"),
        "Same as unique_subscribers.",
        KPI,
    ),
    MetricSpec(
        "unique_devices",
        "Unique devices",
        "count",
        P("viewers"),
        "Distinct devices among views that started; a viewer id is minted per device install.",
        KPI,
    ),
    MetricSpec(
        "anonymous_viewers",
        "Anonymous viewers",
        "count",
        P("anonymous_viewers"),
        "Distinct viewer ids of views without a subscriber id.",
        KPI,
    ),
    MetricSpec(
        "playperunique",
        "Plays per unique viewer",
        "ratio",
        div(P("plays"), P("viewers")),
        "Plays ÷ unique viewers.",
        ("kpis",),
    ),
    MetricSpec(
        "playtimeperunique",
        "Play time per unique viewer",
        "minutes",
        div(div(P("play_ms"), MINUTE), P("viewers")),
        "Play time (minutes) ÷ unique viewers.",
        ("kpis",),
    ),
    MetricSpec(
        "avg_playtime_by_audience",
        "Average audience play time",
        "minutes",
        div(div(P("play_ms"), MINUTE), P("viewers")),
        "Same as playtimeperunique.",
        ("kpis",),
    ),
    MetricSpec(
        "avgbitrate",
        "Average bitrate",
        "kbps",
        div(P("bitrate_play"), P("play_ms")),
        "Σ(bitrate × play time) ÷ Σ play time.",
        VX,
    ),
    MetricSpec("bitrateswitches", "Bitrate switches", "count", P("bitrate_switches"), "Rendition changes.", VX),
    MetricSpec(
        "bitrateswitchesperhour",
        "Bitrate switches per hour",
        "per hour",
        div(P("bitrate_switches"), div(P("play_ms"), HOUR)),
        "Rendition changes per hour of play.",
        VX,
    ),
    MetricSpec(
        "upscaleshare",
        "Upscale share",
        "percent",
        percent(P("upswitches"), P("bitrate_switches")),
        "Rendition changes to a higher bitrate ÷ all rendition changes.",
        VX,
    ),
    MetricSpec(
        "downscaleshare",
        "Downscale share",
        "percent",
        percent(P("downswitches"), P("bitrate_switches")),
        "Rendition changes to a lower bitrate ÷ all rendition changes.",
        VX,
    ),
    MetricSpec("droppedframes", "Dropped frames", "count", P("dropped_frames"), "Frames dropped.", VX),
    MetricSpec(
        "droppedframesperminute",
        "Dropped frames per minute",
        "ratio",
        div(P("dropped_frames"), div(P("play_ms"), MINUTE)),
        "Frames dropped per minute of play.",
        VX,
    ),
    MetricSpec(
        "livelatency",
        "Live latency",
        "seconds",
        div(div(P("live_latency_sum"), P("live_latency_count")), SECOND),
        "Average distance from the live edge over the samples of live views (`streamtype` `live`): what a view "
        "that is not said to be live sends is not counted.",
        VX,
    ),
    MetricSpec("cbrsize", "Traffic", "bytes", P("bytes"), "Media bytes downloaded.", VX),
    MetricSpec(
        "qualityofexperience",
        "Playback score",
        "score",
        mul(
            mul(
                mul(Const(100.0), div(P("plays"), P("attempts"))),
                Clamp(sub(Const(1.0), mul(Const(5.0), REBUFFER_RATIO)), 0.0, 1.0),
            ),
            Clamp(sub(Const(1.0), div(sub(STARTUP_S, Const(1.0)), Const(9.0))), 0.0, 1.0),
        ),
        "0–100: the share of attempts that played, × (1 − 5 × rebuffering ratio), × a start-time "
        "factor falling from 1 at 1 s to 0 at 10 s; each factor clamped to [0, 1]. 0 when the rebuffering ratio "
        "is 20 % or more or the average start time 10 s or more. No value (null) when a factor has none: a "
        "group without plays (its attempts all failed or exited before the first frame: no start time, so no "
        "score rather than 0), or without play or stall time (in a series a bucket can hold plays, counted at "
        "the view's start, and no play time, counted when it happens).",
        KPI,
    ),
    MetricSpec("adrequests", "Ad requests", "count", P("ad_requests"), "Ad requests.", ADS, ad=True),
    MetricSpec("adimpression", "Ad impressions", "count", P("ad_impressions"), "Ad impressions.", ADS, ad=True),
    MetricSpec(
        "totaladimpression",
        "Total ad impressions",
        "count",
        P("ad_impressions"),
        "Ad impressions; the context total SmartSight clients request beside ad rates.",
        ADS,
        ad=True,
    ),
    MetricSpec(
        "adfillrate",
        "Ad fill rate",
        "percent",
        percent(P("ad_impressions"), P("ad_requests")),
        "Ad impressions ÷ ad requests.",
        ADS,
        ad=True,
    ),
    MetricSpec("adstarts", "Ad starts", "count", P("ad_starts"), "Ads that started playing.", ADS, ad=True),
    MetricSpec(
        "adstartfailures",
        "Ad start failures",
        "count",
        sub(P("ad_impressions"), P("ad_starts")),
        "Ad impressions that never started playing.",
        ADS,
        ad=True,
    ),
    MetricSpec(
        "adstartfailurerate",
        "Ad start failure rate",
        "percent",
        percent(sub(P("ad_impressions"), P("ad_starts")), P("ad_impressions")),
        "Ad start failures ÷ ad impressions.",
        ADS,
        ad=True,
    ),
    MetricSpec(
        "adfirstquartilerate",
        "Ad first quartile rate",
        "percent",
        percent(P("ad_first_quartiles"), P("ad_starts")),
        "Ads played to 25 % ÷ ad starts.",
        ADS,
        ad=True,
    ),
    MetricSpec(
        "admidpointrate",
        "Ad midpoint rate",
        "percent",
        percent(P("ad_midpoints"), P("ad_starts")),
        "Ads played to 50 % ÷ ad starts.",
        ADS,
        ad=True,
    ),
    MetricSpec(
        "adthirdquartilerate",
        "Ad third quartile rate",
        "percent",
        percent(P("ad_third_quartiles"), P("ad_starts")),
        "Ads played to 75 % ÷ ad starts.",
        ADS,
        ad=True,
    ),
    MetricSpec(
        "adcompletionrate",
        "Ad completion rate",
        "percent",
        percent(P("ad_completes"), P("ad_starts")),
        "Ads played to the end ÷ ad starts.",
        ADS,
        ad=True,
    ),
    MetricSpec("aderrors", "Ad errors", "count", P("ad_errors"), "Ad errors.", ADS, ad=True),
    MetricSpec(
        "aderrorrate",
        "Ad error rate",
        "percent",
        percent(P("ad_errors"), P("ad_requests")),
        "Ad errors ÷ ad requests.",
        ADS,
        ad=True,
    ),
    MetricSpec("adskips", "Ad skips", "count", P("ad_skips"), "Ads skipped.", ADS, ad=True),
    MetricSpec(
        "adclickrate",
        "Ad click-through rate",
        "percent",
        percent(P("ad_clicks"), P("ad_impressions")),
        "Ad clicks ÷ ad impressions.",
        ADS,
        ad=True,
    ),
    MetricSpec("adstalls", "Ad stalls", "count", P("ad_stalls"), "Stalls during ads.", ADS, ad=True),
    MetricSpec(
        "adplaydur", "Ad play time", "minutes", div(P("ad_ms"), MINUTE), "Ad play time, in minutes.", ADS, ad=True
    ),
)

_BY_NAME = {m.name: m for m in METRICS}


def metric(name: str) -> MetricSpec:
    """The metric called `name`; KeyError when the catalog has none."""
    return _BY_NAME[name]


def _check() -> None:
    known = {p.name for p in PARTS}
    for spec in METRICS:
        unknown = parts_of(spec.formula) - known
        if unknown:
            raise ValueError(f"metric {spec.name} reads unknown parts {sorted(unknown)}")
    if len(_BY_NAME) != len(METRICS):
        raise ValueError("metric names must be unique")


_check()
