"""A rule's round judged without the store (sightline.alerts.rounds): the band it draws."""

from __future__ import annotations

import numpy as np
import pytest

from sightline.alerts.detect import MetricKind
from sightline.alerts.metrics import ALERT_METRICS
from sightline.alerts.rounds import practical, windowed


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
