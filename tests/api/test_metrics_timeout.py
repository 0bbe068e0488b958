"""A query that runs past the engine-enforced time limit answers 504 `query_timeout` in the error envelope.

The data directory is filled once (module fixture, store closed again); each test then opens its own app
on it, one at a time (chDB opens one data directory per process). The engine checks
`max_execution_time` between blocks; at 1 ms a breakdown by subscriber over a day of `events` (about
90 000 rows, several blocks) exceeds it on every run, while the same request under the default limit
answers 200 — so the 504 is the limit's doing.
The limits are the API's: the app starts under them (its migrations and the collector's start-up read on
the writer's session, which they do not bind).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, simulate
from sightline.store import open_store

CUSTOMER = 1001
PLAN_LEVEL = 6831
START = datetime(2024, 5, 4, tzinfo=UTC)
END = START + timedelta(days=1)
TINY_LIMIT_S = 0.001
REQUEST: dict[str, str] = {
    "metrics": "viewercount,bufferingratio,playdur",
    "period": f"start={int(START.timestamp())},end={int(END.timestamp())}",
    "aggby": "subscriberid",  # in no rollup: the whole day is read from `events`
}
TINY_MEMORY_BYTES = 1_000_000
"""Enough for a day's total (read from a rollup), not for a breakdown of `events` by three ids."""
HEAVY = {
    **REQUEST,
    "metrics": "viewercount,uniqueviewercount,p99_latency,bufferingratio",
    "aggby": "viewerid,subscriberid,assetid",
}
LIGHT = {"metrics": "viewercount", "period": REQUEST["period"]}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated data directory holding a simulated day of one customer, its store closed again."""
    directory = Path(tmp_path_factory.mktemp("timeout"))
    store = open_store(Settings(data_dir=directory))
    try:
        config = SimulationConfig(start=START, end=END, customer_ids=(CUSTOMER,), views_per_day=5000, seed=7)
        rows = 0
        for chunk in simulate(config):
            store.insert_events(chunk.events)
            rows += chunk.events.num_rows
        assert rows > 65_536, "the limit is checked between blocks: the query must read several"
    finally:
        store.close()
    return directory


def _client(
    data_dir: Path,
    time_limit_s: float,
    memory_limit_bytes: int = Settings().query_memory_limit_bytes,
    sessions: int = Settings().query_sessions,
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(
        data_dir=data_dir,
        query_time_limit_s=time_limit_s,
        query_memory_limit_bytes=memory_limit_bytes,
        query_sessions=sessions,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    app = create_app(settings)
    accounts = app.state.auth.accounts
    if not any(c.id == CUSTOMER for c in accounts.list_customers()):
        accounts.add_customer(CUSTOMER, "Timeout", PLAN_LEVEL)
    key = accounts.create_key(KeyKind.API, CUSTOMER)[1]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"X-API-Key": key}


@pytest.fixture
def unlimited(data_dir: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    yield from _client(data_dir, Settings().query_time_limit_s)


@pytest.fixture
def limited(data_dir: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    yield from _client(data_dir, TINY_LIMIT_S)


@pytest.fixture
def memory_limited(data_dir: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    yield from _client(data_dir, Settings().query_time_limit_s, TINY_MEMORY_BYTES, sessions=1)


def _get(client: TestClient, headers: dict[str, str], path: str) -> httpx.Response:
    response: httpx.Response = client.get(f"{path}/{CUSTOMER}", params=REQUEST, headers=headers)
    return response


def test_the_request_answers_under_the_default_limit(unlimited: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = unlimited
    response = _get(client, headers, "/mm-apis/metricquery")
    assert response.status_code == 200, response.text[:500]
    assert response.json()["totalrecords"] > 100


@pytest.mark.parametrize("path", ["/mm-apis/metricquery", "/mm-apis/qbrData/vod"])
def test_a_query_past_the_time_limit_is_a_504(limited: tuple[TestClient, dict[str, str]], path: str) -> None:
    client, headers = limited
    for _ in range(3):  # deterministic: every run, not just one
        began = time.monotonic()
        response = _get(client, headers, path)
        elapsed = time.monotonic() - began
        assert response.status_code == 504, response.text[:500]
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "query_timeout"
        assert error["parameter"] is None
        assert "time limit" in error["message"]
        assert "Code: 159" not in error["message"], "the engine's text stays in the log, not the answer"
        assert elapsed < 10, f"the engine stops the query at its limit, not after {elapsed:.1f} s"


def test_explain_does_not_run_the_query(limited: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = limited
    response = client.get(f"/mm-apis/metricquery/{CUSTOMER}", params={**REQUEST, "explain": "true"}, headers=headers)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["segments"] == [
        {"table": "events", "start": int(START.timestamp()), "end": int(END.timestamp())}
    ]


def test_a_query_past_the_memory_limit_is_a_json_error(memory_limited: tuple[TestClient, dict[str, str]]) -> None:
    """The engine's memory limit (`MEMORY_LIMIT_EXCEEDED`, code 241) stops a breakdown by three
    high-cardinality dimensions with distinct counts and quantiles: the caller gets the error envelope
    saying so, not a bare 500 "Internal Server Error" in text/plain."""
    client, headers = memory_limited
    for _ in range(2):
        response = client.get(f"/mm-apis/metricquery/{CUSTOMER}", params=HEAVY, headers=headers)
        assert response.status_code != 500, (
            f"{response.status_code} {response.headers['content-type']}: " + (response.text[:300])
        )
        assert 400 <= response.status_code < 600, response.text[:300]
        assert response.headers["content-type"].startswith("application/json"), response.text[:300]
        error = response.json()["error"]
        assert error["code"]
        assert error["message"]
        assert "Code: 241" not in error["message"], "the engine's text stays in the log, not the answer"


def test_a_failed_query_does_not_break_the_next_request(memory_limited: tuple[TestClient, dict[str, str]]) -> None:
    """One query session: after the engine stops a query (here at its memory limit), the session answers
    the next, small request correctly — it must not return the failed query's leftovers (which chDB
    reports as "Invalid flatbuffers message" or "Message metadata too long" while reading the Arrow
    result) as a 500 to whoever comes next, possibly another customer."""
    client, headers = memory_limited
    light = client.get(f"/mm-apis/metricquery/{CUSTOMER}", params=LIGHT, headers=headers)
    assert light.status_code == 200, "the light request fits in the memory limit: " + light.text[:300]
    expected = light.json()
    for _ in range(2):
        heavy = client.get(f"/mm-apis/metricquery/{CUSTOMER}", params=HEAVY, headers=headers)
        assert heavy.status_code != 200, "the heavy request must exceed the memory limit"
        for attempt in range(3):
            response = client.get(f"/mm-apis/metricquery/{CUSTOMER}", params=LIGHT, headers=headers)
            assert response.status_code == 200, f"request {attempt + 1} after the failure: " + response.text[:300]
            assert response.json() == expected
