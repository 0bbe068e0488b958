"""`sightline demo`: a fresh data directory, demo customers, simulated traffic, then the service.

The data directory is locked before anything in it changes, and marked as a demo's (demo.json) before
anything else is written, so that a running demo is never disturbed and an interrupted one is replaced.

The demo seeds its period after the 28 days before it (`history`, at a lower rate), which the subscriber
queries look back at. The seeded traffic ends now; events of the seeded views that lie in the future are
held back and released by `LiveTraffic` when their time comes, together with new live views, so that the
store holds only what real players would have sent by now.
"""

from __future__ import annotations

import itertools
import json
import secrets
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from sightline.alerts.engine import RuleRoundsError
from sightline.alerts.scheduler import judged_by, replay_customers
from sightline.auth.demo import DemoAccount, provision_demo_customer
from sightline.auth.service import open_auth
from sightline.server import base_url, serve, tls_files
from sightline.settings import Settings
from sightline.simulate.cli import expected_events
from sightline.simulate.customers import profile_for
from sightline.simulate.incidents import to_ms
from sightline.simulate.live import LiveTraffic
from sightline.simulate.traffic import SimulationConfig, prefetch, simulate
from sightline.smartquery.subscribers import LOOKBACK
from sightline.store import DataDirLock, Store, open_store
from sightline.store.embedded import LOCK_FILE
from sightline.store.writer import BatchingWriter

DEMO_JSON = "demo.json"
"""The demo's credentials; its presence marks a data directory as a demo's (see `claim_data_dir`)."""
HISTORY_RATE = 0.05
"""The rate of the weeks before the demo's period (`history`), against the period's: enough for the cohorts
of the period to read as a customer's would (about a quarter `new`), for a fifth more events to seed."""
ALERTS_REPLAY_S = 26 * 3600
"""The alert rounds replayed at start: the injected incidents lie in the last day (each on the latest day its time
of day fits, so up to a day and its length before the end)."""
DEMO_CUSTOMERS: tuple[tuple[int, int], ...] = ((1001, 6831), (1002, 6831))
"""(customer id, plan level): both on the Enterprise plan, which allows everything. The injected incidents lie on
both customers (simulate.incidents), and each must be an alert its customer can list: a Professional plan has no
alerts (docs/plans.md)."""


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    id: int
    name: str
    plan_level: int
    username: str
    password: str


def claim_data_dir(data_dir: Path) -> DataDirLock:
    """Own `data_dir` for a new demo, and mark it as a demo's before anything else is written.

    A directory that holds anything but an earlier demo is refused, and one that a running process owns
    fails to lock (`DataDirectoryLockedError`): both untouched. An earlier demo, finished or interrupted,
    is emptied under the lock (its lock file kept: that is the lock)."""
    if not _replaceable(data_dir):
        raise ValueError(f"{data_dir} is not empty and holds no earlier demo; choose another --data-dir")
    lock = DataDirLock(data_dir)
    try:
        for entry in data_dir.iterdir():
            if entry.name == LOCK_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        write_demo_json(data_dir, [])
    except BaseException:
        lock.release()
        raise
    return lock


def _replaceable(data_dir: Path) -> bool:
    """Whether `data_dir` is missing, empty (but for a lock file) or a demo's: it holds demo.json, written
    first by every demo."""
    names = {entry.name for entry in data_dir.iterdir()} if data_dir.exists() else set()
    return names <= {LOCK_FILE} or DEMO_JSON in names


def demo_customers() -> list[DemoCustomer]:
    customers = []
    for customer_id, plan_level in DEMO_CUSTOMERS:
        profile = profile_for(customer_id)
        customers.append(
            DemoCustomer(customer_id, profile.name, plan_level, f"{profile.slug}-admin", secrets.token_urlsafe(12))
        )
    return customers


def history(config: SimulationConfig) -> SimulationConfig:
    """The lookback of the subscriber queries before `config`'s period, at `HISTORY_RATE` of its rate, of the
    same audience and without incidents: what tells a returning subscriber from a new one."""
    return replace(config, start=config.start - LOOKBACK, end=config.start, rate=HISTORY_RATE, given_incidents=())


def seed(store: Store, config: SimulationConfig, live: LiveTraffic) -> int:
    """Insert `config`'s traffic, after its `history`, up to its end; hand what its views do later to `live`. The
    events inserted. Small chunks (the history's) are inserted together, up to `config.chunk_events` rows: an
    insert costs the same whatever its size below that."""
    inserted, pending = 0, list[pa.Table]()
    total = expected_events(history(config)) + expected_events(config)
    with tqdm(total=total, unit=" events", unit_scale=True, desc="simulating") as bar:
        for chunk in prefetch(itertools.chain(simulate(history(config)), simulate(config))):
            live.hold(chunk.later)
            pending.append(chunk.events)
            if sum(t.num_rows for t in pending) >= config.chunk_events:
                inserted += _insert(store, pending)
            bar.update(chunk.events.num_rows)
        inserted += _insert(store, pending)
    return inserted


def _insert(store: Store, tables: list[pa.Table]) -> int:
    """Insert `tables` as one batch and empty the list; the rows inserted (none when the list is empty: the last
    chunk may just have been inserted with the ones before it)."""
    if not tables:
        return 0
    batch = pa.concat_tables(tables)
    tables.clear()
    if batch.num_rows:
        store.insert_events(batch)
    return int(batch.num_rows)


def provision(settings: Settings, customers: list[DemoCustomer]) -> list[DemoAccount]:
    """The demo customers in the accounts database, each with a user, an API key and an ingest key."""
    auth = open_auth(settings)
    try:
        return [provision_demo_customer(auth, c.id, c.name, c.plan_level, c.username, c.password) for c in customers]
    finally:
        auth.close()


def write_demo_json(data_dir: Path, accounts: list[DemoAccount]) -> Path:
    """demo.json, readable by its owner alone: the demo's customers and their credentials."""
    path = data_dir / DEMO_JSON
    path.touch(mode=0o600)
    path.write_text(json.dumps({"customers": [a.to_json() for a in accounts]}, indent=2) + "\n")
    return path


def welcome(settings: Settings, accounts: list[DemoAccount], end_s: int, path: Path) -> str:
    """What the demo prints once ready: credentials, and curl lines that work as they are."""
    base = base_url(settings)
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
        f"portal: {base}/  sign in as {first.username} / {first.password} (or as the user of another customer above)",
        "try:",
        f"  curl -s -H 'X-API-Key: {first.api_key}' \\\n"
        f"    '{base}/mm-apis/metricquery/{first.customer_id}?period={period}"
        "&metrics=viewercount,bufferingratio,latency&aggby=cdn'",
        f"  curl -s {base}/generateOAuthToken -d grant_type=password -d username={first.username} "
        f"-d password={first.password}",
    ]
    return "\n".join(lines) + "\n"


def run_demo(settings: Settings, *, days: float, scale: float, seed_value: int) -> None:
    from sightline.app import create_app

    tls = tls_files(settings)
    store = open_store(settings, claim_data_dir(settings.data_dir))
    writer = BatchingWriter.for_settings(store, settings)
    try:
        customers = demo_customers()
        config = SimulationConfig.last_days(
            days, customer_ids=tuple(c.id for c in customers), scale=scale, seed=seed_value
        )
        live = LiveTraffic(writer, config)
        events = seed(store, config, live)
        accounts = provision(settings, customers)
        end_s = min(to_ms(config.end) // 1000, judged_by(time.time()))  # what the service judges by now
        print("running the alert rules over the last day, as the service would have")
        start_s = max(to_ms(config.start) // 1000, end_s - ALERTS_REPLAY_S)
        try:
            replay_customers(settings, store, [c.id for c in customers], start_s, end_s)
        except RuleRoundsError as error:  # the demo serves still: the scheduler tries those rules again
            print(f"warning: the rounds of {len(error.failed)} alert rule(s) failed (the others ran): {error}")
        path = write_demo_json(settings.data_dir, accounts)
        print(
            f"\n{events:,} events of {days:g} days, and of the {LOOKBACK.days} days before at "
            f"{HISTORY_RATE:.0%} of the rate, simulated into {settings.data_dir}"
        )
        for incident in config.incidents:
            print(
                f"  incident {incident.name} on {incident.customer_id}: {incident.start:%a %H:%M} to "
                f"{incident.end:%H:%M} UTC {incident.filters or ''}"
            )
        print(welcome(settings, accounts, end_s, path))
        live.start()
        try:
            # the simulated live traffic goes around the collector: its views are not the collector's
            serve(create_app(settings, store, writer, restore_views=False), settings, tls, log_level="warning")
        finally:
            live.stop()
    finally:
        writer.close()
        store.close()
