"""getAIAlerts, acknowledge and mute through HTTP on the real app: the envelope of the query API, the period and the
filters, the order and the pages, who may do what, another customer's alert not found, and clear 400s. The alerts
are stored rows (the engine's own are answered in tests/alerts/test_engine.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from sightline.alerts.models import AlertRow
from sightline.alerts.records import answer
from sightline.auth.kinds import KeyKind, Role
from sightline.settings import Settings
from tests.auth.fixtures import ManualClock, auth_app

A, B = 1001, 1002
T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)
PERIOD = f"start={int((T0 - timedelta(days=1)).timestamp())},end={int((T0 + timedelta(days=1)).timestamp())}"


def _row(customer: int, n: int, *, status: str, severity: str, metric: str, hours: float) -> AlertRow:
    started = T0 + timedelta(hours=hours)
    ended = started + timedelta(minutes=30) if status == "resolved" else None
    rule_id = f"rule-{metric}" if customer == A else f"rule-{customer}-{metric}"  # rule ids are unique
    body = {"rule": {"id": rule_id, "name": metric}, "metric": metric, "cohort": {"cdn": f"cdn{n}"}}
    return AlertRow(
        id=f"alert-{customer}-{n}",
        customer_id=customer,
        rule_id=rule_id,
        cohort=json.dumps({"cdn": f"cdn{n}"}),
        metric=metric,
        status=status,
        severity=severity,
        started_at=started,
        last_seen_at=started + timedelta(minutes=20),
        ended_at=ended,
        clean_intervals=0,
        escalations=0,
        body=json.dumps(body),
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("alerts"), argon2_time_cost=1, argon2_memory_kib=1024)
    built = auth_app(settings, ManualClock())
    auth = built.state.auth
    auth.accounts.add_customer(A, "Alpha", 6831)
    auth.accounts.add_customer(B, "Beta", 6831)
    auth.accounts.add_customer(1003, "Small", 6829)
    for name, role, customer in (("admin", Role.ADMIN, A), ("viewer", Role.VIEWER, A), ("small", Role.ADMIN, 1003)):
        auth.accounts.add_user(name, f"password-{name}", [customer], role)
    with sessionmaker(auth.engine).begin() as session:
        session.add_all(
            [
                _row(A, 1, status="open", severity="critical", metric="vsf", hours=-2),
                _row(A, 2, status="ongoing", severity="warning", metric="vsf", hours=-1),
                _row(A, 3, status="resolved", severity="major", metric="ebvs", hours=-3),
                _row(A, 4, status="resolved", severity="warning", metric="latency", hours=-40),  # before the period
                _row(B, 1, status="open", severity="critical", metric="vsf", hours=-2),
            ]
        )
    yield built
    auth.close()


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def _token(app: FastAPI, name: str) -> dict[str, str]:
    token = app.state.auth.tokens.password_grant(name, f"password-{name}").access_token
    return {"Authorization": f"Bearer {token}"}


def _alerts(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = client.get(f"/mm-apis/getAIAlerts/{A}", params={"period": PERIOD, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_alerts_in_the_period_newest_first_in_the_envelope(app: FastAPI, client: TestClient) -> None:
    body = _alerts(client, _token(app, "viewer"))
    assert (body["totalcount"], body["totalrecords"], body["pagecount"]) == (3, 3, 1)
    assert [a["id"] for a in body["response"]] == ["alert-1001-2", "alert-1001-1", "alert-1001-3"]
    first = body["response"][0]
    assert first["status"] == "ongoing"
    assert first["metric"] == "vsf"
    assert first["cohort"] == {"cdn": "cdn2"}
    assert first["start"] == int((T0 - timedelta(hours=1)).timestamp())
    assert first["end"] is None
    assert first["totalpages"] == 1
    assert first["acknowledged"] is None
    assert first["muted"] is None


def test_filters_order_and_pages(app: FastAPI, client: TestClient) -> None:
    viewer = _token(app, "viewer")
    assert [a["id"] for a in _alerts(client, viewer, status="open,ongoing")["response"]] == [
        "alert-1001-2",
        "alert-1001-1",
    ]
    assert [a["id"] for a in _alerts(client, viewer, metric="ebvs")["response"]] == ["alert-1001-3"]
    assert [a["id"] for a in _alerts(client, viewer, rule="rule-vsf", severity="critical")["response"]] == [
        "alert-1001-1"
    ]
    by_severity = _alerts(client, viewer, orderby="severity")["response"]
    assert [a["severity"] for a in by_severity] == ["critical", "major", "warning"]
    page = _alerts(client, viewer, orderby="start", order="asc", limit=2, offset=2)
    assert (page["totalcount"], page["totalrecords"], page["pagecount"]) == (1, 3, 2)
    assert [a["id"] for a in page["response"]] == ["alert-1001-2"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"period": "yesterday"}, "period"),
        ({"status": "burning"}, "status"),
        ({"severity": "huge"}, "severity"),
        ({"metric": "nosuchmetric"}, "metric"),
        ({"orderby": "colour"}, "orderby"),
        ({"order": "sideways"}, "order"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"planlevel": "x"}, "planlevel"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    app: FastAPI, client: TestClient, params: dict[str, str], parameter: str
) -> None:
    answer = client.get(f"/mm-apis/getAIAlerts/{A}", params={"period": PERIOD, **params}, headers=_token(app, "admin"))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["parameter"] == parameter


def test_acknowledge_and_mute(app: FastAPI, client: TestClient) -> None:
    viewer, admin = _token(app, "viewer"), _token(app, "admin")
    base = f"/mm-apis/getAIAlerts/{A}/alert-1001-1"
    acknowledged = client.post(f"{base}/acknowledge", headers=viewer)
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["acknowledged"]["by"] == "viewer"
    again = client.post(f"{base}/acknowledge", headers=admin).json()  # the first acknowledgement stays
    assert again["acknowledged"] == acknowledged.json()["acknowledged"]

    assert client.post(f"{base}/mute", headers=viewer, json={"seconds": 600}).status_code == 403
    muted = client.post(f"{base}/mute", headers=admin, json={"seconds": 600})
    assert muted.status_code == 200, muted.text
    until = muted.json()["muted"]["until"]
    assert 0 < until - datetime.now(UTC).timestamp() <= 600
    listed = {a["id"]: a for a in _alerts(client, viewer)["response"]}
    assert listed["alert-1001-1"]["muted"] == {"until": until, "by": "admin"}
    assert client.post(f"{base}/mute", headers=admin, json={"seconds": 0}).json()["muted"] is None
    bad = client.post(f"{base}/mute", headers=admin, json={"seconds": 10**9})
    assert bad.status_code == 400
    assert bad.json()["error"]["parameter"] == "seconds"


def test_a_mute_is_shown_while_it_lasts() -> None:
    row = _row(A, 9, status="open", severity="major", metric="vsf", hours=0)
    row.muted_until, row.muted_by = T0 + timedelta(minutes=10), "admin"
    assert json.loads(answer(row, T0))["muted"] == {"until": int(row.muted_until.timestamp()), "by": "admin"}
    assert json.loads(answer(row, T0 + timedelta(minutes=10)))["muted"] is None


def test_an_unknown_value_is_named_in_the_message(app: FastAPI, client: TestClient) -> None:
    for params, message in (
        ({"status": "closed"}, "unknown status 'closed'"),
        ({"metric": "vsff"}, "unknown metric"),
        ({"rule": "rule-vsf,rule-nosuch"}, "'rule-nosuch' is not a rule of customer"),  # was an empty page
        ({"rule": "rule-1002-vsf"}, "'rule-1002-vsf' is not a rule of customer"),  # another customer's
    ):
        got = client.get(f"/mm-apis/getAIAlerts/{A}", params={"period": PERIOD, **params}, headers=_token(app, "admin"))
        assert got.json()["error"]["message"].startswith(message), got.text
        assert got.json()["error"]["parameter"] == next(iter(params))


def test_a_rule_of_the_customer_without_alerts_answers_an_empty_page_and_another_customers_a_400(
    app: FastAPI, client: TestClient
) -> None:
    admin = _token(app, "admin")
    mine = client.get(f"/mm-apis/alertrules/{A}", headers=admin).json()["rules"][0]["id"]  # a default rule
    assert _alerts(client, admin, rule=mine)["totalrecords"] == 0
    key = {"X-API-Key": app.state.auth.accounts.create_key(KeyKind.API, B)[1]}
    theirs = client.get(f"/mm-apis/alertrules/{B}", headers=key).json()["rules"][0]["id"]
    refused = client.get(f"/mm-apis/getAIAlerts/{A}", params={"period": PERIOD, "rule": theirs}, headers=admin)
    assert (refused.status_code, refused.json()["error"]["parameter"]) == (400, "rule")


def test_another_customers_alert_is_not_found(app: FastAPI, client: TestClient) -> None:
    admin = _token(app, "admin")
    for action in ("acknowledge", "mute"):
        answer = client.post(f"/mm-apis/getAIAlerts/{A}/alert-1002-1/{action}", headers=admin)
        assert answer.status_code == 404, answer.text
    assert client.get(f"/mm-apis/getAIAlerts/{B}", params={"period": PERIOD}, headers=admin).status_code == 403
    key = {"X-API-Key": app.state.auth.accounts.create_key(KeyKind.API, B)[1]}
    theirs = client.get(f"/mm-apis/getAIAlerts/{B}", params={"period": PERIOD}, headers=key).json()
    assert [a["id"] for a in theirs["response"]] == ["alert-1002-1"]


def test_a_plan_without_alerts_is_refused(app: FastAPI, client: TestClient) -> None:
    answer = client.get("/mm-apis/getAIAlerts/1003", params={"period": PERIOD}, headers=_token(app, "small"))
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "plan_forbidden"
