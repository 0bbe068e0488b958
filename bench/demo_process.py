"""`sightline demo` as a child process, for the benchmarks that measure it (demo_memory.py, portal.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench_ports import free_port


@dataclass(frozen=True)
class RunningDemo:
    url: str
    """The demo's base URL, on 127.0.0.1."""
    pid: int
    data_dir: Path
    ready_s: float
    """Seconds from the process's start to its first `/healthz` 200."""


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def running_demo(days: float, ready_timeout_s: float) -> Iterator[RunningDemo]:
    """`sightline demo --days days` on a free port and a temporary data directory, once `/healthz` answers 200
    (SystemExit with the end of its log when it exits or is not ready within `ready_timeout_s`); stopped
    (SIGTERM to its process group) on leaving."""
    sightline = Path(sys.executable).parent / "sightline"
    with tempfile.TemporaryDirectory() as directory:
        port, log_path = free_port(), Path(directory, "demo.log")
        command = [str(sightline), "demo", "--data-dir", f"{directory}/data", "--port", str(port)]
        command += ["--days", f"{days:g}"]
        with log_path.open("w") as log:
            started = time.perf_counter()
            demo = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                while not healthy(f"http://127.0.0.1:{port}/healthz"):
                    if demo.poll() is not None or time.perf_counter() - started > ready_timeout_s:
                        raise SystemExit(f"demo did not come up: {log_path.read_text()[-2000:]}")
                    time.sleep(0.5)
                ready_s = time.perf_counter() - started
                yield RunningDemo(f"http://127.0.0.1:{port}", demo.pid, Path(directory, "data"), ready_s)
            finally:
                os.killpg(demo.pid, signal.SIGTERM)
                demo.wait(60)
