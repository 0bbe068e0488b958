"""The cost of the alerts engine over the query benchmark's data: one detection round of a customer with the
default rules, one diagnosis, and getAIAlerts' answer time.

    .venv/bin/python bench/alerts.py [--data-dir DIR] [--events N] [--rounds N] [--no-write]
    .venv/bin/python bench/alerts.py --clean-days D [--scale S] [--no-write]

DIR holds the query benchmark's data (bench/query_data.py loads it there when it is absent or empty; it is
reused when it holds enough). The alerts live in a temporary metadata database. Measured:
- the first round (the series of the history the detector needs, about 7.5 days of every leaf of the default
  rules' dimensions at 5 minutes, read from the store; then judged), and then each of `--rounds` later rounds
  (what the scheduler does every 5 minutes: the new interval read, every rule judged) — the median and the worst;
- one diagnosis of the vsf rule customer-wide over the last 15 minutes (leaves over 12 dimensions in the window
  and the day before, `diagnose`, and each cause's distinct viewers), the median of 3;
- getAIAlerts through HTTP on the app (in process), a page of 100 of 2,000 stored alerts, p50 and p95 of 200.
The section "alerts" of docs/benchmarks.md is rewritten unless `--no-write`.

`--clean-days D`: the false alerts instead. Two customers of the demo's rate (times `--scale`: the evaluation
scenario's is 4) without incidents (`SimulationConfig(given_incidents=())`), 8 days of history and D days judged
with the default rules, replayed as the scheduler runs them; every alert is false. Section "alerts on clean
traffic" (at scale 1), "alerts on clean traffic at scale S" otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from benchlib import benchmark_app, write_section
from query_data import CUSTOMERS, END, ensure_loaded
from sightline.alerts.diagnosis import diagnose_window, span
from sightline.alerts.engine import AlertEngine
from sightline.alerts.models import AlertRow
from sightline.alerts.scheduler import replay_customers
from sightline.auth.service import open_auth
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, simulate
from sightline.store import open_store

CUSTOMER = CUSTOMERS[0]
STEP = 300


def _rounds(data_dir: Path, rounds: int) -> tuple[float, list[float], int, float]:
    """(the first round's s, each later round's s, rule rounds in a round, a diagnosis' median s)."""
    end = int(END.timestamp()) - 3600  # an hour before the data's end: every interval of it settled
    with tempfile.TemporaryDirectory() as metadata:
        auth = open_auth(Settings(data_dir=Path(metadata)))
        store = open_store(Settings(data_dir=data_dir))
        try:
            auth.accounts.add_customer(CUSTOMER, "Benchmark", 6831)
            engine = AlertEngine(store, sessionmaker(auth.engine, expire_on_commit=False), lambda: END)
            first = end - rounds * STEP
            began = time.perf_counter()
            per_round = engine.run(CUSTOMER, first, first + 60, first=first)
            cold = time.perf_counter() - began
            warm = []
            for until in range(first + STEP, end + 1, STEP):
                began = time.perf_counter()
                engine.run(CUSTOMER, until, until + 60)
                warm.append(time.perf_counter() - began)
            rule = next(r for r in engine.rules.rules(CUSTOMER) if r.metric.name == "vsf")
            diagnoses = []
            for _ in range(3):
                began = time.perf_counter()
                diagnose_window(store, rule, (), span(end, 900), None)
                diagnoses.append(time.perf_counter() - began)
            return cold, warm, per_round, statistics.median(diagnoses)
        finally:
            store.close()
            auth.close()


def _alert(n: int) -> AlertRow:
    started = END - timedelta(minutes=5 * n)
    body = {
        "rule": {"id": f"rule-{n % 9}", "name": "Video start failures"},
        "metric": "vsf",
        "cohort": {"cdn": f"cdn{n % 5}", "country": f"c{n % 17}"},
        "diagnosis": {"causes": [{"conditions": {"cdn": f"cdn{n % 5}"}, "share": 0.9}] * 3},
        "series": {"interval": STEP, "points": [{"timestamp": n, "value": 1.5, "expected": 1.0}] * 48},
    }
    return AlertRow(
        id=f"alert-{n}",
        customer_id=CUSTOMER,
        rule_id=f"rule-{n % 9}",
        cohort=json.dumps(body["cohort"]),
        metric="vsf",
        status=("open", "ongoing", "resolved")[n % 3],
        severity=("critical", "major", "warning")[n % 3],
        started_at=started,
        last_seen_at=started + timedelta(minutes=15),
        ended_at=started + timedelta(minutes=30) if n % 3 == 2 else None,
        clean_intervals=0,
        escalations=0,
        body=json.dumps(body),
    )


def _get_ai_alerts(data_dir: Path, requests: int) -> list[float]:
    """Milliseconds of each of `requests` getAIAlerts pages (100 of 2,000 alerts), through HTTP on the app."""
    with benchmark_app(data_dir, CUSTOMER, 6831) as (app, key), TestClient(app) as client:
        with sessionmaker(app.state.auth.engine).begin() as session:
            session.add_all(_alert(n) for n in range(2000))
        period = f"start={int((END - timedelta(days=7)).timestamp())},end={int(END.timestamp())}"
        times = []
        for n in range(requests):
            params = {"period": period, "limit": "100", "offset": str(100 * (n % 20))}
            began = time.perf_counter()
            answer = client.get(f"/mm-apis/getAIAlerts/{CUSTOMER}", params=params, headers={"X-API-Key": key})
            times.append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200, answer.text
        return times


def _false_alerts(days: float, scale: float) -> tuple[list[AlertRow], float]:
    """The alerts of `days` days of clean traffic of two customers at `scale` after 8 days of history, and the
    seconds the rounds took."""
    end = datetime(2024, 5, 20, tzinfo=UTC)
    config = SimulationConfig(
        start=end - timedelta(days=8 + days),
        end=end,
        customer_ids=CUSTOMERS,
        seed=11,
        scale=scale,
        given_incidents=(),
    )
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory))
        store = open_store(settings)
        auth = open_auth(settings)
        try:
            for chunk in simulate(config):
                store.insert_events(chunk.events)
            for customer in CUSTOMERS:
                auth.accounts.add_customer(customer, f"Clean {customer}", 6831)
            began = time.perf_counter()
            start = int((end - timedelta(days=days)).timestamp())
            replay_customers(settings, store, list(CUSTOMERS), start, int(end.timestamp()))
            seconds = time.perf_counter() - began
            with sessionmaker(auth.engine)() as session:
                return list(session.scalars(select(AlertRow).order_by(AlertRow.started_at))), seconds
        finally:
            auth.close()
            store.close()


def _row(alert: AlertRow) -> str:
    """A false alert as a table row: who, what, when, and what moved (its last anomalous window)."""
    body = json.loads(alert.body)
    observed, expected, score = (
        _figure(body[k], spec) for k, spec in (("observed", ".4g"), ("expected", ".4g"), ("score", ".1f"))
    )
    when = f"{alert.started_at:%a %m-%d %H:%M}"
    who = f"| {alert.customer_id} | {alert.metric} | {alert.cohort} | {alert.severity} | {when}"
    return f"{who} | {observed} / {expected} | {score} | {body['impact']['views']} |"


def _figure(value: float | None, spec: str) -> str:
    """A number of an alert's body as a table shows it ("–": none)."""
    return "–" if value is None else format(value, spec)


def clean(days: float, scale: float, write: bool) -> None:
    alerts, seconds = _false_alerts(days, scale)
    weeks = len(CUSTOMERS) * days / 7
    by_severity = {level: sum(a.severity == level for a in alerts) for level in ("critical", "major", "warning")}
    rows = "\n".join(_row(a) for a in alerts)
    rate = "the demo's rate" if scale == 1 else f"{scale:g} times the demo's rate"
    body = f"""Two customers ({", ".join(map(str, CUSTOMERS))}) at {rate} without incidents, {days:g} days
judged after 8 days of history with the 9 default rules (replayed in {seconds:.0f} s): every alert is false.

**{len(alerts)} false alerts in {weeks:.2f} customer-weeks: {len(alerts) / weeks:.2f} per customer-week** (goal ≤ 1:
{"met" if len(alerts) <= weeks else "not met"}; critical {by_severity["critical"]}, major {by_severity["major"]},
warning {by_severity["warning"]}).

| customer | metric | cohort | severity | start (UTC) | observed / expected | z | views |
|---|---|---|---|---|---|---|---|
{rows}
"""
    if write:
        section, command = "alerts on clean traffic", f"bench/alerts.py --clean-days {days:g}"
        if scale != 1:
            section, command = f"{section} at scale {scale:g}", f"{command} --scale {scale:g}"
        write_section(section, command, body)
    print(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=float, default=50e6)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "sightline-bench-query")
    parser.add_argument("--no-write", action="store_true", help="print the report instead of writing it")
    parser.add_argument("--clean-days", type=float, help="measure false alerts on this many days of clean traffic")
    parser.add_argument("--scale", type=float, default=1.0, help="the clean traffic's scale (the demo's: 1)")
    args = parser.parse_args()
    if args.clean_days:
        clean(args.clean_days, args.scale, not args.no_write)
        return
    loaded = ensure_loaded(args.data_dir, args.events)
    cold, warm, per_round, diagnosis = _rounds(args.data_dir, args.rounds)
    times = sorted(_get_ai_alerts(args.data_dir, 200))
    p95 = times[int(0.95 * len(times)) - 1]
    later = f"{statistics.median(warm):.2f} s (worst {max(warm):.2f} s)"
    answer = f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms"
    body = f"""Customer {CUSTOMER} of the query benchmark's {loaded.events:,} events (7 days, 2 customers) with the
{per_round} default rules (`alerts.rules.default_rules`), rounds at 5-minute intervals ending an hour before the
data's end (`AlertEngine.run`, as the scheduler runs it; the alerts in a SQLite metadata database).

| what | time | goal |
|---|---|---|
| the first round (reads the ~7.5 days of history of every leaf, then judges) | {cold:.2f} s | |
| a round after it (the new interval read, every rule judged; median of {len(warm)}) | {later} | ≤ 1 s |
| one diagnosis (vsf, customer-wide, 15 minutes; median of 3) | {diagnosis:.2f} s | ≤ 2 s |
| getAIAlerts, a page of 100 of 2,000 alerts through HTTP (200 requests) | {answer} | p95 ≤ 100 ms |
"""
    command = "bench/alerts.py " + " ".join(sys.argv[1:])
    if args.no_write:
        print(body)
    else:
        write_section("alerts", command.strip(), body)
        print(body)


if __name__ == "__main__":
    main()
