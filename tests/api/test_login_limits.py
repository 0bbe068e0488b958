"""Failed-login limits through real HTTP on the app: by (username, client address) and by client address
across usernames, shared by every app on one metadata database (SQLite, and PostgreSQL when
SIGHTLINE_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sightline.settings import Settings
from tests.auth.fixtures import ManualClock, auth_app

VICTIM, ATTACKER, ELSEWHERE = "ann@example.com", "203.0.113.7", "198.51.100.20"
RIGHT = {"grant_type": "password", "username": VICTIM, "password": "password-a"}
WRONG = {"grant_type": "password", "username": VICTIM, "password": "wrong-guess"}


@pytest.fixture(autouse=True)
def accounts(app: FastAPI) -> None:
    app.state.auth.accounts.add_customer(1001, "Alpha", 6831)
    app.state.auth.accounts.add_user(VICTIM, "password-a", [1001])


def _from(app: FastAPI, address: str) -> TestClient:
    """A client whose requests come from `address` (the TCP peer the app sees)."""
    return TestClient(app, client=(address, 40_000))


def _login(client: TestClient, form: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    response: httpx.Response = client.post("/generateOAuthToken", data=form, headers=headers)
    return response


def test_an_attacker_locks_himself_out_not_the_victim_elsewhere(app: FastAPI, clock: ManualClock) -> None:
    attacker, victim = _from(app, ATTACKER), _from(app, ELSEWHERE)
    for minute in range(3):  # an attacker who keeps going, minute after minute
        for _ in range(5):
            assert _login(attacker, WRONG).status_code == 400
        blocked = _login(attacker, RIGHT)
        assert blocked.status_code == 429, minute
        assert int(blocked.headers["retry-after"]) == 60
        assert blocked.json()["error"]["code"] == "too_many_requests"
        assert _login(victim, RIGHT).status_code == 201, minute
        clock.advance(60)


def test_many_usernames_from_one_address_meet_the_address_limit(app: FastAPI, clock: ManualClock) -> None:
    attacker, victim = _from(app, ATTACKER), _from(app, ELSEWHERE)
    answers = [
        _login(attacker, {"grant_type": "password", "username": f"user{i}@example.com", "password": "guess-1234"})
        for i in range(20)
    ]
    statuses = [answer.status_code for answer in answers]
    assert statuses == [400] * 10 + [429] * 10
    assert answers[-1].headers["retry-after"] == "60"
    assert _login(attacker, RIGHT).status_code == 429  # the address, whatever the username
    assert _login(victim, RIGHT).status_code == 201
    clock.advance(60)
    assert _login(attacker, RIGHT).status_code == 201


def test_the_address_behind_a_trusted_proxy_is_the_forwarded_one(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("proxied"),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),),
    )
    app = auth_app(settings, ManualClock())
    app.state.auth.accounts.add_customer(1001, "Alpha", 6831)
    app.state.auth.accounts.add_user(VICTIM, "password-a", [1001])
    proxy, outsider = _from(app, "10.1.2.3"), _from(app, "192.0.2.50")
    for _ in range(5):
        assert _login(proxy, WRONG, {"X-Forwarded-For": ATTACKER}).status_code == 400
    assert _login(proxy, RIGHT, {"X-Forwarded-For": ATTACKER}).status_code == 429
    assert _login(proxy, RIGHT, {"X-Forwarded-For": f"{ATTACKER}, {ELSEWHERE}"}).status_code == 201
    for _ in range(5):  # an untrusted peer cannot spread its failures by writing the header itself
        assert _login(outsider, WRONG, {"X-Forwarded-For": ELSEWHERE}).status_code == 400
    assert _login(outsider, RIGHT, {"X-Forwarded-For": "192.0.2.99"}).status_code == 429
    assert _login(proxy, RIGHT, {"X-Forwarded-For": ELSEWHERE}).status_code == 201
    app.state.auth.close()


@pytest.fixture
def second_app(settings: Settings, clock: ManualClock) -> Iterator[FastAPI]:
    """Another app on the same metadata database, as a second API process would be."""
    other = auth_app(settings, clock)
    yield other
    other.state.auth.close()


def test_two_apps_on_one_metadata_database_share_the_limits(
    app: FastAPI, second_app: FastAPI, clock: ManualClock
) -> None:
    first, second = _from(app, ATTACKER), _from(second_app, ATTACKER)
    for client in (first, second, first, second, first):
        assert _login(client, WRONG).status_code == 400
    assert _login(second, RIGHT).status_code == 429
    assert _login(first, RIGHT).status_code == 429
    for i in range(5):  # five more usernames, alternately: ten failures of the address in all
        client = (first, second)[i % 2]
        assert _login(client, {**WRONG, "username": f"user{i}@example.com"}).status_code == 400
    assert _login(_from(second_app, ATTACKER), {**WRONG, "username": "someone@example.com"}).status_code == 429
    assert _login(_from(second_app, ELSEWHERE), RIGHT).status_code == 201
