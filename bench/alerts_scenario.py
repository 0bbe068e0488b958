"""The scenario that evaluates AI alerts: incidents over weeks of simulated traffic of several customers, with
the expected effect of each on its cohort's metric, so that an evaluator can tell an incident beyond noise.

    .venv/bin/python bench/alerts_scenario.py --out scenario/   # then the `sightline simulate` it prints

writes `scenario/incidents.json` (for `sightline simulate --incidents`) and `scenario/scenario.json` (the
period, the command that simulates it, and the incidents each with `expected`), which bench/alerts_eval.py
scores getAIAlerts' answers against. The same options give the same files.

How it is drawn (deterministic for the seed):
- `--history-days` of clean traffic (what a detector learns from), then `--weeks` with `--incidents`
  incidents shared by the customers in turn;
- every effect equally often, each as often small as large (`MAGNITUDES`), with cohorts of 1, 2 and 3
  dimensions equally often: the values are those of a view drawn at random from a clean sample of the
  customer's traffic (so a cohort is drawn by its share of traffic, and big and small ones come); every
  dimension of a cohort narrows it (no value implied by another), and ad cohorts have ad traffic;
- a customer's incidents never overlap: each lies in its own slot of the period, ending `GAP` before the next
  slot, at any time of day (a quiet night is a small incident);
- `expected`: the cohort's metric (the effect's, in the catalog's unit) without and with the incident, and the
  noise of that metric over the first `DETECTION_WINDOW_S` of the incident (2 intervals of 5 min: the standard
  error of a ratio of sums over the cohort's expected views then, from the clean sample at that time of day,
  with the larger of the cohort's and the customer's per-view spread, as a small sample understates it);
  `beyond_noise` when the change is at least `Z` times the noise with at least `MIN_WINDOW_VIEWS` views.
"""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from sightline.simulate import SimulationConfig, simulate
from sightline.simulate.incidents import EFFECTS, Effect, EffectKind, Incident
from sightline.simulate.views import AD_OUTCOMES, AD_SHARES

COHORT_DIMENSIONS = (
    "cdn",
    "country",
    "isp",
    "device",
    "brand",
    "platform",
    "player",
    "playerversion",
    "connectiontype",
    "streamtype",
    "appversion",
    "subscribertype",
)
MAGNITUDES: dict[EffectKind, tuple[tuple[float, float], tuple[float, float]]] = {
    "startup_failure": ((0.02, 0.05), (0.15, 0.5)),
    "playback_failure": ((0.01, 0.03), (0.08, 0.3)),
    "exit_before_start": ((0.03, 0.06), (0.15, 0.5)),
    "stall_ratio": ((1.5, 2.5), (5.0, 20.0)),
    "startup_time": ((1.3, 1.6), (2.5, 5.0)),
    "bitrate": ((0.7, 0.85), (0.2, 0.45)),
    "ad_errors": ((0.15, 0.25), (0.45, 0.8)),
}
"""Per effect, the ranges of a small and of a large magnitude (a small one may well stay within noise)."""
DURATIONS_MIN = (15, 20, 30, 45, 60, 90, 120)
GAP = timedelta(hours=3)
SAMPLE_DAYS = 2
DETECTION_WINDOW_S = 600
Z = 4.0
MIN_WINDOW_VIEWS = 10
MIN_SAMPLE_VIEWS = 30
SCALE = {"vsf": 100.0, "ebvs": 100.0, "vpf": 100.0, "bufferingratio": 100.0, "aderrorrate": 100.0, "latency": 0.001}
"""From the ratio of sums to the catalog's unit (percent, seconds); 1 for the others."""
_FILLED = 1 - AD_SHARES[AD_OUTCOMES.index("ad_nofill")]


@dataclass(frozen=True, slots=True)
class Expected:
    metric: str
    baseline: float
    expected: float
    noise: float
    window_views: float
    cohort_share: float
    beyond_noise: bool


def sample_views(config: SimulationConfig) -> dict[int, pd.DataFrame]:
    """The truth views of `config`'s clean traffic, per customer, with each view's minute of the day."""
    tables: dict[int, list[pa.Table]] = {c: [] for c in config.customer_ids}
    for chunk in simulate(config):
        tables[chunk.customer_id].append(chunk.views)
    samples = {}
    for customer, parts in tables.items():
        views = pa.concat_tables(parts).to_pandas()
        start_ms = views["view_start"].astype("datetime64[ms, UTC]").astype("int64")
        views["minute"] = (start_ms // 60_000) % 1440
        samples[customer] = views
    return samples


def metric_parts(views: pd.DataFrame, metric: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per view, (numerator, denominator) of `metric` as a ratio of sums (ad requests estimated from what ads
    became: impressions and errors are all but the no-fills)."""
    outcome = views["outcome"].astype(str).to_numpy()
    started = views["started"].to_numpy(dtype=np.float64)
    column = {name: views[name].to_numpy(dtype=np.float64) for name in ("startup_ms", "play_ms", "rebuffer_ms")}
    parts: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {
        "vsf": ((outcome == "vsf").astype(np.float64), np.ones(outcome.size)),
        "ebvs": ((outcome == "ebvs").astype(np.float64), np.ones(outcome.size)),
        "vpf": ((outcome == "vpf").astype(np.float64), started),
        "bufferingratio": (column["rebuffer_ms"], column["play_ms"] + column["rebuffer_ms"]),
        "latency": (column["startup_ms"], started),
        "avgbitrate": (views["bitrate_play"].to_numpy(dtype=np.float64), column["play_ms"]),
    }
    if metric == "aderrorrate":
        errors = views["ad_errors"].to_numpy(dtype=np.float64)
        return errors, (views["ad_impressions"].to_numpy(dtype=np.float64) + errors) / _FILLED
    return parts[metric]


def _with_incident(kind: EffectKind, magnitude: float, x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """The metric (as a ratio of sums) of views (x, y) under the effect."""
    baseline = x.sum() / y.sum()
    if kind in ("startup_failure", "playback_failure", "exit_before_start"):
        return float(min(baseline + magnitude, 1.0))
    if kind == "stall_ratio":
        return float(magnitude * x.sum() / (y.sum() + (magnitude - 1) * x.sum()))
    if kind == "ad_errors":
        return magnitude
    return float(baseline * magnitude)  # start-up time; bitrate: at most this (the rung below)


def _window_views(cohort: pd.DataFrame, start: datetime, seconds: float) -> float:
    """Views of the cohort expected in [start, start + seconds), from the sample at that time of day (± 30 min)."""
    first = (start.hour * 60 + start.minute - 30) % 1440
    span = int(seconds // 60) + 60
    minutes = (cohort["minute"].to_numpy() - first) % 1440
    return float((minutes < span).sum() / SAMPLE_DAYS * (seconds / 60) / span)


def _spread(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """The per-view standard deviation of the ratio of sums Σx / Σy (its standard error times √views)."""
    return float(np.sqrt(np.mean((x - x.sum() / y.sum() * y) ** 2)) / np.mean(y))


def expect(
    kind: EffectKind, magnitude: float, views: pd.DataFrame, cohort: NDArray[np.bool_], start: datetime, duration_s: int
) -> Expected:
    """The cohort's metric without and with the incident, its noise over the detection window, and whether the
    change is beyond noise (module docstring)."""
    metric = EFFECTS[kind].metric
    x, y = metric_parts(views[cohort], metric)
    baseline = float(x.sum() / y.sum())
    with_incident = _with_incident(kind, magnitude, x, y)
    window = _window_views(views[cohort], start, min(duration_s, DETECTION_WINDOW_S))
    spread = max(_spread(x, y), _spread(*metric_parts(views, metric)))
    noise = spread / np.sqrt(max(window, 1.0))
    scale = SCALE.get(metric, 1.0)
    return Expected(
        metric=metric,
        baseline=round(baseline * scale, 6),
        expected=round(with_incident * scale, 6),
        noise=round(noise * scale, 6),
        window_views=round(window, 1),
        cohort_share=round(float(cohort.mean()), 6),
        beyond_noise=bool(abs(with_incident - baseline) >= Z * noise and window >= MIN_WINDOW_VIEWS),
    )


def _matching(views: pd.DataFrame, filters: dict[str, str]) -> NDArray[np.bool_]:
    mask = np.ones(len(views), dtype=bool)
    for dimension, value in filters.items():
        mask &= views[dimension].astype(str).to_numpy() == value
    return mask


def draw_cohort(views: pd.DataFrame, size: int, kind: EffectKind, rng: np.random.Generator) -> dict[str, str]:
    """`size` dimension values of a view drawn at random (of a view with ads for an ad effect), every one of
    which narrows the cohort, and the cohort with at least `MIN_SAMPLE_VIEWS` views of the sample."""
    pool = np.flatnonzero(views["ad_impressions"] + views["ad_errors"] > 0) if kind == "ad_errors" else None
    for _ in range(1000):
        row = views.iloc[int(rng.choice(pool) if pool is not None else rng.integers(len(views)))]
        named = [d for d in COHORT_DIMENSIONS if str(row[d])]
        dimensions = sorted(rng.choice(named, size, replace=False).tolist())
        filters = {d: str(row[d]) for d in dimensions}
        count = _matching(views, filters).sum()
        narrows = all(
            _matching(views, {d: v for d, v in filters.items() if d != left}).sum() > 1.1 * count for left in filters
        )
        if narrows and count >= MIN_SAMPLE_VIEWS:
            return filters
    raise ValueError(f"no cohort of {size} dimensions narrows the traffic")


@dataclass(frozen=True, slots=True)
class Plan:
    incident: Incident
    expected: Expected

    def to_json(self) -> dict[str, object]:
        return self.incident.to_json() | {"expected": asdict(self.expected)}


def plan_scenario(
    samples: dict[int, pd.DataFrame], start: datetime, end: datetime, count: int, rng: np.random.Generator
) -> tuple[Plan, ...]:
    """`count` incidents in [start, end) over the customers of `samples` (module docstring)."""
    kinds = list(EFFECTS)
    draws = [(kinds[i % len(kinds)], (i // len(kinds)) % 2 == 1, 1 + i % 3) for i in range(count)]
    order = rng.permutation(count)
    customers = list(samples)
    per_customer = {
        c: [draws[i] for k, i in enumerate(order) if k % len(customers) == n] for n, c in enumerate(customers)
    }
    plans = []
    for customer, items in per_customer.items():
        slot = (end - start) / max(len(items), 1)
        for k, (kind, large, size) in enumerate(items):
            duration = timedelta(minutes=int(rng.choice(DURATIONS_MIN)))
            room = (slot - duration - GAP).total_seconds()
            begin = (start + k * slot + timedelta(seconds=float(rng.uniform(0, room)))).replace(second=0, microsecond=0)
            low, high = MAGNITUDES[kind][large]
            magnitude = round(float(rng.uniform(low, high)), 3)
            views = samples[customer]
            filters = draw_cohort(views, size, kind, rng)
            name = f"c{customer}-{k + 1:02d}-{kind}"
            incident = Incident(name, customer, begin, begin + duration, filters, (Effect(kind, magnitude),))
            expected = expect(kind, magnitude, views, _matching(views, filters), begin, int(duration.total_seconds()))
            plans.append(Plan(incident, expected))
    return tuple(sorted(plans, key=lambda p: (p.incident.start, p.incident.customer_id)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to write incidents.json and scenario.json")
    parser.add_argument("--end", default="2026-11-30T00:00:00+00:00", help="end of the period (ISO 8601, zone)")
    parser.add_argument("--weeks", type=int, default=4, help="weeks with incidents")
    parser.add_argument("--history-days", type=int, default=7, help="clean days before them")
    parser.add_argument("--incidents", type=int, default=42, help="how many incidents")
    parser.add_argument("--customers", type=int, nargs="+", default=[1001, 1002])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=4.0, help="traffic multiplier of the simulation (4: 54M events)")
    args = parser.parse_args(argv)
    end = datetime.fromisoformat(args.end).astimezone(UTC)
    start = end - timedelta(weeks=args.weeks)
    history = start - timedelta(days=args.history_days)
    customers = tuple(args.customers)
    sample = SimulationConfig(
        start=history,
        end=history + timedelta(days=SAMPLE_DAYS),
        customer_ids=customers,
        scale=args.scale,
        seed=args.seed,
        given_incidents=(),
    )
    plans = plan_scenario(sample_views(sample), start, end, args.incidents, np.random.default_rng(args.seed))
    args.out.mkdir(parents=True, exist_ok=True)
    incidents_file = args.out / "incidents.json"
    incidents_file.write_text(json.dumps([p.incident.to_json() for p in plans], indent=2) + "\n")
    days = args.history_days + 7 * args.weeks
    command = (
        f"sightline simulate --days {days} --end {end.isoformat()} --customers {' '.join(map(str, customers))} "
        f"--seed {args.seed} --scale {args.scale:g} --incidents {shlex.quote(str(incidents_file))}"
    )
    scenario = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "customer_ids": list(customers),
        "simulate": command,
        "detection_window_s": DETECTION_WINDOW_S,
        "z": Z,
        "incidents": [p.to_json() for p in plans],
    }
    (args.out / "scenario.json").write_text(json.dumps(scenario, indent=2) + "\n")
    beyond = sum(p.expected.beyond_noise for p in plans)
    print(f"{len(plans)} incidents ({beyond} beyond noise) in {args.out}; simulate them with:\n  {command}")


if __name__ == "__main__":
    main()
