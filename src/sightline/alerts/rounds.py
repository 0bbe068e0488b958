"""One rule's detection round (pure): each cohort's value at the judged interval against what is expected of it,
and which anomalies to report.

Input: the rule and the `CohortSeries` of its scope (summed parts per cohort and interval). For each cohort in the
rule's scope, the parts are summed over the rule's window (rolling, one value per interval) and become the
detector's `MetricSeries` (`AlertMetric.amounts`). A cohort-interval is judged when its window had at least
`min_attempts` attempts and `min_users` viewers.
- An ai rule: `alerts.detect` (seasonal expectation, robust to past anomalies, volume-aware test) with
  `DETECTOR`'s seasonal lags, at a per-test alpha that spreads the rule's false-alert budget (`family_alpha`: per
  day, from the sensitivity) over the cohorts judged and the intervals of a day (Bonferroni): a rule judging 500
  cohorts every 5 minutes tests each at 1e-2 ÷ (500 × 288) ≈ 7e-8 at the default sensitivity.
- A manual rule: the value against its threshold, fixed, or relative to the whole's value at the same interval.
Reported: the anomalous cohorts that no related anomalous cohort explains. For each anomalous cohort P and each
anomalous cohort D inside it (D's conditions extend P's), the rest of P (P − D, its parts subtracted) is judged the
same way, at a single test's alpha (the rule's family alpha, not spread over the cohorts: the question is one, is
the rest as usual): if the rest is anomalous too, the anomaly is broader than D and D is not reported; if not, D
explains P's anomaly and P is not reported. So an incident of one CDN in one country is reported on that pair,
not also on the CDN, the country and the whole; an incident of everything is reported on the whole alone.
An ai anomaly of a metric in `metrics.CONFIRMED_BY` (the rebuffering ratio) must show in its confirming metric too
(stalls per watch time, counts tested against the time watched), at the same alpha. An ai anomaly must also be a
change worth an alert (`metrics.effect_floor`: a fifth of the expected value, and half a percentage point, a quarter
second or 100 kbps), which widens the band.
An open alert goes on while its cohort is `continuing`: anomalous, or beyond the bar of a single test at the rule's
family alpha (hysteresis: an incident found goes on without passing the whole family's bar again at every round).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sightline.alerts.detect import DAY_S, DetectorRule, Direction, MetricSeries, detect, z_threshold
from sightline.alerts.metrics import CONFIRMED_BY, VOLUME_PARTS, AlertMetric, effect_floor, judged_parts
from sightline.alerts.rules import AlertRule, Cohort
from sightline.alerts.series import CohortSeries, catalog_order

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
DETECTOR = DetectorRule(days=6, weeks=1, fit_intervals=144)
"""The detector's seasonal lags and fit for rounds: the same time on the 6 days before and a week before, and the
dispersion from the 144 intervals before the judged one; the history a round reads (`history_intervals`)."""
MAX_ALPHA = 0.01


def round_alpha(rule: AlertRule, judged: float) -> float:
    """The per-test alpha of a round of `rule` that judges `judged` cohorts: the rule's family alpha over them and
    the intervals of a day (Bonferroni), at most `MAX_ALPHA`."""
    return min(MAX_ALPHA, family_alpha(rule.sensitivity) / (max(1.0, judged) * (DAY_S // rule.interval_s)))


def family_alpha(sensitivity: float) -> float:
    """The false alerts a rule may raise on clean traffic per day: 1e-4 at sensitivity 0, 1e-2 at 0.5 (the
    default: with ten rules, under one a week), 1 at 1."""
    return float(10.0 ** (4.0 * sensitivity - 4.0))


def history_intervals(rule: AlertRule) -> int:
    """The intervals of history a round of `rule` reads, the judged one included."""
    per_day = DAY_S // rule.interval_s
    lags = max(DETECTOR.days * per_day, 7 * per_day * DETECTOR.weeks)
    return lags + DETECTOR.fit_intervals + rule.window_intervals


@dataclass(frozen=True, slots=True)
class Judged:
    """A rule's round: each cohort of its scope (`cohorts`, rows of `series`) at the interval ending at `end`.
    Values are in the metric's unit; `numerator`/`denominator` are the window's amounts (`AlertMetric.amounts`;
    for a count, the denominator is its attempts)."""

    rule: AlertRule
    end: int
    alpha: float
    cohorts: list[Cohort]
    rows: npt.NDArray[np.int64]
    observed: Array
    expected: Array
    lower: Array
    upper: Array
    score: Array
    numerator: Array
    denominator: Array
    attempts: Array
    viewers: Array
    eligible: Mask
    anomalous: Mask
    reported: Mask
    continuing: Mask
    """Anomalous, or beyond the bar of one test at the rule's family alpha: what keeps an open alert going (the
    question is then whether one known incident goes on, not which of many cohorts has one)."""

    _positions: dict[Cohort, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        positions: dict[Cohort, int] = {}
        for n, cohort in enumerate(self.cohorts):
            positions.setdefault(cohort, n)
        object.__setattr__(self, "_positions", positions)

    def position(self, cohort: Cohort) -> int | None:
        """The index of `cohort` among the judged ones, None when it is not in scope."""
        return self._positions.get(cohort)


def windowed(values: npt.NDArray[np.float32], k: int) -> Array:
    """Sums over the last `k` intervals at each interval (shape (C, T − k + 1)), by doubling: sums of 1, 2, 4 …
    consecutive intervals, those of `k`'s binary digits added end to end (about log₂ k passes over the array; a
    running total is one sequential pass, about twice as slow for the windows of 2 to 4 intervals rules use, as
    fast at 12, faster at 24)."""
    width = values.shape[1] - k + 1
    block: Array = values.astype(np.float64)  # column j: the sum of the `size` intervals from j
    size, offset = 1, 0
    sums: Array | None = None
    while True:
        if k & size:
            part = block[:, offset : offset + width]
            sums, offset = part if sums is None else sums + part, offset + size
        if 2 * size > k:
            assert sums is not None
            return sums
        block, size = block[:, :-size] + block[:, size:], 2 * size


class Window:
    """A rule's windowed parts of some cohorts over the history read (`parts[p][c, j]`: part p of cohort c summed
    over the window ending at column j), and their judgement; `eligible` tells each window's own eligibility."""

    def __init__(self, rule: AlertRule, parts: Mapping[str, Array], metric: AlertMetric | None = None) -> None:
        self.rule = rule
        self.parts = parts
        self.metric = rule.metric if metric is None else metric
        self.value, self.volume = self.metric.amounts(parts, rule.window_s)

    def minus(self, broad: npt.NDArray[np.int64], narrow: npt.NDArray[np.int64]) -> Window:
        """The rests: each `broad` cohort without its `narrow` one."""
        rests = {p: np.maximum(v[broad] - v[narrow], 0.0) for p, v in self.parts.items()}
        return Window(self.rule, rests, self.metric)

    def eligible(self) -> Mask:
        """Each cohort's windows (the parts' shape) with enough attempts and viewers to be judged."""
        attempts, viewers = self.parts["attempts"], self.parts["viewers"]
        return (attempts >= max(self.rule.min_attempts, 1)) & (viewers >= self.rule.min_users)

    def judge(self, alpha: float, whole: float) -> tuple[Array, Array, Array, Array, Array, Mask]:
        """(observed, expected, lower, upper, score, anomalous) at the last interval, in the metric's unit; `whole`
        is the whole's value, for a relative threshold."""
        metric = self.metric
        if self.rule.type == "ai":
            observed, expected, lower, upper, score, anomalous = self.judge_ai(alpha, 1)
            return observed[:, 0], expected[:, 0], lower[:, 0], upper[:, 0], score[:, 0], anomalous[:, 0]
        observed = metric.value(self.value[:, -1], None if self.volume is None else self.volume[:, -1])
        threshold = np.full_like(observed, self._threshold(whole))
        bad = -1.0 if metric.direction is Direction.DOWN else 1.0
        score = bad * (observed - threshold)
        unbounded = np.full_like(observed, bad * np.inf)
        lower, upper = (threshold, unbounded) if bad < 0 else (-unbounded, threshold)
        with np.errstate(invalid="ignore"):
            worse = np.isfinite(score) & (score > 0)
        return observed, threshold, lower, upper, score, worse

    def judge_ai(self, alpha: float, evaluate: int) -> tuple[Array, Array, Array, Array, Array, Mask]:
        """An ai rule's (observed, expected, lower, upper, score, anomalous) at each of the last `evaluate` windows
        (shape (cohorts, evaluate)), in the metric's unit, the band widened by `practical`."""
        metric = self.metric
        series = MetricSeries(metric.kind, self.value, self.volume, self.rule.interval_s)
        found = detect(series, self.detector(alpha), evaluate=evaluate)
        bounds = (found.observed, found.expected, found.lower, found.upper)
        observed, expected, lower, upper = (metric.scale * b for b in bounds)
        lower, upper, anomalous = practical(metric, observed, expected, lower, upper, found.anomalous)
        return observed, expected, lower, upper, found.score, anomalous

    def confirmed(self, anomalous: Mask, alpha: float, evaluate: int) -> Mask:
        """`anomalous` (the last `evaluate` windows') where the metric's confirming one (`CONFIRMED_BY`) is
        anomalous too; as it is for a metric without one."""
        confirm = CONFIRMED_BY.get(self.metric.name)
        if confirm is None or self.rule.type != "ai":
            return anomalous
        return anomalous & Window(self.rule, self.parts, confirm).judge_ai(alpha, evaluate)[5].reshape(anomalous.shape)

    def detector(self, alpha: float) -> DetectorRule:
        return DetectorRule(
            direction=self.metric.direction,
            alpha=alpha,
            days=DETECTOR.days,
            weeks=DETECTOR.weeks,
            fit_intervals=DETECTOR.fit_intervals,
        )

    def _threshold(self, whole: float) -> float:
        assert self.rule.threshold is not None
        if self.rule.condition == "fixed":
            return self.rule.threshold
        share = self.rule.threshold / 100.0
        return whole * (1.0 - share if self.metric.direction is Direction.DOWN else 1.0 + share)


def practical(
    metric: AlertMetric, observed: Array, expected: Array, lower: Array, upper: Array, anomalous: Mask
) -> tuple[Array, Array, Mask]:
    """The band widened to the smallest change worth an alert (`effect_floor`) within the values the metric can take
    (`AlertMetric.bounds`), and the anomalies beyond it."""
    floor = effect_floor(metric, expected)
    low, high = metric.bounds
    with np.errstate(invalid="ignore"):
        worth = np.abs(observed - expected) >= floor
        lower = np.clip(np.minimum(lower, expected - floor), low, high)
        upper = np.clip(np.maximum(upper, expected + floor), low, high)
    return lower, upper, anomalous & worth


def in_scope(rule: AlertRule, series: CohortSeries) -> npt.NDArray[np.int64]:
    """The rows of `series` that are cohorts of `rule`."""
    groupings = {catalog_order(g) for g in rule.groupings}
    return np.asarray(
        [n for n, cohort in enumerate(series.cohorts) if tuple(d for d, _ in cohort) in groupings], dtype=np.int64
    )


class Round:
    """The rules of one series judged at the interval ending at `end`. Only cohorts with enough attempts and
    viewers in the window are judged; what rules share (the windowed history of the same cohorts) is computed
    once."""

    def __init__(self, series: CohortSeries, end: int) -> None:
        self.series = series
        self.end = end
        self._windowed: dict[tuple[str, int, int, bytes], Array] = {}

    def judge(self, rule: AlertRule) -> Judged | None:
        """`rule`'s round; None when the series holds too little history before `end` (under two windows)."""
        series, k = self.series, rule.window_intervals
        last = series.column(self.end)
        columns = min(last, history_intervals(rule))
        if columns - k < 1 or last > series.length:
            return None
        rows = in_scope(rule, series)
        latest = Window(
            rule, {p: self._parts(p, rows, k, k, last) for p in {*judged_parts(rule.metric), *VOLUME_PARTS}}
        )
        eligible = latest.eligible()[:, -1]
        judged = rows[eligible]
        history = Window(rule, {p: self._parts(p, judged, columns, k, last) for p in latest.parts})
        cohorts = [series.cohorts[r] for r in rows]
        whole = self._whole(rule, latest, cohorts)
        alpha = round_alpha(rule, judged.size)
        outcome = [np.full(rows.size, np.nan) for _ in range(5)]
        anomalous = np.zeros(rows.size, dtype=bool)
        reported = np.zeros(rows.size, dtype=bool)
        continuing = np.zeros(rows.size, dtype=bool)
        if judged.size:
            *values, found = history.judge(alpha, whole)
            found = history.confirmed(found, alpha, 1)  # a rebuffering anomaly must show in the stall rate too
            for target, value in zip(outcome, values, strict=True):
                target[eligible] = value
            anomalous[eligible] = found
            chosen = [cohorts[n] for n in np.flatnonzero(eligible)]
            single = min(MAX_ALPHA, family_alpha(rule.sensitivity))
            reported[eligible] = found & ~_explained(history, chosen, found, single, whole)
            bar = z_threshold(single) if rule.type == "ai" else np.inf
            with np.errstate(invalid="ignore"):
                continuing[eligible] = found | (np.nan_to_num(values[4], nan=-np.inf) >= bar)
        numerator, volume = latest.value[:, -1], latest.volume
        return Judged(
            rule=rule,
            end=self.end,
            alpha=alpha,
            cohorts=cohorts,
            rows=rows,
            observed=outcome[0],
            expected=outcome[1],
            lower=outcome[2],
            upper=outcome[3],
            score=outcome[4],
            numerator=numerator,
            denominator=latest.parts["attempts"][:, -1] if volume is None else volume[:, -1],
            attempts=latest.parts["attempts"][:, -1],
            viewers=latest.parts["viewers"][:, -1],
            eligible=eligible,
            anomalous=anomalous,
            reported=reported,
            continuing=continuing,
        )

    def context(self, judged: Judged, position: int, points: int) -> list[tuple[int, float, float, float, float, bool]]:
        """The `points` windows up to the judged one of the cohort at `position` (fewer when the series holds less):
        (end, observed, expected, lower, upper, anomalous), for drawing. The judged window is the round's own; the
        ones before it (ai rules) are judged by the detector at the round's alpha with the dispersion fitted before
        the first of them (a round fits it before each), anomalous only with enough attempts and viewers and
        confirmed, as in a round."""
        rule, k = judged.rule, judged.rule.window_intervals
        bounds = (judged.observed, judged.expected, judged.lower, judged.upper)
        observed, expected, lower, upper = (float(b[position]) for b in bounds)
        own = (self.end, observed, expected, lower, upper, bool(judged.anomalous[position]))
        last = self.series.column(self.end)
        columns = min(last, history_intervals(rule) + points - 1)
        before = min(points, columns - k) - 1
        if rule.type != "ai" or before < 1:
            return [own]
        row = judged.rows[position : position + 1]
        parts = {*judged_parts(rule.metric), *VOLUME_PARTS}
        window = Window(rule, {p: self._parts(p, row, columns - 1, k, last - 1) for p in parts})
        found = window.judge_ai(judged.alpha, before)
        anomalous = window.confirmed(found[5], judged.alpha, before) & window.eligible()[:, -before:]
        values = zip(*(v[0] for v in found[:4]), anomalous[0], strict=True)
        ends = range(self.end - before * rule.interval_s, self.end, rule.interval_s)
        drawn = [
            (t, float(o), float(e), float(lo), float(hi), bool(a))
            for t, (o, e, lo, hi, a) in zip(ends, values, strict=True)
        ]
        return [*drawn, own]

    def _parts(self, part: str, rows: npt.NDArray[np.int64], columns: int, k: int, last: int) -> Array:
        """Part `part` of `rows` summed over windows of `k` intervals, at the last `columns − k + 1` intervals
        before column `last`."""
        key = (part, columns, k, rows.tobytes())
        if key not in self._windowed:
            self._windowed[key] = windowed(self.series.part(part)[rows, last - columns : last], k)
        return self._windowed[key]

    @staticmethod
    def _whole(rule: AlertRule, latest: Window, cohorts: list[Cohort]) -> float:
        """The whole's value in the window (NaN without one), which a relative threshold is relative to."""
        if () not in cohorts:
            return float("nan")
        n = cohorts.index(())
        volume = None if latest.volume is None else latest.volume[n : n + 1, -1]
        return float(rule.metric.value(latest.value[n : n + 1, -1], volume)[0])


def related(broad: Cohort, narrow: Cohort) -> bool:
    """Whether `narrow`'s conditions extend `broad`'s (the whole is related to every cohort)."""
    return len(narrow) > len(broad) and set(broad) <= set(narrow)


def _explained(window: Window, cohorts: list[Cohort], anomalous: Mask, alpha: float, whole: float) -> Mask:
    """The anomalous cohorts that a related anomalous cohort explains (see the module docstring)."""
    found = np.flatnonzero(anomalous)
    pairs = [(p, d) for p in found for d in found if related(cohorts[p], cohorts[d])]
    explained = np.zeros(len(cohorts), dtype=bool)
    if not pairs:
        return explained
    broad, narrow = (np.asarray(side, dtype=np.int64) for side in zip(*pairs, strict=True))
    rests = window.minus(broad, narrow)
    rest_anomalous = rests.judge(alpha, whole)[5] & rests.eligible()[:, -1]
    explained[narrow[rest_anomalous]] = True
    explained[broad[~rest_anomalous]] = True
    return explained
