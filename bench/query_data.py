"""The data set of the query benchmark: ≥ 50M simulated events over 7 days, loaded once into a data directory.

A file `bench-query.json` in the directory records what was loaded; a later run reuses the directory when
it holds at least the events asked for (and was loaded with the same days and customers).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sightline.settings import Settings
from sightline.simulate import SimulationConfig, run_simulation
from sightline.store import open_store

END = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 7
CUSTOMERS = (1001, 1002)
SEED = 7
EVENTS_AT_SCALE_1 = 2_704_862  # 7 days of CUSTOMERS at scale 1.0 (docs/benchmarks.md, ingest_bulk)
MARKER = "bench-query.json"


@dataclass(frozen=True)
class Loaded:
    events: int
    views: int
    scale: float
    seconds: float  # of the load; 0 when the directory was reused
    reused: bool


def config_for(events: float) -> SimulationConfig:
    """The 7 days before END for CUSTOMERS, scaled (with 5 % headroom) to at least `events` events."""
    scale = math.ceil(events / EVENTS_AT_SCALE_1 * 1.05)
    return SimulationConfig(start=END - timedelta(days=DAYS), end=END, customer_ids=CUSTOMERS, seed=SEED, scale=scale)


def _marker(data_dir: Path) -> dict[str, float] | None:
    path = data_dir / MARKER
    if not path.exists():
        return None
    loaded: dict[str, float] = json.loads(path.read_text())
    return loaded


def ensure_loaded(data_dir: Path, events: float) -> Loaded:
    """Reuse `data_dir` if it holds ≥ `events` events of this data set, else load it afresh (it must be empty)."""
    marker = _marker(data_dir)
    if marker is not None and marker["events"] >= events and marker["end_ms"] == END.timestamp() * 1000:
        print(f"reusing {data_dir}: {int(marker['events']):,} events, {int(marker['views']):,} views", flush=True)
        return Loaded(int(marker["events"]), int(marker["views"]), marker["scale"], 0.0, True)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise SystemExit(f"{data_dir} holds other or too few data; give an empty or absent --data-dir")
    config = config_for(events)
    print(f"loading ~{EVENTS_AT_SCALE_1 * config.scale / 1e6:.0f}M events (scale {config.scale:g}) into {data_dir}")
    store = open_store(Settings(data_dir=data_dir))
    began = time.perf_counter()
    last = [began]

    def progress(done: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 15:
            last[0] = now
            print(f"  {done / 1e6:6.1f}M events, {done / (now - began):,.0f}/s", flush=True)

    try:
        summary = run_simulation(store, config, progress=progress)
    finally:
        store.close()
    print(f"loaded {summary.events:,} events, {summary.views:,} views in {summary.seconds:.0f} s", flush=True)
    (data_dir / MARKER).write_text(
        json.dumps(
            {"events": summary.events, "views": summary.views, "scale": config.scale, "end_ms": END.timestamp() * 1000}
        )
    )
    return Loaded(summary.events, summary.views, config.scale, summary.seconds, False)


def benchmark_arguments(
    doc: str | None,
    *,
    events: float,
    repeats: int,
    warmup: int,
    data_dir: str = "sightline-bench-query",
    more: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The command line of a benchmark over this data set: `--events`, `--repeats`, `--warmup`, `--data-dir`
    (under the temporary directory by default), `--no-write`, and what `more` adds."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=float, default=events)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / data_dir)
    parser.add_argument("--no-write", action="store_true", help="print the report instead of writing it")
    if more is not None:
        more(parser)
    return parser.parse_args()


def load_in_child(data_dir: Path, events: float) -> dict[str, Any]:
    """`ensure_loaded` in a child process (chDB opens one data directory per process): the `Loaded`, as a dict."""
    command = [sys.executable, __file__, str(data_dir), str(events)]
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


if __name__ == "__main__":  # `query_data.py DATA_DIR EVENTS`: progress on stderr, the `Loaded` as JSON on stdout
    sys.stdout, real_stdout = sys.stderr, sys.stdout
    loaded = ensure_loaded(Path(sys.argv[1]), float(sys.argv[2]))
    print(json.dumps(dataclasses.asdict(loaded)), file=real_stdout)
