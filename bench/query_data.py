"""The data set of the query benchmark: ≥ 50M simulated events over 7 days, loaded once into a data directory.

A file `bench-query.json` in the directory records what was loaded; a later run reuses the directory when
it holds at least the events asked for (and was loaded with the same days and customers).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


if __name__ == "__main__":  # `query_data.py DATA_DIR EVENTS`: progress on stderr, the `Loaded` as JSON on stdout
    sys.stdout, real_stdout = sys.stderr, sys.stdout
    loaded = ensure_loaded(Path(sys.argv[1]), float(sys.argv[2]))
    print(json.dumps(dataclasses.asdict(loaded)), file=real_stdout)
