"""The query cache through the app on a real chDB: a repeated query is answered from the cache with the
answer computed without it; new data for the period, stored in bulk or through the collector, drops the
cached answer (and leaves other periods' answers cached)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, simulate
from sightline.smartquery.catalog import NAMED_QUERIES
from tests.times import ANY_PAST_S

CUSTOMER, PLAN_LEVEL = 1001, 6831
START = datetime(2024, 6, 3, tzinfo=UTC)
DAY = (START, START + timedelta(days=1))
LATER = (START + timedelta(days=3), START + timedelta(days=4))


def _config(seed: int) -> SimulationConfig:
    end = START + timedelta(days=1)
    return SimulationConfig(start=START, end=end, customer_ids=(CUSTOMER,), views_per_day=1500, seed=seed)


@dataclass
class World:
    client: TestClient
    headers: dict[str, str]
    ingest_key: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    directory = tmp_path_factory.mktemp("cache")
    settings = Settings(data_dir=directory, event_max_late_s=ANY_PAST_S, argon2_time_cost=1, argon2_memory_kib=1024)
    app = create_app(settings)
    auth = app.state.auth
    auth.accounts.add_customer(CUSTOMER, "Cache", PLAN_LEVEL)
    key = auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]
    ingest_key = auth.accounts.create_key(KeyKind.INGEST, CUSTOMER)[1]
    with TestClient(app) as client:
        services(app).store.insert_events(pa.concat_tables([c.events for c in simulate(_config(1))]))
        yield World(client, {"X-API-Key": key}, ingest_key)


def ask(world: World, name: str, span: tuple[datetime, datetime], **params: Any) -> dict[str, Any]:
    query_id = str(uuid.uuid4())
    query = {
        "queryname": name,
        "period": f"start={int(span[0].timestamp())},end={int(span[1].timestamp())}",
        "queryId": query_id,
        **params,
    }
    response = world.client.get(f"/mm-apis/smartQuery/{CUSTOMER}", params=query, headers=world.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body.pop("queryId") == query_id
    status = world.client.get(f"/mm-apis/smartQuery/{CUSTOMER}/queries/{query_id}", headers=world.headers).json()
    assert status["status"] == "done"
    assert status["totalrecords"] == body["totalrecords"]
    return {"body": body, "cached": status["cached"]}


@pytest.mark.parametrize("name", sorted(NAMED_QUERIES))
def test_a_repeated_query_is_answered_from_the_cache_with_the_uncached_answer(world: World, name: str) -> None:
    uncached = ask(world, name, DAY, querycache="False")
    first, second = ask(world, name, DAY), ask(world, name, DAY)
    assert not uncached["cached"]
    assert not first["cached"]
    assert second["cached"]
    assert uncached["body"] == first["body"] == second["body"]
    assert uncached["body"]["response"]
    assert not ask(world, name, DAY, querycache="False")["cached"]  # False never reads the cache


def _plays(answer: dict[str, Any]) -> int:
    return sum(row["viewercount"] for row in answer["body"]["response"])


def test_new_data_for_the_period_drops_its_answers_and_no_other(world: World) -> None:
    before, later = ask(world, "topcontent", DAY, limit=10_000), ask(world, "topcontent", LATER)
    assert ask(world, "topcontent", DAY, limit=10_000)["cached"]
    services(world.client.app).store.insert_events(pa.concat_tables([c.events for c in simulate(_config(2))]))
    after = ask(world, "topcontent", DAY, limit=10_000)
    assert not after["cached"]
    assert _plays(after) > _plays(before)
    assert ask(world, "topcontent", DAY, limit=10_000)["cached"]
    still = ask(world, "topcontent", LATER)
    assert still["cached"]
    assert still["body"] == later["body"]


def test_data_through_the_collector_drops_the_answers_it_changes(world: World) -> None:
    ask(world, "topcontent", DAY)
    assert ask(world, "topcontent", DAY)["cached"]
    start_ms = int((START + timedelta(hours=5)).timestamp() * 1000)
    view_id = uuid.UUID(int=(start_ms << 80) | (0x7 << 76) | (0b10 << 62) | 12345)
    beacon = {
        "view_id": str(view_id),
        "dimensions": {"assetid": "collected-title", "assetname": "Collected", "streamtype": "vod"},
        "events": [
            {"event": "play_request", "ts": start_ms, "seq": 0},
            {"event": "first_frame", "ts": start_ms + 900, "seq": 1, "started": 1, "startup_ms": 900},
            {"event": "heartbeat", "ts": start_ms + 600_900, "seq": 2, "started": 1, "play_ms": 6_000_000},
        ],
    }
    response = world.client.post("/collect", json=beacon, headers={"X-Ingest-Key": world.ingest_key})
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # acknowledged once durable; in the store a moment later
        answer = ask(world, "topcontent", DAY)
        titles = {row["assetid"] for row in answer["body"]["response"]}
        if not answer["cached"] and "collected-title" in titles:
            return
        time.sleep(0.2)
    pytest.fail("the collected view never showed: the cached answer was not dropped")
