"""Incidents as data: the JSON format and its errors, how overlapping incidents combine, and, on simulated
traffic, that each effect touches exactly the matching views in its window, moves its metric, and leaves
every other chunk as it is without incidents."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sightline.simulate import SimulationConfig, simulate
from sightline.simulate.columns import Coded
from sightline.simulate.effects import NO_CODE, view_effects
from sightline.simulate.incidents import (
    EFFECTS,
    Effect,
    EffectKind,
    Incident,
    parse_incidents,
    plan_incidents,
    to_ms,
)
from sightline.simulate.world import ERROR_INDEX

T0 = datetime(2024, 5, 6, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _incident(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "a",
        "customer_id": 1,
        "start": "2024-05-06T01:00:00+00:00",
        "duration_s": 3600,
        "filters": {"country": "US", "cdn": "Akamai"},
        "effects": [{"effect": "startup_failure", "magnitude": 0.2}],
    }
    return data | overrides


def test_an_incident_reads_back_from_its_json_and_from_the_truth() -> None:
    incidents = plan_incidents((1001, 1002), T0, T0 + timedelta(days=2))
    again = parse_incidents([i.to_json() | {"views": 12} for i in incidents])
    assert again == incidents
    assert [e.metric for e in incidents[0].effects] == ["bufferingratio", "latency", "avgbitrate", "vpf"]


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"incidents": []}, "a JSON list"),
        ([_incident(name="")], "non-empty name"),
        ([_incident(name="a,b")], "without commas"),
        ([_incident(customer_id="1")], "customer_id must be an integer"),
        ([_incident(start="yesterday")], "start must be an ISO 8601"),
        ([_incident(start="2024-05-06T01:00:00")], "start must carry a time zone"),
        ([_incident(duration_s=0)], "duration_s must be positive"),
        ([_incident(duration_s="1h")], "duration_s must be a number"),
        ([_incident(filters={"a": "1", "b": "2", "c": "3", "d": "4"})], "at most 3 dimensions"),
        ([_incident(filters={"colour": "red"})], "'colour' is not a string dimension"),
        ([_incident(filters={"asn": "7922"})], "'asn' is not a string dimension"),
        ([_incident(effects=[])], "at least one effect"),
        ([_incident(effects=[{"effect": "meltdown", "magnitude": 1}])], "unknown effect 'meltdown'; allowed: startup_"),
        ([_incident(effects=[{"effect": "bitrate"}])], "magnitude is required"),
        ([_incident(effects=[{"effect": "bitrate", "magnitude": 1.5}])], "magnitude of bitrate must be in (0, 1]"),
        ([_incident(effects=[{"effect": "startup_failure", "magnitude": 0}])], "startup_failure must be in (0, 1]"),
        ([_incident(error_code="OOPS")], "error_code 'OOPS'"),
        ([_incident(), _incident()], "repeated: a"),
    ],
)
def test_a_bad_incident_is_refused_naming_the_field(data: object, names: str) -> None:
    with pytest.raises(ValueError, match=re.escape(names)):
        parse_incidents(data)


def test_every_effect_kind_names_a_catalog_metric() -> None:
    from sightline.catalog.metrics import METRICS

    known = {m.name for m in METRICS}
    assert {spec.metric for spec in EFFECTS.values()} <= known


def _dims(countries: list[str]) -> dict[str, Coded]:
    values = pa.array(["US", "GB"])
    return {"country": Coded(values, np.array([["US", "GB"].index(c) for c in countries], dtype=np.int32))}


def test_overlapping_incidents_add_probabilities_multiply_factors_and_name_both() -> None:
    at = to_ms(T0)
    start_ms = np.array([at, at, at, at + 10 * 3_600_000], dtype=np.int64)
    dims = _dims(["US", "GB", "US", "US"])
    a = Incident("a", 1, T0, T0 + HOUR, {"country": "US"}, (Effect("startup_failure", 0.2), Effect("bitrate", 0.5)))
    b = Incident(
        "b", 1, T0, T0 + HOUR, {}, (Effect("startup_failure", 0.1), Effect("bitrate", 0.5)), "DRM_LICENSE_FAILED"
    )
    effects = view_effects((a, b), start_ms, dims)
    assert effects.startup_failure.tolist() == pytest.approx([0.3, 0.1, 0.3, 0.0])
    assert effects.bitrate.tolist() == [0.25, 0.5, 0.25, 1.0]
    assert effects.failure_code.tolist() == [ERROR_INDEX["DRM_LICENSE_FAILED"]] * 3 + [NO_CODE]
    assert effects.incidents.strings().tolist() == ["a,b", "b", "a,b", ""]
    assert np.isnan(effects.ad_errors).all()
    assert (effects.stall_ratio == 1).all()


def test_no_incident_leaves_every_view_neutral() -> None:
    effects = view_effects((), np.array([0, 1], dtype=np.int64), _dims(["US", "GB"]))
    for name in ("startup_failure", "playback_failure", "exit_before_start"):
        assert (getattr(effects, name) == 0).all()
    for name in ("stall_ratio", "startup_time", "bitrate"):
        assert (getattr(effects, name) == 1).all()
    assert effects.incidents.strings().tolist() == ["", ""]


# One customer, one hour per effect, each on its own cohort; chunks of an hour.
CASES: tuple[tuple[EffectKind, float, dict[str, str]], ...] = (
    ("startup_failure", 0.3, {"country": "US"}),
    ("playback_failure", 0.2, {"cdn": "Akamai"}),
    ("exit_before_start", 0.3, {"device": "mobile", "platform": "iOS"}),
    ("stall_ratio", 6.0, {"country": "US", "device": "desktop", "cdn": "CloudFront"}),
    ("startup_time", 3.0, {"cdn": "Fastly"}),
    ("bitrate", 0.4, {"device": "tv"}),
    ("ad_errors", 0.6, {"country": "US"}),
)
INCIDENTS = tuple(
    Incident(kind, 1, T0 + (2 * k + 1) * HOUR, T0 + (2 * k + 2) * HOUR, filters, (Effect(kind, magnitude),))
    for k, (kind, magnitude, filters) in enumerate(CASES)
)
CONFIG = SimulationConfig(
    start=T0,
    end=T0 + 15 * HOUR,
    customer_ids=(1,),
    views_per_day=60_000,
    seed=11,
    chunk_events=40_000,
    given_incidents=INCIDENTS,
)


@pytest.fixture(scope="module")
def runs() -> tuple[list[Any], list[Any]]:
    return list(simulate(CONFIG)), list(simulate(dataclasses.replace(CONFIG, given_incidents=())))


def _metric(views: pd.DataFrame, kind: EffectKind) -> float:
    started = views[views["started"] == 1]
    if kind == "startup_failure":
        return float((views["outcome"] == "vsf").mean())
    if kind == "playback_failure":
        return float((started["outcome"] == "vpf").mean())
    if kind == "exit_before_start":
        return float((views["outcome"] == "ebvs").mean())
    if kind == "stall_ratio":
        return float(started["rebuffer_ms"].sum() / (started["play_ms"] + started["rebuffer_ms"]).sum())
    if kind == "startup_time":
        return float(started["startup_ms"].mean())
    if kind == "bitrate":
        return float(started["bitrate_play"].sum() / started["play_ms"].sum())
    return float(views["ad_errors"].sum() / (views["ad_impressions"] + views["ad_errors"]).sum())


def test_each_effect_touches_exactly_its_views_and_moves_its_metric(runs: tuple[list[Any], list[Any]]) -> None:
    table = pa.concat_tables([c.views for c in runs[0]])
    start = table.column("view_start").cast(pa.int64()).to_numpy()
    views = table.to_pandas()
    touched_any = np.zeros(len(views), dtype=bool)
    for incident in INCIDENTS:
        kind = incident.effects[0].kind
        cohort = np.logical_and.reduce([views[d].astype(str) == v for d, v in incident.filters.items()])
        during = (start >= to_ms(incident.start)) & (start < to_ms(incident.end))
        touched = (views["incidents"].astype(str) == incident.name).to_numpy()
        assert (touched == (cohort & during)).all(), incident.name
        assert touched.sum() > 100, incident.name
        touched_any |= touched
        moved, before = _metric(views[touched], kind), _metric(views[cohort & ~during], kind)
        lower = kind == "bitrate"
        assert (moved < 0.7 * before) if lower else (moved > 1.5 * before), (kind, moved, before)
    assert (views.loc[~touched_any, "incidents"].astype(str) == "").all()


def test_chunks_no_incident_touches_are_those_of_clean_traffic(runs: tuple[list[Any], list[Any]]) -> None:
    with_incidents, clean = runs
    assert len(with_incidents) == len(clean) == 15
    for chunk, plain in zip(with_incidents, clean, strict=True):
        touched = set(chunk.views.column("incidents").to_pylist()) != {""}
        assert chunk.events.equals(plain.events) != touched, chunk.start


def test_incidents_must_lie_in_the_period_and_be_of_a_simulated_customer() -> None:
    late = dataclasses.replace(INCIDENTS[0], start=CONFIG.end - HOUR / 2, end=CONFIG.end + HOUR / 2)
    with pytest.raises(ValueError, match="is not within the simulated period"):
        dataclasses.replace(CONFIG, given_incidents=(late,))
    other = dataclasses.replace(INCIDENTS[0], customer_id=2)
    with pytest.raises(ValueError, match="customer 2 is not simulated"):
        dataclasses.replace(CONFIG, given_incidents=(other,))
