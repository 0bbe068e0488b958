"""Query speed: a dashboard's queries through the API vs the best hand-written SQL, on ≥ 50M events.

    .venv/bin/python bench/query.py [--events 50e6] [--repeats 30] [--data-dir PATH]

Loads the simulated 7 days (2 customers, scaled to `--events`; see query_data.py) into `--data-dir` in a
child process, or reuses the directory when it already holds them. Then, in one process, it serves the
app with uvicorn on 127.0.0.1 (a background thread) over that store and measures, for each query of
the dashboard set, warm (after `--warmup` untimed rounds), `--repeats` rounds, each round running in turn:

- api: `GET /mm-apis/metricquery/1001?…` over HTTP with an `X-API-Key`, from a client in a process of its
  own (a plain socket, one kept-alive connection; `benchlib.ClientProcess`), timed there;
- explain: the same request with `explain=true`: everything but the engine and the shaping of rows
  (HTTP, auth, parsing, planning, compiling, JSON);
- compiled: the SQL the API runs (from `explain`), on the same store with `store.query(sql, params)`;
- hand: the best SQL we can write by hand for the same answer on the same tables, on the same store.

The answers of api, compiled and hand are checked equal (to the API's 4 decimals; a quantile sketch answers
the same whatever the order of merges) before timing. Writes the `query` section of docs/benchmarks.md.

With `--server`, it measures the same on both backends instead: the embedded engine over `--data-dir`, and the
server backend (clickhouse-connect over HTTP) to the loopback test harness (tests/clickhouse_http/, a process
of its own on chDB) serving a copy of it; each side in a fresh process with half the `--repeats`, in the order
embedded, server, server, embedded. Writes the section "query: server backend over the harness vs embedded".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import uvicorn
from fastapi import FastAPI

from benchlib import (
    ClientProcess,
    benchmark_app,
    by_hand,
    harness_store_url,
    load_average,
    median,
    write_section,
)
from query_data import CUSTOMERS, END, benchmark_arguments, load_in_child
from sightline.api.metrics import compiled
from sightline.api.services import services
from sightline.query.pipeline import MAX_LIMIT, envelope, fetch_json_page
from sightline.query.plan import EVENTS
from sightline.query.printer import print_select
from sightline.query.request import MetricQueryParams
from sightline.store import Store
from sightline.store.embedded import ENGINE_DIR

CUSTOMER = CUSTOMERS[0]
PLAN_LEVEL = 6831  # Enterprise: every metric and granularity
START = END - timedelta(days=7)
UNALIGNED = (START + timedelta(minutes=17), END - timedelta(minutes=17))
GOAL_RATIO = 1.3
GOAL_P95_MS = 150.0
KPIS = (
    "viewercount,attempts,playdur,latency,p95_latency,bufferingratio,vsf,ebvs,vpf,"
    "uniqueviewercount,avgbitrate,concurviewavg"
)

# The metrics as hand-written aggregates over a rollup's columns (formulas of catalog.metrics; error metrics
# leave business exceptions out, the API's default).
HAND: dict[str, str] = {
    "viewercount": "sum(plays)",
    "attempts": "sum(attempts)",
    "playdur": "sum(play_ms) / 60000",
    "latency": "sum(startup_ms_sum) / sum(plays) / 1000",
    "p95_latency": "quantileDDMerge(0.005, 0.95)(startup_ms_sketch) / 1000",
    "bufferingratio": "100 * sum(rebuffer_ms) / (sum(play_ms) + sum(rebuffer_ms))",
    "vsf": "100 * (sum(vsf_views) - sum(vsf_business_views)) / sum(attempts)",
    "ebvs": "100 * sum(ebvs_views) / sum(attempts)",
    "vpf": "100 * (sum(vpf_views) - sum(vpf_business_views)) / sum(plays)",
    "uniqueviewercount": "uniqMerge(viewers)",
    "avgbitrate": "sum(bitrate_play) / sum(play_ms)",
    "concurviewavg": "sum(play_ms) / {period_ms}",
}
PART_COLUMNS = (
    "plays, attempts, play_ms, startup_ms_sum, startup_ms_sketch, rebuffer_ms, vsf_views, ebvs_views, "
    "vpf_views, vsf_business_views, vpf_business_views, viewers, bitrate_play"
)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(moment: datetime) -> datetime:
    floored = _floor_hour(moment)
    return floored if floored == moment else floored + timedelta(hours=1)


def _metrics_sql(metrics: str, period_ms: float) -> str:
    return ", ".join(f"{HAND[m].format(period_ms=period_ms)} AS {m}" for m in metrics.split(","))


ALIASES = " SETTINGS prefer_column_name_to_alias = 1"
"""Output names like `attempts` are also part columns: aggregates must read the columns."""


def _where(start: datetime, end: datetime) -> str:
    return f"customer_id = {CUSTOMER} AND bucket >= toDateTime({_epoch(start)}) AND bucket < toDateTime({_epoch(end)})"


@dataclass(frozen=True)
class DashboardQuery:
    name: str
    params: dict[str, str]
    hand_sql: str
    keys: tuple[str, ...] = ()
    """The group keys of a row; `timestamp` is compared as epoch seconds."""
    ordered: bool = False
    """The order of the rows is part of the answer (a top N)."""

    @property
    def hand(self) -> str:
        return self.hand_sql + ALIASES


def _totals(metrics: str, start: datetime, end: datetime) -> str:
    """Totals over [start, end): whole hours from rollup_1h, the edges' minutes from rollup_1m."""
    period_ms = (end - start).total_seconds() * 1000
    inner_start, inner_end = _ceil_hour(start), _floor_hour(end)
    if (inner_start, inner_end) == (start, end):
        return f"SELECT {_metrics_sql(metrics, period_ms)} FROM rollup_1h WHERE {_where(start, end)}"
    edges = f"({_where(start, inner_start)}) OR ({_where(inner_end, end)})"
    return (
        f"SELECT {_metrics_sql(metrics, period_ms)} FROM ("
        f"SELECT {PART_COLUMNS} FROM rollup_1h WHERE {_where(inner_start, inner_end)} UNION ALL "
        f"SELECT {PART_COLUMNS} FROM rollup_1m WHERE {edges})"
    )


def _breakdown(metrics: str, dimension: str, table: str) -> str:
    period_ms = (END - START).total_seconds() * 1000
    first = metrics.split(",")[0]
    return (
        f"SELECT {dimension}, {_metrics_sql(metrics, period_ms)} FROM {table} WHERE {_where(START, END)} "
        f"GROUP BY {dimension} ORDER BY {first} DESC, {dimension}"
    )


def dashboard() -> list[DashboardQuery]:
    period = f"start={_epoch(START)},end={_epoch(END)}"
    unaligned = f"start={_epoch(UNALIGNED[0])},end={_epoch(UNALIGNED[1])}"
    series_metrics = "viewercount,playdur,bufferingratio,concurviewavg"
    top_metrics = "viewercount,playdur,bufferingratio"
    return [
        DashboardQuery(
            "KPI totals, 7 days on whole hours", {"metrics": KPIS, "period": period}, _totals(KPIS, *(START, END))
        ),
        DashboardQuery(
            "KPI totals, 7 days from :17 to :43",
            {"metrics": KPIS, "period": unaligned},
            _totals(KPIS, *UNALIGNED),
        ),
        DashboardQuery(
            "by CDN",
            {"metrics": "viewercount,bufferingratio,avgbitrate,vsf", "aggby": "cdn", "period": period},
            _breakdown("viewercount,bufferingratio,avgbitrate,vsf", "cdn", "rollup_1h"),
            ("cdn",),
        ),
        DashboardQuery(
            "by country",
            {"metrics": "viewercount,playdur,latency,uniqueviewercount", "aggby": "country", "period": period},
            _breakdown("viewercount,playdur,latency,uniqueviewercount", "country", "rollup_1h_delivery"),
            ("country",),
        ),
        DashboardQuery(
            "by device",
            {"metrics": "viewercount,vsf,vpf,p95_latency", "aggby": "device", "period": period},
            _breakdown("viewercount,vsf,vpf,p95_latency", "device", "rollup_1h_device"),
            ("device",),
        ),
        DashboardQuery(
            "hourly series, 7 days",
            {"metrics": series_metrics, "aggby": "timestamp", "granularity": "hour", "period": period},
            f"SELECT toUnixTimestamp(bucket) AS timestamp, {_metrics_sql(series_metrics, 3_600_000.0)} "
            f"FROM rollup_1h WHERE {_where(START, END)} GROUP BY bucket ORDER BY bucket",
            ("timestamp",),
        ),
        DashboardQuery(
            "top 100 titles",
            {
                "metrics": top_metrics,
                "aggby": "assetid,assetname",
                "orderby": "viewercount",
                "limit": "100",
                "period": period,
            },
            f"SELECT assetid, assetname, {_metrics_sql(top_metrics, 0.0)} FROM rollup_1h_content "
            f"WHERE {_where(START, END)} GROUP BY assetid, assetname "
            "ORDER BY viewercount DESC, assetid, assetname LIMIT 100",
            ("assetid", "assetname"),
            ordered=True,
        ),
    ]


# ---------------------------------------------------------------------------------------------------
# Checking that the three paths give the same answer.
# ---------------------------------------------------------------------------------------------------


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pylist()
    for row in rows:
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = _epoch(value.replace(tzinfo=value.tzinfo or UTC))
    return rows


def _same(metric: str, expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, float) and math.isnan(expected):
        return actual is None or (isinstance(actual, float) and math.isnan(actual))
    return math.isclose(float(expected), float(actual), rel_tol=1e-9, abs_tol=5.1e-5)


def check_equal(query: DashboardQuery, hand: list[dict[str, Any]], other: list[dict[str, Any]], what: str) -> None:
    """`other` (the API's rows or the compiled SQL's) answers what `hand` does; SystemExit if not."""
    metrics = query.params["metrics"].split(",")

    def keyed(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {tuple(row[k] for k in query.keys): row for row in rows}

    if len(hand) != len(other):
        raise SystemExit(f"{query.name}: {what} has {len(other)} rows, hand-written {len(hand)}")
    if query.ordered and [tuple(r[k] for k in query.keys) for r in hand] != [
        tuple(r[k] for k in query.keys) for r in other
    ]:
        raise SystemExit(f"{query.name}: {what} orders the rows unlike hand-written SQL")
    expected, actual = keyed(hand), keyed(other)
    if expected.keys() != actual.keys():
        raise SystemExit(f"{query.name}: {what} has other groups than hand-written SQL")
    for key, row in expected.items():
        for metric in metrics:
            if not _same(metric, row[metric], actual[key][metric]):
                raise SystemExit(
                    f"{query.name} {key}: {metric} is {actual[key][metric]!r} by {what}, {row[metric]!r} by hand"
                )


# ---------------------------------------------------------------------------------------------------
# The server and the measurements.
# ---------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Served:
    """The app under uvicorn on 127.0.0.1 in a background thread, until `stop`."""

    def __init__(self, app: FastAPI) -> None:
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise SystemExit("uvicorn did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


@dataclass
class Timings:
    api: list[float] = field(default_factory=list)
    explain: list[float] = field(default_factory=list)
    compiled: list[float] = field(default_factory=list)
    hand: list[float] = field(default_factory=list)
    plan_ms: float = 0.0
    shape_ms: float = 0.0
    tables: tuple[str, ...] = ()
    rows: int = 0


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _percentile(values: list[float], level: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(level * len(ordered)) - 1)]


def _wait_for_merges(store: Store, limit_s: float = 300) -> None:
    """Let the background merges of the load finish, so that they do not run under the timings."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        running = store.query(by_hand("SELECT count() AS n FROM system.merges")).column("n")[0].as_py()
        if running == 0:
            return
        print(f"  waiting for {running} background merges", flush=True)
        time.sleep(5)


def _parts(store: Store) -> str:
    table = store.query(
        by_hand(
            "SELECT table, count() AS parts, sum(rows) AS rows FROM system.parts WHERE active AND database = "
            "currentDatabase() AND (table = 'events' OR table LIKE 'rollup%' OR table = 'views') GROUP BY table "
            "ORDER BY table"
        )
    )
    return ", ".join(f"`{r['table']}` {r['rows']:,} rows in {r['parts']} parts" for r in table.to_pylist())


def _in_process_costs(query: DashboardQuery, store: Store, repeats: int = 50) -> tuple[float, float]:
    """Median ms of planning (parse, plan, compile, print: `metrics.compiled` without its memory) and of
    wrapping the engine's JSON rows of a page into the answer's bytes (`metrics.envelope`)."""
    raw = query.params
    params = MetricQueryParams(
        metrics=raw["metrics"],
        period=raw["period"],
        aggby=raw.get("aggby"),
        granularity=raw.get("granularity", "auto"),
        orderby=raw.get("orderby"),
        limit=int(raw.get("limit", "1000")),
    )
    plan = compiled.__wrapped__
    parsed, compiled_query = plan(CUSTOMER, params)
    page = fetch_json_page(store, compiled_query, parsed.limit or MAX_LIMIT, parsed.offset)
    plan_ms = median([_timed(lambda: print_select(plan(CUSTOMER, params)[1].select)) for _ in range(repeats)])
    shape_ms = median(
        [_timed(lambda: envelope(page.rows, page.total, parsed.limit or MAX_LIMIT)) for _ in range(repeats)]
    )
    return plan_ms, shape_ms


def _auth_ms(app: FastAPI, key: str, repeats: int = 50) -> float:
    """Median ms of the key check and the customer's lookup that guard every request (in process)."""
    access = app.state.auth.access
    return median(
        [_timed(lambda: access.customer_scope(access.principal_for_api_key(key), CUSTOMER)) for _ in range(repeats)]
    )


SUMS_ONLY = ",".join(m for m in KPIS.split(",") if m not in ("uniqueviewercount", "p95_latency"))
PROBES = ("http_floor", "engine_floor", "kpi_sums_only")
"""Measured once a round to split the costs: a request refused without a key (HTTP and routing only),
`SELECT 1` on the store, and the aligned KPI totals by hand without their distinct count and quantile."""


@dataclass
class Run:
    results: dict[str, Timings]
    parts: str
    auth_ms: float
    probes: dict[str, list[float]]


def measure(app: FastAPI, key: str, queries: list[DashboardQuery], repeats: int, warmup: int) -> Run:
    """The timings of each query, and the store's parts (after the load's merges have settled)."""
    served = Served(app)  # the app opens its store on start (lifespan)
    store: Store = services(app).store
    _wait_for_merges(store)
    parts, auth_ms = _parts(store), _auth_ms(app, key)
    probes: dict[str, list[float]] = {name: [] for name in PROBES}
    sums_only = _totals(SUMS_ONLY, START, END) + ALIASES
    path = f"/mm-apis/metricquery/{CUSTOMER}"
    results: dict[str, Timings] = {}
    client = ClientProcess(served.port, {"X-API-Key": key})
    try:

        def get(params: dict[str, str]) -> tuple[float, dict[str, Any]]:
            elapsed, body = client.get(path, params)
            return elapsed, body

        plans = {}
        for query in queries:
            plan = get({**query.params, "explain": "true"})[1]
            plans[query.name] = plan
            api_rows = get(query.params)[1]["response"]
            page = int(query.params.get("limit", "1000"))  # a plan of rollups answers every group: the API pages
            compiled_rows = _rows(store.query(by_hand(plan["sql"], plan["params"])))[:page]
            hand_rows = _rows(store.query(by_hand(query.hand)))
            check_equal(query, hand_rows, api_rows, "the API")
            check_equal(query, hand_rows, compiled_rows, "the compiled SQL")
            timings = Timings(tables=tuple(s["table"] for s in plan["segments"]), rows=len(hand_rows))
            timings.plan_ms, timings.shape_ms = _in_process_costs(query, store)
            results[query.name] = timings
            print(f"  {query.name}: the same {len(hand_rows)} rows by API, compiled SQL and hand", flush=True)
        runs: list[tuple[str, Callable[[DashboardQuery], float]]] = [
            ("api", lambda q: get(q.params)[0]),
            ("hand", lambda q: _timed(lambda: store.query(by_hand(q.hand)))),
            ("explain", lambda q: get({**q.params, "explain": "true"})[0]),
            ("compiled", lambda q: _timed(lambda: store.query(by_hand(plans[q.name]["sql"], plans[q.name]["params"])))),
        ]
        for round_number in range(warmup + repeats):
            for query in queries:
                for what, run in runs:
                    elapsed = run(query)
                    if round_number >= warmup:
                        getattr(results[query.name], what).append(elapsed)
            probe_calls: tuple[tuple[str, Callable[[], float]], ...] = (
                ("http_floor", lambda: client.get(path, queries[0].params, {"X-API-Key": ""}, expect=401)[0]),
                ("engine_floor", lambda: _timed(lambda: store.query(by_hand("SELECT 1")))),
                ("kpi_sums_only", lambda: _timed(lambda: store.query(by_hand(sums_only)))),
            )
            for name, probe in probe_calls:
                elapsed = probe()
                if round_number >= warmup:
                    probes[name].append(elapsed)
            if round_number + 1 == warmup:
                print(f"  warm after {warmup} rounds", flush=True)
            elif round_number >= warmup and (round_number - warmup + 1) % 10 == 0:
                print(f"  {round_number - warmup + 1} of {repeats} timed rounds", flush=True)
    finally:
        client.close()
        served.stop()
    return Run(results, parts, auth_ms, probes)


# ---------------------------------------------------------------------------------------------------
# The report.
# ---------------------------------------------------------------------------------------------------


def _served_by(timings: Timings) -> tuple[bool, str]:
    rollup = EVENTS not in timings.tables
    names = " + ".join(dict.fromkeys(timings.tables))
    return (
        rollup,
        f"{'yes' if rollup else 'no'}: {names} ({len(timings.tables)} segment{'s' * (len(timings.tables) > 1)})",
    )


def report(run: Run, loaded: dict[str, Any], repeats: int, warmup: int) -> str:
    results, parts = run.results, run.parts
    lines = [
        f"{loaded['events']:,} events ({loaded['views']:,} views) simulated over the 7 days before "
        f"{END:%Y-%m-%d} for customers {CUSTOMERS[0]} and {CUSTOMERS[1]} (scale {loaded['scale']:g}); the "
        f"queries ask for customer {CUSTOMER}. Store: {parts}.",
        "",
        f"Warm: {warmup} untimed rounds, then {repeats} timed rounds; each round runs every query by each "
        "path in turn (API, hand-written, explain, compiled), so all paths see the same machine. uvicorn serves "
        "the app on 127.0.0.1 in a background thread of the benchmark's process; a client in a process of its "
        "own (a plain socket, one kept-alive connection, an `X-API-Key`) times each request from its send to the "
        "last byte of the answer; the SQL runs on the app's own store (`store.query`). Before timing, "
        "the API's answer, the compiled SQL's and the hand-written SQL's were checked equal (to the API's 4 "
        "decimals).",
        "",
        "| query | rows | rollup served | API p50 / p95 ms | hand-written SQL p50 / p95 ms | API ÷ hand (p50) "
        "| compiled SQL p50 ms | compiled ÷ hand | explain p50 ms | plan / shape ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    missed_ratio, missed_p95 = [], []
    for name, t in results.items():
        rollup, served = _served_by(t)
        api50, api95 = median(t.api), _percentile(t.api, 0.95)
        hand50, hand95 = median(t.hand), _percentile(t.hand, 0.95)
        ratio = api50 / hand50
        compiled50 = median(t.compiled)
        if ratio > GOAL_RATIO:
            missed_ratio.append(f"{name} ({ratio:.2f}×)")
        if rollup and api95 > GOAL_P95_MS:
            missed_p95.append(f"{name} ({api95:.0f} ms)")
        lines.append(
            f"| {name} | {t.rows} | {served} | {api50:.1f} / {api95:.1f} | {hand50:.1f} / {hand95:.1f} | "
            f"**{ratio:.2f}** | {compiled50:.1f} | {compiled50 / hand50:.2f} | {median(t.explain):.1f} | "
            f"{t.plan_ms:.2f} / {t.shape_ms:.2f} |"
        )
    ratios_ok = "met" if not missed_ratio else f"missed: {'; '.join(missed_ratio)}"
    p95_ok = "met" if not missed_p95 else f"missed: {'; '.join(missed_p95)}"
    worst = max(results.values(), key=lambda t: _percentile(t.api, 0.95))
    lines += [
        "",
        f"- Goal API ≤ {GOAL_RATIO}× hand-written SQL (p50): **{ratios_ok}**.",
        f"- Goal p95 ≤ {GOAL_P95_MS:.0f} ms where a rollup serves the query: **{p95_ok}** "
        f"(slowest API p95: {_percentile(worst.api, 0.95):.1f} ms).",
        "",
        "Columns: *compiled SQL* is the API's own SQL (from `explain=true`) run on the store without HTTP, so "
        "API − compiled is what the API adds to the engine, and compiled ÷ hand is what the shape of our SQL "
        "costs in the engine. *explain* is the whole request without the engine and the row shaping (HTTP, "
        "key check, parsing, planning, JSON of the plan). *plan* is parsing, table choice, compiling and "
        "printing in process (once per distinct request: the API remembers it); *shape* is wrapping the "
        "engine's JSON rows of the page into the answer's bytes, in process.",
        "",
        *_findings(run),
    ]
    return "\n".join(lines)


def _findings(run: Run) -> list[str]:
    """What dominates, from this run's numbers."""
    results, probes = run.results, run.probes
    added = {name: median(t.api) - median(t.compiled) for name, t in results.items()}
    engine_gap = {name: median(t.compiled) - median(t.hand) for name, t in results.items()}
    plan = median([t.plan_ms for t in results.values()])
    explain = median([median(t.explain) for t in results.values()])
    kpi = results[next(iter(results))]
    kpi_hand, sums_only = median(kpi.hand), median(probes["kpi_sums_only"])
    small = [n for n, t in results.items() if median(t.hand) < 30]
    return [
        "What dominates (medians of this run):",
        "",
        f"- The API adds {min(added.values()):.1f} to {max(added.values()):.1f} ms (median "
        f"{median(list(added.values())):.1f}) to the engine time of its own SQL. A request without the engine "
        f"(explain) takes {explain:.1f} ms, of which HTTP and routing alone (a request refused for want of a key) "
        f"{median(probes['http_floor']):.1f} ms, the key check and customer lookup {run.auth_ms:.2f} ms (remembered "
        f"for 5 s), parsing, planning and compiling {plan:.2f} ms when not remembered (the API remembers them per "
        "distinct request, so a repeated request skips them); the rest is FastAPI's dependencies and parameters "
        "and the thread-pool hop of the store call. Wrapping the engine's JSON rows into the answer takes up to "
        f"{max(t.shape_ms for t in results.values()):.2f} ms.",
        f"- So the ratio goal is hardest where the engine is fastest: {'; '.join(small) or 'none'} take under 30 ms "
        "by hand, where a fixed overhead of a few ms is a large share.",
        f"- The engine: our SQL costs {min(engine_gap.values()):+.1f} to {max(engine_gap.values()):+.1f} ms over "
        "the hand-written. A plan of one rollup is one SELECT like the hand-written one; it differs in bound "
        "parameters, table-qualified part columns, the `isFinite` clamp guards of quality scores, and in "
        f"answering every group (the API pages); `SELECT 1` on the store takes "
        f"{median(probes['engine_floor']):.1f} ms.",
        f"- The KPI totals are bound by merging aggregate states: by hand they take {kpi_hand:.1f} ms, and "
        f"{sums_only:.1f} ms without the distinct count (`uniqMerge(viewers)`) and the quantile "
        f"(`quantileDDMerge`) over the hourly rows of `rollup_1h`; their p95 is the engine's.",
    ]


# ---------------------------------------------------------------------------------------------------
# The server backend over the harness beside the embedded engine (--server).
# ---------------------------------------------------------------------------------------------------

SIDES = ("embedded", "server")
SERVER_SECTION = "query: server backend over the harness vs embedded"
GOAL_SERVER_RATIO = 1.3


def measure_side(side: str, data_dir: Path, repeats: int, warmup: int) -> Run:
    """The timings of `side` in this process: the app over the embedded engine in `data_dir`, or over the server
    backend to the harness serving the engine's directory of `data_dir`."""
    queries = dashboard()
    if side == "embedded":
        with benchmark_app(data_dir, CUSTOMER, PLAN_LEVEL) as (app, key):
            return measure(app, key, queries, repeats, warmup)
    with (
        harness_store_url(data_dir / ENGINE_DIR) as url,
        tempfile.TemporaryDirectory() as own,
        benchmark_app(Path(own), CUSTOMER, PLAN_LEVEL, url) as (app, key),
    ):
        return measure(app, key, queries, repeats, warmup)


def _side_in_child(side: str, data_dir: Path, repeats: int, warmup: int) -> Run:
    """`measure_side` in a fresh process (chDB opens one data directory per process)."""
    command = [sys.executable, __file__, "--side", side, "--data-dir", str(data_dir)]
    command += ["--repeats", str(repeats), "--warmup", str(warmup)]
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    raw = json.loads(result.stdout.strip().splitlines()[-1])
    results = {name: Timings(**{**t, "tables": tuple(t["tables"])}) for name, t in raw["results"].items()}
    return Run(results, raw["parts"], raw["auth_ms"], raw["probes"])


def _pooled(runs: list[Run]) -> Run:
    """The timings of `runs` (of one side) together."""

    def joined(name: str, path: str) -> list[float]:
        return [x for run in runs for x in getattr(run.results[name], path)]

    results = {
        name: dataclasses.replace(
            timings,
            api=joined(name, "api"),
            explain=joined(name, "explain"),
            compiled=joined(name, "compiled"),
            hand=joined(name, "hand"),
        )
        for name, timings in runs[0].results.items()
    }
    probes = {name: [x for run in runs for x in run.probes[name]] for name in PROBES}
    return Run(results, runs[0].parts, median([run.auth_ms for run in runs]), probes)


def compare_server(data_dir: Path, events: float, repeats: int, warmup: int) -> tuple[str, Run, Run]:
    """Both sides over the same data (the server's harness on a copy of `data_dir`): the report's lines and
    the pooled runs."""
    loaded = load_in_child(data_dir, events)
    copy = data_dir.with_name(data_dir.name + "-server")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(data_dir, copy, symlinks=True)  # the engine's tables are relative symbolic links
    half = max(1, repeats // 2)
    runs: dict[str, list[Run]] = {side: [] for side in SIDES}
    for side in (*SIDES, *SIDES[::-1]):
        print(f"measuring {side}", flush=True)
        runs[side].append(_side_in_child(side, data_dir if side == "embedded" else copy, half, warmup))
    embedded, server = _pooled(runs["embedded"]), _pooled(runs["server"])
    for name, timings in embedded.results.items():
        if server.results[name].rows != timings.rows:
            raise SystemExit(f"{name}: {server.results[name].rows} rows by the server, {timings.rows} embedded")
    return server_report(embedded, server, loaded, 2 * half, warmup), embedded, server


def server_report(embedded: Run, server: Run, loaded: dict[str, Any], repeats: int, warmup: int) -> str:
    lines = [
        f"{loaded['events']:,} events ({loaded['views']:,} views), the data set of the `query` section (scale "
        f"{loaded['scale']:g}); the queries ask for customer {CUSTOMER}. Embedded store: {embedded.parts}.",
        "",
        f"Each side in a fresh process, in the order embedded, server, server, embedded; each time {warmup} "
        f"untimed rounds, then {repeats // 2} timed rounds as in the `query` section ({repeats} per side in all). "
        "The server side is the app with `store_url=clickhouse://…` (clickhouse-connect over HTTP, Arrow "
        "results) to the loopback test harness (tests/clickhouse_http/), a process of its own that runs the "
        "queries on chDB over a copy of the embedded side's data directory. Before timing, each side checked its "
        "API, compiled and hand-written answers equal, and both sides answered the same rows. The harness runs "
        "the embedded engine's version in another process, so the ratio measures the client, HTTP, the formats "
        "and the extra process, not a real server's engine; and on this 2-core machine the extra process can also "
        "take the engine's work off the app's process.",
        "",
        "| query | API p50 ms embedded / server | server ÷ embedded | API p95 ms embedded / server "
        "| hand-written SQL p50 ms embedded / server | server ÷ embedded |",
        "|---|---|---|---|---|---|",
    ]
    missed = []
    for name, e in embedded.results.items():
        s = server.results[name]
        ratio, hand_ratio = median(s.api) / median(e.api), median(s.hand) / median(e.hand)
        if ratio > GOAL_SERVER_RATIO:
            missed.append(f"{name} ({ratio:.2f}×)")
        lines.append(
            f"| {name} | {median(e.api):.1f} / {median(s.api):.1f} | **{ratio:.2f}** | "
            f"{_percentile(e.api, 0.95):.1f} / {_percentile(s.api, 0.95):.1f} | "
            f"{median(e.hand):.1f} / {median(s.hand):.1f} | {hand_ratio:.2f} |"
        )
    for name, label in (("engine_floor", "`SELECT 1` on the store"), ("kpi_sums_only", "KPI sums by hand")):
        e50, s50 = median(embedded.probes[name]), median(server.probes[name])
        lines.append(f"| {label} (probe) | | | | {e50:.1f} / {s50:.1f} | {s50 / e50:.2f} |")
    verdict = "met" if not missed else f"missed: {'; '.join(missed)}"
    lines += ["", f"- Goal server ≤ {GOAL_SERVER_RATIO}× embedded API time per query (p50): **{verdict}**."]
    return "\n".join(lines)


def _more_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", action="store_true", help="the server backend over the harness vs embedded")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)


def main() -> None:
    args = benchmark_arguments(__doc__, events=50e6, repeats=30, warmup=3, more=_more_arguments)
    if args.side:  # a child of --server: progress on stderr, the `Run` as JSON on stdout
        sys.stdout, real_stdout = sys.stderr, sys.stdout
        run = measure_side(args.side, args.data_dir, args.repeats, args.warmup)
        print(json.dumps(dataclasses.asdict(run)), file=real_stdout)
        return
    began = time.perf_counter()
    if args.server:
        load_before = load_average()
        body = compare_server(args.data_dir, args.events, args.repeats, args.warmup)[0]
        body += f"\n\nWhole run: {time.perf_counter() - began:.0f} s; load average at the start {load_before}, "
        body += f"at the end {load_average()}."
        command = f"python bench/query.py --server --events {args.events / 1e6:g}e6 --repeats {args.repeats}"
        print(body)
        if not args.no_write:
            write_section(SERVER_SECTION, command, body)
        return
    loaded = load_in_child(args.data_dir, args.events)
    with benchmark_app(args.data_dir, CUSTOMER, PLAN_LEVEL) as (app, key):
        queries = dashboard()
        print("measuring", flush=True)
        run = measure(app, key, queries, args.repeats, args.warmup)
    body = report(run, loaded, args.repeats, args.warmup)
    load = "the data directory reused" if loaded["reused"] else f"{loaded['seconds']:.0f} s of loading included"
    body += f"\n\nWhole run: {time.perf_counter() - began:.0f} s ({load})."
    command = f"python bench/query.py --events {args.events / 1e6:g}e6 --repeats {args.repeats}"
    if args.no_write:
        print(body)
    else:
        write_section("query", command, body)
        print(body)


if __name__ == "__main__":
    main()
