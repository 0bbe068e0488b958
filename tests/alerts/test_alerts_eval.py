"""The scorer of AI alerts against a scenario (bench/alerts_eval.py), on hand-made alert lists."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from alerts_eval import (
    Alert,
    conditions,
    epoch_seconds,
    main,
    parse_alerts,
    parse_scenario,
    quantile,
    same_views,
    score,
)

DAY = 86_400
T0 = 1_700_006_400  # a Wednesday, 00:00 UTC
MIN = 60

SCENARIO = {
    "start": T0,
    "end": T0 + 14 * DAY,
    "customer_ids": [1, 2],
    "incidents": [
        {
            "name": "cdn-country",
            "customer_id": 1,
            "start": T0 + DAY,
            "duration_s": 3600,
            "filters": {"cdn": "Fastly", "country": "GB"},
            "effects": [{"effect": "stall_ratio", "magnitude": 8}],
            "expected": {"metric": "bufferingratio", "beyond_noise": True},
        },
        {
            "name": "player",
            "customer_id": 1,
            "start": T0 + 3 * DAY,
            "duration_s": 1800,
            "filters": {"player": "ExoPlayer"},
            "effects": [{"effect": "startup_failure", "magnitude": 0.2}],
            "expected": {"metric": "vsf", "beyond_noise": True},
        },
        {
            "name": "tiny",
            "customer_id": 2,
            "start": T0 + 5 * DAY,
            "duration_s": 1200,
            "filters": {"isp": "Oi", "device": "tv", "cdn": "Lumen"},
            "effects": [{"effect": "bitrate", "magnitude": 0.9}],
            "expected": {"metric": "avgbitrate", "beyond_noise": False},
        },
        {
            "name": "ads",
            "customer_id": 2,
            "start": T0 + 7 * DAY,
            "duration_s": 5400,
            "filters": {},
            "effects": [{"effect": "ad_errors", "magnitude": 0.5}],
            "expected": {"metric": "aderrorrate", "beyond_noise": True},
        },
    ],
}


def _alert(customer: int, metric: str, start: float, cohort: Any = None, cause: Any = None, **extra: Any) -> Alert:
    row = {"id": f"a{start}", "metric": metric, "severity": "major", "start": start, "end": start + 900}
    row |= {"cohort": cohort or {}, "diagnosis": [{"conditions": cause}] if cause is not None else []} | extra
    return parse_alerts([row], customer)[0]


def test_every_incident_found_on_time_and_exactly_scores_one() -> None:
    scenario = parse_scenario(SCENARIO)
    alerts = [
        _alert(1, "bufferingratio", T0 + DAY + 5 * MIN, {"cdn": "Fastly"}, {"cdn": "Fastly", "country": "GB"}),
        _alert(1, "vsf", T0 + 3 * DAY + 10 * MIN, {}, [["player", "ExoPlayer"]]),
        _alert(2, "avgbitrate", T0 + 5 * DAY, {}, {"isp": "Oi", "device": "tv", "cdn": "Lumen"}),
        _alert(2, "aderrorrate", T0 + 7 * DAY - 2 * MIN),
    ]
    result = score(scenario, alerts)
    assert (result.recall, result.recall_all, result.precision, result.f1) == (1.0, 1.0, 1.0, 1.0)
    assert result.within_2_intervals == 1.0
    assert result.exact_diagnosis == 1.0
    assert result.false_alerts == 0
    assert [s.seconds_to_detect for s in result.per_incident] == [300, 600, 0, 0]
    assert result.median_seconds_to_detect == 150
    assert result.p95_seconds_to_detect == pytest.approx(555)


def test_misses_false_alerts_late_and_inexact_diagnoses_count_against() -> None:
    scenario = parse_scenario(SCENARIO)
    alerts = [
        # the CDN incident: late (3 intervals) but exact; plus a coarser alert on the CDN alone, inexact
        _alert(1, "bufferingratio", T0 + DAY + 15 * MIN, {}, {"cdn": "Fastly", "country": "GB"}),
        _alert(1, "cirrbufferingratio", T0 + DAY + 20 * MIN, {"cdn": "Fastly"}, {}),
        # the player incident: on a metric it does not move, so missed; that alert is a false one, not on a
        # clean stretch
        _alert(1, "avgbitrate", T0 + 3 * DAY + 5 * MIN),
        # two false alerts on clean stretches of customer 2, one still going on
        _alert(2, "latency", T0 + 10 * DAY),
        _alert(2, "vpf", T0 + 12 * DAY, end=None),
        # a customer's alert does not detect the other customer's incident
        _alert(1, "aderrorrate", T0 + 7 * DAY),
    ]
    result = score(scenario, alerts)
    detected = {s.name: s.detected for s in result.per_incident}
    assert detected == {"cdn-country": True, "player": False, "tiny": False, "ads": False}
    assert result.recall == pytest.approx(1 / 3)
    assert result.recall_all == pytest.approx(1 / 4)
    assert result.precision == pytest.approx(2 / 6)
    assert result.f1 == pytest.approx(1 / 3)
    assert result.within_2_intervals == 0.0
    assert result.exact_diagnosis == pytest.approx(1 / 2)
    assert result.false_alerts == 3
    clean_weeks = (2 * 14 * DAY - (3600 + 1800 + 1200 + 5400) - 4 * 20 * MIN) / (7 * DAY)
    assert result.false_per_customer_week == pytest.approx(3 / clean_weeks)


def test_the_top_cause_is_the_diagnosis_and_a_version_names_its_player() -> None:
    scenario = parse_scenario(
        {
            **SCENARIO,
            "incidents": [
                {
                    "name": "version",
                    "customer_id": 1,
                    "start": T0 + DAY,
                    "duration_s": 3600,
                    "filters": {"playerversion": "1.5.8", "streamtype": "vod"},
                    "effects": [{"effect": "stall_ratio", "magnitude": 8}],
                    "expected": {"metric": "bufferingratio", "beyond_noise": True},
                }
            ],
        }
    )
    cohort = {"country": "CA", "playerversion": "1.5.8"}
    with_player = {"player": "hls.js", "playerversion": "1.5.8", "streamtype": "vod"}
    assert score(scenario, [_alert(1, "bufferingratio", T0 + DAY, cohort, with_player)]).within_2_intervals == 1.0
    # the cohort does not narrow a cause that names the combination without it; with no cause it is the diagnosis
    assert score(scenario, [_alert(1, "bufferingratio", T0 + DAY, cohort, None)]).within_2_intervals == 0.0
    # another player's version is not implied
    other = {"player": "Shaka Player", "playerversion": "1.5.8", "streamtype": "vod"}
    assert score(scenario, [_alert(1, "bufferingratio", T0 + DAY, cohort, other)]).within_2_intervals == 0.0


def test_combinations_of_the_same_views_are_one_diagnosis() -> None:
    tizen = frozenset({("platform", "Tizen"), ("streamtype", "vod")})
    assert same_views(tizen, frozenset({("brand", "Samsung"), ("player", "Shaka Player"), ("streamtype", "vod")}))
    assert same_views(tizen, frozenset({("brand", "Samsung"), ("device", "tv"), ("streamtype", "vod")}))
    # Samsung's phones are Samsung's too; a condition the profiles do not fix is never implied
    assert not same_views(tizen, frozenset({("brand", "Samsung"), ("streamtype", "vod")}))
    assert not same_views(tizen, frozenset({("platform", "Tizen")}))
    assert not same_views(frozenset({("device", "tv")}), frozenset({("device", "tv"), ("connectiontype", "wifi")}))
    # values the world does not know hold no views: two of them are not the same diagnosis
    assert not same_views(frozenset({("brand", "Foo")}), frozenset({("brand", "Bar")}))
    assert same_views(frozenset({("brand", "Foo")}), frozenset({("brand", "Foo")}))


def test_no_alert_scores_zero_without_dividing_by_zero() -> None:
    result = score(parse_scenario(SCENARIO), [])
    assert (result.recall, result.precision, result.f1, result.exact_diagnosis) == (0.0, 0.0, 0.0, 0.0)
    assert result.median_seconds_to_detect is None


def test_the_reader_takes_the_engine_s_answer_and_ignores_what_it_does_not_need() -> None:
    answer = {
        "totalcount": 1,
        "response": [
            {
                "id": "x",
                "status": "ongoing",
                "severity": "critical",
                "start": T0,
                "lastseen": T0 + 600,
                "end": None,
                "metric": "vsf",
                "cohort": {"cdn": "Akamai"},
                "diagnosis": {"causes": [{"conditions": {"country": "US"}, "share": 0.9}], "customerwide": False},
                "series": {"points": []},
                "totalpages": 1,
            }
        ],
    }
    (alert,) = parse_alerts(answer, 7)
    assert alert.end is None
    assert alert.cohort == {("cdn", "Akamai")}
    assert alert.diagnosis == {("country", "US")}
    assert (alert.customer_id, alert.metric, alert.severity) == (7, "vsf", "critical")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(T0, T0), (T0 * 1000, T0), ("2023-11-15T00:00:00Z", T0), ("2023-11-15T01:00:00+01:00", T0)],
)
def test_times_are_epoch_seconds_milliseconds_or_iso(value: object, seconds: int) -> None:
    assert epoch_seconds(value) == seconds


@pytest.mark.parametrize("value", ["2023-11-15T00:00:00", True, [T0]])
def test_a_time_without_zone_or_not_a_time_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="time"):
        epoch_seconds(value)


def test_conditions_take_every_shape() -> None:
    expected = {("cdn", "X"), ("country", "Y")}
    assert conditions({"cdn": "X", "country": "Y"}) == expected
    assert conditions([["cdn", "X"], ["country", "Y"]]) == expected
    assert conditions([{"dimension": "cdn", "value": "X"}, {"dimension": "country", "value": "Y"}]) == expected
    assert conditions(None) == frozenset()
    with pytest.raises(ValueError, match="pair"):
        conditions([["cdn"]])


def test_quantile_interpolates() -> None:
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert quantile([1.0], 0.95) == 1.0
    assert quantile([], 0.5) is None


def test_the_command_scores_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "scenario.json").write_text(json.dumps(SCENARIO))
    alerts = [{"id": "1", "metric": "vsf", "severity": "major", "start": T0 + 3 * DAY, "end": None}]
    (tmp_path / "a1.json").write_text(json.dumps({"response": alerts}))
    (tmp_path / "a2.json").write_text("[]")
    main([str(tmp_path / "scenario.json"), f"1={tmp_path / 'a1.json'}", f"2={tmp_path / 'a2.json'}", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["recall"] == pytest.approx(1 / 3)
    assert result["per_incident"][1]["seconds_to_detect"] == 0
