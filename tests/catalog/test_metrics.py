"""The metrics of the catalog, each on its own: the parts its formula reads, its unit, its value over hand-made
parts (the API's default form, and with business exceptions), its value when every part is 0, and the one rule
for a zero denominator (docs/metrics.md) whatever the parts."""

from __future__ import annotations

import math
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sightline.catalog import DIMENSIONS, PARTS
from sightline.catalog.describe import metrics_md
from sightline.catalog.formula import (
    ZERO_DENOMINATOR_RULE,
    Binary,
    Clamp,
    Const,
    Formula,
    Part,
    Quantile,
    div,
    parts_of,
    render,
)
from sightline.catalog.metrics import METRICS, WITHOUT_BUSINESS, MetricSpec, metric
from sightline.query.ast import IDENTIFIER
from tests.catalog.formulas import Values, answered, by_the_rule, engine, quantile_key

DAY_MS = 86_400_000.0
HAND: Values = {
    "attempts": 200,
    "plays": 160,
    "startup_ms_sum": 320_000,
    "q0.5(startup_ms_sketch)": 1_500,
    "q0.95(startup_ms_sketch)": 4_000,
    "q0.99(startup_ms_sketch)": 8_000,
    "vsf_views": 20,
    "vsf_business_views": 5,
    "ebvs_views": 12,
    "vpf_views": 8,
    "vpf_business_views": 2,
    "completed_views": 100,
    "ended_views": 150,
    "viewers": 120,
    "anonymous_viewers": 30,
    "subscribers": 90,
    "play_ms": 36_000_000,  # 600 minutes
    "rebuffer_ms": 400_000,
    "rebuffer_count": 50,
    "bitrate_play": 3_000 * 36_000_000,
    "dropped_frames": 1_200,
    "bytes": 5_000_000_000,
    "errors": 40,
    "business_errors": 10,
    "fatal_errors": 28,
    "fatal_business_errors": 7,
    "bitrate_switches": 80,
    "upswitches": 50,
    "downswitches": 30,
    "live_latency_sum": 90_000,
    "live_latency_count": 30,
    "active_views": 140,
    "ad_requests": 100,
    "ad_impressions": 80,
    "ad_starts": 76,
    "ad_first_quartiles": 70,
    "ad_midpoints": 60,
    "ad_third_quartiles": 50,
    "ad_completes": 40,
    "ad_skips": 12,
    "ad_clicks": 4,
    "ad_errors": 5,
    "ad_stalls": 3,
    "ad_ms": 1_800_000,
}
"""One group's parts over a day: 200 attempts, 160 plays (2 s of start time each on average), 10 hours of play."""
EMPTY: Values = {key: None if key.startswith("q") else 0 for key in HAND}
"""A group whose every part is 0 (its sketch empty)."""


class Row(NamedTuple):
    unit: str
    value: float
    """Over `HAND`, in the API's default form (business exceptions left out)."""
    on_empty: float | None
    """Over `EMPTY`: 0 for a count, no value for a ratio."""
    with_business: float | None = None
    """Over `HAND` with `businesserror=true`, for the metrics that leave business exceptions out."""


TABLE: dict[str, Row] = {
    "viewercount": Row("views", 160, 0),
    "attempts": Row("views", 200, 0),
    "endedplays": Row("views", 150 - 20 - 12, 0),
    "completedplays": Row("views", 100, 0),
    "completionrate": Row("percent", 62.5, None),
    "concurviewavg": Row("views", 10 / 24, 0),
    "playdur": Row("minutes", 600, 0),
    "latency": Row("seconds", 2.0, None),
    "avg_latency": Row("seconds", 2.0, None),
    "median_latency": Row("seconds", 1.5, None),
    "p95_latency": Row("seconds", 4.0, None),
    "p99_latency": Row("seconds", 8.0, None),
    "bufferingratio": Row("percent", 100 * 0.4 / 36.4, None),
    "cirrbufferingratio": Row("percent", 100 * 0.4 / 36.4, None),
    "buffcount": Row("count", 50, 0),
    "rebufferfrequency": Row("per hour", 5.0, None),
    "failurerate": Row("percent", 7.5, None),
    "vsf": Row("percent", 7.5, None, with_business=10.0),
    "videostartfailures": Row("views", 15, 0, with_business=20),
    "ebvs": Row("percent", 6.0, None),
    "exitsbeforevideostart": Row("views", 12, 0),
    "vpf": Row("percent", 3.75, None, with_business=5.0),
    "playbackfailures": Row("views", 6, 0, with_business=8),
    "totalstartupfailure": Row("views", 27, 0, with_business=32),
    "errors": Row("count", 30, 0, with_business=40),
    "fatalerrors": Row("count", 21, 0, with_business=28),
    "errorsperplay": Row("ratio", 30 / 160, None, with_business=40 / 160),
    "uniqueviewercount": Row("count", 120, 0),
    "unique_subscribers": Row("count", 90, 0),
    "uniquesubscribercount": Row("count", 90, 0),
    "unique_devices": Row("count", 120, 0),
    "anonymous_viewers": Row("count", 30, 0),
    "playperunique": Row("ratio", 160 / 120, None),
    "playtimeperunique": Row("minutes", 5.0, None),
    "avg_playtime_by_audience": Row("minutes", 5.0, None),
    "avgbitrate": Row("kbps", 3_000, None),
    "bitrateswitches": Row("count", 80, 0),
    "bitrateswitchesperhour": Row("per hour", 8.0, None),
    "upscaleshare": Row("percent", 62.5, None),
    "downscaleshare": Row("percent", 37.5, None),
    "droppedframes": Row("count", 1_200, 0),
    "droppedframesperminute": Row("ratio", 2.0, None),
    "livelatency": Row("seconds", 3.0, None),
    "cbrsize": Row("bytes", 5e9, 0),
    # 80 % of attempts played, × (1 − 5 × 0.4 ÷ 36.4) for the stalls, × (1 − (2 s − 1) ÷ 9) for the start time
    "qualityofexperience": Row("score", 80 * (1 - 5 * 0.4 / 36.4) * (1 - 1 / 9), None),
    "adrequests": Row("count", 100, 0),
    "adimpression": Row("count", 80, 0),
    "totaladimpression": Row("count", 80, 0),
    "adfillrate": Row("percent", 80.0, None),
    "adstarts": Row("count", 76, 0),
    "adstartfailures": Row("count", 4, 0),
    "adstartfailurerate": Row("percent", 5.0, None),
    "adfirstquartilerate": Row("percent", 100 * 70 / 76, None),
    "admidpointrate": Row("percent", 100 * 60 / 76, None),
    "adthirdquartilerate": Row("percent", 100 * 50 / 76, None),
    "adcompletionrate": Row("percent", 100 * 40 / 76, None),
    "aderrors": Row("count", 5, 0),
    "aderrorrate": Row("percent", 5.0, None),
    "adskips": Row("count", 12, 0),
    "adclickrate": Row("percent", 5.0, None),
    "adstalls": Row("count", 3, 0),
    "adplaydur": Row("minutes", 30.0, 0),
}
PART_NAMES = {p.name for p in PARTS}
SKETCHES = {p.name for p in PARTS if p.aggregate == "ddsketch"}


def close(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is want
    return math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12)


def test_the_table_has_every_metric_once() -> None:
    assert list(TABLE) == [m.name for m in METRICS]


def test_names_are_unique_identifiers_distinct_from_the_dimensions() -> None:
    """A metric's name is the alias of its column, beside the dimensions' columns, in the SQL and the answer."""
    names = [m.name for m in METRICS]
    assert len(set(names)) == len(names)
    assert all(IDENTIFIER.match(name) for name in names)
    assert not set(names) & ({d.name for d in DIMENSIONS} | {"timestamp"})
    with pytest.raises(KeyError):
        metric("viewercounts")


@pytest.mark.parametrize("spec", METRICS, ids=[m.name for m in METRICS])
def test_a_formula_reads_only_parts_of_the_catalog(spec: MetricSpec) -> None:
    """In either form; a quantile reads a sketch, a sum or distinct count never does."""
    for formula in (spec.formula, spec.formula_for(include_business=False)):
        assert parts_of(formula) <= PART_NAMES
        for leaf in _leaves(formula):
            assert (leaf.name in SKETCHES) == isinstance(leaf, Quantile), leaf


@pytest.mark.parametrize("spec", METRICS, ids=[m.name for m in METRICS])
def test_unit_and_value_over_hand_made_parts(spec: MetricSpec) -> None:
    row = TABLE[spec.name]
    assert spec.unit == row.unit
    assert close(answered(engine(spec.formula_for(include_business=False), HAND, DAY_MS)), row.value)
    with_business = row.value if row.with_business is None else row.with_business
    assert close(answered(engine(spec.formula_for(include_business=True), HAND, DAY_MS)), with_business)


@pytest.mark.parametrize("spec", METRICS, ids=[m.name for m in METRICS])
def test_value_when_every_part_is_zero(spec: MetricSpec) -> None:
    """A count is 0; a ratio has no value (null), never 0."""
    for include_business in (False, True):
        got = answered(engine(spec.formula_for(include_business), EMPTY, DAY_MS))
        assert close(got, TABLE[spec.name].on_empty)


PART_VALUES = st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 10**12))


@st.composite
def groups(draw: st.DrawFn) -> dict[str, float | None]:
    """Parts of a group, zeros frequent; its sketch empty or not."""
    values: dict[str, float | None] = {name: float(draw(PART_VALUES)) for name in PART_NAMES}
    for level in (0.5, 0.95, 0.99):
        values[quantile_key(Quantile("startup_ms_sketch", level))] = draw(st.none() | st.integers(0, 60_000))
    return values


@given(groups(), st.sampled_from([60_000.0, 300_000.0, DAY_MS]), st.booleans())
def test_the_engines_arithmetic_keeps_the_zero_denominator_rule(
    values: dict[str, float | None], period_ms: float, include_business: bool
) -> None:
    """Whatever the parts, every metric as the engine computes and the API answers it (NaN and ±inf as null) is
    its value by the rule of docs/metrics.md: no value over a zero denominator, nor from anything without one."""
    for spec in METRICS:
        formula = spec.formula_for(include_business)
        got, want = answered(engine(formula, values, period_ms)), by_the_rule(formula, values, period_ms)
        assert (got is None) == (want is None), spec.name
        if got is not None and want is not None:
            assert math.isclose(got, want, rel_tol=1e-9), spec.name


def test_the_rule_check_tells_a_formula_that_breaks_it() -> None:
    """A formula dividing by a quotient over a part would answer 0 where the rule wants no value (x ÷ (y ÷ 0)
    is x ÷ inf = 0 in the engine): the check above is not vacuous."""
    breaking = div(Part("plays"), div(Part("play_ms"), Part("rebuffer_ms")))
    values = {**HAND, "rebuffer_ms": 0.0}
    assert answered(engine(breaking, values, DAY_MS)) == 0.0
    assert by_the_rule(breaking, values, DAY_MS) is None


def test_the_rule_is_written_once_in_the_docs() -> None:
    assert metrics_md().count(ZERO_DENOMINATOR_RULE.split(":")[0]) == 1


BUSINESS_FORMS = {
    "vsf": "100 × (vsf_views − vsf_business_views) ÷ attempts",
    "videostartfailures": "vsf_views − vsf_business_views",
    "vpf": "100 × (vpf_views − vpf_business_views) ÷ plays",
    "playbackfailures": "vpf_views − vpf_business_views",
    "totalstartupfailure": "vsf_views − vsf_business_views + ebvs_views",
    "errors": "errors − business_errors",
    "fatalerrors": "fatal_errors − fatal_business_errors",
    "errorsperplay": "(errors − business_errors) ÷ plays",
}
"""The error metrics that leave business exceptions out by default, and the formula they then compute."""


@pytest.mark.parametrize("spec", METRICS, ids=[m.name for m in METRICS])
def test_business_exceptions_are_left_out_of_exactly_the_error_metrics(spec: MetricSpec) -> None:
    default, counted = spec.formula_for(include_business=False), spec.formula_for(include_business=True)
    assert counted == spec.formula
    if spec.name in BUSINESS_FORMS:
        assert spec.business
        assert render(default) == BUSINESS_FORMS[spec.name]
        assert parts_of(counted) <= set(WITHOUT_BUSINESS) | {"attempts", "plays", "ebvs_views"}
    else:
        assert not spec.business
        assert default == spec.formula


def test_failurerate_leaves_business_exceptions_out_either_way() -> None:
    """`failurerate` is `vsf` without business exceptions even with `businesserror=true`."""
    failurerate = metric("failurerate")
    assert failurerate.formula_for(True) == failurerate.formula_for(False) == metric("vsf").formula_for(False)


@pytest.mark.parametrize(("name", "level"), [("median_latency", 0.5), ("p95_latency", 0.95), ("p99_latency", 0.99)])
def test_the_quantile_metrics_read_the_start_time_sketch_in_seconds(name: str, level: float) -> None:
    assert metric(name).formula == div(Quantile("startup_ms_sketch", level), Const(1000.0))
    assert {p.name: p.aggregate for p in PARTS}["startup_ms_sketch"] == "ddsketch"


def test_only_the_start_time_quantiles_read_a_sketch() -> None:
    reading = {m.name for m in METRICS if any(isinstance(leaf, Quantile) for leaf in _leaves(m.formula))}
    assert reading == {"median_latency", "p95_latency", "p99_latency"}


def test_the_counts_that_concurrency_restricts() -> None:
    assert {m.name for m in METRICS if m.concurrency} == {
        "viewercount",
        "attempts",
        "endedplays",
        "concurviewavg",
        "playdur",
    }


@pytest.mark.parametrize("spec", METRICS, ids=[m.name for m in METRICS])
def test_an_ad_metric_reads_ad_parts_only(spec: MetricSpec) -> None:
    assert spec.ad == all(name.startswith("ad_") for name in parts_of(spec.formula))


def _leaves(formula: Formula) -> list[Part | Quantile]:
    if isinstance(formula, Part | Quantile):
        return [formula]
    if isinstance(formula, Binary):
        return _leaves(formula.left) + _leaves(formula.right)
    return _leaves(formula.value) if isinstance(formula, Clamp) else []
