"""The alert rules API through HTTP on the real app: a customer's defaults, adding, replacing and deleting rules,
who may, and clear 4xx answers for bad rules (on SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sightline.alerts.rules import default_rules
from sightline.api.services import services
from sightline.auth.kinds import KeyKind, Role
from sightline.settings import Settings
from tests.auth.fixtures import ManualClock, auth_app, postgres_schema

A, B = 1001, 1002


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One app for the module (its start is slow), on SQLite or on a PostgreSQL schema."""
    with ExitStack() as stack:
        url = None if request.param == "sqlite" else stack.enter_context(postgres_schema())
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("rules"), metadata_url=url, argon2_time_cost=1, argon2_memory_kib=1024
        )
        built = auth_app(settings, ManualClock())
        yield built
        built.state.auth.close()


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def _headers(app: FastAPI, username: str, customer: int, role: Role, plan: int = 6831) -> dict[str, str]:
    """A token of `username` (added once) of `customer` (added once)."""
    auth = app.state.auth
    if customer not in {c.id for c in auth.accounts.list_customers()}:
        auth.accounts.add_customer(customer, f"c{customer}", plan)
    if username not in {u.username for u in auth.accounts.list_users()}:
        auth.accounts.add_user(username, f"password-{username}", [customer], role)
    return {"Authorization": f"Bearer {auth.tokens.password_grant(username, f'password-{username}').access_token}"}


@pytest.fixture
def admin(app: FastAPI) -> dict[str, str]:
    return _headers(app, "admin", A, Role.ADMIN)


RULE: dict[str, Any] = {
    "name": "CDN start failures",
    "metric": "vsf",
    "scope": "selected",
    "dimensions": ["cdn", "country"],
    "window": 900,
    "minattempts": 50,
    "recipients": [
        {"kind": "webhook", "target": "https://hooks.example/sightline", "level": "major", "secret": "hmac-key-1"},
        {"kind": "email", "target": "noc@example.com"},
    ],
}


def test_a_new_customer_has_the_default_ai_rules(app: FastAPI, client: TestClient) -> None:
    newcomer = _headers(app, "newcomer", 1004, Role.ADMIN)
    answer = client.get("/mm-apis/alertrules/1004", headers=newcomer)
    assert answer.status_code == 200
    rules = answer.json()["rules"]
    assert sorted(r["metric"] for r in rules) == sorted(r.metric for r in default_rules())
    assert {r["type"] for r in rules} == {"ai"}
    assert len({r["id"] for r in rules}) == len(rules)


def test_a_rule_is_added_read_replaced_and_deleted(client: TestClient, admin: dict[str, str]) -> None:
    added = client.post(f"/mm-apis/alertrules/{A}", headers=admin, json=RULE)
    assert added.status_code == 201, added.text
    rule = added.json()
    assert {k: rule[k] for k in ("name", "metric", "scope", "dimensions", "window", "interval", "minattempts")} == {
        "name": "CDN start failures",
        "metric": "vsf",
        "scope": "selected",
        "dimensions": ["cdn", "country"],
        "window": 900,
        "interval": 300,
        "minattempts": 50,
    }
    assert rule["recipients"][0] == {
        "kind": "webhook",
        "target": "https://hooks.example/sightline",
        "level": "major",
        "hassecret": True,
    }
    path = f"/mm-apis/alertrules/{A}/{rule['id']}"
    assert client.get(path, headers=admin).json() == rule
    assert rule["id"] in {r["id"] for r in client.get(f"/mm-apis/alertrules/{A}", headers=admin).json()["rules"]}

    unchanged_hook = {k: v for k, v in RULE["recipients"][0].items() if k != "secret"}  # the secret is kept
    replaced = client.put(path, headers=admin, json={**RULE, "sensitivity": 0.8, "recipients": [unchanged_hook]})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["sensitivity"] == 0.8
    assert replaced.json()["recipients"] == [rule["recipients"][0]]
    assert "hmac-key-1" not in replaced.text + client.get(path, headers=admin).text
    stored = services(client.app).alert_rules.rule(A, rule["id"])
    assert stored.recipients[0].secret == "hmac-key-1"

    read_back = client.put(path, headers=admin, json={k: v for k, v in rule.items() if k != "id"})  # as read
    assert read_back.status_code == 200, read_back.text
    assert services(client.app).alert_rules.rule(A, rule["id"]).recipients[0].secret == "hmac-key-1"
    without = client.put(path, headers=admin, json={**RULE, "recipients": [{**unchanged_hook, "hassecret": False}]})
    assert "hassecret" not in without.json()["recipients"][0]
    assert services(client.app).alert_rules.rule(A, rule["id"]).recipients[0].secret is None

    assert client.delete(path, headers=admin).status_code == 204
    assert client.get(path, headers=admin).status_code == 404
    assert client.delete(path, headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"metric": "nosuchmetric"}, "metric"),
        ({"dimensions": ["cdn", "nosuchdimension"]}, "dimensions"),
        ({"interval": 0}, "interval"),
        ({"window": 100}, "window"),
        ({"type": "manual", "condition": "fixed", "threshold": "high"}, "threshold"),
        ({"type": "manual", "condition": "fixed", "threshold": 250}, "threshold"),
        ({"sensitivity": "high"}, "sensitivity"),
        ({"minattempts": -5}, "minattempts"),
        ({"minattempts": 10**309}, "minattempts"),  # past a float's range: every later round failed
        ({"minusers": 10**10}, "minusers"),
        ({"recipients": [{"kind": "webhook", "target": "https://[::1"}]}, "recipients"),  # was a 500
        ({"recipients": [{"kind": "slack", "target": "https://a]/"}]}, "recipients"),
        ({"recipients": [{"kind": "webhook", "target": "https://[::1]]/"}]}, "recipients"),
        ({"recipients": [{"kind": "webhook", "target": "https://[x]/"}]}, "recipients"),
        ({"recipients": [{"kind": "webhook", "target": "https://example.com:0/"}]}, "recipients"),
        ({"recipients": [{"kind": "webhook", "target": "https://256.0.0.1/"}]}, "recipients"),
        ({"surprise": 1}, "surprise"),
        ({"name": "evil\r\nBcc: attacker@evil.example"}, "name"),  # a header of every e-mail it sends
        ({"name": "nul\x00"}, "name"),
        ({"name": "line\u2028separator"}, "name"),
        ({"name": "reversed\u202egnp.exe"}, "name"),
        ({"name": "\u200b"}, "name"),  # nothing to see
        ({"name": "\u3164 \u2800"}, "name"),
        ({"recipients": [{"kind": "email", "target": "a@b.com:extreme"}]}, "recipients"),
        ({"recipients": [{"kind": "email", "target": "a@-b.com"}]}, "recipients"),
        ({"recipients": [{"kind": "webhook", "target": "https://hooks.example/\x00"}]}, "recipients"),
        ({"dimensions": ["cdn", 1]}, "dimensions[1]"),
        ({"recipients": [{"kind": "email", "target": "noc@example.com", "level": "huge"}]}, "recipients[0].level"),
    ],
)
def test_a_bad_rule_is_a_400_naming_the_field(
    client: TestClient, admin: dict[str, str], change: dict[str, Any], parameter: str
) -> None:
    for method, path in (("POST", f"/mm-apis/alertrules/{A}"), ("PUT", f"/mm-apis/alertrules/{A}/any")):
        answer = client.request(method, path, headers=admin, json={**RULE, **change})
        assert answer.status_code in (400, 404), answer.text
        if answer.status_code == 400:
            error = answer.json()["error"]
            assert (error["code"], error["parameter"]) == ("invalid_parameter", parameter)
    assert client.post(f"/mm-apis/alertrules/{A}", headers=admin, json={**RULE, **change}).status_code == 400


def test_a_body_that_is_not_a_rule_is_a_400(client: TestClient, admin: dict[str, str]) -> None:
    for body, parameter in (
        (b"not json", "body"),
        (b"{", "body"),
        (b"[]", "body"),
        (b'"rule"', "body"),
        (b"{}", "name"),
        (b'{"name": "x", "metric": "vsf", "minattempts": ' + b"9" * 5000 + b"}", "body"),  # past json's digits
        (b'{"name": "caf\xe9", "metric": "vsf"}', "body"),  # Latin-1, not UTF-8
        (b"[" * 100_000, "body"),
    ):
        answer = client.post(
            f"/mm-apis/alertrules/{A}", headers={**admin, "Content-Type": "application/json"}, content=body
        )
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"]["parameter"] == parameter, answer.text


def test_another_customers_rule_is_not_found(app: FastAPI, client: TestClient, admin: dict[str, str]) -> None:
    other = _headers(app, "other", B, Role.ADMIN)
    theirs = client.post(f"/mm-apis/alertrules/{B}", headers=other, json=RULE).json()["id"]
    for method in ("GET", "PUT", "DELETE"):
        answer = client.request(method, f"/mm-apis/alertrules/{A}/{theirs}", headers=admin, json=RULE)
        assert answer.status_code == 404, (method, answer.text)
    assert client.get(f"/mm-apis/alertrules/{B}/{theirs}", headers=admin).status_code == 403
    assert client.get(f"/mm-apis/alertrules/{B}/{theirs}", headers=other).status_code == 200


def test_viewers_and_api_keys_read_and_only_admins_write(
    app: FastAPI, client: TestClient, admin: dict[str, str]
) -> None:
    viewer = _headers(app, "viewer", A, Role.VIEWER)
    key = {"X-API-Key": app.state.auth.accounts.create_key(KeyKind.API, A)[1]}
    rule_id = client.post(f"/mm-apis/alertrules/{A}", headers=admin, json=RULE).json()["id"]
    for reader in (viewer, key):
        assert client.get(f"/mm-apis/alertrules/{A}", headers=reader).status_code == 200
        assert client.get(f"/mm-apis/alertrules/{A}/{rule_id}", headers=reader).status_code == 200
        assert client.post(f"/mm-apis/alertrules/{A}", headers=reader, json=RULE).status_code == 403
        assert client.put(f"/mm-apis/alertrules/{A}/{rule_id}", headers=reader, json=RULE).status_code == 403
        assert client.delete(f"/mm-apis/alertrules/{A}/{rule_id}", headers=reader).status_code == 403
    assert client.get(f"/mm-apis/alertrules/{A}/{rule_id}", headers=admin).json()["name"] == RULE["name"]


def test_only_admins_read_a_recipient_url_whole(app: FastAPI, client: TestClient, admin: dict[str, str]) -> None:
    slack = {"kind": "slack", "target": "https://hooks.slack.com/services/T0AAA/B0BBB/SECRETTOKEN123"}
    given = {**RULE, "name": "Slack start failures", "recipients": [slack]}
    rule_id = client.post(f"/mm-apis/alertrules/{A}", headers=admin, json=given).json()["id"]
    key = {"X-API-Key": app.state.auth.accounts.create_key(KeyKind.API, A)[1]}
    for reader in (_headers(app, "viewer", A, Role.VIEWER), key):
        for path in (f"/mm-apis/alertrules/{A}/{rule_id}", f"/mm-apis/alertrules/{A}"):
            answer = client.get(path, headers=reader)
            assert "SECRETTOKEN123" not in answer.text
            assert "https://hooks.slack.com/…" in answer.text
    whole = client.get(f"/mm-apis/alertrules/{A}/{rule_id}", headers=admin).json()["recipients"][0]["target"]
    assert whole == slack["target"]


def test_a_plan_without_alerts_is_refused(app: FastAPI, client: TestClient) -> None:
    essentials = _headers(app, "small", 1003, Role.ADMIN, plan=6829)
    answer = client.get("/mm-apis/alertrules/1003", headers=essentials)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "plan_forbidden"
    assert client.post("/mm-apis/alertrules/1003", headers=essentials, json=RULE).status_code == 403


def test_two_rules_of_a_customer_may_not_have_one_name(app: FastAPI, client: TestClient) -> None:
    owner = _headers(app, "namer", 1004, Role.ADMIN)
    rules = f"/mm-apis/alertrules/{1004}"
    first = client.post(rules, headers=owner, json={**RULE, "name": "Failures"}).json()["id"]
    second = client.post(rules, headers=owner, json={**RULE, "name": "Failures by CDN"}).json()["id"]
    for answer in (
        client.post(rules, headers=owner, json={**RULE, "name": " failures "}),  # case and outer spaces aside
        client.post(rules, headers=owner, json={**RULE, "name": "Video start failures"}),  # a default rule's
        client.put(f"{rules}/{second}", headers=owner, json={**RULE, "name": "FAILURES"}),
    ):
        assert answer.status_code == 409, answer.text
        error = answer.json()["error"]
        assert (error["code"], error["parameter"]) == ("name_taken", "name")
        assert "named" in error["message"]
    assert client.put(f"{rules}/{first}", headers=owner, json={**RULE, "name": "Failures"}).status_code == 200
    names = [rule["name"] for rule in client.get(rules, headers=owner).json()["rules"]]
    assert len({name.strip().casefold() for name in names}) == len(names)  # no name twice, case aside
    other = _headers(app, "other-namer", 1005, Role.ADMIN)  # another customer's names are its own
    assert (
        client.post(f"/mm-apis/alertrules/{1005}", headers=other, json={**RULE, "name": "Failures"}).status_code == 201
    )
