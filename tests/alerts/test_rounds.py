"""A rule's round judged without the store (sightline.alerts.rounds): the band it draws."""

from __future__ import annotations

import numpy as np
import pytest

from sightline.alerts.detect import MetricKind
from sightline.alerts.metrics import ALERT_METRICS
from sightline.alerts.rounds import practical


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
