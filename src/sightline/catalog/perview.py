"""Per-view metrics: the metrics whose formula can be evaluated on one view, for `qoefilter`.

A metric qualifies when every part it reads is a column of `views` (one value per view) and it uses
no quantile and no period length. Its per-view value is its formula over that view's columns, e.g.
a view's `bufferingratio` is 100 × its stall time ÷ (its play time + its stall time).
"""

from __future__ import annotations

from sightline.catalog.formula import Binary, Clamp, Formula, Part, PeriodMs, Quantile
from sightline.catalog.metrics import METRICS, MetricSpec
from sightline.catalog.parts import PARTS, VIEW_COLUMNS, ViewColumnSpec

PART_VIEW_COLUMNS: dict[str, str] = {
    "attempts": "play_requested",
    "plays": "started",
    "startup_ms_sum": "startup_ms",
    "vsf_views": "vsf",
    "ebvs_views": "ebvs",
    "vpf_views": "vpf",
    "completed_views": "completed",
    "play_ms": "play_ms",
    "rebuffer_ms": "rebuffer_ms",
    "rebuffer_count": "rebuffer_count",
    "bitrate_play": "bitrate_play",
    "dropped_frames": "dropped_frames",
    "bytes": "bytes",
    "errors": "errors",
    "fatal_errors": "fatal_errors",
    "bitrate_switches": "bitrate_switches",
    "live_latency_sum": "live_latency_sum",
    "live_latency_count": "live_latency_count",
    "ad_ms": "ad_ms",
    "ad_impressions": "ad_impressions",
    "ad_errors": "ad_errors",
}
"""Part → the column of `views` that holds that part's value for one view."""

BUSINESS_PARTS: dict[str, tuple[str, ...]] = {
    "vsf_business_views": ("vsf", "business_error"),
    "vpf_business_views": ("vpf", "business_error"),
    "fatal_business_errors": ("business_error",),
    "business_errors": ("business_error",),
}
"""Business-exception parts → the `views` flags whose minimum is their value for one view. A view keeps
only whether its fatal error was a business exception, so a non-fatal business exception stays counted in
`errors` (players report them as fatal: entitlement, geo-block, concurrency limit)."""

VIEW_COLUMN_SPECS: dict[str, ViewColumnSpec] = {c.name: c for c in VIEW_COLUMNS}


def _per_view(formula: Formula) -> bool:
    if isinstance(formula, Quantile | PeriodMs):
        return False
    if isinstance(formula, Binary):
        return _per_view(formula.left) and _per_view(formula.right)
    if isinstance(formula, Clamp):
        return _per_view(formula.value)
    return not isinstance(formula, Part) or formula.name in PART_VIEW_COLUMNS


PER_VIEW_METRICS: dict[str, MetricSpec] = {m.name: m for m in METRICS if _per_view(m.formula)}


def _check() -> None:
    parts = {p.name for p in PARTS}
    for part, column in PART_VIEW_COLUMNS.items():
        if part not in parts or column not in VIEW_COLUMN_SPECS:
            raise ValueError(f"per-view mapping {part} → {column} names an unknown part or views column")


_check()
