"""The demo at its default scale: time to ready and peak resident memory.

    .venv/bin/python bench/demo_memory.py [--days 7] [--live-seconds 60]

Starts `sightline demo` on a free port with a temporary data directory, waits for `/healthz`, lets live
traffic run, then reads the process's peak resident set (VmHWM) and stops it. Writes its section of
docs/benchmarks.md (goals: ready within 90 s, peak ≤ 2 GiB).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchlib import write_section
from demo_process import running_demo

READY_TIMEOUT_S = 300


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--live-seconds", type=float, default=60.0)
    args = parser.parse_args()
    with running_demo(args.days, READY_TIMEOUT_S) as demo:
        peak_at_ready = peak_rss_mib(demo.pid)
        time.sleep(args.live_seconds)
        peak = peak_rss_mib(demo.pid)
    body = f"""
| measure | value | goal |
|---|---|---|
| `sightline demo --days {args.days:g}` ready (`/healthz` 200), from process start | {demo.ready_s:.1f} s | ≤ 90 s |
| peak resident memory (VmHWM) at ready | {peak_at_ready:,.0f} MiB | |
| peak resident memory after {args.live_seconds:g} s of live traffic | {peak:,.0f} MiB | ≤ 2,048 MiB |
"""
    write_section(
        "demo", f"python bench/demo_memory.py --days {args.days:g} --live-seconds {args.live_seconds:g}", body
    )
    print(body)


if __name__ == "__main__":
    main()
