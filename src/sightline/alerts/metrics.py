"""The metrics an alert rule can watch: catalog metrics, each with the direction that is bad, and the test the
detector applies to it, read from its catalog formula (no second list of formulas). Pure.

A metric's formula (without business exceptions, as the API answers it by default) has one of three shapes, after
constant factors (percent, ms → s) are set aside as `scale`:
- `numerator ÷ denominator`, both sums of count parts (parts that count events or views: vsf_views ÷ attempts,
  ad_errors ÷ ad_requests): a RATIO, tested as counts (binomial);
- `numerator ÷ denominator` where a part is not a count (startup_ms_sum ÷ plays, rebuffer_ms ÷ (play_ms +
  rebuffer_ms), bitrate_play ÷ play_ms): a MEAN, an amount per unit of volume;
- a sum of parts (aderrors, viewercount), or a sum of parts ÷ the period's length (concurviewavg): a COUNT.
Anything else (quantiles, clamps, ratios of ratios) cannot be alerted on.

    value = scale × numerator ÷ denominator      (RATIO, MEAN)
    value = scale × numerator [÷ interval ms]     (COUNT; `per_period`)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sightline.alerts.detect import Direction, MetricKind
from sightline.catalog.expression import ALWAYS
from sightline.catalog.formula import Binary, Const, Formula, Part, PeriodMs, parts_of
from sightline.catalog.metrics import MetricSpec, metric
from sightline.catalog.parts import PARTS

Array = npt.NDArray[np.float64]

ALERTABLE: dict[str, Direction] = {
    "vsf": Direction.UP,
    "failurerate": Direction.UP,
    "ebvs": Direction.UP,
    "vpf": Direction.UP,
    "bufferingratio": Direction.UP,
    "latency": Direction.UP,
    "livelatency": Direction.UP,
    "avgbitrate": Direction.DOWN,
    "errors": Direction.UP,
    "fatalerrors": Direction.UP,
    "aderrorrate": Direction.UP,
    "aderrors": Direction.UP,
    "adfillrate": Direction.DOWN,
    "adstartfailurerate": Direction.UP,
    "viewercount": Direction.DOWN,
    "attempts": Direction.DOWN,
    "concurviewavg": Direction.DOWN,
}
"""The catalog metrics that make sense to alert on, with the direction of a deviation that is bad."""

MIN_RELATIVE_EFFECT = 0.2
MIN_ABSOLUTE_EFFECT: dict[str, float] = {"percent": 0.5, "seconds": 0.25, "kbps": 100.0}
"""The smallest change worth an alert (besides its significance): a fifth of the expected value, and at least this
much in the metric's unit (half a percentage point, a quarter second, 100 kbps). A cohort whose rebuffering is
nearly always 0 is significant at 0.3 % rebuffering, and not an incident."""

VOLUME_PARTS = ("attempts", "viewers")
"""Parts every round reads besides its metrics': a cohort-interval is judged only with enough attempts and
(distinct) viewers."""

_COUNT_PARTS = frozenset(p.name for p in PARTS if p.aggregate == "sum" and p.expression == ALWAYS)
"""Parts that count events or views (a sum of 1 per matching row)."""


class NotAlertableError(ValueError):
    """A metric whose formula is none of the shapes an alert can test (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class AlertMetric:
    """A catalog metric as the detector sees it; see the module docstring."""

    spec: MetricSpec
    direction: Direction
    kind: MetricKind
    numerator: Formula
    denominator: Formula | None
    scale: float
    per_period: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def parts(self) -> frozenset[str]:
        """The parts its value reads."""
        return parts_of(self.numerator) | (parts_of(self.denominator) if self.denominator else frozenset())

    @property
    def bounds(self) -> tuple[float, float]:
        """The values the metric can take: from 0 (every alertable metric's parts are amounts ≥ 0) to 100 % for a
        ratio of counts, unbounded otherwise."""
        return 0.0, (self.scale if self.kind is MetricKind.RATIO else np.inf)

    def amounts(self, parts: Mapping[str, Array], interval_s: float) -> tuple[Array, Array | None]:
        """(value, volume) of `MetricSeries` from summed parts: numerator and denominator (for a COUNT the
        numerator, per interval for a `per_period` metric, and no volume). A ratio's numerator is capped by its
        denominator (a count of failures among trials)."""
        numerator = evaluate(self.numerator, parts)
        if self.denominator is None:
            return (numerator / (interval_s * 1000.0) if self.per_period else numerator), None
        denominator = evaluate(self.denominator, parts)
        if self.kind is MetricKind.RATIO:
            numerator = np.minimum(numerator, denominator)
        return numerator, denominator

    def value(self, numerator: Array, denominator: Array | None) -> Array:
        """The metric's value in its unit (as the API answers it) from `amounts`; NaN without volume."""
        if denominator is None:
            return self.scale * numerator
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                denominator > 0, self.scale * numerator / np.where(denominator > 0, denominator, 1.0), np.nan
            )


def effect_floor(metric: AlertMetric, expected: Array) -> Array:
    """The smallest |observed − expected| worth an alert, in the metric's unit (see `MIN_ABSOLUTE_EFFECT`)."""
    return np.maximum(
        MIN_RELATIVE_EFFECT * np.abs(np.nan_to_num(expected)), MIN_ABSOLUTE_EFFECT.get(metric.spec.unit, 0.0)
    )


def evaluate(formula: Formula, parts: Mapping[str, Array]) -> Array:
    """A formula of parts, + − × ÷ and constants over arrays of summed parts."""
    if isinstance(formula, Part):
        return parts[formula.name]
    if isinstance(formula, Const):
        return np.asarray(formula.value, dtype=np.float64)
    if not isinstance(formula, Binary):
        raise NotAlertableError(f"cannot evaluate {type(formula).__name__} over summed parts")
    left, right = evaluate(formula.left, parts), evaluate(formula.right, parts)
    if formula.op == "+":
        return left + right
    if formula.op == "-":
        return left - right
    if formula.op == "*":
        return left * right
    with np.errstate(divide="ignore", invalid="ignore"):
        return left / right


def _scaled(formula: Formula) -> tuple[float, Formula]:
    """(c, f) with formula = c × f, the constant factors of products and divisions set aside."""
    if isinstance(formula, Binary) and formula.op in "*/" and isinstance(formula.right, Const):
        scale, inner = _scaled(formula.left)
        return (scale * formula.right.value if formula.op == "*" else scale / formula.right.value), inner
    if isinstance(formula, Binary) and formula.op == "*" and isinstance(formula.left, Const):
        scale, inner = _scaled(formula.right)
        return scale * formula.left.value, inner
    return 1.0, formula


def _sum_of_parts(formula: Formula) -> bool:
    """Whether `formula` is parts joined by + and −."""
    if isinstance(formula, Part):
        return True
    return isinstance(formula, Binary) and formula.op in "+-" and all(map(_sum_of_parts, (formula.left, formula.right)))


def alert_metric(name: str) -> AlertMetric:
    """The alertable metric `name` (KeyError when it is not in `ALERTABLE`)."""
    direction = ALERTABLE[name]
    spec = metric(name)
    scale, shape = _scaled(spec.formula_for(include_business=False))
    if _sum_of_parts(shape):
        return AlertMetric(spec, direction, MetricKind.COUNT, shape, None, scale)
    if not (isinstance(shape, Binary) and shape.op == "/" and _sum_of_parts(shape.left)):
        raise NotAlertableError(f"metric {name} is not a count, a ratio or a mean of parts")
    if isinstance(shape.right, PeriodMs):
        return AlertMetric(spec, direction, MetricKind.COUNT, shape.left, None, scale, per_period=True)
    if not _sum_of_parts(shape.right):
        raise NotAlertableError(f"metric {name}'s denominator is not a sum of parts")
    counts = parts_of(shape) <= _COUNT_PARTS
    return AlertMetric(spec, direction, MetricKind.RATIO if counts else MetricKind.MEAN, shape.left, shape.right, scale)


ALERT_METRICS: dict[str, AlertMetric] = {name: alert_metric(name) for name in ALERTABLE}
"""Every alertable metric by name (built at import: a catalog change that breaks one fails loudly)."""

STALL_RATE = AlertMetric(
    metric("rebufferfrequency"),
    Direction.UP,
    MetricKind.RATIO,
    Part("rebuffer_count"),
    Binary("+", Part("play_ms"), Part("rebuffer_ms")),
    3_600_000.0,
)
"""Stalls per hour watched: counts of events, where one view's long stall (which dominates a cohort's stall time)
weighs as one stall. Judged as a ratio of counts, stalls of the milliseconds watched (a binomial of so many trials
and so small a rate is the Poisson count of stalls against the time watched), so that its expectation is shrunk
towards the cohort's long-run rate: as a mean, a cohort whose windows mostly hold no stall expected 0 stalls, with
no spread, and any stall confirmed a rebuffering anomaly (the demo's `device=desktop ∧ country=CA`, 3 stalls in 21
views)."""
CONFIRMED_BY: dict[str, AlertMetric] = {"bufferingratio": STALL_RATE}
"""Metrics whose anomalies must show in another's too, and whose causes are sought in it: the rebuffering ratio, a
ratio of durations that one view's long stall moves as much as an incident does, in its stalls per watch time (on
clean traffic, 23 of 27 false alerts of the default rules in 2 days were the ratio's alone)."""


def judged_parts(metric: AlertMetric) -> frozenset[str]:
    """The parts a round of `metric` reads: its own and its confirming metric's."""
    confirm = CONFIRMED_BY.get(metric.name)
    return metric.parts | (confirm.parts if confirm else frozenset())
