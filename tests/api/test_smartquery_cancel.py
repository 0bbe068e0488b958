"""Cancelling a long named query by its queryId, through the app on a real chDB.

Two million views (written straight into `views`, which feeds no materialized view: seconds instead of
minutes of inserts) make `contentpaths` run for seconds. The test runs it once to time it, then again under
a queryId, waits until the engine lists it, and cancels it with `DELETE …/queries/{queryId}`: the query
answers 409 `query_cancelled` long before it would have finished, its status says `cancelled`, and the
store answers normally afterwards.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind, Role
from sightline.settings import Settings
from sightline.smartquery.service import store_tag
from tests.handwritten import by_hand

CUSTOMER, PLAN_LEVEL = 1001, 6831
START = datetime(2024, 6, 1, tzinfo=UTC)
VIEWS, VIEWERS = 2_000_000, 30_000
PERIOD = f"start={int(START.timestamp())},end={int((START + timedelta(days=2)).timestamp())}"
# every viewer watches a view every 10 minutes, with an hour's pause after every fifth: sessions of five
# views of titles drawn from 3000, so that the paths are many
_VIEWS_SQL = f"""
INSERT INTO views (customer_id, view_start, view_id, first_ts, last_ts, play_requested, started, play_ms,
                   assetid, assetname, viewerid)
SELECT {CUSTOMER}, fromUnixTimestamp64Milli(start, 'UTC'),
       toUUID(concat(substring(h, 1, 8), '-', substring(h, 9, 4), '-7000-8000-', leftPad(hex(number), 12, '0'))),
       fromUnixTimestamp64Milli(start, 'UTC'), fromUnixTimestamp64Milli(start + 300000, 'UTC'), 1, 1, 300000,
       concat('title-', toString(cityHash64(number) % 3000)), concat('Title ', toString(cityHash64(number) % 3000)),
       concat('viewer-', toString(number % {VIEWERS}))
FROM (SELECT number,
             toInt64({int(START.timestamp() * 1000)} + intDiv(number, {VIEWERS}) * 600000
                     + intDiv(number, {VIEWERS * 5}) * 3600000 + number % {VIEWERS} * 10) AS start,
             leftPad(hex(toUInt64(start)), 12, '0') AS h
      FROM numbers({VIEWS}))
"""


@dataclass
class World:
    client: TestClient
    headers: dict[str, str]
    users: dict[str, dict[str, str]]
    """Headers of the customer's users by name: `admin` (an admin), `viewer` and `other_viewer`."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("cancel"), argon2_time_cost=1, argon2_memory_kib=1024)
    app = create_app(settings)
    auth = app.state.auth
    auth.accounts.add_customer(CUSTOMER, "Cancel", PLAN_LEVEL)
    key = auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]
    users = {}
    for name, role in (("admin", Role.ADMIN), ("viewer", Role.VIEWER), ("other_viewer", Role.VIEWER)):
        auth.accounts.add_user(name, f"password-{name}", [CUSTOMER], role)
        token = auth.tokens.password_grant(name, f"password-{name}").access_token
        users[name] = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        services(app).store.execute(by_hand(_VIEWS_SQL))
        yield World(client, {"X-API-Key": key}, users)


class Request:
    """A named query on a thread of its own; `status`, `body` and `seconds` once it answered."""

    def __init__(self, world: World, query_id: str, headers: dict[str, str] | None = None) -> None:
        self.status, self.seconds = 0, 0.0
        self.body: dict[str, Any] = {}
        params = {"queryname": "contentpaths", "period": PERIOD, "queryId": query_id, "querycache": "False"}
        self.thread = threading.Thread(target=self._run, args=(world, params, headers or world.headers))
        self.thread.start()

    def _run(self, world: World, params: dict[str, str], headers: dict[str, str]) -> None:
        began = time.perf_counter()
        response = world.client.get(f"/mm-apis/smartQuery/{CUSTOMER}", params=params, headers=headers)
        self.status, self.body, self.seconds = response.status_code, response.json(), time.perf_counter() - began

    def join(self) -> None:
        self.thread.join(120)
        assert not self.thread.is_alive()


def _in_engine(world: World, query_id: str) -> bool:
    tag = store_tag(CUSTOMER, query_id)
    listed = services(world.client.app).store.query(
        by_hand("SELECT count() AS n FROM system.processes WHERE Settings['log_comment'] = {tag:String}", {"tag": tag})
    )
    return bool(listed.column("n")[0].as_py())


def _status(world: World, query_id: str) -> tuple[int, Any]:
    response = world.client.get(f"/mm-apis/smartQuery/{CUSTOMER}/queries/{query_id}", headers=world.headers)
    return response.status_code, response.json()


def test_a_long_query_is_cancelled_by_its_queryid(world: World) -> None:
    full = Request(world, str(uuid.uuid4()))
    full.join()
    assert full.status == 200, full.body
    assert full.seconds > 1.0, "the query is too quick to show a cancellation"
    query_id = str(uuid.uuid4())
    running = Request(world, query_id)
    deadline = time.monotonic() + full.seconds
    while not _in_engine(world, query_id):
        assert time.monotonic() < deadline, "the query never reached the engine"
        time.sleep(0.02)
    assert _status(world, query_id)[1]["status"] == "running"
    cancelled = world.client.delete(f"/mm-apis/smartQuery/{CUSTOMER}/queries/{query_id}", headers=world.headers)
    running.join()
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert running.status == 409
    assert running.body["error"]["code"] == "query_cancelled"
    assert running.seconds < 0.7 * full.seconds
    assert _status(world, query_id) == (200, cancelled.json())
    again = world.client.delete(f"/mm-apis/smartQuery/{CUSTOMER}/queries/{query_id}", headers=world.headers)
    assert (again.status_code, again.json()) == (200, cancelled.json())  # cancelling twice is cancelling once
    after_id = str(uuid.uuid4())
    after = Request(world, after_id)  # the engine answers as before
    after.join()
    assert after.status == 200
    assert after.body["totalrecords"] == full.body["totalrecords"]
    finished = world.client.delete(f"/mm-apis/smartQuery/{CUSTOMER}/queries/{after_id}", headers=world.headers)
    assert finished.status_code == 409
    assert finished.json()["error"]["code"] == "query_not_running"


def test_a_running_queryid_cannot_run_a_second_query(world: World) -> None:
    query_id = str(uuid.uuid4())
    first = Request(world, query_id)
    deadline = time.monotonic() + 30
    while _status(world, query_id)[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    second = Request(world, query_id)
    second.join()
    assert second.status == 409
    assert second.body["error"]["code"] == "query_id_in_use"
    world.client.delete(f"/mm-apis/smartQuery/{CUSTOMER}/queries/{query_id}", headers=world.headers)
    first.join()
    assert first.status in (200, 409)


def test_unknown_and_malformed_queryids(world: World) -> None:
    unknown = str(uuid.uuid4())
    assert _status(world, unknown)[0] == 404
    response = world.client.delete(f"/mm-apis/smartQuery/{CUSTOMER}/queries/{unknown}", headers=world.headers)
    assert response.status_code == 404
    malformed = world.client.get(f"/mm-apis/smartQuery/{CUSTOMER}/queries/nope", headers=world.headers)
    assert malformed.status_code == 400
    assert malformed.json()["error"]["parameter"] == "queryId"


def _running(world: World, headers: dict[str, str]) -> tuple[str, Request]:
    """A long query run with `headers`, once the engine runs it."""
    query_id = str(uuid.uuid4())
    request = Request(world, query_id, headers)
    deadline = time.monotonic() + 60
    while not _in_engine(world, query_id):
        assert time.monotonic() < deadline, "the query never reached the engine"
        time.sleep(0.02)
    return query_id, request


def _cancel(world: World, query_id: str, headers: dict[str, str]) -> tuple[int, Any]:
    response = world.client.delete(f"/mm-apis/smartQuery/{CUSTOMER}/queries/{query_id}", headers=headers)
    return response.status_code, response.json()


_ATTEMPTS = 3


def _cancelled_by(
    world: World, runner: dict[str, str], canceller: dict[str, str], refused: tuple[dict[str, str], ...]
) -> None:
    """A long query run by `runner` is refused (403) to every one of `refused`, and cancelled by `canceller`.
    The engine may finish a query in the moment between listing it and a kill (its result already made): only
    then, a new query is tried, at most `_ATTEMPTS` times."""
    for _ in range(_ATTEMPTS):
        query_id, request = _running(world, runner)
        for other in refused:
            status, body = _cancel(world, query_id, other)
            assert (status, body["error"]["code"]) == (403, "not_query_owner"), body
        assert _status(world, query_id)[1]["status"] in ("running", "done")  # a refused cancel leaves it be
        status, body = _cancel(world, query_id, canceller)
        request.join()
        if status == 409 and request.status == 200 and body["error"]["message"].endswith("it is done"):
            continue
        assert (status, body.get("status")) == (200, "cancelled"), body
        assert (request.status, request.body["error"]["code"]) == (409, "query_cancelled")
        return
    raise AssertionError(f"every one of {_ATTEMPTS} queries ended before its cancel reached it")


def test_only_its_owner_and_admins_cancel_a_running_query(world: World) -> None:
    admin, viewer, other_viewer = (world.users[name] for name in ("admin", "viewer", "other_viewer"))
    _cancelled_by(world, admin, admin, refused=(viewer, world.headers))  # not a viewer, nor an API key
    _cancelled_by(world, viewer, viewer, refused=(other_viewer,))
    _cancelled_by(world, world.headers, admin, refused=(viewer,))  # an admin cancels any
