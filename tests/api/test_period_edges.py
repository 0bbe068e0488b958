"""A period's last second through the app on a real chDB store: a view that starts and plays in the last second
before the end of a minute is in that minute's answers. Its rows are the only ones of their part (a fresh store),
so the engine's min-max index of the part is its view's start: the answers must not rely on the engine comparing
a `DateTime64` column with a whole-second `DateTime` bound (it prunes the part: `< end` read as `<= end - 1 s`).
Found with tests/api/test_ingest_isolation.py, whose view, posted at xx:59.4 or later, was never found."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings

CUSTOMER = 7
MINUTE_MS = 60_000


@dataclass(frozen=True)
class World:
    client: TestClient
    headers: dict[str, str]
    minute_s: int
    view_id: uuid.UUID


def uuid7(at_ms: int) -> uuid.UUID:
    return uuid.UUID(int=(at_ms << 80) | (0x7 << 76) | (0b10 << 62) | uuid.uuid4().int & (2**62 - 1))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One closed view of CUSTOMER, all of whose events fall in [minute + 59.4 s, minute + 60 s) of a minute a
    few minutes ago."""
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("edges")) / "data", argon2_time_cost=1,
                        argon2_memory_kib=1024)  # fmt: skip
    minute_ms = (int(time.time() * 1000) // MINUTE_MS - 3) * MINUTE_MS
    start = minute_ms + 59_400
    view_id = uuid7(start)
    events = [
        {"event": "play_request", "ts": start, "seq": 0},
        {"event": "first_frame", "ts": start + 300, "seq": 1, "started": 1, "startup_ms": 300},
        {"event": "heartbeat", "ts": start + 500, "seq": 2, "started": 1, "play_ms": 200},
        {"event": "end", "ts": start + 599, "seq": 3, "started": 1, "play_ms": 99},
    ]
    with TestClient(create_app(settings)) as client:
        auth = client.app.state.auth  # type: ignore[attr-defined]
        auth.accounts.add_customer(CUSTOMER, "Edges", 6831)
        ingest = {"X-Ingest-Key": auth.accounts.create_key(KeyKind.INGEST, CUSTOMER)[1]}
        body = {"view_id": str(view_id), "dimensions": {"cdn": "akamai"}, "events": events}
        posted = client.post("/collect", json=body, headers=ingest)
        assert posted.status_code == 200, posted.text
        assert posted.json()["accepted"] == len(events)
        client.app.state.services.writer.flush()  # type: ignore[attr-defined]
        headers = {"X-API-Key": auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]}
        yield World(client, headers, minute_ms // 1000, view_id)


def get(world: World, path: str, params: dict[str, str]) -> Any:
    response = world.client.get(f"{path}/{CUSTOMER}", params=params, headers=world.headers)
    assert response.status_code == 200, response.text
    return response.json()


def minute(world: World) -> str:
    return f"start={world.minute_s},end={world.minute_s + 60}"


def test_the_timeline_of_a_view_started_in_the_last_second_of_a_minute_is_found(world: World) -> None:
    body = get(world, "/mm-apis/listsessions", {"sessionid": str(world.view_id)})
    assert body["session"]["sessionid"] == str(world.view_id)
    assert len(body["response"]) == 4


@pytest.mark.parametrize("allstatus", ["0", "1"])
def test_the_minute_lists_the_view_that_started_in_its_last_second(world: World, allstatus: str) -> None:
    body = get(world, "/mm-apis/listsessions", {"period": minute(world), "allstatus": allstatus})
    assert [row["sessionid"] for row in body["response"]] == [str(world.view_id)]


@pytest.mark.parametrize("allstatus", ["0", "1"])  # 0: from `events`; 1: from the rollups
def test_the_minute_counts_the_view_of_its_last_second(world: World, allstatus: str) -> None:
    body = get(
        world, "/mm-apis/metricquery", {"period": minute(world), "metrics": "viewercount", "allstatus": allstatus}
    )
    assert body["response"][0]["viewercount"] == 1, body
