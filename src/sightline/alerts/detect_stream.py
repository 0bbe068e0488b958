"""The streaming form of the detector: one univariate series, point by point, seeing only the past (NAB's
setting, where no volumes exist). Pure: numpy only, no IO.

    stream_scores(times_s: (T,) int64 seconds, values: (T,) float, params: StreamParams = StreamParams())
        -> (T,) float in [0, 1]
    stream_p_values(times_s, values, params) -> (T,) float: each row's tail probability, before episodes

The same family as `detect`: each point is compared with values expected from its past (robust medians, the
same time on previous days and weeks), the surprise is turned into a tail probability learned from the
series' own past, and alerts come in episodes. Every quantity at row t uses rows < t only, except the point's own value:
- four surprises (each ≥ 0): `spike`, |x − the median of the last `level_points` values|; `daily`, |x − the
  median of the values at the same time on the `days` previous days − the median of that seasonal residual
  over the last `correction_points`|; `weekly`, the same with the lags and weights of `detect` (the
  `weekly_days` previous days and the `weeks` previous weeks, a week weighing WEEKLY_WEIGHT); `shift`, |the mean
  of the last `change_points` spike residuals| (a sustained level change);
- each surprise's tail probability p from its own past `tail_window` values, a peaks-over-threshold model:
  over the `tail_quantile` quantile u, excesses are exponential with the mean excess β, so
  p = (1 − tail_quantile)·exp(−(a − u)/β), and p = 1 at or below u; u and β are refitted every `refit_every`
  rows (cost O(T × tail_window / refit_every));
- the point's p is the smallest of the four times 4 (Bonferroni), and p = 1 during the first `warm_up` rows;
- an episode opens at a point with p < alpha when none is open, and closes after `resolve_after` points in a
  row with p ≥ alpha (the alert lifecycle: one alert per episode, updated, never repeated). The score of the
  point that opens an episode is 1 − p (> 1 − alpha); every other point scores 0.

So a NAB threshold anywhere in (0, 1 − alpha] flags exactly the episode openings; alpha is the one parameter.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from sightline.alerts.detect import DAY_S, seasonal_lags, weighted_median

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class StreamParams:
    """The streaming detector's parameters (see the module docstring). alpha = 1e-3 was chosen among 1e-4, 1e-3,
    3e-3 and 1e-2, and the windows, quantile and episode length among a few values each, on half of NAB's
    series (docs/alerts.md says which and how)."""

    alpha: float = 1e-3
    level_points: int = 12
    correction_points: int = 288
    change_points: int = 6
    days: int = 7
    weekly_days: int = 6
    weeks: int = 3
    tail_window: int = 1000
    tail_quantile: float = 0.98
    refit_every: int = 10
    warm_up: int = 50
    resolve_after: int = 50


def past_window(values: Array, width: int) -> Array:
    """Row t holds values[t − width : t] (strictly before t), NaN-padded: shape (T, width)."""
    padded = np.concatenate([np.full(width, np.nan), values])
    return sliding_window_view(padded[:-1], width)


def _nanmedian_rows(windows: Array) -> Array:
    """The median of each row, NaN for a row without values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmedian(windows, axis=1), dtype=np.float64)


def _nanmean_rows(windows: Array) -> Array:
    """The mean of each row, NaN for a row without values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmean(windows, axis=1), dtype=np.float64)


def same_time_before(
    times_s: npt.NDArray[np.int64], values: Array, lags_s: npt.NDArray[np.int64], weights: Array
) -> Array:
    """The weighted median of the values at the same time `lags_s` seconds before each row (the nearest row
    within half a step; NaN where none)."""
    step = float(np.median(np.diff(times_s))) if len(times_s) > 1 else float(DAY_S)
    target = times_s[:, None] - lags_s[None, :]
    row = np.clip(np.searchsorted(times_s, target), 0, len(times_s) - 1)
    nearest = (np.abs(times_s[row] - target) <= step / 2) & (target >= times_s[0])
    return weighted_median(np.where(nearest, values[row], np.nan), weights)


def _seasonal_surprise(
    times_s: npt.NDArray[np.int64], values: Array, lags_s: npt.NDArray[np.int64], weights: Array, params: StreamParams
) -> Array:
    residual = values - same_time_before(times_s, values, lags_s, weights)
    correction = _nanmedian_rows(past_window(residual, params.correction_points))
    return np.abs(residual - np.nan_to_num(correction))


def surprises(times_s: npt.NDArray[np.int64], values: Array, params: StreamParams) -> list[Array]:
    """The four surprises of every row (≥ 0, 0 where undefined), each from the row's value and the past."""
    level = _nanmedian_rows(past_window(values, params.level_points))
    spike_residual = values - level
    daily_lags = DAY_S * np.arange(1, params.days + 1)
    daily = _seasonal_surprise(times_s, values, daily_lags, np.ones(params.days), params)
    weekly = _seasonal_surprise(times_s, values, *seasonal_lags(1, params.weekly_days, params.weeks), params)
    with_current = np.append(spike_residual[1:], np.nan)  # row t's window ends at t: the last k residuals
    shift = np.abs(_nanmean_rows(past_window(with_current, params.change_points)))
    return [np.nan_to_num(surprise) for surprise in (np.abs(spike_residual), daily, weekly, shift)]


def tail_probability(surprise: Array, params: StreamParams) -> Array:
    """P(a surprise ≥ this one) from the series' past surprises: a peaks-over-threshold model (exponential
    excesses over the `tail_quantile` quantile), refitted every `refit_every` rows on rows before the refit."""
    rows = len(surprise)
    threshold = np.full(rows, np.inf)
    mean_excess = np.ones(rows)
    for start in range(params.refit_every, rows, params.refit_every):
        past = surprise[max(0, start - params.tail_window) : start]
        u = float(np.quantile(past, params.tail_quantile))
        above = past[past > u]
        threshold[start : start + params.refit_every] = u
        mean_excess[start : start + params.refit_every] = max(float(above.mean()) - u, 1e-12) if len(above) else 1e-12
    with np.errstate(over="ignore"):
        tail = (1.0 - params.tail_quantile) * np.exp(-(surprise - threshold) / mean_excess)
    return np.where(surprise > threshold, tail, 1.0)


def open_episodes(p_value: Array, params: StreamParams) -> Array:
    """1 − p at the rows that open an episode (p < alpha with none open), 0 elsewhere; an episode closes after
    `resolve_after` rows in a row with p ≥ alpha."""
    scores = np.zeros(len(p_value))
    is_open, clean = False, 0
    for row, p in enumerate(p_value.tolist()):
        if p < params.alpha:
            if not is_open:
                scores[row] = 1.0 - p
            is_open, clean = True, 0
        elif is_open:
            clean += 1
            is_open = clean < params.resolve_after
    return scores


def stream_p_values(times_s: npt.NDArray[np.int64], values: Array, params: StreamParams | None = None) -> Array:
    """The tail probability of every row of one series (the smallest surprise's, Bonferroni-corrected; 1 during
    the warm-up); causal."""
    params = params or StreamParams()
    if times_s.shape != values.shape or values.ndim != 1:
        raise ValueError("times_s and values must be one-dimensional arrays of the same length")
    found = surprises(times_s, np.asarray(values, dtype=np.float64), params)
    smallest = np.min([tail_probability(surprise, params) for surprise in found], axis=0)
    p_value: Array = np.minimum(1.0, len(found) * smallest)
    p_value[: params.warm_up] = 1.0
    return p_value


def stream_scores(times_s: npt.NDArray[np.int64], values: Array, params: StreamParams | None = None) -> Array:
    """NAB's anomaly score of every row of one series: 1 − p at the rows that open an episode, else 0; causal."""
    params = params or StreamParams()
    return open_episodes(stream_p_values(times_s, values, params), params)
