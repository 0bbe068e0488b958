"""A rule's round judged without the store (sightline.alerts.rounds): the band it draws, and the points of the series
it draws marked anomalous only as the round would judge them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sightline.alerts.detect import MetricKind
from sightline.alerts.metrics import ALERT_METRICS, VOLUME_PARTS, judged_parts
from sightline.alerts.rounds import Round, history_intervals, practical, windowed
from sightline.alerts.rules import RuleInput, parse_rule
from sightline.alerts.series import CohortSeries
from sightline.query.compile import TIMESTAMP

STEP = 300


@pytest.mark.parametrize(
    "name", ["vsf", "ebvs", "bufferingratio", "aderrorrate", "latency", "avgbitrate", "viewercount"]
)
def test_the_band_stays_within_the_metrics_range(name: str) -> None:
    """Widened to the smallest change worth an alert, the band still holds only values the metric can take: never
    below 0, and never above 100 % for a percentage of counts."""
    metric = ALERT_METRICS[name]
    top = metric.scale if metric.kind is MetricKind.RATIO else np.inf
    expected = np.array([0.0, 0.001, 0.2, 0.995]) * (metric.scale if np.isfinite(top) else 1.0)
    lower, upper, _ = practical(metric, expected, expected, expected - 0.01, expected + 0.01, np.zeros(4, dtype=bool))
    assert (lower >= 0.0).all(), lower
    assert (upper <= top).all(), upper
    assert (lower <= expected).all()
    assert (expected <= upper).all()


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 13, 24])
def test_windowed_sums_are_the_sums_of_the_last_k_intervals(k: int) -> None:
    """Each column is the sum of the k intervals ending there: exact for counts, and for durations within float
    rounding of the plain sum."""
    rng = np.random.default_rng(k)
    counts = rng.poisson(3.0, size=(4, 60)).astype(np.float32)
    durations = rng.lognormal(7.0, 1.0, size=(4, 60)).astype(np.float32)
    for values in (counts, durations):
        plain = np.stack([values[:, j - k + 1 : j + 1].astype(np.float64).sum(axis=1) for j in range(k - 1, 60)], 1)
        sums = windowed(values, k)
        assert sums.shape == (4, 61 - k)
        np.testing.assert_allclose(sums, plain, rtol=1e-12)
    np.testing.assert_array_equal(windowed(counts, k), np.stack(
        [counts[:, j - k + 1 : j + 1].sum(axis=1) for j in range(k - 1, 60)], 1
    ))  # fmt: skip


def test_the_points_drawn_are_anomalous_only_where_the_round_would_have_alerted() -> None:
    """Rebuffering customer-wide: three windows before the judged one hold a rebuffering ratio far above the usual
    one. The first with the stall rate as usual (the round wants both), the second with the stall rate too but 5
    attempts (under the rule's 20), the third with both and enough attempts. Of the drawn points, only the third and
    the judged window are anomalous."""
    rule = parse_rule(1, RuleInput.model_validate({"name": "r", "metric": "bufferingratio", "scope": "all"}))
    intervals = history_intervals(rule) + 12
    rng = np.random.default_rng(5)
    attempts = rng.poisson(200.0, intervals).astype(np.float64)
    play_ms = rng.gamma(50.0, 200.0 * 150_000.0 / 50.0, intervals)
    stalls = rng.poisson(20.0, intervals).astype(np.float64)
    rebuffer_ms = rng.gamma(20.0, 0.01 * 200.0 * 150_000.0 / 20.0, intervals)
    unconfirmed, few, confirmed, judged = intervals - 9, intervals - 6, intervals - 3, intervals - 1
    rebuffer_ms[[unconfirmed, few, confirmed, judged]] *= 12.0
    stalls[[few, confirmed, judged]] *= 8.0
    attempts[few] = 5.0
    parts = {"attempts": attempts, "viewers": attempts, "play_ms": play_ms, "rebuffer_ms": rebuffer_ms,
             "rebuffer_count": stalls}  # fmt: skip
    assert set(parts) == {*judged_parts(rule.metric), *VOLUME_PARTS}
    series = CohortSeries((), ((),), tuple(sorted(parts)), STEP, 0, intervals)
    series.add(pa.table({TIMESTAMP: np.arange(intervals) * STEP, **parts}), 0, intervals * STEP)
    round_ = Round(series, intervals * STEP)
    result = round_.judge(rule)
    assert result is not None
    assert result.reported.tolist() == [True]
    points = round_.context(result, 0, 12)
    assert [end for end, *_ in points] == [(intervals - 11 + n) * STEP for n in range(12)]
    marked = [end // STEP - 1 for end, *_, anomalous in points if anomalous]
    assert marked == [confirmed, judged]
    values = {end // STEP - 1: observed for end, observed, *_ in points}
    assert values[unconfirmed] > 5 * values[unconfirmed - 1]  # it stood out, unconfirmed


def test_a_few_stalls_of_a_cohort_that_rarely_stalls_confirm_no_rebuffering_anomaly() -> None:
    """A cohort of 25 views a window stalls about once an hour: most windows hold no stall, so the median expects a
    rebuffering ratio of 0, and any stall is far above it. Its judged window holds 3 stalls of 4 s: the stall rate,
    counts against the time watched, expects about 0.1 stall in it (its long-run rate), and 3 is not beyond that at
    the round's bar, so nothing is reported; 30 stalls are."""
    rule = parse_rule(1, RuleInput.model_validate({"name": "r", "metric": "bufferingratio", "scope": "all"}))
    intervals = history_intervals(rule) + 12
    rng = np.random.default_rng(11)
    attempts = rng.poisson(20.0, intervals).astype(np.float64) + 5.0
    play_ms = attempts * 60_000.0
    stalls = rng.poisson(0.1, intervals).astype(np.float64)
    rebuffer_ms = stalls * rng.gamma(4.0, 1_000.0, intervals)
    judged = intervals - 1
    reported = []
    for count in (3.0, 30.0):
        stalls[judged], rebuffer_ms[judged] = count, count * 4_000.0
        parts = {"attempts": attempts, "viewers": attempts, "play_ms": play_ms, "rebuffer_ms": rebuffer_ms,
                 "rebuffer_count": stalls}  # fmt: skip
        series = CohortSeries((), ((),), tuple(sorted(parts)), STEP, 0, intervals)
        series.add(pa.table({TIMESTAMP: np.arange(intervals) * STEP, **parts}), 0, intervals * STEP)
        result = Round(series, intervals * STEP).judge(rule)
        assert result is not None
        assert result.observed[0] > 10 * result.expected[0]  # the ratio alone stands out either way
        reported += result.reported.tolist()
    assert reported == [False, True]


def test_a_manual_relative_rules_drawn_point_is_judged_against_the_whole() -> None:
    """A relative threshold (50 % above the whole's start failures): the CDN failing 3 times as often as everyone is
    reported, and the point drawn for its window is anomalous, against the same whole's value."""
    given = {"name": "m", "metric": "vsf", "type": "manual", "condition": "relative", "threshold": 50.0,
             "scope": "selected", "dimensions": ["cdn"]}  # fmt: skip
    rule = parse_rule(1, RuleInput.model_validate(given))
    intervals = 3
    leaves = {"cdn": ["A", "B"] * intervals, TIMESTAMP: np.repeat(np.arange(intervals) * STEP, 2),
              "attempts": np.full(2 * intervals, 100.0), "viewers": np.full(2 * intervals, 100.0),
              "vsf_views": np.tile([2.0, 12.0], intervals), "vsf_business_views": np.zeros(2 * intervals)}  # fmt: skip
    parts = tuple(sorted({*judged_parts(rule.metric), *VOLUME_PARTS}))
    series = CohortSeries(("cdn",), ((), ("cdn",)), parts, STEP, 0, intervals)
    series.add(pa.table(leaves), 0, intervals * STEP)
    round_ = Round(series, intervals * STEP)
    result = round_.judge(rule)
    assert result is not None
    failing = result.position((("cdn", "B"),))
    assert failing is not None
    assert result.reported[failing]
    [(_, observed, threshold, _, _, anomalous)] = round_.context(result, failing, 12)
    assert (observed, threshold, anomalous) == (12.0, 10.5, True)


def test_an_anomaly_whose_rest_stands_out_too_is_reported_on_the_broader_cohort() -> None:
    """Start failures by device: every view fails more in the judged window, the phones (300 attempts a window)
    beyond the round's bar, the TVs (25) only beyond a single test's. The anomaly is the whole's, not the phones':
    with the rest judged at the round's bar, which the TVs' few views cannot pass, the phones were reported alone
    (an ad server failing every ad, in a demo, was two alerts on a device and a CDN)."""
    given = {"name": "s", "metric": "vsf", "scope": "selected", "dimensions": ["device"]}
    rule = parse_rule(1, RuleInput.model_validate(given))
    intervals = history_intervals(rule) + 1
    rng = np.random.default_rng(3)
    columns: dict[str, list[object]] = {"device": [], TIMESTAMP: [], "attempts": [], "viewers": [], "vsf_views": []}
    for n in range(intervals):
        for device, size in (("mobile", 300), ("tv", 25)):
            failed = 0.12 * size if n == intervals - 1 else float(rng.binomial(size, 0.01))
            for column, value in zip(columns, (device, n * STEP, size, size, failed), strict=True):
                columns[column].append(value)
    columns["vsf_business_views"] = [0.0] * len(columns["device"])
    parts = tuple(sorted({*judged_parts(rule.metric), *VOLUME_PARTS}))
    series = CohortSeries(("device",), ((), ("device",)), parts, STEP, 0, intervals)
    series.add(pa.table(columns), 0, intervals * STEP)
    result = Round(series, intervals * STEP).judge(rule)
    assert result is not None
    tv = result.position((("device", "tv"),))
    assert tv is not None
    assert not result.anomalous[tv], "the TVs alone pass the round's bar: the test shows nothing"
    assert result.score[tv] > 2.33  # beyond a single test's bar (1 %)
    assert [result.cohorts[n] for n in np.flatnonzero(result.reported)] == [()]
