"""The evaluation scenario (bench/alerts_scenario.py): enough incidents, every effect small and large, cohorts
of 1 to 3 dimensions that narrow the traffic, no overlap within a customer, a valid incidents file, the same
plan for the same seed, and expectations that move each metric its way."""

from __future__ import annotations

import itertools
import json
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from alerts_eval import parse_scenario
from alerts_scenario import GAP, MAGNITUDES, SAMPLE_DAYS, Plan, main, plan_scenario, sample_views
from sightline.simulate import SimulationConfig
from sightline.simulate.incidents import EFFECTS, parse_incidents

END = datetime(2026, 11, 30, tzinfo=UTC)
START = END - timedelta(weeks=4)
CUSTOMERS = (1001, 1002)


@pytest.fixture(scope="module")
def samples() -> dict[int, pd.DataFrame]:
    history = START - timedelta(days=7)
    config = SimulationConfig(
        start=history,
        end=history + timedelta(days=SAMPLE_DAYS),
        customer_ids=CUSTOMERS,
        scale=0.5,
        seed=7,
        given_incidents=(),
    )
    return sample_views(config)


@pytest.fixture(scope="module")
def plans(samples: dict[int, pd.DataFrame]) -> tuple[Plan, ...]:
    return plan_scenario(samples, START, END, 42, np.random.default_rng(7))


def test_every_effect_small_and_large_on_cohorts_of_1_to_3_dimensions(plans: tuple[Plan, ...]) -> None:
    assert len(plans) == 42
    kinds = Counter(p.incident.effects[0].kind for p in plans)
    assert kinds == dict.fromkeys(EFFECTS, 6)
    assert Counter(len(p.incident.filters) for p in plans) == {1: 14, 2: 14, 3: 14}
    assert Counter(p.incident.customer_id for p in plans) == {1001: 21, 1002: 21}
    for kind, ((small_low, small_high), (large_low, large_high)) in MAGNITUDES.items():
        magnitudes = [p.incident.effects[0].magnitude for p in plans if p.incident.effects[0].kind == kind]
        assert sum(small_low <= m <= small_high for m in magnitudes) == 3, kind
        assert sum(large_low <= m <= large_high for m in magnitudes) == 3, kind


def test_a_customer_s_incidents_never_overlap_and_lie_in_the_period(plans: tuple[Plan, ...]) -> None:
    for customer in CUSTOMERS:
        mine = sorted((p.incident for p in plans if p.incident.customer_id == customer), key=lambda i: i.start)
        for before, after in itertools.pairwise(mine):
            assert after.start - before.end >= GAP
        assert mine[0].start >= START
        assert mine[-1].end <= END


def test_cohorts_are_of_the_traffic_and_every_dimension_narrows_them(
    plans: tuple[Plan, ...], samples: dict[int, pd.DataFrame]
) -> None:
    shares = [p.expected.cohort_share for p in plans]
    assert min(shares) < 0.02
    assert max(shares) > 0.2
    for plan in plans:
        views = samples[plan.incident.customer_id]
        match = np.ones(len(views), dtype=bool)
        for dimension, value in plan.incident.filters.items():
            match &= views[dimension].astype(str).to_numpy() == value
        assert match.mean() == pytest.approx(plan.expected.cohort_share, abs=1e-6)
        for left in plan.incident.filters:
            wider = np.ones(len(views), dtype=bool)
            for dimension, value in plan.incident.filters.items():
                if dimension != left:
                    wider &= views[dimension].astype(str).to_numpy() == value
            assert wider.sum() > match.sum()


def test_expectations_move_each_metric_its_way_some_beyond_noise_some_not(plans: tuple[Plan, ...]) -> None:
    for plan in plans:
        expected = plan.expected
        assert expected.metric == EFFECTS[plan.incident.effects[0].kind].metric
        if expected.metric == "avgbitrate":
            assert expected.expected < expected.baseline
        else:
            assert expected.expected > expected.baseline
    beyond = Counter(p.expected.beyond_noise for p in plans)
    assert beyond[True] >= 2  # at half the traffic of a customer; at --scale 4, 15 of 42
    assert beyond[False] >= 2


def test_the_files_are_a_valid_incidents_file_and_a_scenario_the_scorer_reads(tmp_path: Path) -> None:
    args = ["--end", END.isoformat(), "--scale", "0.5", "--incidents", "40"]
    main(["--out", str(tmp_path / "a"), *args])
    first = {name: (tmp_path / "a" / name).read_text() for name in ("incidents.json", "scenario.json")}
    main(["--out", str(tmp_path / "a"), *args])
    assert first == {name: (tmp_path / "a" / name).read_text() for name in first}
    incidents = parse_incidents(json.loads((tmp_path / "a" / "incidents.json").read_text()))
    assert len(incidents) == 40
    SimulationConfig(start=START - timedelta(days=7), end=END, customer_ids=CUSTOMERS, given_incidents=incidents)
    scenario = json.loads((tmp_path / "a" / "scenario.json").read_text())
    assert "--days 35 " in scenario["simulate"]
    assert "--incidents " in scenario["simulate"]
    assert len(parse_scenario(scenario).incidents) == 40
