"""The streaming novelty detector: one univariate series, point by point, each point judged against the points
before it only (NAB's setting: no volumes, one threshold). Pure: numpy only, no IO.

    novelty_scores(times_s: (T,) int64 seconds, values: (T,) float, params: NoveltyParams = NoveltyParams())
        -> (T,) float in [0, 1]: above 0.5 at the rows that open an alarm, 0 at every other row

A point is novel when, in one of five views of the series, it goes past everything the series has shown before
— the view's record high or record low — by more than `tolerance` of a range:
- `value`: the value itself (a spike, a drop to a level never seen), against its own past range;
- `level`: the median of the last `level_points` values (a lasting shift rather than one point), against its
  own past range, which is narrower than the values' (a shift within the values' range is news for the median);
- `spread`: the standard deviation of the last `spread_points` values (a change of variance; a flat line);
- `daily`: the value minus the median of the values at the same time on the `days` previous days;
- `weekly`: the value minus the median of the values at the same time on the `weeks` previous weeks.
The last three are measured against the series' past range (the values' record high minus record low, or
their own if larger): their own range is the noise's, and a record of noise is not news. A seasonal view counts
only while its expectation predicts the series at least as well as its recent level does: the median absolute
error of the seasonal expectation over the last `fit_points` rows is at most that of the median of the
`recent_points` values before each row, and the weekly view's below the daily view's (refitted every
`refit_every` rows), so a series without that season gets no second, noisier copy of the value view. A view's
records count once it has `warm_up` values; NaN values are skipped, and a window statistic needs half its window.

Alarms: a view that alarmed is quiet for the next `quiet_points` rows (a lasting change is one alarm, not one
per new high), and after any alarm the detector is quiet for `episode_points` rows (one alarm per episode across
views). The score of an alarm is e / (e + tolerance), e the largest excess over the views that alarm (in units of
their range), so the one threshold 0.5 flags exactly the alarms, fixed in advance.

Why records: if the points of a series were exchangeable, the n-th would beat the n − 1 before it with chance
1/n, so alarms grow rarer as history grows without a threshold fitted to each series; the tolerance ignores
records won by a hair. Every quantity at row t uses rows < t and row t's own value (`novelty_scores` of a prefix
is the prefix of the scores). Cost: O(T × (level_points + spread_points + days + weeks)) plus O(T / refit_every
× fit_points).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from sightline.alerts.detect import DAY_S
from sightline.alerts.detect_stream import past_window, same_time_before

Array = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]

OWN_RANGE_VIEWS = ("value", "level")
FIT_MINIMUM = 100  # values a past median absolute error needs


@dataclass(frozen=True)
class NoveltyParams:
    """The novelty detector's parameters (see the module docstring); docs/alerts.md says how they were chosen."""

    tolerance: float = 0.02
    warm_up: int = 200
    level_points: int = 48
    spread_points: int = 24
    days: int = 7
    weeks: int = 3
    fit_points: int = 1000
    recent_points: int = 12
    refit_every: int = 50
    quiet_points: int = 100
    episode_points: int = 30


def trailing_window(values: Array, width: int) -> Array:
    """Row t holds values[t − width + 1 : t + 1] (ending at t), NaN-padded: shape (T, width)."""
    return sliding_window_view(np.concatenate([np.full(width - 1, np.nan), values]), width)


def _rows(statistic: Literal["median", "std"], windows: Array) -> Array:
    """The nan-aware median or standard deviation of each row, NaN for a row with fewer values than half its
    width (the first rows of a series, or a stretch of missing values)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = np.nanmedian(windows, axis=1) if statistic == "median" else np.nanstd(windows, axis=1)
    enough = 2 * (~np.isnan(windows)).sum(axis=1) >= windows.shape[1]
    return np.where(enough, np.asarray(result, dtype=np.float64), np.nan)


def novelty_views(times_s: npt.NDArray[np.int64], values: Array, params: NoveltyParams) -> dict[str, Array]:
    """The five views of every row (NaN where undefined), each from the row's value and the rows before it."""
    daily_lags = DAY_S * np.arange(1, params.days + 1)
    weekly_lags = 7 * DAY_S * np.arange(1, params.weeks + 1)
    return {
        "value": values,
        "level": _rows("median", trailing_window(values, params.level_points)),
        "spread": _rows("std", trailing_window(values, params.spread_points)),
        "daily": values - same_time_before(times_s, values, daily_lags, np.ones(params.days)),
        "weekly": values - same_time_before(times_s, values, weekly_lags, np.ones(params.weeks)),
    }


def past_median(values: Array, params: NoveltyParams) -> Array:
    """The median of the (non-NaN) values among the `fit_points` rows before each row, refitted every
    `refit_every` rows on the rows before the refit; NaN until FIT_MINIMUM values are there."""
    median = np.full(len(values), np.nan)
    for start in range(params.refit_every, len(values), params.refit_every):
        past = values[max(0, start - params.fit_points) : start]
        past = past[~np.isnan(past)]
        if len(past) >= FIT_MINIMUM:
            median[start : start + params.refit_every] = np.median(past)
    return median


def seasonal_fit(values: Array, views: dict[str, Array], params: NoveltyParams) -> dict[str, Flags]:
    """Where each seasonal view counts: the past median absolute error of its expectation is at most that of the
    median of the `recent_points` values before the row, and, for the weekly view, below the daily one's (a
    weekly expectation is only news where the week tells more than the day)."""
    recent = _rows("median", past_window(values, params.recent_points))
    level_error = past_median(np.abs(values - recent), params)
    daily_error = past_median(np.abs(views["daily"]), params)
    weekly_error = past_median(np.abs(views["weekly"]), params)
    with np.errstate(invalid="ignore"):
        return {
            "daily": np.asarray(daily_error <= level_error),
            "weekly": np.asarray((weekly_error <= level_error) & ~(daily_error < weekly_error)),
        }


def records(view: Array) -> tuple[Array, Array]:
    """The view's record high and record low over the rows before each row (NaN before its first value)."""
    before = np.concatenate([[np.nan], view[:-1]])
    return np.fmax.accumulate(before), np.fmin.accumulate(before)


def past_range(view: Array) -> Array:
    """The view's record high minus its record low over the rows before each row."""
    record_high, record_low = records(view)
    return record_high - record_low


def record_excess(view: Array, unit: Array, warm_up: int) -> Array:
    """How far each row goes past the view's record high or low before it, in units of `unit` (a range); 0
    within the records, before the view has `warm_up` values, or while the unit is 0."""
    record_high, record_low = records(view)
    seen = np.concatenate([[0], np.cumsum(~np.isnan(view))[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = np.fmax(view - record_high, record_low - view) / unit
    counts = (seen >= warm_up) & (unit > 0) & (excess > 0)
    return np.where(counts, excess, 0.0)


def novelty_excess(times_s: npt.NDArray[np.int64], values: Array, params: NoveltyParams) -> dict[str, Array]:
    """Each view's record excess at every row (0 where the view does not count); causal. The value and level
    views are measured in their own past range; the spread and the seasonal residuals, whose own range is the
    noise's, in the series' past range (or their own if larger)."""
    views = novelty_views(times_s, values, params)
    series_range = past_range(values)
    excess = {}
    for name, view in views.items():
        unit = past_range(view) if name in OWN_RANGE_VIEWS else np.fmax(past_range(view), series_range)
        excess[name] = record_excess(view, unit, params.warm_up)
    for name, fits in seasonal_fit(values, views, params).items():
        excess[name] = np.where(fits, excess[name], 0.0)
    return excess


def first_of_each(flags: Flags, quiet: int) -> Flags:
    """The flags that come more than `quiet` rows after the previous kept flag."""
    kept = np.zeros_like(flags)
    last = -quiet - 1
    for row in np.flatnonzero(flags).tolist():
        if row - last > quiet:
            kept[row], last = True, row
    return kept


def open_alarms(excess: dict[str, Array], params: NoveltyParams) -> Array:
    """e / (e + tolerance) at the rows that open an alarm (a view past its record by more than `tolerance`,
    outside its own quiet period and the detector's), 0 elsewhere; e is the largest excess there."""
    excesses = list(excess.values())
    alarms = [first_of_each(view_excess > params.tolerance, params.quiet_points) for view_excess in excesses]
    opened = first_of_each(np.logical_or.reduce(alarms), params.episode_points)
    largest = np.max([np.where(alarm, e, 0.0) for alarm, e in zip(alarms, excesses, strict=True)], axis=0)
    return np.where(opened, largest / (largest + params.tolerance), 0.0)


def novelty_scores(times_s: npt.NDArray[np.int64], values: Array, params: NoveltyParams | None = None) -> Array:
    """NAB's anomaly score of every row of one series: above 0.5 at the rows that open an alarm, 0 elsewhere;
    causal."""
    params = params or NoveltyParams()
    if times_s.shape != values.shape or values.ndim != 1:
        raise ValueError("times_s and values must be one-dimensional arrays of the same length")
    if len(values) == 0:
        return np.zeros(0)
    return open_alarms(novelty_excess(times_s, np.asarray(values, dtype=np.float64), params), params)
