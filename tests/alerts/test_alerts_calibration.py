"""bench/alerts_calibration.py's core on synthetic parts (no store): a ratio rule judged over a period finds the
step injected into one cohort and nothing on the clean cohorts; the tail, the openings and the clean intervals."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from alerts_calibration import clean_intervals, judge_period, openings, tail
from alerts_eval import TrueIncident
from sightline.alerts.rounds import history_intervals
from sightline.alerts.rules import Cohort, RuleInput, parse_rule

STEP = 300
DAYS = 9


def test_a_ratio_rule_finds_the_injected_step_and_nothing_else() -> None:
    given = {"name": "vsf", "metric": "vsf", "scope": "selected", "dimensions": ["cdn"]}
    rule = parse_rule(1, RuleInput.model_validate(given))
    rng = np.random.default_rng(3)
    intervals = DAYS * 86_400 // STEP
    cohorts: list[Cohort] = [(("cdn", name),) for name in ("A", "B", "C", "D")]
    attempts = rng.poisson(200.0, size=(len(cohorts), intervals)).astype(np.float32)
    failures = rng.binomial(attempts.astype(np.int64), 0.02).astype(np.float32)
    incident = slice(intervals - 30, intervals - 20)
    failures[1, incident] = rng.binomial(attempts[1, incident].astype(np.int64), 0.2)
    parts = {"attempts": attempts, "viewers": attempts, "vsf_views": failures, "vsf_business_views": 0 * failures}
    first = history_intervals(rule) - rule.window_intervals
    judgement = judge_period(rule, cohorts, parts, 0, first)
    opened = openings(judgement.anomalous)
    assert [cohorts[n] for n in np.flatnonzero(opened.any(axis=1))] == [(("cdn", "B"),)]
    assert judgement.ends[np.flatnonzero(opened[1])[0]] == (intervals - 30 + 1) * STEP  # its first interval's end
    assert np.nanmax(judgement.score[[0, 2, 3], first:]) < 5.0
    assert np.isnan(judgement.score[:, :first]).all()  # history, not judged


def test_tail_openings_and_clean_intervals() -> None:
    scores = np.array([0.0, 1.0, 3.5, 4.5, 6.0, np.nan])
    assert [(b, p) for b, p, _ in tail(scores, (3.0, 5.0))] == [(3.0, 0.6), (5.0, 0.2)]
    assert round(tail(scores, (3.0,))[0][2], 6) == 0.00135  # the normal's P(Z > 3)
    anomalous = np.array([[False, True, True, False, True]])
    assert openings(anomalous).tolist() == [[False, True, False, False, True]]
    incident = TrueIncident("i", 1, start=10_000.0, end=11_000.0, filters=frozenset(), metric="vsf", beyond_noise=True)
    ends = np.array([8_800, 8_900, 13_000, 13_100], dtype=np.int64)
    # the windows of 900 s that meet the incident widened by 1,200 s, [8,800, 12,200], are not clean
    assert clean_intervals(ends, [incident], 900).tolist() == [True, False, False, True]
