"""Every route under /mm-apis/, read from the app itself, denies what it must: a new route is covered
without anyone remembering. Each is called with no credentials (401), with customer A's token or API
key on customer B's id (403), with a revoked or expired token or a revoked key (401), with a wrong
`planlevel` (403), and with A's own credentials on A's id (neither 401 nor 403, where the route's declared
rule lets that caller in; test_route_roles holds each route to its rule).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sightline.api.access import route_access
from sightline.api.deps import get_customer_scope, get_principal
from sightline.auth.kinds import KeyKind
from sightline.auth.plans import AccessRule, Caller
from sightline.settings import Settings
from tests.auth.fixtures import ManualClock, api_routes, auth_app, dependencies

A, B = 1001, 1002
PLAN_A, PLAN_B = 6831, 6830


def _plausible(name: str) -> str:
    """A plausible value of a required query parameter; a new one gets its line here."""
    end = int(time.time())
    values = {
        "planlevel": str(PLAN_A),
        "period": f"start={end - 86_400},end={end}",
        "metrics": "viewercount",
        "queryname": "contentpaths",
        "aggby": "sessionid",
        "dimension": "all",
    }
    if name not in values:
        pytest.fail(f"the walk has no plausible value for the required query parameter {name!r}: add one")
    return values[name]


@dataclass(frozen=True)
class Walk:
    method: str
    path: str
    required: tuple[str, ...]
    rule: AccessRule

    def url(self, customer_id: int, planlevel: int | None = None) -> str:
        query = {name: _plausible(name) for name in self.required}
        if planlevel is not None:
            query["planlevel"] = str(planlevel)
        path = self.path.replace("{customerId}", str(customer_id))
        return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@dataclass(frozen=True)
class World:
    client: TestClient
    walks: list[Walk]
    token: str
    api_key: str
    revoked_token: str
    expired_token: str
    revoked_api_key: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    clock = ManualClock()
    settings = Settings(data_dir=tmp_path_factory.mktemp("walk"), argon2_time_cost=1, argon2_memory_kib=1024)
    app = auth_app(settings, clock)
    auth = app.state.auth
    auth.accounts.add_customer(A, "Alpha", PLAN_A)
    auth.accounts.add_customer(B, "Beta", PLAN_B)
    auth.accounts.add_user("ann", "password-a", [A])
    expired = auth.tokens.password_grant("ann", "password-a").access_token
    clock.advance(18_000)
    revoked = auth.tokens.password_grant("ann", "password-a").access_token
    auth.tokens.revoke(revoked)
    revoked_key, revoked_api_key = auth.accounts.create_key(KeyKind.API, A)
    auth.accounts.revoke_key(KeyKind.API, revoked_key.id)
    with TestClient(app) as client:
        yield World(
            client,
            _walks(app),
            auth.tokens.password_grant("ann", "password-a").access_token,
            auth.accounts.create_key(KeyKind.API, A)[1],
            revoked,
            expired,
            revoked_api_key,
        )
    auth.close()


def _walks(app: FastAPI) -> list[Walk]:
    rules = {(route.method, route.path): route.rule for route in route_access(app)}
    walks = []
    for route in api_routes(app):
        if route.path.startswith("/mm-apis/"):
            calls = {d.call for d in dependencies(route.dependant)}
            assert get_principal in calls, f"{route.path} does not authenticate its caller"
            if "{customerId}" in route.path:
                assert get_customer_scope in calls, f"{route.path} does not use CustomerScope"
            query = [p for d in dependencies(route.dependant) for p in d.query_params]
            required = tuple(sorted({p.alias for p in query if p.field_info.is_required()}))
            walks += [
                Walk(method, route.path, required, rules[(method, route.path)]) for method in sorted(route.methods)
            ]
    return walks


def _call(world: World, walk: Walk, url: str, headers: dict[str, str]) -> httpx.Response:
    response: httpx.Response = world.client.request(walk.method, url, headers=headers)
    return response


def _failures(world: World, expected: int, headers: dict[str, str], customer_id: int, planlevel: int) -> list[str]:
    failures = []
    for walk in world.walks:
        if "{customerId}" not in walk.path and expected == 403:
            continue  # a route of no customer (the catalog) has no customer or plan level to refuse
        response = _call(world, walk, walk.url(customer_id, planlevel), headers)
        if response.status_code != expected:
            failures.append(f"{walk.method} {walk.path}: {response.status_code} {response.text[:120]}")
        elif expected == 401 and "bearer" not in response.headers.get("www-authenticate", "").lower():
            failures.append(f"{walk.method} {walk.path}: 401 without WWW-Authenticate: Bearer")
    return failures


def test_the_walk_finds_the_routes(world: World) -> None:
    paths = {walk.path for walk in world.walks}
    assert {
        "/mm-apis/whoami/{customerId}",
        "/mm-apis/error/{customerId}",
        "/mm-apis/listsessions/{customerId}",
    } <= paths


@pytest.mark.parametrize(
    "credential", [None, "bearer:sla_forged", "bearer:revoked_token", "bearer:expired_token", "key:revoked_api_key"]
)
def test_no_or_a_bad_credential_is_401_everywhere(world: World, credential: str | None) -> None:
    assert _failures(world, 401, _headers(world, credential), A, PLAN_A) == []


@pytest.mark.parametrize("credential", ["bearer:token", "key:api_key"])
def test_customer_a_on_customer_b_is_403_everywhere(world: World, credential: str) -> None:
    assert _failures(world, 403, _headers(world, credential), B, PLAN_B) == []


@pytest.mark.parametrize("credential", ["bearer:token", "key:api_key"])
def test_a_wrong_planlevel_is_403_everywhere(world: World, credential: str) -> None:
    assert _failures(world, 403, _headers(world, credential), A, PLAN_B) == []


@pytest.mark.parametrize(("credential", "caller"), [("bearer:token", Caller.VIEWER), ("key:api_key", Caller.API_KEY)])
def test_customer_a_on_customer_a_is_let_through_wherever_the_rule_allows(
    world: World, credential: str, caller: Caller
) -> None:
    headers = _headers(world, credential)
    allowed = [walk for walk in world.walks if caller in walk.rule.allowed | walk.rule.own]
    assert len(allowed) > len(world.walks) / 2
    for walk in allowed:
        response = _call(world, walk, walk.url(A, PLAN_A), headers)
        assert response.status_code not in (401, 403), f"{walk.method} {walk.path}: {response.text[:200]}"


@pytest.mark.parametrize("credential", ["bearer:token", "key:api_key"])
def test_a_query_parameter_given_twice_is_400_naming_it_everywhere(world: World, credential: str) -> None:
    """The last of two values was taken silently (`status=resolved&status=open` listed the open alerts only)."""
    failures = []
    for walk in world.walks:
        if "{customerId}" in walk.path:
            response = _call(world, walk, walk.url(A, PLAN_A) + "&offset=0&offset=1", _headers(world, credential))
            error = response.json().get("error") or {}
            if (response.status_code, error.get("parameter")) != (400, "offset"):
                failures.append(f"{walk.method} {walk.path}: {response.status_code} {response.text[:120]}")
            same = _call(world, walk, walk.url(A, PLAN_A) + f"&planlevel={PLAN_A}", _headers(world, credential))
            if same.status_code in (400, 403) and "planlevel" in same.text:  # a client that adds it again
                failures.append(f"{walk.method} {walk.path} with planlevel twice: {same.status_code} {same.text[:120]}")
    assert failures == []


def _headers(world: World, credential: str | None) -> dict[str, str]:
    """Headers for "bearer:<World attribute or literal token>" or "key:<World attribute>"."""
    if credential is None:
        return {}
    kind, name = credential.split(":")
    secret = getattr(world, name, name)
    return {"Authorization": f"Bearer {secret}"} if kind == "bearer" else {"X-API-Key": secret}
