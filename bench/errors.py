"""Error API and session list timings on the query benchmark's data set (≥ 50M events, 7 days).

    .venv/bin/python bench/errors.py [--events 50e6] [--repeats 10] [--data-dir PATH]

Loads (or reuses) the data set of bench/query.py, serves the app with uvicorn on 127.0.0.1 over it and
times, warm (after `--warmup` untimed rounds), `--repeats` rounds of each request below for customer 1001
over HTTP with an `X-API-Key` (one kept-alive connection). Writes the `errors` section of docs/benchmarks.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from benchlib import benchmark_app, by_hand, median, write_section
from query import CUSTOMER, PLAN_LEVEL, START, Served, _percentile
from query_data import END, benchmark_arguments, load_in_child
from sightline.api.services import services
from sightline.store import Store

WEEK = f"start={int(START.timestamp())},end={int(END.timestamp())}"
DAY = f"start={int((END - timedelta(days=1)).timestamp())},end={int(END.timestamp())}"
SESSION_FIELDS = "latency,starttime,endtime,assetname,watchtime,sessionid"
REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    (
        "error list by code and message, 7 days",
        "error",
        {"metrics": "errors,fatalerrors,affectedviews,affectedviewers,errorrate", "period": WEEK},
    ),
    ("errors by CDN, 7 days", "error", {"metrics": "errors,errorrate,attempts", "aggby": "cdn", "period": WEEK}),
    (
        "heatmap codes × hours, 7 days",
        "error",
        {"metrics": "fatalerrorrate,errors", "heatmap": "timestamp", "granularity": "hour", "period": WEEK},
    ),
    (
        "heatmap codes × player versions, 7 days",
        "error",
        {"metrics": "errorrate,errors", "heatmap": "playerversion", "period": WEEK},
    ),
    (
        "session list (SL2 recipe), 100 rows, 7 days",
        "listsessions",
        {"metrics": SESSION_FIELDS, "aggby": "sessionid", "limit": "100", "period": WEEK},
    ),
    (
        "session list, 100 rows, 1 day",
        "listsessions",
        {"metrics": SESSION_FIELDS, "aggby": "sessionid", "limit": "100", "period": DAY},
    ),
    (
        "failed sessions on one CDN, 1 day",
        "listsessions",
        {"filter": "[status=startfailed|playbackfailed][cdn=Akamai]", "limit": "100", "period": DAY},
    ),
    (
        "metricquery X6 (session fields by subscriber), 1 day",
        "metricquery",
        {
            "metrics": "playdur,bufferingratio,latency,subscriberid,errors,viewercount,starttime,endtime",
            "aggby": "subscriberid",
            "orderby": "viewercount",
            "limit": "10",
            "period": DAY,
        },
    ),
]


def _timeline_request(client: httpx.Client) -> tuple[str, str, dict[str, str]]:
    """The timeline of the longest-watched view of the last day."""
    body = client.get(
        f"/mm-apis/listsessions/{CUSTOMER}",
        params={"metrics": "watchtime,sessionid", "limit": "1", "period": DAY},
    ).json()
    return ("one view's timeline", "listsessions", {"sessionid": body["response"][0]["sessionid"]})


@dataclass
class Result:
    name: str
    times: list[float] = field(default_factory=list)
    rows: int = 0
    total: int = 0


def measure(client: httpx.Client, repeats: int, warmup: int) -> list[Result]:
    requests = [*REQUESTS, _timeline_request(client)]
    results = [Result(name) for name, _, _ in requests]
    for round_ in range(warmup + repeats):
        for result, (_, path, params) in zip(results, requests, strict=True):
            began = time.perf_counter()
            response = client.get(f"/mm-apis/{path}/{CUSTOMER}", params=params)
            elapsed = (time.perf_counter() - began) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{result.name}: {response.status_code} {response.text[:300]}")
            if round_ >= warmup:
                result.times.append(elapsed)
            body = response.json()
            result.rows, result.total = len(body["response"]), body["totalrecords"]
    return results


def count_ms(store: Store, table: str, repeats: int) -> float:
    """The median time of counting the customer's rows of `table` in the 7 days (`events`, or `error_events`:
    the least an error query reads)."""
    sql = (
        f"SELECT count() FROM {table} WHERE customer_id = {{c:UInt32}} "
        "AND ts >= toDateTime64({s:Int64}, 3, 'UTC') AND ts < toDateTime64({e:Int64}, 3, 'UTC')"
    )
    params = {"c": CUSTOMER, "s": int(START.timestamp()), "e": int(END.timestamp())}
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        store.query(by_hand(sql, params))
        times.append((time.perf_counter() - began) * 1000)
    return median(times)


def report(results: list[Result], loaded: dict[str, Any], repeats: int, warmup: int, counts: dict[str, float]) -> str:
    lines = [
        f"{loaded['events']:,} events ({loaded['views']:,} views) of bench/query.py's data set (7 days before "
        f"{END:%Y-%m-%d}, customers 1001 and 1002); the requests ask for customer 1001. Warm: {warmup} untimed "
        f"rounds, then {repeats} timed rounds of every request in turn, over HTTP to uvicorn on 127.0.0.1 in the "
        "same process (httpx, one kept-alive connection, `X-API-Key`).",
        "",
        "| request | rows answered / in all | p50 ms | p95 ms |",
        "|---|---|---|---|",
    ]
    for result in results:
        lines.append(
            f"| {result.name} | {result.rows:,} / {result.total:,} | {median(result.times):.1f} | "
            f"{_percentile(result.times, 0.95):.1f} |"
        )
    lines += [
        "",
        "The error requests read `error_events` for the period (the error and ad error events, a few per "
        "thousand events, with all their columns; schema migration 5) and attempts from the rollups: counting "
        f"the customer's events of the 7 days takes {counts['events']:.0f} ms, its error events "
        f"{counts['error_events']:.1f} ms (medians, same run, in process). A heatmap is three reads (rows, "
        "columns, cells); the distinct counts (`affectedviews`, `affectedviewers`) are computed only when asked. "
        "Session lists read `views` (one row per view, merged per view id) for the period, so their time grows "
        "with the views in the period; a timeline reads one view's events by its id and the time its UUIDv7 "
        "encodes. The machine is shared with other jobs: p95 carries their noise.",
    ]
    return "\n".join(lines)


def main() -> None:
    args = benchmark_arguments(__doc__, events=50e6, repeats=10, warmup=2)
    began = time.perf_counter()
    loaded = load_in_child(args.data_dir, args.events)
    with benchmark_app(args.data_dir, CUSTOMER, PLAN_LEVEL) as (app, key):
        served = Served(app)
        try:
            base = f"http://127.0.0.1:{served.port}"
            with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=300) as client:
                results = measure(client, args.repeats, args.warmup)
            counts = {t: count_ms(services(app).store, t, args.repeats) for t in ("events", "error_events")}
        finally:
            served.stop()
    body = report(results, loaded, args.repeats, args.warmup, counts)
    body += f"\n\nWhole run: {time.perf_counter() - began:.0f} s."
    command = f"python bench/errors.py --events {args.events / 1e6:g}e6 --repeats {args.repeats}"
    if args.no_write:
        print(body)
    else:
        write_section("errors", command, body)
        print(body)


if __name__ == "__main__":
    main()
