"""The batch detector (sightline.alerts.detect): seasonality, robustness, missing data, volume, direction."""

from __future__ import annotations

from math import comb, lgamma, log, pi
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
import pytest

from sightline.alerts.detect import (
    DetectorRule,
    Direction,
    MetricKind,
    MetricSeries,
    alpha_for,
    detect,
    median_variance,
    normal_sf,
    t_as_z,
    weighted_median,
    weighted_medians,
    z_as_t,
    z_threshold,
)

HOUR = 3600
DAYS = 28
HOURS = DAYS * 24
Array = npt.NDArray[np.float64]


def _hours() -> npt.NDArray[np.int64]:
    return np.arange(HOURS + 1)  # four weeks of hourly intervals, then the judged one


def _daily_counts(rng: np.random.Generator, cohorts: int) -> Array:
    """Plays of a service busy by day (1000 an hour from 08:00 to 20:00) and quiet at night (100 an hour)."""
    level = np.where((_hours() % 24 >= 8) & (_hours() % 24 < 20), 1000.0, 100.0)
    return rng.poisson(level, size=(cohorts, HOURS + 1)).astype(np.float64)


def test_daily_seasonality_is_learned() -> None:
    counts = _daily_counts(np.random.default_rng(1), 2)
    assert HOURS % 24 == 0  # the judged interval is at 00:00, a night hour
    counts[0, -1] = 1000.0  # a day's traffic at night: anomalous
    counts[1, -1] = 100.0  # a night's traffic at night: normal
    found = detect(MetricSeries(MetricKind.COUNT, counts, None, HOUR), DetectorRule(direction=Direction.BOTH))
    assert found.expected[:, 0] == pytest.approx([100.0, 100.0], rel=0.15)
    assert found.anomalous[:, 0].tolist() == [True, False]
    assert found.lower[1, 0] < 100.0 < found.upper[1, 0] < 1000.0


def test_weekly_seasonality_is_learned() -> None:
    """Weekends have a tenth of the weekdays' traffic: a weekend hour at a weekend level is normal."""
    rng = np.random.default_rng(2)
    weekend = (_hours() // 24) % 7 >= 5
    counts = rng.poisson(np.where(weekend, 50.0, 500.0), size=(1, HOURS + 1)).astype(np.float64)
    assert weekend[-2]
    assert not weekend[-1]
    found = detect(MetricSeries(MetricKind.COUNT, counts[:, :-1], None, HOUR), DetectorRule(direction=Direction.BOTH))
    assert found.expected[0, 0] == pytest.approx(50.0, rel=0.2)
    assert not found.anomalous[0, 0]


@pytest.mark.parametrize("kind", [MetricKind.COUNT, MetricKind.MEAN])
def test_with_one_week_of_history_a_weekend_hour_is_expected_at_the_weekends_level(kind: MetricKind) -> None:
    """With 6 days and the week before (all a round holds), 5 of a Saturday's 6 days before are weekdays: the week
    before weighs as much as the days, so a Saturday at its usual level is neither expected at the weekdays' nor
    anomalous."""
    rng = np.random.default_rng(12)
    hours = np.arange(3 * 24, 12 * 24 + 11)  # from a Thursday to the Saturday after next, 10:00 (day 0 a Monday)
    weekend = (hours // 24) % 7 >= 5
    assert (hours[-1] // 24) % 7 == 5  # a Saturday
    level = np.where(weekend, 3.0, 1.0)
    if kind is MetricKind.COUNT:
        series = MetricSeries(kind, rng.poisson(100.0 * level, size=(1, hours.size)).astype(np.float64), None, HOUR)
    else:
        views = np.full((1, hours.size), 200.0)
        series = MetricSeries(kind, views * level * rng.lognormal(0.0, 0.05, size=(1, hours.size)), views, HOUR)
    found = detect(series, DetectorRule(direction=Direction.BOTH, days=6, weeks=1))
    usual = 300.0 if kind is MetricKind.COUNT else 3.0
    assert found.expected[0, 0] == pytest.approx(usual, rel=0.1)
    assert not found.anomalous[0, 0]


def _failures(rng: np.random.Generator, attempts: Array, rate: float) -> Array:
    return rng.binomial(attempts.astype(np.int64), rate).astype(np.float64)


def test_volume_decides_significance_of_a_ratio() -> None:
    """2 failures of 4 attempts at a 1 % baseline is not an incident; 200 of 400 is, in the same round."""
    rng = np.random.default_rng(3)
    attempts = np.vstack([np.full(HOURS + 1, 4.0), np.full(HOURS + 1, 400.0)])
    failures = _failures(rng, attempts, 0.01)
    failures[:, -1] = [2.0, 200.0]
    found = detect(MetricSeries(MetricKind.RATIO, failures, attempts, HOUR))
    assert found.observed[:, 0].tolist() == [0.5, 0.5]
    assert found.expected[:, 0] == pytest.approx([0.01, 0.01], abs=0.006)  # 4 attempts an hour teach little
    assert found.anomalous[:, 0].tolist() == [False, True]
    assert found.upper[0, 0] > found.upper[1, 0]  # the small cohort's band is wider


def test_min_volume_of_the_rule_is_honoured() -> None:
    rng = np.random.default_rng(4)
    attempts = np.full((1, HOURS + 1), 400.0)
    failures = _failures(rng, attempts, 0.01)
    failures[0, -1] = 200.0
    series = MetricSeries(MetricKind.RATIO, failures, attempts, HOUR)
    assert detect(series, DetectorRule(min_volume=400)).anomalous[0, 0]
    assert not detect(series, DetectorRule(min_volume=401)).anomalous[0, 0]


def test_a_past_anomaly_does_not_move_the_expected_rate() -> None:
    """Yesterday at this hour and two hours ago 30 % failed; today 1 % is normal and 4 % is not."""
    rng = np.random.default_rng(5)
    attempts = np.full((2, HOURS + 1), 2000.0)
    failures = _failures(rng, attempts, 0.01)
    failures[:, -1 - 24] = 600.0
    failures[:, -3] = 600.0
    failures[:, -1] = [20.0, 80.0]
    found = detect(MetricSeries(MetricKind.RATIO, failures, attempts, HOUR))
    assert found.expected[:, 0] == pytest.approx([0.01, 0.01], abs=0.002)
    assert found.anomalous[:, 0].tolist() == [False, True]


def test_missing_data_is_skipped() -> None:
    """Whole days missing, and gaps in the last hours: the expected value still comes from what is there."""
    counts = _daily_counts(np.random.default_rng(6), 2)
    counts[:, 24 * 20 : 24 * 24] = np.nan  # four days missing, among them last week's same day
    counts[:, -10:-4] = np.nan
    counts[0, -1] = 1000.0
    found = detect(MetricSeries(MetricKind.COUNT, counts, None, HOUR), DetectorRule(direction=Direction.BOTH))
    assert np.isfinite(found.expected).all()
    assert found.expected[:, 0] == pytest.approx([100.0, 100.0], rel=0.15)
    assert found.anomalous[:, 0].tolist() == [True, False]


def test_an_interval_without_data_is_not_judged() -> None:
    rng = np.random.default_rng(7)
    attempts = np.full((1, HOURS + 1), 100.0)
    failures = _failures(rng, attempts, 0.02)
    attempts[0, -1], failures[0, -1] = 0.0, 0.0
    found = detect(MetricSeries(MetricKind.RATIO, failures, attempts, HOUR))
    assert np.isnan(found.observed[0, 0])
    assert not found.anomalous[0, 0]


def _bitrate(rng: np.random.Generator, views: Array) -> Array:
    """Σ bitrate over views of 3000 kbps ± 600 each (so a mean's spread falls with the views)."""
    return views * 3000.0 + rng.normal(0.0, 600.0, size=views.shape) * np.sqrt(views)


@pytest.mark.parametrize(
    ("direction", "mean", "anomalous"),
    [
        (Direction.DOWN, 2000.0, True),  # lower bitrate is bad
        (Direction.DOWN, 4000.0, False),
        (Direction.UP, 2000.0, False),
        (Direction.UP, 4000.0, True),  # (as for startup time: higher is bad)
        (Direction.BOTH, 2000.0, True),
        (Direction.BOTH, 3000.0, False),
    ],
)
def test_only_the_bad_direction_alerts(direction: Direction, mean: float, anomalous: bool) -> None:
    rng = np.random.default_rng(8)
    views = rng.integers(50, 500, size=(1, HOURS + 1)).astype(np.float64)
    sums = _bitrate(rng, views)
    sums[0, -1] = mean * views[0, -1]
    found = detect(MetricSeries(MetricKind.MEAN, sums, views, HOUR), DetectorRule(direction=direction))
    assert found.expected[0, 0] == pytest.approx(3000.0, rel=0.02)
    assert found.anomalous[0, 0] == anomalous


def test_the_score_is_positive_in_the_bad_direction() -> None:
    rng = np.random.default_rng(8)
    views = rng.integers(50, 500, size=(1, HOURS + 1)).astype(np.float64)
    sums = _bitrate(rng, views)
    sums[0, -1] = 2000.0 * views[0, -1]
    up, down = (
        detect(MetricSeries(MetricKind.MEAN, sums, views, HOUR), DetectorRule(direction=direction)).score[0, 0]
        for direction in (Direction.UP, Direction.DOWN)
    )
    assert down > 0 > up
    assert down == -up


def test_a_mean_of_few_views_needs_a_larger_deviation() -> None:
    """The same 10 % higher startup time: not significant over 5 views, significant over 5000."""
    rng = np.random.default_rng(9)
    views = rng.choice([5.0, 5000.0], size=(1, HOURS + 1))
    sums = _bitrate(rng, views)
    few, many = sums.copy(), sums.copy()
    few_views, many_views = views.copy(), views.copy()
    few_views[0, -1], many_views[0, -1] = 5.0, 5000.0
    few[0, -1], many[0, -1] = 3300.0 * 5.0, 3300.0 * 5000.0
    judged = [
        detect(MetricSeries(MetricKind.MEAN, s, v, HOUR)).anomalous[0, 0]
        for s, v in ((few, few_views), (many, many_views))
    ]
    assert judged == [False, True]


def test_a_window_of_fewer_views_than_its_history_is_judged_with_the_spread_of_so_few() -> None:
    """A history of 100 views an interval (startup times lognormal, log-sd 0.5, no spread between intervals), then
    an interval of 20 views whose mean lies 2.5 of its own standard errors above: not anomalous. Its spread is at
    least the history's times 100 / 20 (views' spread grows as 1 / n), which a fit over one volume cannot tell from
    a spread between intervals; a shift of 2.5 standard errors of 100 views was judged as one of 5.6."""
    rng = np.random.default_rng(13)
    views = np.full((1, HOURS + 1), 100.0)
    views[0, -1] = 20.0
    log_sd = 0.5
    per_view = rng.lognormal(np.log(2000.0), log_sd, size=(HOURS + 1, 100))
    sums = (per_view * (np.arange(100) < views[0, :, None])).sum(axis=1)[None, :]
    standard_error = np.sqrt((np.exp(log_sd**2) - 1.0) / 20.0)
    sums[0, -1] = 20.0 * 2000.0 * np.exp(log_sd**2 / 2) * np.exp(2.5 * standard_error)
    found = detect(MetricSeries(MetricKind.MEAN, sums, views, HOUR))
    assert 1.5 < found.score[0, 0] < 3.5
    assert not found.anomalous[0, 0]


def test_many_cohorts_and_intervals_at_once() -> None:
    rng = np.random.default_rng(10)
    attempts = rng.integers(0, 300, size=(500, HOURS + 3)).astype(np.float64)
    failures = _failures(rng, attempts, 0.02)
    failures[:50, -3:] = attempts[:50, -3:] * 0.5
    found = detect(MetricSeries(MetricKind.RATIO, failures, attempts, HOUR), evaluate=3)
    assert found.score.shape == found.anomalous.shape == (500, 3)
    busy = attempts[:, -3:] >= 20
    assert found.anomalous[:50][busy[:50]].all()
    assert found.anomalous[50:].sum() <= 1  # 1,350 clean cohort-intervals at alpha = 1e-5


@pytest.mark.parametrize(("sensitivity", "alpha"), [(0.0, 1e-8), (0.5, 1e-5), (1.0, 1e-2)])
def test_sensitivity_maps_to_the_tail_probability(sensitivity: float, alpha: float) -> None:
    assert alpha_for(sensitivity) == pytest.approx(alpha)


def test_a_sensitivity_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="sensitivity"):
        alpha_for(1.5)


def test_normal_tail() -> None:
    z = np.array([-1.0, 0.0, 1.6448536, 4.2648908, 8.0])
    assert normal_sf(z) == pytest.approx([0.8413447, 0.5, 0.05, 1e-5, 6.220961e-16], rel=1e-6)


def test_weighted_median_skips_missing_values() -> None:
    values = np.array([[1.0, 2.0, np.nan, 10.0], [np.nan, np.nan, np.nan, np.nan]])
    middle = weighted_median(values, np.array([1.0, 1.0, 5.0, 3.0]))
    assert middle[0] == 10.0
    assert np.isnan(middle[1])


def _sorted_medians(values: list[float], weights: list[float]) -> tuple[float, float]:
    """The lower and upper weighted medians by their definitions, over the values present."""
    pairs = sorted((v, w) for v, w in zip(values, weights, strict=True) if not np.isnan(v))
    total = sum(w for _, w in pairs)
    if total <= 0:
        return np.nan, np.nan
    lower = next(v for n, (v, _) in enumerate(pairs) if sum(w for _, w in pairs[: n + 1]) >= total / 2)
    upper = next(v for n, (v, _) in reversed(list(enumerate(pairs))) if sum(w for _, w in pairs[n:]) >= total / 2)
    return lower, upper


def test_the_lower_and_upper_weighted_medians_match_their_definitions() -> None:
    """Both medians from one sort, against the definitions: at least half the weight at or below (lower), at or
    above (upper); they part where a value has exactly half the weight below it."""
    rng = np.random.default_rng(5)
    values = rng.choice([0.5, 1.0, 2.0, 3.0, np.nan], size=(400, 7))
    weights = rng.choice([0.0, 1.0, 2.0, 6.0], size=(400, 7))
    lower, upper = weighted_medians(values, weights)
    expected = np.array([_sorted_medians(list(v), list(w)) for v, w in zip(values, weights, strict=True)])
    np.testing.assert_array_equal(lower, expected[:, 0])
    np.testing.assert_array_equal(upper, expected[:, 1])
    assert (lower < upper).any()  # the drawn weights reach exactly half often enough to tell them apart
    halves = weighted_medians(np.array([[1.0, 2.0, 4.0, 5.0]]), np.array([1.0, 1.0, 1.0, 1.0]))
    assert (halves[0][0], halves[1][0]) == (2.0, 4.0)


def test_an_outage_is_a_drop_of_plays_to_zero() -> None:
    counts = _daily_counts(np.random.default_rng(11), 1)
    counts[0, -1] = 0.0
    found = detect(MetricSeries(MetricKind.COUNT, counts, None, HOUR), DetectorRule(direction=Direction.DOWN))
    assert found.anomalous[0, 0]
    assert found.lower[0, 0] > 0.0


@pytest.mark.parametrize(
    ("series", "evaluate", "message"),
    [
        (MetricSeries(MetricKind.RATIO, np.zeros((2, 10)), None, HOUR), 1, "volume is required"),
        (MetricSeries(MetricKind.COUNT, np.zeros((2, 10)), np.ones((2, 10)), HOUR), 1, "absent for counts"),
        (MetricSeries(MetricKind.COUNT, np.zeros((2, 10)), None, HOUR), 10, "evaluate must be between 1 and 9"),
        (MetricSeries(MetricKind.COUNT, np.zeros((2, 10)), None, 7), 1, "must divide a day"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(series: MetricSeries, evaluate: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        detect(series, evaluate=evaluate)


def test_overdispersion_is_learned_from_history() -> None:
    """The failure rate of a big cohort wanders between 0.5 % and 3 % from hour to hour: 3 % is within its normal
    spread (a plain binomial test would call it significant at 5000 attempts), 10 % is not."""
    rng = np.random.default_rng(12)
    attempts = np.full((2, HOURS + 1), 5000.0)
    failures = rng.binomial(5000, rng.uniform(0.005, 0.03, size=(2, HOURS + 1))).astype(np.float64)
    failures[:, -1] = [150.0, 500.0]
    found = detect(MetricSeries(MetricKind.RATIO, failures, attempts, HOUR))
    assert found.anomalous[:, 0].tolist() == [False, True]


def _t_tail(t: float, dof: float) -> float:
    """P(T > t) for a Student t of `dof` degrees of freedom, by integrating its density (trapezoids)."""
    x = np.linspace(t, t + 400.0, 4_000_001)
    log_norm = lgamma((dof + 1) / 2) - lgamma(dof / 2) - 0.5 * log(dof * pi)
    return float(np.trapezoid(np.exp(log_norm - (dof + 1) / 2 * np.log1p(x * x / dof)), x))


@pytest.mark.parametrize("dof", [5.0, 26.0, 53.0])
@pytest.mark.parametrize("t", [3.0, 5.0, 8.0])
def test_a_t_is_scored_as_the_normal_quantile_of_its_tail(dof: float, t: float) -> None:
    z = float(t_as_z(np.array([t]), np.array([dof]))[0])
    assert z == pytest.approx(NormalDist().inv_cdf(1.0 - _t_tail(t, dof)), abs=0.04)
    assert float(z_as_t(z, np.array([dof]))[0]) == pytest.approx(t)


def test_a_means_band_ends_where_its_score_reaches_the_bar() -> None:
    """The band of a mean is drawn with the t's quantile of the bar: a value just inside it scores just under z*,
    one just outside just over (with a normal band over a t score, the band was too narrow by a fifth at 53
    degrees of freedom and alpha = 1e-5)."""
    rng = np.random.default_rng(21)
    views = rng.poisson(40.0, size=(1, HOURS + 1)).astype(np.float64)
    sums = _startup_sums(rng, views)
    judged = detect(MetricSeries(MetricKind.MEAN, sums, views, HOUR))
    scores = []
    for edge in (
        judged.lower[0, 0] * 1.001,
        judged.lower[0, 0] * 0.999,
        judged.upper[0, 0] * 0.999,
        judged.upper[0, 0] * 1.001,
    ):
        at_edge = sums.copy()
        at_edge[0, -1] = edge * views[0, -1]
        scores.append(abs(float(detect(MetricSeries(MetricKind.MEAN, at_edge, views, HOUR)).score[0, 0])))
    bar = z_threshold(alpha_for(0.5))
    assert scores[0] < bar < scores[1]
    assert scores[2] < bar < scores[3]
    assert bar - scores[2] < 0.05
    assert scores[3] - bar < 0.05


def test_means_of_long_tailed_durations_rarely_pass_alpha_on_clean_traffic() -> None:
    """Start-up times are long-tailed (lognormal views, log-sd 1.2, about 40 a mean): on clean traffic at
    alpha = 1e-5, under 5e-4 of the cohort-intervals are anomalous (a normal test of the linear mean: 3e-3)."""
    rng = np.random.default_rng(12)
    views = rng.poisson(40.0, size=(100, 6 * 288 + 146)).astype(np.float64)
    counts = views.astype(np.int64).ravel()
    draws = rng.lognormal(7.0, 1.2, size=int(counts.sum()))
    sums = np.add.reduceat(draws, np.r_[0, np.cumsum(counts)[:-1]]).reshape(views.shape) * (views > 0)
    rule = DetectorRule(alpha=1e-5, days=6, weeks=0)
    found = detect(MetricSeries(MetricKind.MEAN, sums, views, 300), rule, evaluate=1200)
    assert found.anomalous.mean() < 5e-4


def _startup_sums(rng: np.random.Generator, views: Array, median_ms: float = 1000.0, log_sd: float = 0.45) -> Array:
    """Σ startup ms over `views` views of lognormal startup times (each interval's views drawn one by one)."""
    sums = np.zeros(views.shape)
    for index, count in np.ndenumerate(views):
        sums[index] = rng.lognormal(np.log(median_ms), log_sd, int(count)).sum()
    return sums


def test_a_mean_is_expected_from_the_lags_that_hold_views_not_from_a_thin_one() -> None:
    """Start times of 20 to 40 views an hour; a week before the judged hour held 4 views, whose mean was half the
    usual. That lag weighs half (the week as much as the 6 days), but a mean of 4 views is not half the evidence: the
    judged hour at its usual level is expected near it, not at the 4 views' (which made it 2 × expected, z 5)."""
    rng = np.random.default_rng(15)
    views = rng.integers(20, 41, size=(1, HOURS + 1)).astype(np.float64)
    sums = _startup_sums(rng, views)
    week_before = -1 - 7 * 24
    views[0, week_before], sums[0, week_before] = 4.0, 4.0 * 550.0
    usual = 1000.0 * np.exp(0.45**2 / 2)
    views[0, -1], sums[0, -1] = 25.0, 25.0 * 1.05 * usual
    found = detect(MetricSeries(MetricKind.MEAN, sums, views, HOUR), DetectorRule(days=6, weeks=1))
    assert found.expected[0, 0] == pytest.approx(usual, rel=0.15)
    assert not found.anomalous[0, 0]


def test_a_week_of_more_views_than_the_days_is_not_the_expectation_by_itself() -> None:
    """The week before the judged hour held 3 times the views of each day before, and a mean 30 % above the usual:
    weighed by views alone it would hold more than half the weight and be the expectation; the weeks together weigh
    at most the days (half the weight: the expectation is between the week's and the highest day's)."""
    rng = np.random.default_rng(18)
    views = np.full((1, HOURS + 1), 30.0)
    sums = _startup_sums(rng, views)
    usual = 1000.0 * np.exp(0.45**2 / 2)
    week_before = -1 - 7 * 24
    views[0, week_before], sums[0, week_before] = 90.0, 90.0 * 1.3 * usual
    found = detect(MetricSeries(MetricKind.MEAN, sums, views, HOUR), DetectorRule(days=6, weeks=1))
    assert usual < found.expected[0, 0] < 1.25 * usual


def test_a_mean_whose_week_before_holds_exactly_half_the_weight_is_not_expected_at_the_week_alone() -> None:
    """30 views an hour; the week before the judged hour (as many views as each day, so as much weight as the 6 days
    together) had a mean 40 % under the usual, the lowest of the lags. The weighted median is then between the week's
    and the lowest day's, not the lower of the two (which made the week's value the expectation whenever it was the
    lowest: a start time of 22 views at 1.29 s against 0.79 s, z 4.9, on clean traffic)."""
    rng = np.random.default_rng(19)
    views = np.full((1, HOURS + 1), 30.0)
    sums = _startup_sums(rng, views)
    usual = 1000.0 * np.exp(0.45**2 / 2)
    sums[0, -1 - 7 * 24] = 30.0 * 0.6 * usual
    found = detect(MetricSeries(MetricKind.MEAN, sums, views, HOUR), DetectorRule(days=6, weeks=1))
    assert found.expected[0, 0] > 0.75 * usual


def test_a_few_expected_failures_are_not_more_significant_than_the_binomial_tail() -> None:
    """The score of k failures of n at rate r is never much more significant than the exact binomial
    P(X ≥ k): the plain deviance, ~N(0, 1) at many expected events, has a heavier tail at a few (2 where 0.05
    are expected scored z 3.3, a normal tail of 5e−4 against the binomial's 1.2e−3)."""
    cases = [(n, r, k) for n in (5, 20, 100, 500) for r in (0.001, 0.01, 0.05, 0.3) for k in range(int(n * r) + 1, n)]
    n, r, k = (np.array(column, dtype=np.float64) for column in zip(*cases, strict=True))
    exact = np.array(
        [sum(comb(int(a), j) * b**j * (1 - b) ** (int(a) - j) for j in range(int(c), int(a) + 1)) for a, b, c in cases]
    )
    history = np.tile(np.stack([n, n * r]), (HOURS, 1, 1))  # every hour before at exactly the rate: no dispersion
    attempts = np.concatenate([history[:, 0, :].T, n[:, None]], axis=1)
    failures = np.concatenate([history[:, 1, :].T, k[:, None]], axis=1)
    found = detect(MetricSeries(MetricKind.RATIO, failures, attempts, HOUR))
    judged = exact > 1e-12
    assert np.all(found.p_value[judged, 0] >= 0.9 * exact[judged])


def test_a_small_cohorts_spike_is_not_hidden_by_the_dispersion_of_its_few_events() -> None:
    """50 cohorts of 20 attempts every 5 minutes at a 4 % exit rate (0.8 expected exits: plain binomial counts), 8
    days of them, then 11 exits of 20: each anomalous. The median deviance of a few expected events is above the
    χ²(1)'s; taken as overdispersion, it hid 16 of the 50 (z 3.7 to 4.2 against a bar of 4.3; the demo's
    Samsung TVs)."""
    rng = np.random.default_rng(14)
    attempts = np.full((50, 8 * 288 + 1), 20.0)
    failures = _failures(rng, attempts, 0.04)
    failures[:, -1] = 11.0
    found = detect(MetricSeries(MetricKind.RATIO, failures, attempts, 300))
    assert found.anomalous[:, 0].all()


def test_a_rare_failures_pool_of_no_failure_does_not_expect_none() -> None:
    """A cohort of 50 attempts every 5 minutes failing 0.6 % of them, judged on 15-minute windows (6 days and the
    week before): where the 7 lags' windows held no failure (1.7 failures would be expected there, and 0 happens),
    the expected rate stays near the long run, not a tenth of it, so 5 failures of 66 (a few viewers' bad luck) are
    no incident at the rounds' alpha, while 15 of 66 are. With 100 pseudo-attempts at the long-run rate it was
    expected at 0.03 % and the 5 were an alert."""
    rng = np.random.default_rng(21)
    per_day, window = 288, 3
    attempts = rng.poisson(50.0, size=(1, 8 * per_day + 1)).astype(np.float64)
    failures = _failures(rng, attempts, 0.006)
    attempts, failures = (
        np.convolve(a[0], np.ones(window))[window - 1 : a.shape[1]][None, :] for a in (attempts, failures)
    )
    last = attempts.shape[1] - 1
    for lag in [per_day * d for d in range(1, 7)] + [7 * per_day]:
        failures[0, last - lag] = 0.0
    attempts[0, last] = 66.0
    rule = DetectorRule(alpha=1e-8, days=6, weeks=1)
    quiet = detect(
        MetricSeries(MetricKind.RATIO, np.where(np.arange(last + 1) == last, 5.0, failures), attempts, 300), rule
    )
    assert quiet.expected[0, 0] > 0.004
    assert not quiet.anomalous[0, 0]
    loud = detect(
        MetricSeries(MetricKind.RATIO, np.where(np.arange(last + 1) == last, 15.0, failures), attempts, 300), rule
    )
    assert loud.anomalous[0, 0]


@pytest.mark.parametrize(
    "weights", [(1.0,) * 7, (1.0,) * 6 + (6.0,), (1.0, 1.0), (1.0,) * 6 + (2.0, 2.0, 2.0), (0.0, 3.0)]
)
def test_the_weighted_medians_variance_is_that_of_a_simulation(weights: tuple[float, ...]) -> None:
    """`median_variance` (order statistics and subsets, exact up to quadrature) against 200,000 drawn medians."""
    rng = np.random.default_rng(8)
    drawn = weighted_median(rng.normal(size=(200_000, len(weights))), np.array(weights)).var()
    assert median_variance(weights) == pytest.approx(drawn, rel=0.02)


@pytest.mark.parametrize(("mean", "kappa", "bound"), [(50.0, 0.0, 2.5), (500.0, 0.01, 5.0)])
def test_plays_at_night_pass_alpha_about_as_often_as_alpha_says(mean: float, kappa: float, bound: float) -> None:
    """300 cohorts of clean plays, from 0.2 to 2.2 times `mean` a window over the day (Poisson, or overdispersed as a
    negative binomial of variance μ·(1 + κ·μ)), judged over a whole day against 6 days and the week before
    (weighing as much): the share of windows beyond z*(1e−3) on either side stays within `bound` times 2e−3. A
    count expected at the weighted median of its lags is itself that uncertain (0.79 of a count's variance here);
    fitted as κ·μ on the busier windows alone, the Poisson night's windows passed 5 times too often, and that
    error added to (not multiplying) the fitted overdispersion let 10 times too many overdispersed windows pass."""
    rng = np.random.default_rng(4)
    per_day = 288
    intervals = np.arange(7 * per_day + 144 + per_day)
    level = mean * (1.2 + np.sin(2 * np.pi * (intervals % per_day) / per_day))
    if kappa > 0:
        level = rng.gamma(1.0 / kappa, kappa * level, size=(300, intervals.size))
    counts = rng.poisson(level, size=(300, intervals.size)).astype(np.float64)
    rule = DetectorRule(direction=Direction.BOTH, alpha=1e-3, days=6, weeks=1)
    found = detect(MetricSeries(MetricKind.COUNT, counts, None, 300), rule, evaluate=per_day)
    assert found.anomalous.mean() < bound * 2e-3


def test_an_incident_going_on_does_not_become_the_overdispersion_of_a_small_cohort() -> None:
    """A cohort of 40 ad requests a window failing 9 % (3.6 expected errors: under the 5 rho is fitted on) whose only
    windows of 5 expected errors are the last 6, of 60 requests, an ad server failing half its ads: rho was the
    median of those 6, and 22 errors of 41 scored z 0.7 (the demo, 2026-12-07). With too few such windows rho is 0."""
    rng = np.random.default_rng(31)
    intervals = 7 * 288 + 160
    attempts = np.full((1, intervals), 40.0)
    failures = rng.binomial(40, 0.09, size=(1, intervals)).astype(np.float64)
    attempts[0, -7:-1] = 60.0
    failures[0, -7:-1] = 30.0
    attempts[0, -1], failures[0, -1] = 41.0, 22.0
    found = detect(MetricSeries(MetricKind.RATIO, failures, attempts, 300), DetectorRule(alpha=1e-7))
    assert found.score[0, 0] > 6.0
    assert found.anomalous[0, 0]
