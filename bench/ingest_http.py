"""HTTP ingest: sustained events per second through `POST /collect` and the time to acknowledgement.

    .venv/bin/python bench/ingest_http.py [--seconds 30] [--clients 32] [--batch 50]

Starts `sightline serve` on a fresh data directory with a customer and an ingest key, then a load
generator in a second process: `--clients` concurrent HTTP/1.1 connections (asyncio + httpx), each
posting native batches of `--batch` events of one view and waiting for the answer, for `--seconds`.
Every acknowledged event is then counted in the store (nothing lost). For comparison, the bulk insert
path (bench/ingest_bulk.py's `measure_bulk`) runs in the same run on as many events. Writes its section
of docs/benchmarks.md (goal: ≥ 50,000 events/s with p99 ≤ 1.5 s and nothing lost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from benchlib import write_section

START_MS = 1_780_000_000_000


def _cli(*args: str) -> str:
    command = [sys.executable, "-m", "sightline", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def _batch(n: int, size: int) -> bytes:
    view_id = uuid.UUID(int=((START_MS + n) << 80) | (0x7 << 76) | (0b10 << 62) | (n & 0xFFFFFFFFFFFF))
    events = [
        {"event": "heartbeat", "ts": START_MS + n + k, "seq": k, "started": 1, "play_ms": 1000,
         "interval_bitrate_kbps": 3000}
        for k in range(size)
    ]  # fmt: skip
    return json.dumps(
        {"view_id": str(view_id), "dimensions": {"cdn": "akamai", "country": "US"}, "events": events}
    ).encode()


async def _load(url: str, key: str, seconds: float, clients: int, size: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    accepted = 0
    failures = 0
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal accepted, failures
        while time.perf_counter() < deadline:
            body = _batch(next(counter), size)
            began = time.perf_counter()
            response = await http.post(url, content=body, headers={"X-Ingest-Key": key})
            if response.status_code == 200:
                latencies.append(time.perf_counter() - began)
                accepted += response.json()["accepted"]
            else:
                failures += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "accepted": accepted,
        "seconds": elapsed,
        "failures": failures,
        "p50": statistics.median(latencies),
        "p99": latencies[int(0.99 * (len(latencies) - 1))],
        "requests": len(latencies),
    }


def _serve(data_dir: Path, port: int, writer_delay_s: float) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "sightline", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "SIGHTLINE_WRITER_MAX_DELAY_S": str(writer_delay_s)},
    )  # fmt: skip
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not come up")


def _stored(data_dir: Path) -> int:
    from sightline.settings import Settings
    from sightline.store import open_store

    store = open_store(Settings(data_dir=data_dir))
    try:
        return int(store.query("SELECT count() AS n FROM events").column("n")[0].as_py())
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--writer-delay", type=float, default=1.0, help="the server's SIGHTLINE_WRITER_MAX_DELAY_S")
    parser.add_argument("--load", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        url, key, seconds, clients, size = args.load
        print(json.dumps(asyncio.run(_load(url, key, float(seconds), int(clients), int(size)))))
        return
    from bench_ports import free_port

    with tempfile.TemporaryDirectory() as directory:
        data_dir, port = Path(directory) / "data", free_port()
        _cli("customers", "add", "--data-dir", str(data_dir), "--id", "1", "--name", "Bench", "--plan-level", "6831")
        key = _cli("ingestkeys", "create", "--data-dir", str(data_dir), "--customer", "1")
        server = _serve(data_dir, port, args.writer_delay)
        try:
            command = [sys.executable, __file__, "--load", f"http://127.0.0.1:{port}/collect", key, str(args.seconds),
                       str(args.clients), str(args.batch)]  # fmt: skip
            result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(60)
        stored = _stored(data_dir)
    from ingest_bulk import measure_bulk

    bulk = measure_bulk(1.0, True)
    rate = result["accepted"] / result["seconds"]
    bulk_rate = bulk["rows"] / bulk["seconds"]
    body = f"""
`sightline serve` (one process, writer delay {args.writer_delay:g} s) on 127.0.0.1; the load from a second
process: {args.clients} concurrent connections, batches of {args.batch} events of one view, for
{args.seconds:g} s. The bulk path in the same
run: {int(bulk["rows"]):,} simulated events as Arrow batches into the store.

| measure | value | goal |
|---|---|---|
| events acknowledged per second | {rate:,.0f} | ≥ 50,000 |
| requests answered 200 | {result["requests"]:,} ({result["failures"]} refused) | |
| time to acknowledgement p50 / p99 | {result["p50"] * 1000:,.0f} ms / {result["p99"] * 1000:,.0f} ms | p99 ≤ 1,500 ms |
| events in the store afterwards ÷ acknowledged | {stored:,} ÷ {result["accepted"]:,} | equal (nothing lost) |
| bulk path, same run (events/s) | {bulk_rate:,.0f} | |
| HTTP ÷ bulk | {rate / bulk_rate:.2f} | |

The acknowledgement waits for the batching writer's insert (after `SIGHTLINE_WRITER_MAX_DELAY_S` or
100,000 rows), so each connection gets about one answer per writer delay: throughput is at most
connections × batch ÷ delay, and the ack latency is about the delay. The goal needs acknowledgement from
a durable spool (group-committed appends, DESIGN §7) instead of from the store; not built yet.
"""
    write_section(
        "ingest_http",
        f"python bench/ingest_http.py --seconds {args.seconds:g} --clients {args.clients} --batch {args.batch} "
        f"--writer-delay {args.writer_delay:g}",
        body,
    )
    print(body)


if __name__ == "__main__":
    main()
