"""Every route of the app × every kind of caller, through real HTTP on the app over a real chDB: each
caller is let through or refused exactly as the route's access rule says (the rules of docs/plans.md,
read from the app's own route table, so that a new route is covered without anyone remembering).

Let through: any answer but 401, 403 or 410 (a 400 for a parameter, a 404, a 409 are answers to a caller
who was let in), never a 5xx. Refused: 401, 403 or 410 (an unknown ingest key); a 401 carries
`WWW-Authenticate: Bearer`. The caller in the "its own" cells (a viewer, an API key, on cancelling a
query) is tried on a query an admin ran: refused.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from sightline.api.access import route_access
from sightline.auth.kinds import KeyKind, Role
from sightline.auth.plans import Caller, RouteAccess
from sightline.settings import Settings
from tests.auth.fixtures import ManualClock, api_routes, auth_app, dependencies
from tests.ingest.mux_fixtures import load

A, B = 1001, 1002
PLAN = 6831
REFUSED = (401, 403, 410)


def _plausible(name: str) -> str:
    """A plausible value of a required query parameter; a new one gets its line here."""
    end = int(time.time())
    values = {
        "period": f"start={end - 86_400},end={end}",
        "metrics": "viewercount",
        "queryname": "topcontent",
    }
    if name not in values:
        pytest.fail(f"no plausible value for the required query parameter {name!r}: add one")
    return values[name]


@dataclass(frozen=True)
class World:
    client: TestClient
    routes: list[RouteAccess]
    required: dict[tuple[str, str], tuple[str, ...]]
    """The required query parameters of each (method, path)."""
    secrets: dict[Caller, str | None]
    """Each caller's credential: a token, an API key or an ingest key; None for no credentials."""
    admins_query: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("roles"), argon2_time_cost=1, argon2_memory_kib=1024)
    app = auth_app(settings, ManualClock())
    auth = app.state.auth
    auth.accounts.add_customer(A, "Alpha", PLAN)
    auth.accounts.add_customer(B, "Beta", PLAN)
    tokens = {}
    for name, role, customer in (("admin", Role.ADMIN, A), ("viewer", Role.VIEWER, A), ("other", Role.ADMIN, B)):
        auth.accounts.add_user(name, f"password-{name}", [customer], role)
        tokens[name] = auth.tokens.password_grant(name, f"password-{name}").access_token
    secrets: dict[Caller, str | None] = {
        Caller.ADMIN: tokens["admin"],
        Caller.VIEWER: tokens["viewer"],
        Caller.API_KEY: auth.accounts.create_key(KeyKind.API, A)[1],
        Caller.OTHER_CUSTOMER: tokens["other"],
        Caller.INGEST_KEY: auth.accounts.create_key(KeyKind.INGEST, A)[1],
        Caller.ANONYMOUS: None,
    }
    required = {}
    for route in api_routes(app):
        query = [p for d in dependencies(route.dependant) for p in d.query_params]
        for method in route.methods:
            required[method, route.path] = tuple(sorted({p.alias for p in query if p.field_info.is_required()}))
    with TestClient(app) as client:
        admins_query = str(uuid.uuid4())
        ran = client.get(
            f"/mm-apis/smartQuery/{A}",
            params={"queryname": "topcontent", "period": _plausible("period"), "queryId": admins_query},
            headers={"Authorization": f"Bearer {tokens['admin']}"},
        )
        assert ran.status_code == 200, ran.text
        yield World(client, route_access(app), required, secrets, admins_query)
    auth.close()


def _headers(caller: Caller, secret: str | None, route: RouteAccess) -> dict[str, str]:
    if secret is None:
        return {}
    if caller is Caller.INGEST_KEY:
        return {"X-Ingest-Key": secret, "X-API-Key": secret}
    headers = {"X-API-Key": secret} if caller is Caller.API_KEY else {"Authorization": f"Bearer {secret}"}
    return headers | ({"X-Ingest-Key": secret} if route.rule.allowed == {Caller.INGEST_KEY} else {})


def _call(world: World, route: RouteAccess, caller: Caller) -> httpx.Response:
    """The route called by `caller`, its credential wherever the route takes one, with plausible parameters."""
    secret = world.secrets[caller]
    path = (
        route.path.replace("{customerId}", str(A))
        .replace("{queryId}", world.admins_query)
        .replace("{ingestKey}", secret or "none")
        .replace("{path:path}", "clip/master.m3u8")
    )
    params = {name: _plausible(name) for name in world.required.get((route.method, route.path), ())}
    headers = _headers(caller, secret, route)
    content: bytes | None = None
    if route.path in ("/generateOAuthToken", "/oauth/token"):
        content, headers["Content-Type"] = b"grant_type=password&username=admin&password=password-admin", _FORM
    elif route.path == "/oauth/revoke":
        content, headers["Content-Type"] = b"token=sla_unknown", _FORM
    elif route.path == "/collect":
        now_ms = int(time.time() * 1000)
        view_id = uuid.UUID(int=(now_ms << 80) | (0x7 << 76) | (0b10 << 62) | uuid.uuid4().int >> 66)
        event = {"event": "play_request", "ts": now_ms, "seq": 0}
        content = json.dumps({"view_id": str(view_id), "events": [event]}).encode()
        headers["Content-Type"] = "application/json"
    elif route.path.startswith("/cmcd"):
        content, headers["Content-Type"] = b'sid="roles",sta=s,e=ps,ts=1700000000000,sn=0\n', "application/cmcd"
    elif route.path in ("/", "/mux"):
        content, headers["Content-Type"] = load("mp4_play_to_end")[0].with_env_key(secret or ""), "text/plain"
    response: httpx.Response = world.client.request(route.method, path, params=params, headers=headers, content=content)
    return response


_FORM = "application/x-www-form-urlencoded"


def test_the_routes_are_the_apps_and_each_has_a_rule(world: World) -> None:
    found = {(route.method, route.path) for route in world.routes}
    assert {("POST", "/collect"), ("DELETE", "/mm-apis/smartQuery/{customerId}/queries/{queryId}")} <= found
    assert {(method, path) for method, path in world.required} <= found


@pytest.mark.parametrize("caller", list(Caller))
def test_every_route_lets_in_or_refuses_each_caller_as_its_rule_says(world: World, caller: Caller) -> None:
    failures = []
    for route in world.routes:
        response = _call(world, route, caller)
        allowed = caller in route.rule.allowed
        where = f"{route.method} {route.path} ({route.rule.name}) as {caller.value}: {response.status_code}"
        if response.status_code >= 500 or allowed == (response.status_code in REFUSED):
            failures.append(f"{where} {response.text[:160]}")
        elif response.status_code == 401 and "bearer" not in response.headers.get("www-authenticate", "").lower():
            failures.append(f"{where} without WWW-Authenticate: Bearer")
    assert failures == []
