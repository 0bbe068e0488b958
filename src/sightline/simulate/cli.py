"""`sightline simulate`: simulated traffic into the store of the settings, with a progress bar."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from sightline.settings import Settings
from sightline.simulate.traffic import EVENTS_PER_VIEW, SimulationConfig, run_simulation
from sightline.store import open_store


def expected_events(config: SimulationConfig) -> int:
    """About how many events `config` makes, to size a progress bar."""
    days = (config.end - config.start).total_seconds() / 86_400
    return int(sum(config.views_per_day_of(c) for c in config.customer_ids) * config.rate * days * EVENTS_PER_VIEW)


def simulate_command(
    settings: Settings, *, days: float, scale: float, seed: int, customers: tuple[int, ...], truth: Path | None
) -> None:
    config = SimulationConfig.last_days(days, customer_ids=customers, scale=scale, seed=seed)
    store = open_store(settings)
    try:
        with tqdm(total=expected_events(config), unit=" events", unit_scale=True, desc="simulating") as bar:
            summary = run_simulation(store, config, truth_path=truth, progress=bar)
    finally:
        store.close()
    print(
        f"{summary.events:,} events of {summary.views:,} views in {summary.seconds:.1f} s "
        f"({summary.events_per_minute / 1e6:.1f} M events/min) into {settings.data_dir}"
    )
    for incident in summary.incidents:
        print(
            f"incident {incident.kind} on customer {incident.customer_id}: {incident.start:%Y-%m-%d %H:%M} to "
            f"{incident.end:%H:%M} UTC, {incident.filters or 'all views'}: {incident.effect}"
        )
    if truth is not None:
        print(f"ground truth in {truth}")
