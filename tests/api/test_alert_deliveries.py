"""`GET /mm-apis/alertdeliveries/{customerId}` through the app, whose own delivery worker (started by its
lifespan) delivers to real receivers on 127.0.0.1: the log in the query API's envelope, for admins of a plan
with alerts, filtered and paged; bad parameters are 400s; secrets are never answered nor logged."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sightline.alerts.notify import Notice, Recipient, enqueue
from sightline.alerts.outbox import AlertDelivery
from sightline.auth.kinds import KeyKind, Role
from sightline.settings import Settings
from tests.alerts.receivers import Receiver, serve

A, B, PRO = 1001, 1002, 1003
SECRET = "whsec-never-shown"
SLACK_TOKEN = "T0AAAAAAA/B0BBBBBBB/slacktokenneverShown"


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        metadata_url=metadata_url,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        notify_private_targets=True,
        notify_poll_s=0.02,
        notify_retry_base_s=0.01,
        notify_retry_cap_s=0.05,
    )


@dataclass(frozen=True)
class World:
    client: TestClient
    app: FastAPI
    headers: dict[str, dict[str, str]]


@pytest.fixture
def world(app: FastAPI, client: TestClient) -> World:
    auth = app.state.auth
    for customer, name, plan in ((A, "Alpha", 6831), (B, "Beta", 6831), (PRO, "Pro", 6830)):
        auth.accounts.add_customer(customer, name, plan)
    headers = {}
    for user, role, customer in (
        ("admin", Role.ADMIN, A),
        ("viewer", Role.VIEWER, A),
        ("other", Role.ADMIN, B),
        ("pro", Role.ADMIN, PRO),
    ):
        auth.accounts.add_user(user, f"password-{user}", [customer], role)
        token = auth.tokens.password_grant(user, f"password-{user}").access_token
        headers[user] = {"Authorization": f"Bearer {token}"}
    headers["apikey"] = {"X-API-Key": auth.accounts.create_key(KeyKind.API, A)[1]}
    return World(client, app, headers)


def put(app: FastAPI, *notices: Notice) -> None:
    with Session(app.state.auth.engine) as session, session.begin():
        enqueue(session, notices)


def settled(app: FastAPI, timeout_s: float = 30.0) -> None:
    """Wait until the app's worker has nothing pending."""
    deadline = time.monotonic() + timeout_s
    while True:
        with Session(app.state.auth.engine) as session:
            count = select(func.count()).select_from(AlertDelivery).where(AlertDelivery.status == "pending")
            if not session.scalar(count):
                return
        assert time.monotonic() < deadline, "deliveries still pending"
        time.sleep(0.02)


def notice(customer_id: int, alert_id: str, recipients: tuple[Recipient, ...]) -> Notice:
    return Notice(
        key=f"{alert_id}:open:1",
        customer_id=customer_id,
        alert_id=alert_id,
        rule_id="r-7",
        transition="open",
        severity="major",
        title=f"EBVS up on {alert_id}",
        alert={"id": alert_id},
        recipients=recipients,
    )


def get(world: World, who: str, customer: int = A, **params: Any) -> Any:
    return world.client.get(f"/mm-apis/alertdeliveries/{customer}", params=params, headers=world.headers[who])


def test_admins_read_the_log_the_apps_worker_wrote_without_a_secret(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with serve(Receiver(script=[500], secret=SECRET)) as receiver:
        recipients = (
            Recipient("webhook", f"{receiver.url}/hook?token=querysecret", "major", SECRET),
            Recipient("slack", f"{receiver.url}/slack/services/{SLACK_TOKEN}", "warning"),
            Recipient("email", "ops@example.com", "warning"),  # no SMTP configured: fails, saying so
            Recipient("email", "pager@example.com", "critical"),  # a major alert is not for it
        )
        put(world.app, notice(A, "a-1", recipients), notice(B, "b-1", recipients[:1]))
        settled(world.app)
    answer = get(world, "admin")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["totalcount"], body["pagecount"], body["totalrecords"]) == (3, 1, 3)
    rows = {row["kind"]: row for row in body["response"]}
    hook = rows["webhook"]
    assert (hook["status"], hook["attempts"], hook["lastcode"]) == ("delivered", 2, 200)
    assert rows["webhook"]["target"] == f"{receiver.url}/…"
    assert (rows["slack"]["status"], rows["slack"]["target"]) == ("delivered", f"{receiver.url}/…")
    assert (rows["email"]["status"], rows["email"]["target"]) == ("failed", "ops@example.com")
    assert rows["email"]["lasterror"].startswith("e-mail is not configured")
    assert {row["alertid"] for row in body["response"]} == {"a-1"}
    assert rows["webhook"]["idempotencykey"] in {r.headers["idempotency-key"] for r in receiver.received}
    for secret in (SECRET, SLACK_TOKEN, "querysecret"):
        assert secret not in answer.text
        assert secret not in caplog.text


def test_the_log_is_filtered_by_alert_and_status_and_paged(world: World) -> None:
    with serve(Receiver()) as receiver:
        hook = (Recipient("webhook", receiver.url + "/hook"),)
        put(world.app, *(notice(A, f"a-{n}", hook) for n in range(5)))
        put(world.app, notice(A, "a-9", (Recipient("email", "ops@example.com"),)))
        settled(world.app)
    page = get(world, "admin", limit=2, offset=2).json()
    assert (page["totalcount"], page["pagecount"], page["totalrecords"]) == (2, 3, 6)
    assert [row["alertid"] for row in page["response"]] == ["a-3", "a-2"]
    assert all(row["totalpages"] == 3 for row in page["response"])
    failed = get(world, "admin", status="failed").json()
    assert [row["alertid"] for row in failed["response"]] == ["a-9"]
    one = get(world, "admin", alert="a-1").json()
    assert [(row["alertid"], row["status"]) for row in one["response"]] == [("a-1", "delivered")]
    assert get(world, "admin", alert="nope").json()["totalrecords"] == 0


BAD = (
    ({"status": "sent"}, "status"),
    ({"limit": 0}, "limit"),
    ({"limit": 10_001}, "limit"),
    ({"offset": -1}, "offset"),
    ({"alert": "x" * 65}, "alert"),
    ({"limit": "many"}, "limit"),
)
REFUSED = (("viewer", A, "admin_only"), ("apikey", A, "admin_only"), ("other", A, "customer_forbidden"))


def test_bad_parameters_are_400s_naming_them_and_only_admins_of_a_plan_with_alerts_read_it(world: World) -> None:
    for params, parameter in BAD:
        answer = get(world, "admin", **params)
        assert (answer.status_code, answer.json()["error"]["parameter"]) == (400, parameter), params
    for who, customer, code in (*REFUSED, ("pro", PRO, "plan_forbidden")):
        answer = get(world, who, customer)
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, code), who
