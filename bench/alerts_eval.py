"""Score AI alerts against a scenario of injected incidents (bench/alerts_scenario.py writes the scenario).

    .venv/bin/python bench/alerts_eval.py SCENARIO.json 1001=alerts-1001.json 1002=alerts-1002.json [--json]

Each alerts file is getAIAlerts' answer for one customer (the envelope, with the alerts under "response"), or
a bare JSON list of alerts. An alert needs only these fields (others are ignored):
- `id`; `metric` (a catalog metric name); `severity`;
- `start`, `end`: epoch seconds (or milliseconds, or ISO 8601 text); `end` null while the alert is going on;
- `cohort`: the rule's cohort, `{dimension: value}` or `[[dimension, value], …]` (`{}` or absent: everything);
- `diagnosis`: its causes, most impact first, as a list or as `{"causes": [...]}`; each cause has
  `conditions`, `{dimension: value}` or `[[dimension, value], …]`, the whole combination it names (not only
  what it adds to the cohort). null or empty: none.

Matching. An alert matches an incident of its customer when its metric is one the incident's effect moves
(`METRIC_FAMILIES`) and its [start, end] meets the incident's [start, end + grace] (grace: 2 detection
intervals). An incident is detected when an alert matches it; its time to detect is the earliest matching
alert's start − the incident's start (0 if before). An alert's top diagnosis is its top cause's conditions (its
cohort when it has no cause); it is exact when it names the incident's filters: the same views of the simulator's
world, i.e. the same conditions on the dimensions a device profile does not fix, and on those it fixes
(`PROFILE_DIMENSIONS`) the same profiles and player versions (`player=hls.js ∧ playerversion=1.5.8` and
`playerversion=1.5.8` are one; `platform=Tizen` and `brand=Samsung ∧ player=Shaka Player` are one, Samsung's TVs);
an incident is exactly diagnosed when one of its alerts is.

The numbers:
- recall: detected ÷ incidents expected beyond noise (the scenario's `expected.beyond_noise`); `recall_all`
  over every incident; precision: alerts that match an incident ÷ alerts; F1 of the two;
- median and p95 time to detect (seconds) over detected incidents; `within_2_intervals`: the share of
  incidents beyond noise detected within 2 intervals of their start with an exact diagnosis (the goal);
- `exact_diagnosis`: the share of matching alerts whose diagnosis is exact;
- `false_per_customer_week`: alerts that start on a clean stretch (no incident of the customer between its
  start − grace and its end + grace) ÷ the clean customer-weeks of the period.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sightline.simulate.devices import DEVICES

DEFAULT_INTERVAL_S = 300
WEEK_S = 7 * 86_400
METRIC_FAMILIES: dict[str, frozenset[str]] = {
    "vsf": frozenset({"vsf", "videostartfailures", "failurerate", "totalstartupfailure"}),
    "vpf": frozenset({"vpf", "playbackfailures", "failurerate", "fatalerrors", "errorsperplay"}),
    "ebvs": frozenset({"ebvs", "exitsbeforevideostart", "totalstartupfailure"}),
    "bufferingratio": frozenset({"bufferingratio", "cirrbufferingratio", "rebufferfrequency"}),
    "latency": frozenset({"latency", "avg_latency", "median_latency", "p95_latency", "p99_latency"}),
    "avgbitrate": frozenset({"avgbitrate"}),
    "aderrorrate": frozenset({"aderrorrate", "aderrors", "adfillrate"}),
}
"""The metric an effect moves (the scenario's `expected.metric`) → the alert metrics that count as its."""
PROFILE_DIMENSIONS = ("device", "brand", "platform", "player", "playerversion")
"""The dimensions whose values a viewer's device profile fixes (`sightline.simulate.devices`)."""

Conditions = frozenset[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    customer_id: int
    metric: str
    severity: str
    start: float
    end: float | None
    cohort: Conditions
    top_cause: Conditions

    @property
    def diagnosis(self) -> Conditions:
        return self.top_cause or self.cohort


def profiles(named: Conditions) -> frozenset[tuple[int, str]]:
    """The (device profile, player version) pairs of the simulator's world that `named`'s conditions on
    `PROFILE_DIMENSIONS` hold."""
    wanted = {name: value for name, value in named if name in PROFILE_DIMENSIONS}
    held = set()
    for n, profile in enumerate(DEVICES):
        for version in profile.playerversions:
            fixed = (profile.device, profile.brand, profile.platform, profile.player, version)
            if all(dict(zip(PROFILE_DIMENSIONS, fixed, strict=True))[name] == value for name, value in wanted.items()):
                held.add((n, version))
    return frozenset(held)


def same_views(one: Conditions, other: Conditions) -> bool:
    """Whether two combinations hold the same views of the simulator's world (module docstring); combinations
    that hold no profile (a value the world does not know) are the same only as sets."""
    free = [frozenset(c for c in side if c[0] not in PROFILE_DIMENSIONS) for side in (one, other)]
    held = profiles(one)
    return free[0] == free[1] and held == profiles(other) and (bool(held) or one == other)


def names(alert: Alert, incident: TrueIncident) -> bool:
    """Whether the alert's top diagnosis names exactly the incident's combination (module docstring)."""
    return same_views(alert.diagnosis, incident.filters)


@dataclass(frozen=True, slots=True)
class TrueIncident:
    name: str
    customer_id: int
    start: float
    end: float
    filters: Conditions
    metric: str
    beyond_noise: bool


@dataclass(frozen=True, slots=True)
class Scenario:
    start: float
    end: float
    customer_ids: tuple[int, ...]
    incidents: tuple[TrueIncident, ...]


@dataclass(frozen=True, slots=True)
class IncidentScore:
    name: str
    beyond_noise: bool
    detected: bool
    seconds_to_detect: float | None
    seconds_to_exact: float | None
    alerts: int

    @property
    def exact(self) -> bool:
        return self.seconds_to_exact is not None


@dataclass(frozen=True, slots=True)
class Score:
    incidents: int
    beyond_noise: int
    alerts: int
    recall: float
    recall_all: float
    precision: float
    f1: float
    median_seconds_to_detect: float | None
    p95_seconds_to_detect: float | None
    within_2_intervals: float
    exact_diagnosis: float
    false_alerts: int
    false_per_customer_week: float
    per_incident: tuple[IncidentScore, ...]


def epoch_seconds(value: object) -> float:
    """A time as epoch seconds: a number (seconds, or milliseconds past 1e11) or ISO 8601 text with a zone."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return float(value) / 1000 if value > 1e11 else float(value)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(f"a time needs a zone: {value!r}")
        return moment.timestamp()
    raise ValueError(f"not a time: {value!r}")


def conditions(value: object) -> Conditions:
    """Dimension-value pairs from `{dim: value}`, `[[dim, value], …]` or `[{"dimension", "value"}, …]`."""
    if value is None:
        return frozenset()
    if isinstance(value, Mapping):
        return frozenset((str(k), str(v)) for k, v in value.items())
    if isinstance(value, list):
        pairs = []
        for item in value:
            if isinstance(item, Mapping):
                pairs.append((str(item["dimension"]), str(item["value"])))
            elif isinstance(item, list | tuple) and len(item) == 2:
                pairs.append((str(item[0]), str(item[1])))
            else:
                raise ValueError(f"not a dimension-value pair: {item!r}")
        return frozenset(pairs)
    raise ValueError(f"not a set of conditions: {value!r}")


def _causes(diagnosis: object) -> list[Any]:
    if isinstance(diagnosis, Mapping):
        diagnosis = diagnosis.get("causes")
    if diagnosis is None:
        return []
    if not isinstance(diagnosis, list):
        raise ValueError(f"diagnosis: a list of causes is required, not {diagnosis!r}")
    return diagnosis


def parse_alerts(data: object, customer_id: int) -> tuple[Alert, ...]:
    """The alerts of getAIAlerts' answer (the envelope or a bare list) for `customer_id` (module docstring)."""
    rows = data.get("response") if isinstance(data, Mapping) else data
    if not isinstance(rows, list):
        raise ValueError("alerts: a list, or an object with the list under 'response', is required")
    alerts = []
    for row in rows:
        if not isinstance(row, Mapping):
            raise ValueError(f"alerts: an alert must be an object, not {row!r}")
        causes = _causes(row.get("diagnosis"))
        top = conditions(causes[0].get("conditions")) if causes and isinstance(causes[0], Mapping) else frozenset()
        end = row.get("end")
        alerts.append(
            Alert(
                id=str(row["id"]),
                customer_id=customer_id,
                metric=str(row["metric"]),
                severity=str(row.get("severity", "")),
                start=epoch_seconds(row["start"]),
                end=None if end is None else epoch_seconds(end),
                cohort=conditions(row.get("cohort")),
                top_cause=top,
            )
        )
    return tuple(alerts)


def parse_scenario(data: object) -> Scenario:
    """The scenario written by bench/alerts_scenario.py: its period, customers, and incidents with `expected`."""
    if not isinstance(data, Mapping):
        raise ValueError("scenario: an object is required")
    incidents = []
    for item in data["incidents"]:
        start = epoch_seconds(item["start"])
        expected = item["expected"]
        incidents.append(
            TrueIncident(
                name=str(item["name"]),
                customer_id=int(item["customer_id"]),
                start=start,
                end=start + float(item["duration_s"]),
                filters=conditions(item.get("filters", {})),
                metric=str(expected["metric"]),
                beyond_noise=bool(expected["beyond_noise"]),
            )
        )
    return Scenario(
        start=epoch_seconds(data["start"]),
        end=epoch_seconds(data["end"]),
        customer_ids=tuple(int(c) for c in data["customer_ids"]),
        incidents=tuple(incidents),
    )


def matches(alert: Alert, incident: TrueIncident, grace_s: float) -> bool:
    """Whether `alert` is one of `incident`'s (module docstring)."""
    if alert.customer_id != incident.customer_id:
        return False
    if alert.metric not in METRIC_FAMILIES.get(incident.metric, frozenset({incident.metric})):
        return False
    alert_end = math.inf if alert.end is None else alert.end
    return alert.start <= incident.end + grace_s and alert_end >= incident.start


def quantile(values: Sequence[float], q: float) -> float | None:
    """The `q` quantile of `values` (linear between order statistics); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    at = q * (len(ordered) - 1)
    low = math.floor(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _clean_seconds(scenario: Scenario, customer_id: int, grace_s: float) -> float:
    """Seconds of the period outside every incident of `customer_id` widened by `grace_s` on both sides."""
    spans = sorted(
        (max(scenario.start, i.start - grace_s), min(scenario.end, i.end + grace_s))
        for i in scenario.incidents
        if i.customer_id == customer_id
    )
    busy, reach = 0.0, scenario.start
    for low, high in spans:
        low = max(low, reach)
        if high > low:
            busy += high - low
            reach = high
    return scenario.end - scenario.start - busy


def _on_clean_stretch(alert: Alert, incidents: Iterable[TrueIncident], grace_s: float) -> bool:
    alert_end = math.inf if alert.end is None else alert.end
    return all(
        alert.start > i.end + grace_s or alert_end < i.start - grace_s
        for i in incidents
        if i.customer_id == alert.customer_id
    )


def _seconds_after(incident: TrueIncident, alerts: Sequence[Alert]) -> float | None:
    """Seconds from the incident's start to the earliest of `alerts` (0 if it began before); None for none."""
    return max(0.0, min(a.start for a in alerts) - incident.start) if alerts else None


def score(scenario: Scenario, alerts: Sequence[Alert], interval_s: float = DEFAULT_INTERVAL_S) -> Score:
    """Every number of the module docstring, for `alerts` of the scenario's customers."""
    grace = 2 * interval_s
    per_incident = []
    times: list[float] = []
    for incident in scenario.incidents:
        found = [a for a in alerts if matches(a, incident, grace)]
        exact = [a for a in found if names(a, incident)]
        seconds = _seconds_after(incident, found)
        if seconds is not None:
            times.append(seconds)
        per_incident.append(
            IncidentScore(
                incident.name, incident.beyond_noise, bool(found), seconds, _seconds_after(incident, exact), len(found)
            )
        )
    true_alerts = [a for a in alerts if any(matches(a, i, grace) for i in scenario.incidents)]
    exact_alerts = [a for a in true_alerts if any(matches(a, i, grace) and names(a, i) for i in scenario.incidents)]
    false_alerts = [a for a in alerts if a not in true_alerts and _on_clean_stretch(a, scenario.incidents, grace)]
    clean_weeks = sum(_clean_seconds(scenario, c, grace) for c in scenario.customer_ids) / WEEK_S
    expected = [s for s in per_incident if s.beyond_noise]
    recall = _ratio(sum(s.detected for s in expected), len(expected))
    precision = _ratio(len(true_alerts), len(alerts))
    on_time = [s for s in expected if s.seconds_to_exact is not None and s.seconds_to_exact <= grace]
    return Score(
        incidents=len(per_incident),
        beyond_noise=len(expected),
        alerts=len(alerts),
        recall=recall,
        recall_all=_ratio(sum(s.detected for s in per_incident), len(per_incident)),
        precision=precision,
        f1=_ratio(2 * precision * recall, precision + recall),
        median_seconds_to_detect=quantile(times, 0.5),
        p95_seconds_to_detect=quantile(times, 0.95),
        within_2_intervals=_ratio(len(on_time), len(expected)),
        exact_diagnosis=_ratio(len(exact_alerts), len(true_alerts)),
        false_alerts=len(false_alerts),
        false_per_customer_week=_ratio(len(false_alerts), clean_weeks),
        per_incident=tuple(per_incident),
    )


def _customer_file(text: str) -> tuple[int, Path]:
    customer, _, path = text.partition("=")
    if not customer.isdigit() or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: CUSTOMER=FILE is required, e.g. 1001=alerts-1001.json")
    return int(customer), Path(path)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", type=Path, help="the scenario.json of bench/alerts_scenario.py")
    parser.add_argument("alerts", type=_customer_file, nargs="+", metavar="CUSTOMER=FILE", help="getAIAlerts answers")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL_S, help="detection interval, seconds")
    parser.add_argument("--json", action="store_true", help="print the score as JSON")
    args = parser.parse_args(argv)
    scenario = parse_scenario(json.loads(args.scenario.read_text()))
    alerts = [a for customer, path in args.alerts for a in parse_alerts(json.loads(path.read_text()), customer)]
    result = score(scenario, alerts, args.interval)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
        return
    print(format_score(result))


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def format_score(result: Score) -> str:
    """The score as the lines docs/alerts.md quotes."""
    lines = [
        f"incidents {result.incidents} ({result.beyond_noise} beyond noise), alerts {result.alerts}",
        f"recall {result.recall:.3f} (all incidents {result.recall_all:.3f}), precision {result.precision:.3f}, "
        f"F1 {result.f1:.3f}",
        f"time to detect: median {_seconds(result.median_seconds_to_detect)}, "
        f"p95 {_seconds(result.p95_seconds_to_detect)}",
        f"detected within 2 intervals with the exact diagnosis: {result.within_2_intervals:.3f}",
        f"alerts with the exact diagnosis: {result.exact_diagnosis:.3f}",
        f"false alerts on clean stretches: {result.false_alerts} ({result.false_per_customer_week:.2f} per "
        "customer-week)",
    ]
    for s in result.per_incident:
        state = "exact" if s.exact else "inexact" if s.detected else "missed"
        noise = "" if s.beyond_noise else " (within noise)"
        lines.append(f"  {s.name}: {state}, {_seconds(s.seconds_to_detect)}, {s.alerts} alerts{noise}")
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        main()
    except (ValueError, KeyError, OSError) as error:
        print(f"alerts_eval: {error!r}", file=sys.stderr)
        sys.exit(2)
