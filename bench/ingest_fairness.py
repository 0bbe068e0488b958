"""One customer's flood of CMCD sessions against another customer's beacons, and the cost of reading back a view
the collector forgot.

    .venv/bin/python bench/ingest_fairness.py [--flooders 2] [--seed-scale 5] [--before-src DIR]

Seeds a fresh data directory with a day of simulated traffic of customers 1 and 2 (`sightline simulate`), starts
`sightline serve` and measures, from this process:
- customer 1's beacons (native first batches of new views, one at a time) alone, then while `--flooders` threads
  post customer 2's CMCD reports of 1,000 new sessions each, back to back (and how many reports they get in);
- first batches of views the collector does not know whose ids are 2 hours old (each is looked up in the store);
- after a restart, the retry of views that ended 2 hours before it (each view's events are read back): every
  event must be a duplicate.
With `--before-src`, the same measures in the same run with the server's code from that `src` directory (a
worktree of an earlier revision), for a before/after table. Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench_ports import free_port
from benchlib import load_average, serve, write_section

BEACONS = 300
RECALLED = 200
HOUR_MS = 3_600_000


def _cli(*args: str, env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "sightline", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout.strip()


def _stop(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(120)


def _view_id(start_ms: int) -> str:
    return str(uuid.UUID(int=(start_ms << 80) | (0x7 << 76) | (0b10 << 62) | uuid.uuid4().int & (2**62 - 1)))


def _events(start_ms: int, *, ended: bool) -> list[dict[str, Any]]:
    events = [
        {"event": "play_request", "ts": start_ms, "seq": 0},
        {"event": "first_frame", "ts": start_ms + 900, "seq": 1, "started": 1, "startup_ms": 900},
    ]
    return [*events, {"event": "end", "ts": start_ms + 60_000, "seq": 2, "started": 1, "play_ms": 59_100}][
        : 3 if ended else 2
    ]


class Client:
    def __init__(self, base: str, key: str) -> None:
        self.http, self.base, self.key = httpx.Client(timeout=120), base, key

    def post(self, view_id: str, events: list[dict[str, Any]]) -> tuple[float, dict[str, Any]]:
        """Seconds to the answer, and the answer."""
        body = json.dumps({"view_id": view_id, "events": events})
        started = time.perf_counter()
        response = self.http.post(f"{self.base}/collect", content=body, headers={"X-Ingest-Key": self.key})
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"/collect answered {response.status_code}: {response.text}")
        answer: dict[str, Any] = response.json()
        return elapsed, answer


def _beacons(client: Client) -> list[float]:
    """Customer 1's first batches of new views, one at a time, 20 ms apart: seconds to each answer."""
    times = []
    for _ in range(BEACONS):
        now = int(time.time() * 1000)
        times.append(client.post(_view_id(now), _events(now, ended=False))[0])
        time.sleep(0.02)
    return times


def _flood(base: str, key: str, stop: threading.Event, reports: list[int]) -> None:
    http, n = httpx.Client(timeout=120), 0
    while not stop.is_set():
        now, tag = int(time.time() * 1000), uuid.uuid4().hex[:8]
        lines = [f'e=ps,sid="{tag}-{i}",cid="flood",sf=h,st=v,sta=s,ts={now},sn=0,v=2' for i in range(1000)]
        response = http.post(
            f"{base}/cmcd/{key}", content="\n".join(lines), headers={"Content-Type": "application/cmcd"}
        )
        if response.status_code == 204:
            reports.append(n)
        n += 1


def _quantiles(times: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max, in milliseconds."""
    ordered = sorted(times)
    return (statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000, ordered[-1] * 1000)


def measure(src: Path | None, flooders: int, seed_scale: float) -> dict[str, Any]:
    """Every measure of the module's docstring, with the server's code from `src` (None: this checkout's)."""
    env = {**os.environ, **({"PYTHONPATH": str(src)} if src is not None else {})}
    with tempfile.TemporaryDirectory() as directory:
        data_dir, port = Path(directory) / "data", free_port()
        base = f"http://127.0.0.1:{port}"
        _cli("simulate", "--data-dir", str(data_dir), "--days", "1", "--scale", str(seed_scale),
             "--customers", "1", "2", "--incidents", "none", env=env)  # fmt: skip
        keys = {}
        for customer in (1, 2):
            _cli("customers", "add", "--data-dir", str(data_dir), "--id", str(customer), "--name", f"C{customer}",
                 "--plan-level", "6831", env=env)  # fmt: skip
            keys[customer] = _cli("ingestkeys", "create", "--data-dir", str(data_dir), "--customer", str(customer),
                                  env=env)  # fmt: skip
        calm = Client(base, keys[1])
        server = serve(data_dir, port, env)
        try:
            alone = _beacons(calm)
            stop, reports = threading.Event(), list[int]()
            threads = [threading.Thread(target=_flood, args=(base, keys[2], stop, reports)) for _ in range(flooders)]
            for thread in threads:
                thread.start()
            time.sleep(2)
            started, before = time.perf_counter(), len(reports)
            flooded = _beacons(calm)
            flood_rate = (len(reports) - before) / (time.perf_counter() - started)
            stop.set()
            for thread in threads:
                thread.join()
            unknown = []
            for _ in range(RECALLED):
                start = int(time.time() * 1000) - 2 * HOUR_MS
                unknown.append(calm.post(_view_id(start), _events(start, ended=False))[0])
            ended = []
            for _ in range(RECALLED):
                start = int(time.time() * 1000) - 2 * HOUR_MS
                view = _view_id(start)
                calm.post(view, _events(start, ended=True))
                ended.append((view, start))
        finally:
            _stop(server)
        server = serve(data_dir, port, env)
        try:
            retried, doubled = [], 0
            for view, start in ended:
                elapsed, answer = calm.post(view, _events(start, ended=True))
                retried.append(elapsed)
                doubled += answer["accepted"]
        finally:
            _stop(server)
    return {"alone": alone, "flooded": flooded, "flood_rate": flood_rate, "unknown": unknown, "retried": retried,
            "doubled": doubled}  # fmt: skip


def _row(label: str, runs: list[dict[str, Any]], key: str) -> str:
    cells = []
    for run in runs:
        p50, p95, top = _quantiles(run[key])
        cells.append(f"{p50:,.1f} / {p95:,.1f} / {top:,.0f}")
    return f"| {label} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flooders", type=int, default=2)
    parser.add_argument("--seed-scale", type=float, default=5.0)
    parser.add_argument("--before-src", type=Path, help="src/ of an earlier revision's worktree")
    parser.add_argument("--before-label", default="before")
    args = parser.parse_args()
    runs = [measure(None, args.flooders, args.seed_scale)]
    labels = ["this revision"]
    if args.before_src is not None:
        runs.insert(0, measure(args.before_src.resolve(), args.flooders, args.seed_scale))
        labels.insert(0, args.before_label)
    header = "| customer 1's answers, ms (p50 / p95 / max) | " + " | ".join(labels) + " |"
    rates = " | ".join(f"{run['flood_rate']:.1f}" for run in runs)
    doubled = " | ".join(f"{run['doubled']}" for run in runs)
    body = f"""
`sightline serve` (one process) over a day of simulated traffic of two customers (scale {args.seed_scale:g}); the
load from this process: customer 1's first batches of new views, {BEACONS} one after another 20 ms apart; customer
2's flood: {args.flooders} threads posting CMCD reports of 1,000 new sessions back to back. Then {RECALLED} first
batches of views whose ids are 2 hours old (the collector does not know them: each is looked up in the store), and,
after a restart, the retry of {RECALLED} views that ended 2 hours before it (each is read back from the store).
Load average at the end: {load_average()}.

A session step runs on the event loop until it waits for the disk; at most 32 steps of one customer are under way
at once (`ingest.intake.STEPS_PER_CUSTOMER`), so another customer's beacon waits behind 32 of the flood's steps,
not behind all of its reports' sessions. A view the collector does not know whose id's time is not recent (25
minutes before to 5 after its clock) is looked up by its key in `views` before its batch is admitted (the price
of the third row), and a view the store holds has its events read (the fourth): what keeps its retry from being
stored twice. Read-backs run one at a time, customers taking turns.

{header}
|---|{"---|" * len(runs)}
{_row("beacons alone", runs, "alone")}
{_row("beacons during the flood", runs, "flooded")}
{_row("first batch of a view 2 h old", runs, "unknown")}
{_row("retry, after a restart, of a view ended 2 h before", runs, "retried")}

| | {" | ".join(labels)} |
|---|{"---|" * len(runs)}
| flood: reports of 1,000 sessions taken per second | {rates} |
| retried events stored a second time (must be 0) | {doubled} |
"""
    command = f"python bench/ingest_fairness.py --flooders {args.flooders} --seed-scale {args.seed_scale:g}"
    if args.before_src is not None:
        command += f" --before-src {args.before_src} --before-label {args.before_label}"
    write_section("ingest_fairness", command, body)
    print(body)


if __name__ == "__main__":
    main()
