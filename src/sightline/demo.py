"""`sightline demo`: a fresh data directory, demo customers, simulated traffic, then the service.

The demo's seeded traffic ends now; events of the seeded views that lie in the future are held back and
released by `LiveTraffic` when their time comes, together with new live views, so that the store holds
only what real players would have sent by now.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from sightline.auth.demo import DemoAccount, provision_demo_customer
from sightline.auth.service import open_auth
from sightline.settings import Settings
from sightline.simulate.cli import expected_events
from sightline.simulate.customers import profile_for
from sightline.simulate.incidents import to_ms
from sightline.simulate.live import LiveTraffic
from sightline.simulate.traffic import SimulationConfig, simulate
from sightline.store import EmbeddedStore, open_store
from sightline.store.writer import BatchingWriter

DEMO_CUSTOMERS: tuple[tuple[int, int], ...] = ((1001, 6831), (1002, 6830))
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
    inserted = 0
    with tqdm(total=expected_events(config), unit=" events", unit_scale=True, desc="simulating") as bar:
        for chunk in simulate(config):
            store.insert_events(chunk.events)
            live.hold(chunk.later)
            inserted += chunk.events.num_rows
            bar.update(chunk.events.num_rows)
    return inserted


def provision(settings: Settings, customers: list[DemoCustomer]) -> list[DemoAccount]:
    """The demo customers in the accounts database, each with a user, an API key and an ingest key."""
    auth = open_auth(settings)
    try:
        return [provision_demo_customer(auth, c.id, c.name, c.plan_level, c.username, c.password) for c in customers]
    finally:
        auth.close()


def write_demo_json(data_dir: Path, accounts: list[DemoAccount]) -> Path:
    path = data_dir / "demo.json"
    path.touch(mode=0o600)
    path.write_text(json.dumps({"customers": [a.to_json() for a in accounts]}, indent=2) + "\n")
    return path


def welcome(settings: Settings, accounts: list[DemoAccount], end_s: int, path: Path) -> str:
    """What the demo prints once ready: credentials, and curl lines that work as they are."""
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        f"customer {a.customer_id} {a.name!r} (plan level {a.plan_level}): user {a.username} / {a.password}, "
        f"API key {a.api_key}, ingest key {a.ingest_key}"
        for a in accounts
    ]
    first = accounts[0]
    period = f"start={end_s - 86_400},end={end_s}"
    lines += [
        f"credentials in {path}",
        f"serving on {base}  (OpenAPI docs: {base}/docs)",
        "try:",
        f"  curl -s -H 'X-API-Key: {first.api_key}' \\\n"
        f"    '{base}/mm-apis/metricquery/{first.customer_id}?period={period}"
        "&metrics=viewercount,bufferingratio,latency&aggby=cdn'",
        f"  curl -s {base}/generateOAuthToken -d grant_type=password -d username={first.username} "
        f"-d password={first.password}",
    ]
    return "\n".join(lines) + "\n"


def run_demo(settings: Settings, *, days: float, scale: float, seed_value: int) -> None:
    import uvicorn

    from sightline.app import create_app

    fresh_data_dir(settings.data_dir)
    store = open_store(settings)
    writer = BatchingWriter.for_settings(store, settings)
    try:
        customers = demo_customers()
        config = SimulationConfig.last_days(
            days, customer_ids=tuple(c.id for c in customers), scale=scale, seed=seed_value
        )
        live = LiveTraffic(writer, config)
        events = seed(store, config, live)
        accounts = provision(settings, customers)
        path = write_demo_json(settings.data_dir, accounts)
        print(f"\n{events:,} events of {days:g} days simulated into {settings.data_dir}")
        for incident in config.incidents:
            print(
                f"  incident {incident.kind} on {incident.customer_id}: {incident.start:%a %H:%M} to "
                f"{incident.end:%H:%M} UTC {incident.filters or ''}"
            )
        print(welcome(settings, accounts, to_ms(config.end) // 1000, path))
        live.start()
        try:
            uvicorn.run(
                # the simulated live traffic goes around the collector: its views are not the collector's
                create_app(settings, store, writer, restore_views=False),
                host=settings.host,
                port=settings.port,
                log_level="warning",
                proxy_headers=False,  # the app reads X-Forwarded-For from its trusted proxies alone
            )
        finally:
            live.stop()
    finally:
        writer.close()
        store.close()
