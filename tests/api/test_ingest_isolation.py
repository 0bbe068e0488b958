"""Issue 19 §1 through the app on a real chDB store: customer A's batch of 1,000 heartbeats whose times span
84 years, posted with A's (public) ingest key, costs customer B nothing. B's view, posted within a second
after it and answered 200, is found by `listsessions?sessionid=` within about one writer interval, and
nothing of B's is quarantined. With the collector's window of times (the default) A's events are refused at
the edge; with a window that takes them they reach the writer, which isolates them; in native beacons, CMCD
reports and mux-embed beacons alike."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.ingest.pipeline import derived_view_id
from sightline.settings import Settings
from sightline.store import spool

A, B = 1, 2
WRITER_INTERVAL_S = 1.0
FOUND_WITHIN_S = 20.0
"""Under the 35 s the defect held every customer back, and over what a CPU-starved shared machine takes to
insert a segment (seconds, at a load of 10 on 2 cores); the delay itself is measured by bench/reliability.py.
The misses of full runs of 2026-12-06 (at 12 s and 20 s) were no latency: B's view, started in the last second
of a minute, was never found (the engine pruned its part; tests/api/test_period_edges.py)."""


@dataclass(frozen=True)
class World:
    client: TestClient
    data_dir: Path
    admits_any_time: bool
    ingest_keys: dict[int, str]
    b_headers: dict[str, str]


WIDE_S = 100 * 365 * 86_400
"""A window of times that takes A's events (2000 to 2083): the writer must isolate them."""


@pytest.fixture(params=["validated", "admitted"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    settings = Settings(  # CMCD records applied as they come (no reorder window): B's view is due at its 204
        data_dir=tmp_path / "data",
        writer_max_delay_s=WRITER_INTERVAL_S,
        cmcd_reorder_window_s=0,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    if request.param == "admitted":
        settings = settings.model_copy(update={"event_max_late_s": WIDE_S, "event_max_ahead_s": WIDE_S})
    with TestClient(create_app(settings)) as client:
        auth = client.app.state.auth  # type: ignore[attr-defined]
        keys = {}
        for customer in (A, B):
            auth.accounts.add_customer(customer, f"Customer {customer}", 6831)
            keys[customer] = auth.accounts.create_key(KeyKind.INGEST, customer)[1]
        api_headers = {"X-API-Key": auth.accounts.create_key(KeyKind.API, B)[1]}
        yield World(client, settings.data_dir, request.param == "admitted", keys, api_headers)


def now_ms() -> int:
    return int(time.time() * 1000)


def uuid7(at_ms: int) -> uuid.UUID:
    return uuid.UUID(int=(at_ms << 80) | (0x7 << 76) | (0b10 << 62) | uuid.uuid4().int & (2**62 - 1))


def months_apart() -> list[int]:
    """A's times: the 15th of each month from January 2000, 1,000 of them (84 years)."""
    return [int(datetime(2000 + k // 12, k % 12 + 1, 15, tzinfo=UTC).timestamp() * 1000) for k in range(1000)]


def post_native(world: World, customer: int, view_id: uuid.UUID, events: list[dict[str, Any]]) -> Any:
    body = {"view_id": str(view_id), "dimensions": {"cdn": "akamai"}, "events": events}
    return world.client.post("/collect", json=body, headers={"X-Ingest-Key": world.ingest_keys[customer]})


def native_poison(world: World) -> Any:
    events = [
        {"event": "heartbeat", "ts": t, "seq": k, "started": 1, "play_ms": 1000} for k, t in enumerate(months_apart())
    ]
    return post_native(world, A, uuid7(now_ms()), events)


def native_view(world: World) -> uuid.UUID:
    t = now_ms()
    view_id = uuid7(t)
    events = [
        {"event": "play_request", "ts": t, "seq": 0},
        {"event": "first_frame", "ts": t + 800, "seq": 1, "started": 1, "startup_ms": 800},
        {"event": "heartbeat", "ts": t + 900, "seq": 2, "started": 1, "play_ms": 100},
    ]
    response = post_native(world, B, view_id, events)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    return view_id


def post_cmcd(world: World, customer: int, lines: list[str]) -> Any:
    headers = {"Content-Type": "application/cmcd"}
    return world.client.post(f"/cmcd/{world.ingest_keys[customer]}", content="\n".join(lines), headers=headers)


def cmcd_poison(world: World) -> Any:
    times = months_apart()
    states = ["s", "p"] + ["p"] * (len(times) - 2)
    lines = [
        f'e={"ps" if k < 2 else "t"},sid="poison",ts={t},sn={k},v=2,sta={state}'
        for k, (t, state) in enumerate(zip(times, states, strict=True))
    ]
    return post_cmcd(world, A, lines)


def cmcd_view(world: World) -> uuid.UUID:
    t, sid = now_ms(), f"good-{uuid.uuid4().hex}"
    lines = [f'e=ps,sid="{sid}",ts={t},sn=0,v=2,sta=s', f'e=ps,sid="{sid}",ts={t + 800},sn=1,v=2,sta=p']
    response = post_cmcd(world, B, lines)
    assert response.status_code == 204, response.text
    return uuid.UUID(bytes=derived_view_id(B, "cmcd", sid, t))


def post_mux(world: World, customer: int, view: str, times: list[int]) -> Any:
    key = world.ingest_keys[customer]
    names = ["viewstart", "playing"] + ["hb"] * (len(times) - 2)
    events = [
        {"e": name, "xid": view, "xsqno": k + 1, "uti": t, "ake": key, **({"xst": times[0]} if k == 0 else {})}
        for k, (name, t) in enumerate(zip(names, times, strict=True))
    ]
    return world.client.post("/mux", content=json.dumps({"metadata": {}, "events": events}))


def mux_poison(world: World) -> Any:
    return post_mux(world, A, "poison", months_apart())


def mux_view(world: World) -> uuid.UUID:
    t, view = now_ms(), f"good-{uuid.uuid4().hex}"
    response = post_mux(world, B, view, [t, t + 800, t + 900])
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] >= 2
    return uuid.UUID(bytes=derived_view_id(B, "mux", view, t))


FORMATS: dict[str, tuple[Callable[[World], Any], Callable[[World], uuid.UUID]]] = {
    "native": (native_poison, native_view),
    "cmcd": (cmcd_poison, cmcd_view),
    "mux": (mux_poison, mux_view),
}


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


@pytest.mark.parametrize("beacons", list(FORMATS))
def test_a_batch_spanning_84_years_costs_another_customer_nothing(world: World, beacons: str) -> None:
    poison, good_view = FORMATS[beacons]
    poisoned = poison(world)
    if beacons == "native":  # the other formats answer alike whether their events were refused or stored
        assert poisoned.status_code == (200 if world.admits_any_time else 400), poisoned.text
    elif beacons == "mux":
        assert (poisoned.json()["accepted"] > 0) == world.admits_any_time
    view_id = good_view(world)
    answered_at = time.monotonic()
    waited = seconds_until_found(world, view_id, answered_at)
    assert waited is not None, f"B's view is not found {FOUND_WITHIN_S} s after its 200"
    assert B not in quarantined_customers(world.data_dir)
