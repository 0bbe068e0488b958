"""HTTP ingest: sustained events per second through `POST /collect` and the time to acknowledgement.

    .venv/bin/python bench/ingest_http.py [--seconds 30] [--clients 32] [--batch 50]

Starts `sightline serve` on a fresh data directory with a customer and an ingest key, then the load:
wrk (Debian's `wrk`, in C, so that the load costs the shared cores little) with `--clients` concurrent
HTTP/1.1 connections, each posting native batches of `--batch` events of one new view
(bench/collect_load.lua) and waiting for the answer, for `--seconds`.
Every acknowledged event is then counted in the store (nothing lost). For comparison, the bulk insert
path (bench/ingest_bulk.py's `measure_bulk`) runs in the same run on as many events. Writes its section
of docs/benchmarks.md (goal: ≥ 50,000 events/s with p99 ≤ 1.5 s and nothing lost).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchlib import by_hand, serve, write_section


def _cli(*args: str) -> str:
    command = [sys.executable, "-m", "sightline", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def _load(url: str, key: str, seconds: float, clients: int, size: int) -> dict[str, Any]:
    """wrk's summary: acknowledged events and requests, refusals, seconds, p50 and p99 in seconds."""
    script = Path(__file__).with_name("collect_load.lua")
    command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(script), url,
               "--", str(size), key]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def _cpu_seconds(pid: int) -> float:
    """The CPU time (user and system, every thread) process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stored(data_dir: Path) -> int:
    from sightline.settings import Settings
    from sightline.store import open_store

    store = open_store(Settings(data_dir=data_dir))
    try:
        return int(store.query(by_hand("SELECT count() AS n FROM events")).column("n")[0].as_py())
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--writer-delay", type=float, default=1.0, help="the server's SIGHTLINE_WRITER_MAX_DELAY_S")
    args = parser.parse_args()
    from bench_ports import free_port

    with tempfile.TemporaryDirectory() as directory:
        data_dir, port = Path(directory) / "data", free_port()
        _cli("customers", "add", "--data-dir", str(data_dir), "--id", "1", "--name", "Bench", "--plan-level", "6831")
        key = _cli("ingestkeys", "create", "--data-dir", str(data_dir), "--customer", "1")
        server = serve(data_dir, port, {**os.environ, "SIGHTLINE_WRITER_MAX_DELAY_S": str(args.writer_delay)})
        try:
            cpu_before = _cpu_seconds(server.pid)
            result = _load(f"http://127.0.0.1:{port}/collect", key, args.seconds, args.clients, args.batch)
            server_cores = (_cpu_seconds(server.pid) - cpu_before) / result["seconds"]
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(60)
        stored = _stored(data_dir)
    from ingest_bulk import measure_bulk

    bulk = measure_bulk(1.0, True)
    rate = result["accepted"] / result["seconds"]
    answered = result["requests"] - result["refused"]
    bulk_rate = bulk["rows"] / bulk["seconds"]
    body = f"""
`sightline serve` (one process, writer delay {args.writer_delay:g} s) on 127.0.0.1; the load from a second
process: {args.clients} concurrent connections, batches of {args.batch} events of one view, for
{args.seconds:g} s. The bulk path in the same
run: {int(bulk["rows"]):,} simulated events as Arrow batches into the store.

| measure | value | goal |
|---|---|---|
| events acknowledged per second | {rate:,.0f} | ≥ 50,000 |
| requests answered 200 | {answered:,} ({result["refused"]} refused, {result["errors"]} errors) | |
| time to acknowledgement p50 / p99 | {result["p50"] * 1000:,.0f} ms / {result["p99"] * 1000:,.0f} ms | p99 ≤ 1,500 ms |
| server's CPU during the load | {server_cores:.2f} cores of 2 | |
| stored afterwards, acknowledged | {stored:,}, {result["accepted"]:,} | stored ≥ acknowledged (nothing lost) |
| bulk path, same run (events/s) | {bulk_rate:,.0f} | |
| HTTP ÷ bulk | {rate / bulk_rate:.2f} | |

The acknowledgement waits for the batch's fsync in the spool (one fsync serves every request waiting
for it); the writer inserts a sealed segment every writer delay or 100,000 rows. Where the time goes
(py-spy on the server under this load): the Python of one process runs under one GIL. The event loop
handles each request: uvicorn and the outer middleware (about a tenth of the loop's time), then `POST
/collect`, answered before the router by `CollectLane`, which reads the key, validates the whole batch from
its bytes in one pydantic call (an event keeps only the fields it sent; the store fills the defaults),
sessionises it, queues it for the spool and writes the answer as bytes. The inserter converts each sealed
segment to Arrow and hands it to chDB, which works outside the GIL through the 12 materialized views
(chDB's own threads: about a third of a core). The load generator (wrk, in C) shares the same 2 cores.
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
