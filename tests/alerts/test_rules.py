"""Alert rules (pure): alertable metrics read from the catalog's formulas, and rule validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from sightline.alerts.detect import Direction, MetricKind
from sightline.alerts.metrics import ALERT_METRICS
from sightline.alerts.rules import RuleInput, default_rules, parse_rule, rule_json
from sightline.query.pipeline import RequestError


@pytest.mark.parametrize(
    ("name", "kind", "direction", "parts"),
    [
        ("vsf", MetricKind.RATIO, Direction.UP, {"vsf_views", "vsf_business_views", "attempts"}),
        ("ebvs", MetricKind.RATIO, Direction.UP, {"ebvs_views", "attempts"}),
        ("vpf", MetricKind.RATIO, Direction.UP, {"vpf_views", "vpf_business_views", "plays"}),
        ("adfillrate", MetricKind.RATIO, Direction.DOWN, {"ad_impressions", "ad_requests"}),
        ("bufferingratio", MetricKind.MEAN, Direction.UP, {"rebuffer_ms", "play_ms"}),
        ("latency", MetricKind.MEAN, Direction.UP, {"startup_ms_sum", "plays"}),
        ("avgbitrate", MetricKind.MEAN, Direction.DOWN, {"bitrate_play", "play_ms"}),
        ("aderrors", MetricKind.COUNT, Direction.UP, {"ad_errors"}),
        ("concurviewavg", MetricKind.COUNT, Direction.DOWN, {"play_ms"}),
    ],
)
def test_each_metric_is_tested_as_its_formula_says(
    name: str, kind: MetricKind, direction: Direction, parts: set[str]
) -> None:
    metric = ALERT_METRICS[name]
    assert (metric.kind, metric.direction, set(metric.parts)) == (kind, direction, parts)


def test_a_metric_value_from_its_amounts_is_the_catalog_formula() -> None:
    parts = {
        "vsf_views": np.array([3.0, 0.0]),
        "vsf_business_views": np.array([1.0, 0.0]),
        "attempts": np.array([40.0, 0.0]),
        "startup_ms_sum": np.array([6000.0]),
        "plays": np.array([4.0]),
        "play_ms": np.array([600_000.0]),
    }
    vsf = ALERT_METRICS["vsf"]
    assert vsf.value(*vsf.amounts(parts, 300)).tolist()[0] == pytest.approx(5.0)  # 100 × (3 − 1) ÷ 40
    assert np.isnan(vsf.value(*vsf.amounts(parts, 300))[1])  # no attempts: no value
    latency = ALERT_METRICS["latency"]
    assert latency.value(*latency.amounts(parts, 300)).tolist() == pytest.approx([1.5])  # 6000 ms ÷ 4 plays
    concurrent = ALERT_METRICS["concurviewavg"]
    assert concurrent.value(*concurrent.amounts(parts, 300)).tolist() == pytest.approx([2.0])  # 600 s in 300 s


def _rule(**fields: Any) -> dict[str, Any]:
    return {"name": "r", "metric": "vsf", **fields}


@pytest.mark.parametrize(
    ("fields", "parameter"),
    [
        (_rule(metric="vsff"), "metric"),
        (_rule(metric="median_latency"), "metric"),  # a catalog metric a round cannot test (a quantile)
        (_rule(scope="selected"), "dimensions"),
        (_rule(scope="selected", dimensions=["cdn", "nope"]), "dimensions"),
        (_rule(scope="selected", dimensions=["viewerid"]), "dimensions"),  # a person is no cohort
        (_rule(scope="selected", dimensions=["cdn", "cdn"]), "dimensions"),
        (_rule(dimensions=["cdn"]), "dimensions"),  # scope all
        (_rule(interval=0), "interval"),
        (_rule(interval=120), "interval"),
        (_rule(window=450), "window"),
        (_rule(window=300 * 25), "window"),
        (_rule(sensitivity=1.5), "sensitivity"),
        (_rule(threshold=5.0), "threshold"),  # an ai rule takes no threshold
        (_rule(type="manual"), "condition"),
        (_rule(type="manual", condition="fixed"), "threshold"),
        (_rule(type="manual", condition="fixed", threshold=150.0), "threshold"),  # a percentage
        (_rule(type="manual", condition="fixed", threshold=-1.0), "threshold"),
        (_rule(type="manual", condition="relative", threshold=0.0), "threshold"),
        (_rule(type="manual", metric="avgbitrate", condition="relative", threshold=100.0), "threshold"),
        (_rule(type="manual", condition="fixed", threshold=5.0, sensitivity=0.5), "sensitivity"),
        (_rule(recipients=[{"kind": "email", "target": "not an address"}]), "recipients"),
        (_rule(recipients=[{"kind": "slack", "target": "ftp://x"}]), "recipients"),
        (_rule(recipients=[{"kind": "email", "target": "a@b.co", "secret": "s"}]), "recipients"),
        (_rule(recipients=[{"kind": "email", "target": f"a{n}@b.co"} for n in range(21)]), "recipients"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_field(fields: dict[str, Any], parameter: str) -> None:
    with pytest.raises(RequestError) as refused:
        parse_rule(1001, RuleInput.model_validate(fields))
    assert refused.value.parameter == parameter


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (_rule(threshold="abc"), "threshold"),
        (_rule(interval="300"), "interval"),
        (_rule(minattempts=-1), "minattempts"),
        (_rule(pairs=1), "pairs"),
        (_rule(colour="red"), "colour"),
        (_rule(recipients=[{"kind": "pager", "target": "x"}]), "kind"),
        ({"metric": "vsf"}, "name"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_before_validation(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        RuleInput.model_validate(fields)
    assert refused.value.errors()[0]["loc"][-1] == field


def test_a_rule_of_selected_dimensions_judges_the_whole_each_value_and_each_pair() -> None:
    rule = parse_rule(1001, RuleInput.model_validate(_rule(scope="selected", dimensions=["cdn", "country", "isp"])))
    assert rule.groupings == (
        (),
        ("cdn",),
        ("country",),
        ("isp",),
        ("cdn", "country"),
        ("cdn", "isp"),
        ("country", "isp"),
    )
    alone = parse_rule(1001, RuleInput.model_validate(_rule(scope="selected", dimensions=["cdn", "isp"], pairs=False)))
    assert alone.groupings == ((), ("cdn",), ("isp",))


def test_a_rule_reads_back_as_it_was_given_but_for_secrets() -> None:
    given = _rule(
        type="manual",
        condition="relative",
        threshold=50,
        window=900,
        recipients=[{"kind": "webhook", "target": "https://hooks.example/a", "level": "major", "secret": "s3cr3t-key"}],
    )
    rule = parse_rule(1001, RuleInput.model_validate(given), "r1")
    assert rule.to_input() == RuleInput.model_validate({**given, "sensitivity": None, "interval": 300})
    answered = rule_json(rule)
    assert answered["recipients"] == [
        {"kind": "webhook", "target": "https://hooks.example/a", "level": "major", "hassecret": True}
    ]
    assert "s3cr3t-key" not in str(answered)


def test_the_default_rules_are_valid_ai_rules() -> None:
    rules = [parse_rule(1001, given) for given in default_rules()]
    assert {r.type for r in rules} == {"ai"}
    assert {"vsf", "ebvs", "bufferingratio", "latency", "aderrorrate"} <= {r.metric.name for r in rules}
