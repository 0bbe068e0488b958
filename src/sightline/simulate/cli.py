"""`sightline simulate`: simulated traffic into the store of the settings, with a progress bar."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from sightline.settings import Settings
from sightline.simulate.incidents import Incident, parse_incidents
from sightline.simulate.traffic import EVENTS_PER_VIEW, SimulationConfig, run_simulation
from sightline.store import open_store

NO_INCIDENTS = "none"


def expected_events(config: SimulationConfig) -> int:
    """About how many events `config` makes, to size a progress bar."""
    days = (config.end - config.start).total_seconds() / 86_400
    return int(sum(config.views_per_day_of(c) for c in config.customer_ids) * config.rate * days * EVENTS_PER_VIEW)


def parse_end(text: str) -> datetime:
    """`--end`: an ISO 8601 time with a time zone; ValueError saying so for anything else."""
    try:
        end = datetime.fromisoformat(text)
    except ValueError:
        end = None
    if end is None or end.tzinfo is None:
        raise ValueError(f"--end {text!r}: an ISO 8601 time with a time zone is required, e.g. 2026-12-01T00:00Z")
    return end


def read_incidents(source: str) -> tuple[Incident, ...]:
    """`--incidents`: `none` (clean traffic) or the path of a JSON incidents file (docs/simulator.md)."""
    if source == NO_INCIDENTS:
        return ()
    try:
        data = json.loads(Path(source).read_text())
    except OSError as error:
        raise ValueError(f"--incidents {source}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"--incidents {source}: not JSON ({error})") from None
    return parse_incidents(data)


def simulate_command(
    settings: Settings,
    *,
    days: float,
    end: str | None,
    incidents: str | None,
    scale: float,
    seed: int,
    customers: tuple[int, ...],
    truth: Path | None,
) -> None:
    """Simulate the `days` before `end` (default now); `incidents` as `read_incidents` takes it, or the demo's."""
    config = SimulationConfig.last_days(
        days,
        end=parse_end(end) if end is not None else None,
        customer_ids=customers,
        scale=scale,
        seed=seed,
        given_incidents=read_incidents(incidents) if incidents is not None else None,
    )
    store = open_store(settings)
    try:
        with tqdm(total=expected_events(config), unit=" events", unit_scale=True, desc="simulating") as bar:
            summary = run_simulation(store, config, truth_path=truth, progress=bar)
    finally:
        store.close()
    print(
        f"{summary.events:,} events of {summary.views:,} views from {config.start:%Y-%m-%d %H:%M} to "
        f"{config.end:%Y-%m-%d %H:%M} UTC in {summary.seconds:.1f} s "
        f"({summary.events_per_minute / 1e6:.1f} M events/min) into {settings.data_dir}"
    )
    for incident in summary.incidents:
        touched = summary.touched.get(incident.name, 0)
        print(
            f"incident {incident.name} on customer {incident.customer_id}: {incident.start:%Y-%m-%d %H:%M} UTC "
            f"for {incident.duration_s // 60} min, {incident.filters or 'all views'}: {incident.describe()}; "
            f"{touched:,} views" + ("" if touched else " (no view matched: check the filter values)")
        )
    if truth is not None:
        print(f"ground truth in {truth}")
