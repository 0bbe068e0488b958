"""The diagnosis of an anomaly, as the engine runs it: leaves from the store, `alerts.diagnose` over them, and each
cause's affected viewers (IO at the edges, the model in `diagnose`).

Leaves: the customer's views of the anomalous window grouped by every dimension of `DIAGNOSIS_DIMENSIONS` (one
query of the metric's parts through the query pipeline, like a round's). What is expected of each leaf comes
from the same leaves at the same time the day before (`REFERENCE_SPAN` either side, one query, by interval): for
a ratio or a mean, each leaf's rate there shrunk towards the rate of its values' main effects (`baseline_rate`,
`main_effect_rates`), scaled so that the alert's cohort meets the detector's expected value, times its volume in
the window; for a count, its share of the amount there scaled the same way. Each interval of that span, against
the same expectation, is a reference window the diagnosis learns the noise from. The search looks within the
alert's cohort; no cause, causes that explain less than `MIN_EXPLAINED` of its excess, or causes that are its
pieces (two or more holding most of its expected amount, as `diagnose` generalises) give way to the cohort
itself: the cohort is the more succinct cause of the same excess. Each cause (or the cohort) is then `broadened`
over all the customer's leaves: a condition whose left-out views do not refute the rise goes (an anomaly first
seen in `brand=Samsung ∧ playerversion=4.8.3` is every Shaka Player's on Samsung when the other version's views
failed as much). A cause's affected views are the attempts of its leaves in the window; its affected viewers are
counted by a query of `views` filtered by its conditions (and, for a failure metric, by the failed status):
distinct viewers do not add up across leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pandas as pd

from sightline.alerts.detect import Direction, MetricKind
from sightline.alerts.diagnose import MOST, Cause, broadened, diagnose
from sightline.alerts.diagnose_leaves import Coded, Leaves, baseline_rate, coded, coded_leaves, main_effect_rates
from sightline.alerts.diagnose_score import chi2_bound, fit_noise
from sightline.alerts.metrics import CONFIRMED_BY, AlertMetric
from sightline.alerts.rules import AlertRule, Cohort
from sightline.alerts.series import as_cohort, catalog_order, fetch, instant, leaves_query
from sightline.query.compile import TIMESTAMP
from sightline.query.filters import And, Condition, Node
from sightline.query.period import Period
from sightline.query.pipeline import Engine, fetch_value_page, value_rows
from sightline.query.sessions import SessionQuery, compile_sessions

Array = npt.NDArray[np.float64]
DIAGNOSIS_DIMENSIONS = catalog_order(
    (
        "cdn",
        "country",
        "isp",
        "connectiontype",
        "device",
        "brand",
        "platform",
        "appversion",
        "player",
        "playerversion",
        "streamtype",
        "subscribertype",
    )
)
"""The dimensions a diagnosis looks through: delivery, geography, the device and its app, the player, the kind of
stream and of subscriber (not titles, viewers or free-form tags: too many values to name a cause of 3 of them)."""
REFERENCE_SPAN = timedelta(hours=1)
MAX_REFERENCE_WINDOWS = 12
MIN_EXPLAINED = 0.8
"""Within an alert's cohort, causes that explain less of its excess than this say that the excess is spread over
the cohort: the cohort itself is the cause (`cdn=X ∧ country=Y` rather than two of its ISPs and a device)."""
VALUE_PRIOR = 10.0
"""A dimension value's effect on the rate is shrunk towards none as if it had this many times `PRIOR_VIEWS` more
views at the pooled rate (an app version seen on 100 views without an ad error is not trusted to have none)."""
RISE_BEYOND = 2.0
"""How many times the rest's move (in the metric's points) a cause's must be: an ad server failing every ad by
as many points everywhere is the whole's cause, not that of the app version whose rate was lowest before."""
REFUTED = chi2_bound(0.01) / 2
"""How much worse (log-likelihood) the views a condition leaves out must fit its cause's rise than none for the
condition to stay in the cause (`diagnose.broadened`): as sure as a cause itself must be (χ² of 1 %), so
`streamtype=vod` stays in `cdn=Akamai ∧ player=Shaka Player ∧ streamtype=vod` only when the live views of that pair
were seen not to fail as much. A player version beside its player is dropped only when the player's other
versions fit the rise better than none (`_beside_its_parent`): the version or the player, one dimension either way."""
PRIOR_VIEWS = 20.0
"""A leaf's expected rate is its rate the day before shrunk towards its values' main effects as if it had this
many more views there (in its denominator's unit: views, or their play time for a time-weighted mean)."""
FAILED_VIEWS: dict[str, tuple[str, str]] = {
    "vsf": ("startfailed", "vsf"),
    "failurerate": ("startfailed", "vsf"),
    "ebvs": ("exitedbeforestart", "ebvs"),
    "vpf": ("playbackfailed", "vpf"),
}
"""The views a failure metric counts (its affected viewers are those of such views): their status, and the
per-view metric above 0 on them alone, which leaves business exceptions out as the metric does."""
DAY = timedelta(days=1)
PARENTS: dict[str, str] = {"playerversion": "player"}
"""A dimension whose values belong to another's (a version is a version of a player): a cause on the child names
the parent's value too when all its views have the same."""


@dataclass(frozen=True, slots=True)
class FoundCause:
    """A cause in the metric's unit: its conditions (the cohort's among them), its share of the excess, its value
    observed and expected, the attempts of its views and their distinct viewers."""

    conditions: Cohort
    share: float
    observed: float
    expected: float
    views: float
    viewers: int
    significance: float


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The causes of an anomaly, strongest first (none: nothing stands out of the whole, the anomaly is
    customer-wide), the share of the excess they explain, and the leaves and dimensions looked through;
    `the_cohort`: the one cause is the diagnosed cohort itself (nothing narrower in it explains the excess)."""

    causes: tuple[FoundCause, ...]
    share: float
    leaves: int
    dimensions: tuple[str, ...]
    the_cohort: bool = False
    coded: Coded | None = field(default=None, compare=False, repr=False)
    """The customer's leaves looked through, by their dimension values (None when there were none)."""

    def nested(self, one: Cohort, other: Cohort) -> bool:
        """Whether the views of one combination hold the other's among the leaves looked through: `platform=Tizen`
        and `brand=Samsung ∧ player=Shaka Player` are one when Samsung's Shaka Players are its TVs. By their
        conditions when either names a dimension not looked through, or holds no leaf there (`holds`)."""
        return self.holds(one, other) or self.holds(other, one)

    def holds(self, outer: Cohort, inner: Cohort) -> bool:
        """Whether the views of `outer` hold all of `inner`'s among the leaves looked through (by their conditions
        when either names a dimension not looked through, or `inner` holds no leaf there)."""
        coded = self.coded
        if coded is not None and all(name in coded.dimensions for name, _ in (*outer, *inner)):
            theirs = coded.holding(inner)
            if theirs.any():
                return bool((theirs <= coded.holding(outer)).all())
        return set(outer) <= set(inner)


def cohort_filter(conditions: Cohort, status: str | None = None) -> Node | None:
    """The filter of a cohort's views (and of a status)."""
    nodes: list[Node] = [Condition(name, "=", (value,)) for name, value in conditions]
    if status is not None:
        nodes.append(Condition("status", "=", (status,)))
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def affected_viewers(engine: Engine, customer_id: int, metric: AlertMetric, conditions: Cohort, period: Period) -> int:
    """Distinct viewers of the views of `conditions` started in `period` (those that failed, for a failure
    metric)."""
    status, counted = FAILED_VIEWS.get(metric.name, (None, None))
    query = SessionQuery(
        customer_id=customer_id,
        period=period,
        granularity="hour",
        filter=cohort_filter(conditions, status),
        qoefilter=None if counted is None else Condition(counted, ">", (0,)),
        order_by=("viewerid", "ASC"),
        limit=1,
        fields=("viewerid",),
        keys=("viewerid",),
    )
    return fetch_value_page(value_rows(engine), compile_sessions(query), 1, 0).total


class _Layer:
    """A metric's amounts of each leaf in one window: numerator, denominator (attempts for a count), attempts."""

    def __init__(self, metric: AlertMetric, frame: pd.DataFrame, window_s: int) -> None:
        parts = {p: frame[p].to_numpy(dtype=np.float64) for p in frame.columns}
        numerator, denominator = metric.amounts(parts, window_s)
        self.numerator = np.maximum(np.nan_to_num(numerator), 0.0)
        self.attempts = parts["attempts"]
        self.denominator = self.attempts if denominator is None else np.maximum(np.nan_to_num(denominator), 0.0)


@dataclass(frozen=True, slots=True)
class _Past:
    """Every leaf of the history, its intervals summed (`frame`), and the codes of its leaves and of the window's
    (`window`), one labelling of each dimension for both."""

    frame: pd.DataFrame
    codes: npt.NDArray[np.int64]
    window: npt.NDArray[np.int64]


def _with_parents(columns: Coded, conditions: Sequence[tuple[str, str]]) -> Cohort:
    """`conditions` with the value of each `PARENTS` dimension its child's leaves all have (the player of a
    player version)."""
    named = {name for name, _ in conditions}
    implied = []
    for child, parent in PARENTS.items():
        if child in named and parent not in named and parent in columns.dimensions:
            j = columns.dimensions.index(parent)
            values = np.unique(columns.codes[columns.holding(conditions), j])
            if values.size == 1:
                implied.append((parent, columns.labels[j][int(values[0])]))
    return as_cohort((*conditions, *implied))


def _beside_its_parent(name: str, others: Cohort) -> bool:
    """Whether a condition on `name` is a child's beside its parent's among `others` (a version beside its player:
    `diagnose.broadened` weighs the two causes as equally simple)."""
    parent = PARENTS.get(name)
    return parent is not None and any(other == parent for other, _ in others)


class _Expectation:
    """A metric's amounts of each leaf in the window and in the intervals of the history, and what is expected of
    each in the window (and in each history interval, against the same rates), in the amounts' unit. A ratio's or
    a mean's leaf rate is its own rate in the history shrunk towards the rate of its values' main effects there
    (`main_effect_rates`, over every leaf of the history), scaled so that the leaves in `scope` (the alert's
    cohort) together meet the detector's expected value: a leaf of a cellular phone is expected to rebuffer as
    cellular phones do."""

    def __init__(
        self,
        metric: AlertMetric,
        window: pd.DataFrame,
        history: list[pd.DataFrame],
        past: _Past,
        window_s: int,
        interval_s: int,
        expected: float | None,
        scope: npt.NDArray[np.bool_],
    ) -> None:
        self.metric = metric
        self.scope = scope
        self.observed = _Layer(metric, window, window_s)
        self.history = [_Layer(metric, frame, interval_s) for frame in history]
        known = self.history or [self.observed]
        numerator = np.sum([layer.numerator for layer in known], axis=0)
        if metric.kind is MetricKind.COUNT:
            share = (numerator + 1e-9) / (float(numerator.sum()) + 1e-9 * numerator.size)
            total = float(self.observed.numerator[scope].sum()) if expected is None else expected
            outside = float(self.observed.numerator[~scope].sum())
            self.expected = share * np.where(
                scope, total / float(share[scope].sum()), outside / max(float(share[~scope].sum()), 1e-12)
            )
            self.expected_history = [share * float(layer.numerator.sum()) for layer in self.history]
            return
        denominator = np.sum([layer.denominator for layer in known], axis=0)
        per_view = float(denominator.sum()) / max(1.0, sum(float(layer.attempts.sum()) for layer in known))
        prior = PRIOR_VIEWS * max(per_view, 1e-9)
        pooled = float(numerator.sum()) / float(denominator.sum()) if denominator.sum() > 0 else 0.0
        target = np.full(numerator.shape[0], pooled)
        if self.history:
            before = _Layer(metric, past.frame, interval_s)
            target = main_effect_rates(
                past.codes, before.numerator, before.denominator, past.window, VALUE_PRIOR * prior
            )
        volume = self.observed.denominator[scope]
        level = float(target[scope] @ volume) / max(float(volume.sum()), 1e-12)
        if expected is not None and level > 0:
            target = target * (expected / level)
        rate = baseline_rate(numerator, denominator, prior, towards=target)
        self.expected = rate * self.observed.denominator
        self.expected_history = [rate * layer.denominator for layer in self.history]

    def leaves(self, values: Coded) -> tuple[Leaves, tuple[Leaves, ...]]:
        """The window's leaves in scope, and each history interval's as a reference window (`values`: the leaves
        in scope, coded)."""
        counts = not self.metric.per_period
        scope = self.scope
        views = self.observed.attempts if self.metric.kind is MetricKind.COUNT else self.observed.denominator
        leaves = coded_leaves(values, self.observed.numerator[scope], self.expected[scope], views[scope], counts)
        reference = tuple(
            coded_leaves(values, layer.numerator[scope], expected[scope], None, counts)
            for layer, expected in zip(self.history, self.expected_history, strict=True)
            if layer.numerator[scope].sum() + expected[scope].sum() > 0
        )
        return leaves, reference

    def rises_beyond_the_rest(self, inside: npt.NDArray[np.bool_], direction: int) -> bool:
        """Whether the leaves `inside` moved `direction`, per unit of denominator (a ratio's or a mean's rate, in
        points), `RISE_BEYOND` times as much as the other leaves in scope did: when everything rose by about as
        many points, a combination of a lower expected rate rose more in proportion but did not cause the rise.
        A count has no rate and passes."""
        if self.metric.kind is MetricKind.COUNT:
            return True
        rises = []
        for leaves in (inside, self.scope & ~inside):
            denominator = float(self.observed.denominator[leaves].sum())
            excess = float(self.observed.numerator[leaves].sum() - self.expected[leaves].sum())
            rises.append(excess / denominator if denominator > 0 else 0.0)
        return direction * rises[0] > RISE_BEYOND * max(direction * rises[1], 0.0)

    def broadened(self, conditions: Cohort, columns: Coded) -> Cohort:
        """`conditions` without those the views they leave out do not refute (`diagnose.broadened`)."""
        amounts = (self.observed.numerator, self.expected, self.noise)
        found = broadened(conditions, columns.holding, *amounts, REFUTED, _beside_its_parent)
        return as_cohort(found)

    @cached_property
    def noise(self) -> tuple[float, float]:
        """(a, b) of the leaves' noise variance a·e + b·e² (`fit_noise`), from the history's intervals (from the
        window itself when there is none)."""
        pairs = list(zip((layer.numerator for layer in self.history), self.expected_history, strict=True))
        pairs = pairs or [(self.observed.numerator, self.expected)]
        residual = np.concatenate([seen - expected for seen, expected in pairs])
        return fit_noise(residual, np.concatenate([expected for _, expected in pairs]), not self.metric.per_period)

    def values(self, inside: npt.NDArray[np.bool_]) -> tuple[float, float]:
        """The metric's value observed and expected over the leaves `inside`, in its unit."""
        numerator, expected = float(self.observed.numerator[inside].sum()), float(self.expected[inside].sum())
        if self.metric.kind is MetricKind.COUNT:
            return self.metric.scale * numerator, self.metric.scale * expected
        denominator = float(self.observed.denominator[inside].sum())
        if denominator <= 0:
            return float("nan"), float("nan")
        return self.metric.scale * numerator / denominator, self.metric.scale * expected / denominator


def diagnose_window(
    engine: Engine, rule: AlertRule, cohort: Cohort, period: Period, expected: float | None
) -> Diagnosis:
    """The diagnosis of `rule`'s anomaly of `cohort` in `period` (the rule's window); `expected` is the value the
    detector expected of the cohort there (the metric's unit), None when unknown. The search looks within the
    cohort; each cause it names (or the cohort) is then `broadened` over every leaf of the customer."""
    metric = rule.metric
    model = CONFIRMED_BY.get(metric.name, metric)
    fixed = {name for name, _ in cohort}
    dimensions = catalog_order({*DIAGNOSIS_DIMENSIONS, *fixed})
    free = tuple(d for d in DIAGNOSIS_DIMENSIONS if d not in fixed)
    parts = sorted({*metric.parts, *model.parts, "attempts"})
    window = _frame(engine, rule, dimensions, parts, period)
    before = Period(period.start - DAY - REFERENCE_SPAN, period.start - DAY + REFERENCE_SPAN)
    history = _frame(engine, rule, dimensions, parts, before)
    summed = window.drop(columns=[TIMESTAMP]).groupby(list(dimensions), observed=True).sum()
    index = summed.index if metric.kind is not MetricKind.COUNT else summed.index.union(_index(history, dimensions))
    columns = coded(dimensions, [index.get_level_values(d).astype(str).to_numpy() for d in dimensions])
    scope = columns.holding(cohort)
    if not scope.any():
        return Diagnosis((), 0.0, 0, free)
    by_interval = _intervals(history, dimensions, index)
    amount = None if expected is None or not np.isfinite(expected) else expected / metric.scale
    leaf_window = summed.reindex(index, fill_value=0.0)
    past = _past(history, columns)
    windows = (rule.window_s, rule.interval_s)
    reported = _Expectation(metric, leaf_window, by_interval, past, *windows, amount, scope)
    modelled = (
        reported if model is metric else _Expectation(model, leaf_window, by_interval, past, *windows, None, scope)
    )
    leaves, reference = modelled.leaves(columns.restricted(scope, free))
    direction = 1 if metric.direction is not Direction.DOWN else -1
    found = diagnose(leaves, direction=direction, reference=reference)
    causes = found[0].causes if found else ()
    kept = [c for c in causes if modelled.rises_beyond_the_rest(columns.holding((*cohort, *c.conditions)), direction)]
    share = sum(c.share for c in kept)
    within = bool(cohort) and (not kept or share < MIN_EXPLAINED or pieces(kept, leaves))  # the cohort is the cause
    shares: dict[Cohort, tuple[Cause, float]] = {}
    for cause in [Cause((), 0.0, 0.0, 0.0, leaves.size, 1.0, 0.0)] if within else kept:
        conditions = modelled.broadened(_with_parents(columns, (*cohort, *cause.conditions)), columns)
        first, part = shares.get(conditions, (cause, 0.0))
        shares[conditions] = (first, part + cause.share)
    named = tuple(
        _found(engine, rule, conditions, period, part, first.significance, columns, reported)
        for conditions, (first, part) in shares.items()
    )
    the_cohort = bool(cohort) and list(shares) == [_with_parents(columns, cohort)]
    return Diagnosis(named, 1.0 if within else share, leaves.size, free, the_cohort, columns)


def pieces(causes: Sequence[Cause], leaves: Leaves) -> bool:
    """Whether two or more `causes` hold more than `MOST` of the expected amount of all `leaves` (a cohort): they
    are pieces of an excess spread over the cohort, which names it more succinctly."""
    held = np.zeros(leaves.size, dtype=bool)
    for cause in causes:
        held |= leaves.holding(cause.conditions)
    return len(causes) >= 2 and float(leaves.expected[held].sum()) > MOST * float(leaves.expected.sum())


def _frame(
    engine: Engine, rule: AlertRule, dimensions: Sequence[str], parts: Sequence[str], period: Period
) -> pd.DataFrame:
    query = leaves_query(rule.customer_id, dimensions, parts, period, rule.granularity)
    frame: pd.DataFrame = fetch(engine, query).to_pandas()
    for name in dimensions:
        frame[name] = frame[name].astype(str)
    return frame


def _index(frame: pd.DataFrame, dimensions: Sequence[str]) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(frame[list(dimensions)].drop_duplicates())


def _past(history: pd.DataFrame, columns: Coded) -> _Past:
    """The history's leaves summed over its intervals, coded with the window's leaves (`columns`)."""
    frame = history.drop(columns=[TIMESTAMP]).groupby(list(columns.dimensions), observed=True).sum()
    codes, window = [], []
    for name in columns.dimensions:
        seen = frame.index.get_level_values(name).astype(str).to_numpy()
        inverse = np.unique(np.concatenate((seen, columns.column(name))), return_inverse=True)[1].reshape(-1)
        codes.append(inverse[: seen.size])
        window.append(inverse[seen.size :])
    return _Past(frame, np.column_stack(codes), np.column_stack(window))


def _intervals(history: pd.DataFrame, dimensions: Sequence[str], index: pd.Index) -> list[pd.DataFrame]:
    """The history's amounts of each leaf of `index` in each of its intervals (the busiest
    `MAX_REFERENCE_WINDOWS`)."""
    grouped = history.groupby([*dimensions, TIMESTAMP], observed=True).sum()
    frames = []
    for bucket in grouped.index.get_level_values(TIMESTAMP).unique():
        amounts = grouped.xs(bucket, level=TIMESTAMP)
        assert isinstance(amounts, pd.DataFrame)
        frames.append(amounts.reindex(index, fill_value=0.0))
    return sorted(frames, key=lambda frame: -float(frame["attempts"].sum()))[:MAX_REFERENCE_WINDOWS]


def _found(
    engine: Engine,
    rule: AlertRule,
    conditions: Cohort,
    period: Period,
    share: float,
    significance: float,
    columns: Coded,
    reported: _Expectation,
) -> FoundCause:
    """The cause of `conditions` in the metric's unit, its views and its viewers; its share of the excess and its
    significance from the search."""
    inside = columns.holding(conditions)
    value, expected = reported.values(inside)
    return FoundCause(
        conditions=conditions,
        share=share,
        observed=value,
        expected=expected,
        views=float(reported.observed.attempts[inside].sum()),
        viewers=affected_viewers(engine, rule.customer_id, rule.metric, conditions, period),
        significance=significance,
    )


def span(end: int, seconds: int) -> Period:
    """The period of `seconds` ending at `end` (epoch s)."""
    return Period(instant(end - seconds), instant(end))
