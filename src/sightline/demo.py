"""`sightline demo`: a fresh data directory, demo customers, simulated traffic, then the service.

The demo's seeded traffic ends now; events of the seeded views that lie in the future are held back and
released by `LiveTraffic` when their time comes, together with new live views, so that the store holds
only what real players would have sent by now.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from sightline.settings import Settings
from sightline.simulate.cli import expected_events
from sightline.simulate.customers import profile_for
from sightline.simulate.incidents import to_ms
from sightline.simulate.live import LiveTraffic, split_due
from sightline.simulate.traffic import SimulationConfig, simulate
from sightline.store import EmbeddedStore, open_store
from sightline.store.writer import BatchingWriter

DEMO_CUSTOMERS: tuple[tuple[int, int], ...] = ((1001, 3), (1002, 1))
"""(customer id, plan level): the first has the highest plan level, which allows everything."""


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    id: int
    name: str
    plan_level: int
    username: str
    password: str


def fresh_data_dir(data_dir: Path) -> None:
    """Empty `data_dir` for the demo; refuse a directory that holds anything but an earlier demo."""
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / "demo.json").exists():
            raise ValueError(f"{data_dir} is not empty and holds no earlier demo; choose another --data-dir")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)


def demo_customers() -> list[DemoCustomer]:
    customers = []
    for customer_id, plan_level in DEMO_CUSTOMERS:
        profile = profile_for(customer_id)
        customers.append(
            DemoCustomer(customer_id, profile.name, plan_level, f"{profile.slug}-admin", secrets.token_urlsafe(12))
        )
    return customers


def seed(store: EmbeddedStore, config: SimulationConfig, live: LiveTraffic) -> int:
    """Insert `config`'s traffic up to its end; hold later events for `live`. The events inserted."""
    end_ms, inserted = to_ms(config.end), 0
    with tqdm(total=expected_events(config), unit=" events", unit_scale=True, desc="simulating") as bar:
        for chunk in simulate(config):
            past, future = split_due(chunk.events, end_ms)
            store.insert_events(past)
            live.hold(future)
            inserted += past.num_rows
            bar.update(chunk.events.num_rows)
    return inserted


def write_demo_json(data_dir: Path, customers: list[DemoCustomer]) -> Path:
    path = data_dir / "demo.json"
    path.write_text(json.dumps({"customers": [asdict(c) for c in customers]}, indent=2) + "\n")
    path.chmod(0o600)
    return path


def run_demo(settings: Settings, *, days: float, scale: float, seed_value: int) -> None:
    import uvicorn

    from sightline.app import create_app

    fresh_data_dir(settings.data_dir)
    store = open_store(settings)
    writer = BatchingWriter(store, max_rows=settings.writer_max_rows, max_delay_s=settings.writer_max_delay_s)
    try:
        customers = demo_customers()
        config = SimulationConfig.last_days(
            days, customer_ids=tuple(c.id for c in customers), scale=scale, seed=seed_value
        )
        live = LiveTraffic(writer, config)
        events = seed(store, config, live)
        path = write_demo_json(settings.data_dir, customers)
        base = f"http://{settings.host}:{settings.port}"
        print(f"\n{events:,} events of {days:g} days simulated into {settings.data_dir}")
        for incident in config.incidents:
            print(
                f"  incident {incident.kind} on {incident.customer_id}: {incident.start:%a %H:%M} to "
                f"{incident.end:%H:%M} UTC {incident.filters or ''}"
            )
        for c in customers:
            print(f"customer {c.id} {c.name!r} (plan level {c.plan_level}): user {c.username} / {c.password}")
        print(f"credentials in {path}\ntry:  curl {base}/healthz\nAPI docs: {base}/docs\n")
        live.start()
        try:
            uvicorn.run(
                create_app(settings, store, writer), host=settings.host, port=settings.port, log_level="warning"
            )
        finally:
            live.stop()
    finally:
        writer.close()
        store.close()
