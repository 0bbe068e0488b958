"""Issue 19 §1 through the app on a real chDB store: customer A's batch of 1,000 heartbeats whose times span
84 years, posted with A's (public) ingest key, costs customer B nothing. B's view, posted within a second
after it and answered 200, is found by `listsessions?sessionid=` within about one writer interval, and
nothing of B's is quarantined."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from sightline.store import spool

A, B = 1, 2
WRITER_INTERVAL_S = 1.0
FOUND_WITHIN_S = WRITER_INTERVAL_S + 2.0
"""One writer interval, and the time the inserter takes on a shared 2-core machine."""


@dataclass(frozen=True)
class World:
    client: TestClient
    data_dir: Path
    ingest_keys: dict[int, str]
    b_headers: dict[str, str]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path / "data", writer_max_delay_s=WRITER_INTERVAL_S, argon2_time_cost=1, argon2_memory_kib=1024
    )
    with TestClient(create_app(settings)) as client:
        auth = client.app.state.auth  # type: ignore[attr-defined]
        keys = {}
        for customer in (A, B):
            auth.accounts.add_customer(customer, f"Customer {customer}", 6831)
            keys[customer] = auth.accounts.create_key(KeyKind.INGEST, customer)[1]
        yield World(client, settings.data_dir, keys, {"X-API-Key": auth.accounts.create_key(KeyKind.API, B)[1]})


def now_ms() -> int:
    return int(time.time() * 1000)


def uuid7(at_ms: int) -> uuid.UUID:
    return uuid.UUID(int=(at_ms << 80) | (0x7 << 76) | (0b10 << 62) | uuid.uuid4().int & (2**62 - 1))


def months_apart_batch() -> dict[str, Any]:
    """A's batch: 1,000 heartbeats of one view, on the 15th of each month from January 2000 (84 years)."""
    times = [datetime(2000 + k // 12, k % 12 + 1, 15, tzinfo=UTC) for k in range(1000)]
    events = [
        {"event": "heartbeat", "ts": int(t.timestamp() * 1000), "seq": k, "started": 1, "play_ms": 1000}
        for k, t in enumerate(times)
    ]
    return {"view_id": str(uuid7(now_ms())), "events": events}


def post_native(world: World, customer: int, body: dict[str, Any]) -> Any:
    headers = {"X-Ingest-Key": world.ingest_keys[customer]}
    return world.client.post("/collect", content=json.dumps(body).encode(), headers=headers)


def post_b_native(world: World) -> uuid.UUID:
    t = now_ms()
    view_id = uuid7(t)
    events = [
        {"event": "play_request", "ts": t, "seq": 0},
        {"event": "first_frame", "ts": t + 800, "seq": 1, "started": 1, "startup_ms": 800},
        {"event": "heartbeat", "ts": t + 900, "seq": 2, "started": 1, "play_ms": 100},
    ]
    response = post_native(world, B, {"view_id": str(view_id), "dimensions": {"cdn": "akamai"}, "events": events})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    return view_id


def found(world: World, view_id: uuid.UUID) -> bool:
    path, params = f"/mm-apis/listsessions/{B}", {"sessionid": str(view_id)}
    response = world.client.get(path, params=params, headers=world.b_headers)
    assert response.status_code in (200, 404), response.text
    return bool(response.status_code == 200)


def seconds_until_found(world: World, view_id: uuid.UUID, answered_at: float) -> float | None:
    while time.monotonic() - answered_at < FOUND_WITHIN_S:
        if found(world, view_id):
            return time.monotonic() - answered_at
        time.sleep(0.1)
    return None


def quarantined_customers(data_dir: Path) -> set[int]:
    customers: set[int] = set()
    for path in (data_dir / "spool" / "quarantine").glob(f"*{spool.SUFFIX}"):
        for batch in spool.read_segment(path):
            if isinstance(batch, list):
                customers |= {run.customer_id for run in batch}
            else:
                customers |= set(batch.column("customer_id").to_pylist())
    return customers


def test_a_batch_spanning_84_years_costs_another_customer_nothing(world: World) -> None:
    poison = post_native(world, A, months_apart_batch())
    assert poison.status_code in (200, 400), poison.text
    view_id = post_b_native(world)
    answered_at = time.monotonic()
    waited = seconds_until_found(world, view_id, answered_at)
    assert waited is not None, f"B's view is not found {FOUND_WITHIN_S} s after its 200"
    assert B not in quarantined_customers(world.data_dir)
