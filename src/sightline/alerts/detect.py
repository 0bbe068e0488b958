"""The anomaly detector of AI alerts: each cohort's observed value against the value expected from its own
history, with a significance that respects volume. Pure: numpy only, no IO.

One call evaluates one metric for C cohorts (the whole, and each cohort in scope) at once; nothing loops over
cohorts in Python.

    detect(series: MetricSeries, rule: DetectorRule = DetectorRule(), evaluate: int = 1) -> Detection

`MetricSeries(kind, value, volume, interval_s)`: arrays of shape (C, T), one column per detection interval of
`interval_s` seconds, oldest first, the last `evaluate` columns being the intervals to judge; NaN (or a volume
of 0) is an interval without data. By `kind`:
- `RATIO` (VSF %, EBVS %, VPF %, failure rate, rebuffering ratio, ad error and fill rates): `value` = the
  numerator counts (failed attempts), `volume` = the denominator counts (attempts); tested as counts with a
  binomial deviance (continuity-corrected: `CONTINUITY`), overdispersed as a beta-binomial: variance ×
  (1 + (n − 1)·rho), rho learned per cohort on its intervals of at least `MIN_EXPECTED_FIT` expected events (when
  there are `MIN_FIT_INTERVALS` of them);
- `MEAN` (startup time, bitrate, rebuffering ratio): `value` = sums (Σ startup ms), `volume` = counts (started
  views) or durations; a cohort whose means before the judged intervals were never 0 (start time, bitrate) is
  judged on the log scale, where a mean of long-tailed positive values is near-normal: on the linear scale its
  right tail is far heavier than the normal's and medians underestimate its spread (on clean lognormal views of
  log-sd 1 to 1.5, 20 to 40 a mean, 1e−2 to 2e−3 of the intervals passed alpha = 1e−5; 2e−4 to 7e−5 on the log
  scale); a cohort with means of 0 (no stall in an interval) on the linear scale. Variance of an interval's
  (log) mean = max(a / n + b, s / n), learned per cohort (a: spread between views, b: spread between intervals;
  s / n: the variance at the cohort's typical volume n₀ scaled by n₀ / n, a floor for windows of fewer views); the
  residual over its deviation is a Student t (`MEDIAN_FIT_DOF`), scored as the normal quantile of its tail;
- `COUNT` (plays, attempts, concurrent viewers): `value` = counts, `volume` = None; a Poisson deviance,
  overdispersed as a negative binomial and widened by the error of its expectation: variance × (1 + v)·(1 + κ·μ),
  κ learned per cohort, v the variance of the weighted median of the lags' counts relative to one count's
  (`median_variance`: 0.79 for 6 days and a week weighing as much, 0.21 for 7 equal lags). Give 0 for an interval
  without events (an outage is a count of 0), NaN only for an interval not measured.

Expected value: for each judged interval, the values at the same time on each of the `rule.days` previous
days (the same weekday excluded) and the `rule.weeks` previous weeks, the weeks present sharing equally the
weight of the days present (`balanced`: the same weekday weighs as much as the other days, whether the history
holds one week or three; daily and weekly seasonality), combined robustly: their weighted median (COUNT; for
MEAN each lag's weight times its views, a mean of few views being little evidence) or, for RATIO, their counts
pooled, leaving out the lags whose rate is significantly above the pool's (z > LAG_OUTLIER_Z: past anomalies do
not move it), shrunk towards the cohort's long-run rate by pseudo-attempts holding `PRIOR_EVENTS` of its rarer
outcome (`prior_attempts`), against the pool's effective number of attempts. Missing lags are skipped; a cohort with
no usable lag falls back to its long-run value. The dispersion (rho, κ, a and b) is fitted on the
`rule.fit_intervals` intervals before the judged ones, by medians, so that past anomalies do not inflate it. For
RATIO and COUNT the expectation's own error (a rate learnt from a finite pool of attempts, a median of few counts)
widens the test too.

Decision: `score` is the test statistic in standard-normal units (z), signed so that positive is the bad
`direction`; an interval is `anomalous` when score ≥ z*(alpha) and its volume ≥ `rule.min_volume`, with
alpha = 10^−(2 + 6·(1 − sensitivity)): sensitivity 0 → alpha = 1e−8, 0.5 (default) → 1e−5, 1 → 1e−2. The
default aims at one false alert per 100,000 cohort-intervals (about 3.5 weeks of one cohort at 5 minutes;
measured by bench/nab.py on clean synthetic traffic: about 1e−5 for binomial counts, 2 to 3 times that for
overdispersed ones), and makes 2 failures of 4 attempts at a 1 % baseline not significant (binomial tail
≈ 6e−4) while 3 of 4 is.
`lower` and `upper` bound the values that would not be anomalous (the normal approximation of the test's
acceptance region, in the observed value's unit, both sides), for drawing the band.

Cost: O(C × (fit_intervals + evaluate) × (days + weeks)) time and memory; 10,000 cohorts with the defaults
(144 + 1 intervals, 6 + 3 lags) are about 13M values per intermediate array (104 MB); bench/nab.py measures a
round.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from itertools import combinations
from math import comb
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Lags = tuple[npt.NDArray[np.int64], Array]  # seasonal lags (in intervals) and their weights
Mask = npt.NDArray[np.bool_]
Seasons = tuple[npt.NDArray[np.int64], Mask]  # seasonal lags (in intervals), and which are a week's

MAX_WEEKS = 8  # `median_variance` looks at every subset of the lags: 2^14 at most
PRIOR_ATTEMPTS = 100.0
PRIOR_EVENTS = 10.0
"""A ratio's seasonal pool is shrunk towards the cohort's long-run rate by pseudo-attempts that hold this many of the
rarer outcome (failures, or for a fill rate the unfilled), PRIOR_ATTEMPTS at least, and otherwise at most the history's
attempts as the series counts them (a round's windowed sums count an attempt once for each window it is in): the
rate at one time of day is the long-run rate within about a third (1 / √10), so a pool of few expected
failures says little against it. With a fixed 100 attempts, a cohort failing 0.6 % of its starts was expected at
0.07 % whenever its 7 lags' 15 minutes held no failure (which 1.7 expected failures often do), and 5 failed starts
of 66 were an alert on clean traffic."""
LAG_OUTLIER_Z = 4.0
CHI2_1_MEDIAN = 0.454936423119572  # the median of a χ²(1) variable: the median squared z of clean intervals
DAY_S = 86_400
_ERFC_COEFFICIENTS = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)  # fmt: skip
WEEKLY_WEIGHT = 2.0
CONTINUITY = 0.5
"""A count's step towards its expectation before its deviance is taken: the deviance of a few expected events has a
tail heavier than the normal's (2 failures where 0.05 are expected: z 3.3, a normal tail of 5e−4 against the
binomial's 1.2e−3); half a step brings it to the binomial's or just under."""
MEDIAN_FIT_DOF = 0.37
"""A mean's variance is learnt from the median squared residual of its fit's intervals; the median of N squared
normal residuals varies as a sample variance of 0.37·N degrees of freedom (Var(median of χ²(1)) = 1.13 / N, relative
to its square 5.44 / N, against 2 / dof). Its statistic is therefore read as a Student t of that many degrees of
freedom, not a normal: with 144 fit intervals, 53; P(t > 5) = 3.3e−6 where P(z > 5) = 2.9e−7 (a round's windows
overlap, a 15-minute window every 5 minutes, so its residuals are correlated and the true degrees of freedom fewer:
an approximation, whose tails the calibration measures, at or under the normal's at 4). A mean's windows of few
long views (a bitrate weighted by watch time) have tails heavier than the normal's as well: on the evaluation
scenario's clean stretches bitrate's z passed 5 in 3.1e−6 of the cohort-windows (docs/alerts.md, "One rule's
calibration")."""
MIN_FIT_INTERVALS = 24
"""The fewest intervals of `MIN_EXPECTED_FIT` expected events rho is fitted on (else it is 0): a median of a handful is
the incident's own, when the intervals that reach 5 expected events are those of the incident going on (a small
cohort's ad errors at 20:30, 25 minutes into an ad server's failure: the last 6 of its 144 intervals, z 2.6 to 7.8,
made rho 2.2, and 22 errors of 41 against 12 % scored z 0.7)."""
MIN_EXPECTED_FIT = 5.0
"""The expected events an interval needs to count in the fit of rho: below it the median deviance of plain binomial
counts is larger than the χ²(1)'s (0.76 against 0.45 at 2.5 expected), which read as overdispersion and hid a
cohort's 13 exits of 20 against 0.8 expected."""


class MetricKind(StrEnum):
    RATIO = "ratio"
    MEAN = "mean"
    COUNT = "count"


class Direction(StrEnum):
    """Which deviation is bad: UP for failure rates and startup time, DOWN for bitrate and plays."""

    UP = "up"
    DOWN = "down"
    BOTH = "both"


@dataclass(frozen=True)
class MetricSeries:
    """One metric of C cohorts over T intervals (shape (C, T), oldest first); see the module docstring."""

    kind: MetricKind
    value: Array
    volume: Array | None
    interval_s: int = 300


@dataclass(frozen=True)
class DetectorRule:
    """The detector's parameters of one alert rule: the bad direction, the sensitivity in [0, 1], the smallest
    volume judged (attempts or views; not used for counts), the seasonal lags and the intervals the dispersion
    is fitted on; `alpha`, when given, instead of the sensitivity's (the alerts engine sets it per round, see
    docs/alerts.md)."""

    direction: Direction = Direction.UP
    sensitivity: float = 0.5
    min_volume: float = 0.0
    days: int = 6
    weeks: int = 3
    fit_intervals: int = 144
    alpha: float | None = None
    """The one-sided tail probability below which an interval is anomalous; None: `alpha_for(sensitivity)`."""


@dataclass(frozen=True)
class Detection:
    """The judged intervals, each of shape (C, evaluate): the observed value (rate, mean or count), the expected
    value, the band [lower, upper] of values that are not anomalous, the score (z, positive = bad direction),
    its one-sided p-value, the volume (denominator, count of means, or the count itself) and the decision."""

    observed: Array
    expected: Array
    lower: Array
    upper: Array
    score: Array
    p_value: Array
    volume: Array
    anomalous: npt.NDArray[np.bool_]


def alpha_for(sensitivity: float) -> float:
    """The one-sided tail probability below which an interval is anomalous, for a sensitivity in [0, 1]."""
    if not 0.0 <= sensitivity <= 1.0:
        raise ValueError(f"sensitivity must be between 0 and 1, not {sensitivity}")
    return float(10.0 ** -(2.0 + 6.0 * (1.0 - sensitivity)))


def z_threshold(alpha: float) -> float:
    """z*(alpha): the standard-normal quantile with a tail probability alpha above it."""
    return NormalDist().inv_cdf(1.0 - alpha)


def t_as_z(t: Array, dof: Array) -> Array:
    """The standard-normal quantile of a Student t of `dof` degrees of freedom with the same tail (Wallace's
    approximation: within 0.03 of the exact quantile from 5 degrees of freedom and up to t = 8)."""
    return np.sign(t) * np.sqrt(dof * np.log1p(t * t / dof)) * (8.0 * dof + 1.0) / (8.0 * dof + 3.0)


def z_as_t(z: float, dof: Array) -> Array:
    """The inverse of `t_as_z`: the t of `dof` degrees of freedom as far in the tail as z."""
    return np.sqrt(dof * np.expm1((z * (8.0 * dof + 3.0) / (8.0 * dof + 1.0)) ** 2 / dof))


def normal_sf(z: Array) -> Array:
    """P(Z ≥ z) for a standard normal Z, elementwise (Chebyshev fit of erfc, relative error < 1.2e−7)."""
    x = np.abs(z) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * x)
    poly = np.zeros_like(t)
    for coefficient in reversed(_ERFC_COEFFICIENTS):
        poly = poly * t + coefficient
    half_erfc: Array = 0.5 * t * np.exp(-x * x + poly)
    return np.where(z >= 0, half_erfc, 1.0 - half_erfc)


def seasonal_lags(interval_s: int, days: int, weeks: int) -> Lags:
    """The lags, in intervals, of the same time on each of the `days` previous days (the same weekday excluded)
    and on each of the `weeks` previous weeks, and their weights when all are present (WEEKLY_WEIGHT for a
    week's, 1 for a day's; `detect` weighs the lags present by `balanced`)."""
    per_day = DAY_S // interval_s
    if per_day * interval_s != DAY_S:
        raise ValueError(f"the interval ({interval_s} s) must divide a day")
    if not 0 <= days <= 6 or not 0 <= weeks <= MAX_WEEKS or days + weeks == 0:
        raise ValueError(f"days must be 0 to 6 and weeks 0 to {MAX_WEEKS}, not both 0 (days={days}, weeks={weeks})")
    lags = [per_day * k for k in range(1, days + 1)] + [7 * per_day * k for k in range(1, weeks + 1)]
    return np.array(lags), np.array([1.0] * days + [WEEKLY_WEIGHT] * weeks)


def weighted_median(values: Array, weights: Array) -> Array:
    """The weighted median along the last axis of `values` (weights of shape (K,), or of `values`' shape): the
    lower one, the smallest value with at least half the weight at or below it; NaN values are skipped, and an
    all-NaN slice gives NaN."""
    return weighted_medians(values, weights)[0]


def weighted_medians(values: Array, weights: Array) -> tuple[Array, Array]:
    """The lower and the upper weighted median along the last axis (`weighted_median`; the upper one is the
    largest value with at least half the weight at or above it), from one sort; they differ only where the
    weight below a value is exactly half."""
    order = np.argsort(values, axis=-1)  # NaN sorts last
    ordered = np.take_along_axis(values, order, axis=-1)
    mass = np.where(np.isnan(ordered), 0.0, np.take_along_axis(np.broadcast_to(weights, values.shape), order, -1))
    below = np.cumsum(mass, axis=-1)
    above = np.cumsum(mass[..., ::-1], axis=-1)  # from the largest value down (the NaN, weightless, first)
    lower = np.take_along_axis(ordered, np.argmax(below >= below[..., -1:] / 2.0, axis=-1)[..., None], axis=-1)
    upper = np.take_along_axis(
        ordered[..., ::-1], np.argmax(above >= above[..., -1:] / 2.0, axis=-1)[..., None], axis=-1
    )
    weighed = below[..., -1] > 0
    return np.where(weighed, lower[..., 0], np.nan), np.where(weighed, upper[..., 0], np.nan)


def balanced(present: Mask, weekly: Mask) -> Array:
    """The weight of each lag (shape of `present`, (…, K)): 1 for a day's; the weeks' lags present share the
    days' present total equally (1 each without a day's), so that the same weekday weighs as much as the other
    days whatever the history holds: with 6 days and the week before, that week weighs 6 (a weekend hour is
    not expected at the level of the 5 weekdays among its 6 days before); with 3 weeks, each weighs 2. 0 for a
    lag not present."""
    days = np.sum(present & ~weekly, axis=-1, keepdims=True)
    weeks = np.sum(present & weekly, axis=-1, keepdims=True)
    share = np.where(days > 0, days, 1) / np.maximum(weeks, 1)
    return np.where(present, np.where(weekly, share, 1.0), 0.0)


def lagged(values: Array, columns: npt.NDArray[np.int64], lags: npt.NDArray[np.int64]) -> Array:
    """values[:, columns − lag] for every lag: shape (C, len(columns), len(lags)), NaN before the first column."""
    index = columns[:, None] - lags[None, :]
    taken = values[:, np.maximum(index, 0)]
    return np.where(index >= 0, taken, np.nan)


def _xlogy(x: Array, y: Array) -> Array:
    """x·ln(x / y), 0 where x = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0) / y), 0.0)


def binomial_deviance_z(failures: Array, trials: Array, rate: Array, correction: float = 0.0) -> Array:
    """The signed root of the binomial deviance of `failures` of `trials` at `rate`: ~N(0, 1) under the rate;
    `correction` moves the failures that much towards the expected count (not past it) first."""
    rate = np.clip(rate, 1e-12, 1.0 - 1e-12)
    gap = failures - trials * rate
    failures = failures - np.sign(gap) * np.minimum(np.abs(gap), correction)
    deviance = 2.0 * (_xlogy(failures, trials * rate) + _xlogy(trials - failures, trials * (1.0 - rate)))
    return np.sign(failures - trials * rate) * np.sqrt(np.maximum(deviance, 0.0))


def poisson_deviance_z(counts: Array, mean: Array) -> Array:
    """The signed root of the Poisson deviance of `counts` at `mean`."""
    mean = np.maximum(mean, 1e-12)
    deviance = 2.0 * (_xlogy(counts, mean) - (counts - mean))
    return np.sign(counts - mean) * np.sqrt(np.maximum(deviance, 0.0))


def _nanmedian(values: Array, axis: int) -> Array:
    """np.nanmedian without the warning of an all-NaN slice (which gives NaN), by one sort (NaN sorts last): numpy's
    sorts each slice that holds a NaN apart, tens of times slower on a round's thousands of cohorts."""
    ordered = np.sort(values, axis=axis)
    count = np.sum(~np.isnan(values), axis=axis, keepdims=True)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0) // 2, axis=axis)
    high = np.take_along_axis(ordered, count // 2, axis=axis)
    middle = np.where(count > 0, (low + high) / 2.0, np.nan)
    return np.asarray(np.squeeze(middle, axis=axis), dtype=np.float64)


def prior_attempts(long_run: Array, history_trials: Array) -> Array:
    """The pseudo-attempts at the long-run rate a ratio's seasonal pool is shrunk by (`PRIOR_EVENTS`)."""
    rarer = np.maximum(np.minimum(long_run, 1.0 - long_run), 1e-12)
    return np.clip(PRIOR_EVENTS / rarer, PRIOR_ATTEMPTS, np.maximum(history_trials, PRIOR_ATTEMPTS))


def _shrunk_pool(failures: Array, trials: Array, weights: Array, long_run: Array, pseudo: Array) -> tuple[Array, Array]:
    """The lags' weighted rate, shrunk towards `long_run` by `pseudo` attempts against the pool's effective number
    of trials (Σ w·n)² / Σ w²·n (a week weighing 6 days holds its own attempts once, not 6 times); and that
    number plus `pseudo` (the rate's variance is rate·(1 − rate) / that)."""
    weighted = (trials * weights).sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        effective = np.nan_to_num(weighted**2 / (trials * weights**2).sum(axis=2))
        pooled = np.nan_to_num((failures * weights).sum(axis=2) / weighted)
    return (pooled * effective + pseudo * long_run) / (effective + pseudo), effective + pseudo


def _expected_rate(
    value: Array, volume: Array, columns: npt.NDArray[np.int64], lags: npt.NDArray[np.int64], weekly: Mask
) -> tuple[Array, Array]:
    """RATIO: the lags' counts pooled (weighted), leaving out the lags significantly above the pooled rate of all
    (z > LAG_OUTLIER_Z: a past anomaly), shrunk towards the cohort's long-run rate (`_shrunk_pool`); and the
    attempts the expected rate is worth."""
    failures, trials = lagged(value, columns, lags), lagged(volume, columns, lags)
    usable = np.isfinite(failures) & np.isfinite(trials) & (trials > 0)
    weights = balanced(usable, weekly)
    failures, trials = np.where(usable, failures, 0.0), np.where(usable, trials, 0.0)
    history = columns[0]
    history_trials = volume[:, :history].sum(axis=1)
    long_run = (value[:, :history].sum(axis=1) + 0.5) / (history_trials + 1.0)
    pseudo = prior_attempts(long_run, history_trials)[:, None]
    everything, _ = _shrunk_pool(failures, trials, weights, long_run[:, None], pseudo)
    pooled = np.broadcast_to(np.clip(everything, 1e-12, 1.0 - 1e-12)[..., None], failures.shape)
    above = failures > trials * pooled  # the only lags that can be outliers: tested alone (most are not)
    outlier = np.zeros_like(above)
    outlier[above] = binomial_deviance_z(failures[above], trials[above], pooled[above]) > LAG_OUTLIER_Z
    return _shrunk_pool(failures, trials, np.where(outlier, 0.0, weights), long_run[:, None], pseudo)


def _or_history_median(expected: Array, values: Array, history: int) -> Array:
    """`expected`, with each cohort's NaN replaced by the median of its values before column `history` (its
    history before the first judged interval); only the cohorts with a NaN are sorted."""
    missing = np.flatnonzero(np.isnan(expected).any(axis=1))
    if missing.size == 0:
        return expected
    fallback = _nanmedian(values[missing, :history], axis=1)
    filled = expected.copy()
    filled[missing] = np.where(np.isnan(expected[missing]), fallback[:, None], expected[missing])
    return filled


@cache
def median_variance(weights: tuple[float, ...]) -> float:
    """The variance of the (lower) weighted median of independent standard normal values with these weights (those
    of 0 absent; 0 without any). Its rank R is the smallest r whose r smallest values hold half the weight, and
    those are a uniformly random r-subset: P(R ≤ r) is the share of r-subsets holding half the weight; the moments
    of each order statistic come from the normal density by quadrature. A count's expectation, the weighted median
    of its lags, is that uncertain in units of the count's own variance; a dispersion fitted as κ·μ on the day's
    busier intervals alone understated the nights' spread."""
    present = [w for w in weights if w > 0]
    k, half = len(present), sum(present) / 2.0
    if k == 0:
        return 0.0
    reached = [float(np.mean([sum(c) >= half for c in combinations(present, r)])) for r in range(1, k + 1)]
    chance = np.diff(np.concatenate([[0.0], reached]))
    x = np.linspace(-10.0, 10.0, 8001)
    below = 1.0 - normal_sf(x)
    ranks = np.arange(1, k + 1)[:, None]
    ways = np.array([k * comb(k - 1, r - 1) for r in range(1, k + 1)], dtype=np.float64)[:, None]
    density = ways * below ** (ranks - 1) * (1.0 - below) ** (k - ranks) * np.exp(-x * x / 2.0) / np.sqrt(2 * np.pi)
    step = x[1] - x[0]
    first, second = (density * x).sum(axis=1) * step, (density * x * x).sum(axis=1) * step
    return float(chance @ second - (chance @ first) ** 2)


def _expected_level(
    observed: Array, columns: npt.NDArray[np.int64], lags: npt.NDArray[np.int64], weekly: Mask
) -> tuple[Array, Array]:
    """COUNT: the weighted median of the lags, or the cohort's median of its history when no lag is usable; and the
    variance of a count against it relative to the count's own: 1 + `median_variance` of the lags' weights (1 for
    the history's median)."""
    values = lagged(observed, columns, lags)
    present = ~np.isnan(values)
    weights = balanced(present, weekly)
    expected = weighted_median(values, weights)
    _, first, index = np.unique(present @ (1 << np.arange(lags.size)), return_index=True, return_inverse=True)
    flat = weights.reshape(-1, lags.size)  # the weights depend on which lags are present alone: one per code
    spread = np.array([median_variance(tuple(flat[row].tolist())) for row in first])[index.reshape(expected.shape)]
    return _or_history_median(expected, observed, columns[0]), 1.0 + spread


def _expected_mean(
    means: Array, volume: Array, columns: npt.NDArray[np.int64], lags: npt.NDArray[np.int64], weekly: Mask
) -> Array:
    """MEAN: the median of the lags' means, each weighted by its lag's weight times its views, the weeks' together
    at most the days' (a mean of 4 views is not the evidence of one of 40: the week before, weighing as much as the
    6 days, was the expectation whenever it was the lowest, however few its views; and a week of more views than
    the days is no reason to expect it alone; at exactly half, the middle of the two weighted medians), or the
    cohort's median of its history when no lag holds views."""
    values, views = lagged(means, columns, lags), lagged(volume, columns, lags)
    usable = ~np.isnan(values) & (views > 0)
    weights = balanced(usable, weekly) * np.where(usable, views, 0.0)
    days = np.sum(np.where(weekly, 0.0, weights), axis=-1, keepdims=True)
    weeks = np.sum(np.where(weekly, weights, 0.0), axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where((weeks > days) & (days > 0), days / weeks, 1.0)
    lags_values, lags_weights = np.where(usable, values, np.nan), np.where(weekly, weights * share, weights)
    # between the lower and the upper weighted median: the weeks often hold exactly half the weight, and the lower
    # alone made the week's value the expectation whenever it was the lowest
    lower, upper = weighted_medians(lags_values, lags_weights)
    expected = (lower + upper) / 2.0
    return _or_history_median(expected, means, columns[0])


def _median_dispersion(z: Array, units: Array) -> Array:
    """rho (or κ) with median(z² / (1 + rho·units)) ≈ the χ²(1) median, approximated at the median of `units`."""
    excess = np.maximum(_nanmedian(z * z, axis=1) / CHI2_1_MEDIAN - 1.0, 0.0)
    typical = np.maximum(_nanmedian(units, axis=1), 1.0)
    return np.nan_to_num(excess / typical)


def _mean_variance(residual: Array, count: Array) -> tuple[Array, Array, Array]:
    """a, b and s of variance(mean of n) = max(a / n + b, s / n): a and b from the residuals of intervals of low and
    high volume; s, the variance at the typical volume times that volume, a bound from below for volumes under
    it (the spread between views grows as 1 / n, and a fit over volumes that vary little cannot tell a from b: a
    window of 20 views judged with the spread of 100 passed alpha on clean traffic)."""
    squared = residual * residual / CHI2_1_MEDIAN
    middle = _nanmedian(np.where(count > 0, count, np.nan), axis=1)[:, None]
    low, high = count <= middle, count > middle
    v_low, v_high = _nanmedian(np.where(low, squared, np.nan), 1), _nanmedian(np.where(high, squared, np.nan), 1)
    n_low, n_high = _nanmedian(np.where(low, count, np.nan), 1), _nanmedian(np.where(high, count, np.nan), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.maximum((v_low - v_high) / (1.0 / n_low - 1.0 / n_high), 0.0)
    a = np.nan_to_num(a)
    b = np.maximum(np.nan_to_num(v_high - a / n_high), 0.0)
    pooled = np.nan_to_num(_nanmedian(squared, axis=1))
    b = np.where(a > 0, b, pooled)
    return a, b, pooled * np.nan_to_num(middle[:, 0])


class _Judged(NamedTuple):
    """One kind's view of the intervals of `columns`, each (C, len(columns)): value, expectation, z, band."""

    observed: Array
    expected: Array
    z: Array
    lower: Array
    upper: Array


def _judge_ratio(
    value: Array, volume: Array, columns: npt.NDArray[np.int64], fit: int, z_star: float, lags: Seasons
) -> _Judged:
    n = volume[:, columns]
    failures = np.where(n > 0, value[:, columns], 0.0)
    rate, pooled = _expected_rate(value, volume, columns, *lags)
    learning = 1.0 + n / pooled  # the expected rate's own error: Var(n·rate) = n²·rate(1 − rate) / pooled
    deviance_z = np.where(n > 0, binomial_deviance_z(failures, n, rate, CONTINUITY), np.nan)
    fit_z = (binomial_deviance_z(failures, n, rate) / np.sqrt(learning))[:, :fit]
    enough = (n * rate)[:, :fit] >= MIN_EXPECTED_FIT
    enough &= enough.sum(axis=1, keepdims=True) >= MIN_FIT_INTERVALS
    rho = _median_dispersion(np.where(enough, fit_z, np.nan), np.where(enough, n[:, :fit] - 1.0, np.nan))
    spread = np.sqrt(learning + rho[:, None] * np.maximum(n - 1.0, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.where(n > 0, failures / n, np.nan)
        half_band = z_star * spread * np.sqrt(rate * (1.0 - rate) / n)
    return _Judged(
        observed, rate, deviance_z / spread, np.clip(rate - half_band, 0.0, 1.0), np.clip(rate + half_band, 0.0, 1.0)
    )


def _judge_mean(
    value: Array, volume: Array, columns: npt.NDArray[np.int64], fit: int, z_star: float, lags: Seasons
) -> _Judged:
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.where(volume > 0, value / volume, np.nan)
    n, observed = volume[:, columns], means[:, columns]
    expected = _expected_mean(means, volume, columns, *lags)
    before = means[:, : columns[fit]]
    logged = np.all(np.isnan(before) | (before > 0), axis=1)[:, None]  # never 0: durations, bitrates
    floor = np.maximum(1e-9 * np.abs(expected), 1e-300)
    with np.errstate(invalid="ignore"):
        ratio = np.log(np.maximum(observed, floor)) - np.log(np.maximum(expected, floor))
    residual = np.where(logged, ratio, observed - expected)
    a, b, s = _mean_variance(residual[:, :fit], n[:, :fit])
    dof = np.maximum(MEDIAN_FIT_DOF * np.sum(n[:, :fit] > 0, axis=1), 1.0)[:, None]
    t_star = z_as_t(z_star, dof)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        spread = np.maximum(a[:, None] / n + b[:, None], s[:, None] / n)
        deviation = np.sqrt(spread + np.where(logged, 1e-18, (1e-9 * expected) ** 2) + 1e-300)
        reach = np.exp(t_star * deviation)  # infinite without views: any value is within the band
        upper = np.where(logged, np.where(np.isinf(reach), np.inf, expected * reach), expected + t_star * deviation)
        lower = np.where(logged, expected / reach, expected - t_star * deviation)
        return _Judged(observed, expected, t_as_z(residual / deviation, dof), lower, upper)


def _judge_count(
    value: Array, volume: Array, columns: npt.NDArray[np.int64], fit: int, z_star: float, lags: Seasons
) -> _Judged:
    observed = value[:, columns]
    expected, learning = _expected_level(value, columns, *lags)
    expected = np.maximum(expected, 0.0)
    deviance_z = np.where(np.isfinite(observed), poisson_deviance_z(np.nan_to_num(observed), expected), np.nan)
    kappa = _median_dispersion((deviance_z / np.sqrt(learning))[:, :fit], expected[:, :fit])
    dispersion = learning * (1.0 + kappa[:, None] * expected)  # as fitted: z / √learning has 1 + κ·μ
    deviation = np.sqrt(expected * dispersion)
    return _Judged(
        observed,
        expected,
        deviance_z / np.sqrt(dispersion),
        np.maximum(expected - z_star * deviation, 0.0),
        expected + z_star * deviation,
    )


_JUDGES = {MetricKind.RATIO: _judge_ratio, MetricKind.MEAN: _judge_mean, MetricKind.COUNT: _judge_count}


def detect(series: MetricSeries, rule: DetectorRule | None = None, evaluate: int = 1) -> Detection:
    """Judge the last `evaluate` intervals of every cohort of `series` (see the module docstring)."""
    rule = rule or DetectorRule()
    value = np.asarray(series.value, dtype=np.float64)
    intervals = value.shape[1]
    if not 1 <= evaluate < intervals:
        raise ValueError(f"evaluate must be between 1 and {intervals - 1} (the intervals given), not {evaluate}")
    if (series.volume is None) != (series.kind is MetricKind.COUNT):
        raise ValueError("volume is required for ratio and mean metrics, and absent for counts")
    volume = value if series.volume is None else np.asarray(series.volume, dtype=np.float64)
    measured = np.isfinite(volume) & np.isfinite(value)
    volume = np.where(measured, volume, 0.0)
    if series.kind is not MetricKind.COUNT:
        value = np.where(measured, value, 0.0)  # a ratio's or a mean's interval without volume holds nothing
    fit = min(rule.fit_intervals, intervals - evaluate - 1)
    columns = np.arange(intervals - evaluate - fit, intervals)
    z_star = z_threshold(alpha_for(rule.sensitivity) if rule.alpha is None else rule.alpha)
    lags, _ = seasonal_lags(series.interval_s, rule.days, rule.weeks)
    weekly = np.arange(lags.size) >= rule.days
    judged = _JUDGES[series.kind](value, volume, columns, fit, z_star, (lags, weekly))

    latest = slice(fit, fit + evaluate)
    z = judged.z[:, latest]
    score = {Direction.UP: z, Direction.DOWN: -z, Direction.BOTH: np.abs(z)}[rule.direction]
    n = volume[:, columns][:, latest]
    enough = n >= rule.min_volume if series.kind is not MetricKind.COUNT else np.ones_like(n, dtype=bool)
    return Detection(
        observed=judged.observed[:, latest],
        expected=judged.expected[:, latest],
        lower=judged.lower[:, latest],
        upper=judged.upper[:, latest],
        score=score,
        p_value=normal_sf(np.nan_to_num(score, nan=-np.inf)),
        volume=n,
        anomalous=np.isfinite(score) & (score >= z_star) & enough & ((n > 0) | (series.kind is MetricKind.COUNT)),
    )
