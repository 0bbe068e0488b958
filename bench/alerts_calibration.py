"""How one alert rule's test behaves over a scenario's simulated store, in minutes instead of a replay's half hour:
the tail of its scores on the clean stretches against the normal's, the anomalies it would open there, and each
incident of its metric as its own cohort scores it.

    .venv/bin/python bench/alerts_calibration.py --data-dir eval --scenario scenario/scenario.json \\
        --customer 1001 --rule Bitrate [--dimensions cdn,country,…]

`eval` is the store `sightline simulate` wrote for the scenario (docs/alerts.md, "The evaluation scenario"; no
other process may hold it); `--rule` names a default rule (`alerts.rules.default_rules`), `--dimensions`
replaces its dimensions (at most 6, with their pairs).

What it does: the rule's series over the scenario's period, in one read (as a round reads it), judged by the
rounds' own `Window` (the detector, the effect floor, the confirming metric), `CHUNK` windows at a time, each with
the history a round reads before it. An estimate of a replay of the rule alone, not a bound: it differs from the
rounds in that the dispersion is fitted before each chunk (a round fits it before each window), the alpha spreads
the rule's family alpha over the mean number of cohorts judged (a round: over those of that round), and related
anomalies are neither explained by one another (`rounds._explained`) nor joined into alerts.

- `tail`: P(score > b) of the rule's own metric (before any confirmation) over the eligible cohort-intervals
  of the clean stretches (no incident of the customer from `GRACE_S` before its start to `GRACE_S` after its
  end), against the normal's P(Z > b). A test calibrated in its tail passes b as often as the normal does;
- `openings`: the cohort-intervals on the clean stretches that are anomalous after one that was not;
- per incident of the rule's metric, over the windows that meet it: its cohort's highest score in those that
  start within 2 intervals of the incident's start (and in all), and the cohorts anomalous in them, highest
  score first, each with its first anomalous window's start after the incident's (an alert's time to detect).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from alerts_eval import TrueIncident, parse_scenario
from sightline.alerts.detect import z_threshold
from sightline.alerts.engine import series_key
from sightline.alerts.rounds import Window, history_intervals, round_alpha, windowed
from sightline.alerts.rules import AlertRule, Cohort, default_rules, parse_rule
from sightline.alerts.series import SeriesCache
from sightline.settings import Settings
from sightline.store import open_store

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
CHUNK = 12
"""Intervals judged by one call of `detect` (an hour at 5 minutes)."""
GRACE_S = 1200.0
"""How far from an incident a window counts as clean (4 intervals: a 15-minute window and a lag of its start)."""
BARS = (3.0, 4.0, 5.0)
"""The scores whose tail is printed; a round's bar is about 5."""
FIRST_INTERVALS = 2
"""The issue's goal: an incident found within 2 intervals of its start."""


@dataclass(frozen=True)
class Judgement:
    """Every cohort of a rule at every interval of a period (arrays of shape (cohorts, intervals)): the score (z,
    positive = the bad direction), whether the cohort was judged (enough attempts and viewers) and whether it was
    anomalous (beyond the round's bar and the effect floor); `ends`, each interval's window end (epoch s)."""

    cohorts: list[Cohort]
    ends: npt.NDArray[np.int64]
    score: Array
    eligible: Mask
    anomalous: Mask
    alpha: float


def judge_period(
    rule: AlertRule, cohorts: list[Cohort], parts: Mapping[str, npt.NDArray[np.float32]], start: int, first: int
) -> Judgement:
    """The rule's judgement of `cohorts` at every window from column `first` of `parts` (their summed parts per
    interval, the first interval starting at `start`), `CHUNK` windows at a time, each chunk with the `first`
    windows before it a round reads (module docstring)."""
    k, step = rule.window_intervals, rule.interval_s
    whole = Window(rule, {name: windowed(values, k) for name, values in parts.items()})
    eligible = whole.eligible()
    alpha = round_alpha(rule, float(np.mean(eligible[:, first:].sum(axis=0))))
    windows = eligible.shape[1]
    score = np.full(eligible.shape, np.nan)
    anomalous = np.zeros(eligible.shape, dtype=bool)
    for low in range(first, windows, CHUNK):
        high = min(low + CHUNK, windows)
        chunk = Window(rule, {name: values[:, low - first : high] for name, values in whole.parts.items()})
        *_, scores, found = chunk.judge_ai(alpha, high - low)
        score[:, low:high] = scores
        anomalous[:, low:high] = chunk.confirmed(found, alpha, high - low)
    ends = start + (np.arange(windows, dtype=np.int64) + k) * step
    return Judgement(cohorts, ends, score, eligible, anomalous & eligible, alpha)


def clean_intervals(ends: npt.NDArray[np.int64], incidents: Sequence[TrueIncident], window_s: int) -> Mask:
    """The intervals whose window meets no incident widened by `GRACE_S`."""
    clean = np.ones(ends.shape, dtype=bool)
    for incident in incidents:
        clean &= (ends <= incident.start - GRACE_S) | (ends - window_s >= incident.end + GRACE_S)
    return clean


def tail(scores: Array, bars: Sequence[float] = BARS) -> list[tuple[float, float, float]]:
    """(b, P(score > b), P(Z > b)) for each bar b, over the finite scores."""
    finite = scores[np.isfinite(scores)]
    return [
        (b, float(np.mean(finite > b)) if finite.size else math.nan, 0.5 * math.erfc(b / math.sqrt(2))) for b in bars
    ]


def openings(anomalous: Mask) -> Mask:
    """The anomalous cohort-intervals whose interval before was not."""
    before = np.zeros_like(anomalous)
    before[:, 1:] = anomalous[:, :-1]
    return anomalous & ~before


def _incident_lines(judgement: Judgement, incident: TrueIncident, rule: AlertRule) -> list[str]:
    """The windows that meet the incident; an anomaly's time is its window's start after the incident's (an
    alert's `start`, as bench/alerts_eval.py times it)."""
    starts = judgement.ends - rule.window_s
    during = (judgement.ends > incident.start) & (starts < incident.end)
    early = during & (starts - incident.start <= FIRST_INTERVALS * rule.interval_s)
    own = [n for n, c in enumerate(judgement.cohorts) if dict(c) == dict(incident.filters)]
    lines = [
        f"incident {incident.name} {dict(incident.filters)} ({'beyond' if incident.beyond_noise else 'within'} noise)"
    ]
    for n in own:
        first, whole = (
            np.nanmax(np.where(m & judgement.eligible[n], judgement.score[n], -np.inf)) for m in (early, during)
        )
        lines.append(
            f"  its cohort's highest score: {first:.2f} in its first {FIRST_INTERVALS} intervals, {whole:.2f} in all"
            if np.isfinite(whole)
            else "  its cohort was never judged in it (too few attempts or viewers)"
        )
    if not own:
        lines.append("  its cohort is not in the rule's scope")
    inside = judgement.anomalous & during[None, :]
    found = np.where(inside, judgement.score, -np.inf).max(axis=1)
    ranked = [n for n in np.argsort(-found) if np.isfinite(found[n])][:3]
    after = {n: max(0, int(starts[np.argmax(inside[n])] - incident.start)) for n in ranked}
    named = "; ".join(f"{dict(judgement.cohorts[n])} {found[n]:.2f} (from {after[n]} s)" for n in ranked)
    lines.append(f"  anomalous: {named or 'none'}")
    return lines


def report(rule: AlertRule, judgement: Judgement, incidents: Sequence[TrueIncident], first: int) -> str:
    """The text the tool prints (module docstring), the windows before column `first` (history) left out."""
    clean = clean_intervals(judgement.ends, incidents, rule.window_s)
    clean[:first] = False
    on_clean = judgement.eligible & clean[None, :]
    lines = [
        f"rule {rule.name} ({rule.metric.name}), customer {rule.customer_id}: {len(judgement.cohorts)} cohorts, "
        f"alpha {judgement.alpha:.2e} (bar {z_threshold(judgement.alpha):.2f}), {int(on_clean.sum())} clean "
        "cohort-intervals judged",
        "tail: " + ", ".join(f"P(z>{b:g}) {p:.2e} (normal {q:.2e})" for b, p, q in tail(judgement.score[on_clean])),
    ]
    opened = openings(judgement.anomalous) & on_clean
    lines.append(f"openings on clean stretches: {int(opened.sum())}")
    for n, column in zip(*np.nonzero(opened), strict=True):
        moment = datetime.fromtimestamp(int(judgement.ends[column]), UTC).strftime("%Y-%m-%dT%H:%M")
        lines.append(f"  {dict(judgement.cohorts[n])} window ending {moment}: score {judgement.score[n, column]:.2f}")
    for incident in incidents:
        if incident.metric == rule.metric.name:
            lines += _incident_lines(judgement, incident, rule)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Read the rule's series from the store once, judge it, and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="the scenario's simulated store")
    parser.add_argument("--scenario", type=Path, required=True, help="the scenario.json of bench/alerts_scenario.py")
    parser.add_argument("--customer", type=int, required=True)
    parser.add_argument("--rule", required=True, help="the name of a default rule")
    parser.add_argument("--dimensions", help="comma-separated: instead of the rule's")
    args = parser.parse_args(argv)
    scenario = parse_scenario(json.loads(args.scenario.read_text()))
    given = {r.name: r for r in default_rules()}.get(args.rule)
    if given is None:
        sys.exit(f"--rule must be one of: {', '.join(r.name for r in default_rules())}")
    if args.dimensions:
        given = given.model_copy(update={"dimensions": args.dimensions.split(",")})
    rule = parse_rule(args.customer, given)
    step, start, end = rule.interval_s, int(scenario.start), int(scenario.end)
    history = history_intervals(rule)
    begin = start - history * step
    store = open_store(Settings(data_dir=args.data_dir))
    try:
        key = series_key(args.customer, [rule])
        series = SeriesCache(store, 0).series(key, begin, end, end + step)
        parts = {name: series.part(name) for name in key.parts}
    finally:
        store.close()
    first = history - rule.window_intervals
    judgement = judge_period(rule, list(series.cohorts), parts, begin, first)
    incidents = [i for i in scenario.incidents if i.customer_id == args.customer]
    print(report(rule, judgement, incidents, first))


if __name__ == "__main__":
    main()
