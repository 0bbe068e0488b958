"""Per-view metrics (catalog/perview.py), which `qoefilter` compares view by view: which metrics qualify, the
columns of `views` their parts are read from, and their value over one view."""

from __future__ import annotations

import math

import pytest

from sightline.catalog import PARTS, VIEW_COLUMNS
from sightline.catalog.expression import ALWAYS, AllOf, AnyOf, Call, Compare, Expression, OneOf, Product
from sightline.catalog.formula import Binary, Clamp, Formula, Part, PeriodMs, Quantile
from sightline.catalog.metrics import METRICS, MetricSpec, metric
from sightline.catalog.perview import PART_VIEW_COLUMNS, PER_VIEW_METRICS, VIEW_COLUMN_SPECS
from tests.catalog.formulas import answered, engine

PER_VIEW = {
    "aderrors", "adimpression", "adplaydur", "attempts", "avg_latency", "avgbitrate", "bitrateswitches",
    "bitrateswitchesperhour", "buffcount", "bufferingratio", "cbrsize", "cirrbufferingratio", "completedplays",
    "completionrate", "droppedframes", "droppedframesperminute", "ebvs", "errors", "errorsperplay",
    "exitsbeforevideostart", "fatalerrors", "latency", "livelatency", "playbackfailures", "playdur",
    "qualityofexperience", "rebufferfrequency", "totaladimpression", "totalstartupfailure", "videostartfailures",
    "viewercount", "vpf", "vsf",
}  # fmt: skip


def test_the_per_view_metrics() -> None:
    assert set(PER_VIEW_METRICS) == PER_VIEW
    assert all(PER_VIEW_METRICS[name] is metric(name) for name in PER_VIEW)


def _whole_group_leaves(formula: Formula) -> list[str]:
    """What in `formula` has no value on one view: a quantile, the period, a part `views` does not hold."""
    if isinstance(formula, Quantile | PeriodMs):
        return [type(formula).__name__]
    if isinstance(formula, Part):
        return [] if formula.name in PART_VIEW_COLUMNS else [formula.name]
    if isinstance(formula, Binary):
        return _whole_group_leaves(formula.left) + _whole_group_leaves(formula.right)
    return _whole_group_leaves(formula.value) if isinstance(formula, Clamp) else []


@pytest.mark.parametrize("spec", METRICS, ids=[m.name for m in METRICS])
def test_a_metric_is_per_view_when_one_view_holds_all_it_reads(spec: MetricSpec) -> None:
    assert (spec.name in PER_VIEW) == (not _whole_group_leaves(spec.formula))


def _subexpressions(expression: Expression) -> list[Expression]:
    """`expression` and every expression inside it."""
    inner: tuple[Expression, ...] = ()
    if isinstance(expression, Compare | Product):
        inner = (expression.left, expression.right)
    elif isinstance(expression, AllOf | AnyOf):
        inner = expression.terms
    elif isinstance(expression, Call):
        inner = expression.args
    elif isinstance(expression, OneOf):
        inner = (expression.field,)
    return [expression, *(sub for term in inner for sub in _subexpressions(term))]


@pytest.mark.parametrize(("part", "column"), sorted(PART_VIEW_COLUMNS.items()))
def test_a_part_is_read_from_the_views_column_that_counts_it(part: str, column: str) -> None:
    """The column's expression over a view's events counts what the part counts: it holds the part's condition
    and expression (a sum of a flag, a flag, or a sum of the same value)."""
    spec = next(p for p in PARTS if p.name == part)
    view_column = VIEW_COLUMN_SPECS[column]
    assert spec.aggregate == "sum"
    for fragment in (spec.condition, spec.expression):
        assert fragment == ALWAYS or fragment in _subexpressions(view_column.expression), (fragment, view_column)
    assert view_column.aggregate in ("sum", "max")  # a sum of deltas, or a flag or value set once per view


def test_the_views_columns_are_named_once() -> None:
    names = [c.name for c in VIEW_COLUMNS]
    assert len(set(names)) == len(names) == len(VIEW_COLUMN_SPECS)


PLAYED = {
    "play_requested": 1,
    "started": 1,
    "startup_ms": 2_500,
    "vsf": 0,
    "ebvs": 0,
    "vpf": 0,
    "completed": 1,
    "play_ms": 600_000,
    "rebuffer_ms": 15_000,
    "rebuffer_count": 3,
    "bitrate_play": 4_000 * 600_000,
    "dropped_frames": 30,
    "bytes": 300_000_000,
    "errors": 1,
    "fatal_errors": 0,
    "bitrate_switches": 2,
    "live_latency_sum": 0,
    "live_latency_count": 0,
    "ad_ms": 30_000,
    "ad_impressions": 2,
    "ad_errors": 0,
}
"""A view's merged columns: 10 minutes played to the end after 2.5 s of start time, 15 s of stalls."""
FAILED = dict.fromkeys(PLAYED, 0) | {"play_requested": 1, "vsf": 1, "errors": 1, "fatal_errors": 1}
"""A view that failed before its first frame."""


@pytest.mark.parametrize(
    ("view", "name", "value"),
    [
        (PLAYED, "latency", 2.5),
        (PLAYED, "bufferingratio", 100 * 15 / 615),
        (PLAYED, "rebufferfrequency", 18.0),
        (PLAYED, "avgbitrate", 4_000),
        (PLAYED, "completionrate", 100.0),
        (PLAYED, "vsf", 0.0),
        (PLAYED, "vpf", 0.0),
        (PLAYED, "playdur", 10.0),
        (PLAYED, "livelatency", None),  # no sample: not a live view
        (PLAYED, "qualityofexperience", 100 * (1 - 5 * 15 / 615) * (1 - 1.5 / 9)),
        (FAILED, "vsf", 100.0),
        (FAILED, "attempts", 1),
        (FAILED, "viewercount", 0),
        (FAILED, "latency", None),
        (FAILED, "bufferingratio", None),
        (FAILED, "vpf", None),
        (FAILED, "qualityofexperience", None),
    ],
)
def test_value_over_one_view(view: dict[str, int], name: str, value: float | None) -> None:
    """A per-view metric's formula over the view's columns, the rule for a zero denominator included."""
    assert set(view) == set(PART_VIEW_COLUMNS.values())
    parts = {part: float(view[column]) for part, column in PART_VIEW_COLUMNS.items()}
    got = answered(engine(PER_VIEW_METRICS[name].formula, parts, math.nan))
    assert got is value if value is None else got is not None and math.isclose(got, value)
