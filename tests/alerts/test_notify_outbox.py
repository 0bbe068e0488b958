"""`enqueue` on a real metadata database (SQLite, and PostgreSQL when configured): who is told of each notice,
once, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from sightline.alerts.notify import Level, Notice, Recipient, Transition, enqueue
from sightline.alerts.outbox import AlertDelivery, AlertNotice, read_log
from sightline.auth.service import AuthService

A, B = 1001, 1002
CRITICAL = Recipient("webhook", "https://pager.example.com/in", "critical", "pager-secret")
MAJOR = Recipient("slack", "https://hooks.slack.com/services/T0/B0/major", "major")
WARNING = Recipient("email", "ops@example.com", "warning")
EVERYONE = (CRITICAL, MAJOR, WARNING)


def notice(
    transition: Transition,
    severity: Level,
    n: int = 1,
    alert_id: str = "a-1",
    customer_id: int = A,
    recipients: tuple[Recipient, ...] = EVERYONE,
) -> Notice:
    return Notice(
        key=f"{alert_id}:{transition}:{n}",
        customer_id=customer_id,
        alert_id=alert_id,
        rule_id="r-1",
        transition=transition,
        severity=severity,
        title=f"{alert_id} {transition} {severity}",
        alert={"id": alert_id, "severity": severity},
        recipients=recipients,
    )


@pytest.fixture
def customers(auth: AuthService) -> AuthService:
    auth.accounts.add_customer(A, "Alpha", 6831)
    auth.accounts.add_customer(B, "Beta", 6831)
    return auth


def run(auth: AuthService, notices: Sequence[Notice]) -> None:
    with Session(auth.engine) as session, session.begin():
        enqueue(session, notices)


def told(auth: AuthService, customer_id: int = A) -> list[tuple[str, str, str]]:
    """(notice key, kind, level) of each delivery, in order."""
    with Session(auth.engine) as session:
        rows = session.execute(
            select(AlertNotice.key, AlertDelivery.kind, AlertDelivery.level)
            .join(AlertNotice, AlertDelivery.notice_id == AlertNotice.id)
            .where(AlertDelivery.customer_id == customer_id)
            .order_by(AlertDelivery.id)
        ).all()
    return [(key, kind, level) for key, kind, level in rows]


def test_each_recipient_whose_level_admits_the_severity_is_told(customers: AuthService) -> None:
    run(customers, [notice("open", "warning", alert_id="w"), notice("open", "major", alert_id="m")])
    run(customers, [notice("open", "critical", alert_id="c")])
    assert told(customers) == [
        ("w:open:1", "email", "warning"),
        ("m:open:1", "slack", "major"),
        ("m:open:1", "email", "warning"),
        ("c:open:1", "webhook", "critical"),
        ("c:open:1", "slack", "major"),
        ("c:open:1", "email", "warning"),
    ]


def test_an_escalation_reaches_the_new_levels_and_a_resolve_whoever_was_told(customers: AuthService) -> None:
    run(customers, [notice("open", "warning")])
    run(customers, [notice("escalate", "major")])
    run(customers, [notice("resolve", "major", recipients=())])  # recipients since removed from the rule
    assert told(customers) == [
        ("a-1:open:1", "email", "warning"),
        ("a-1:escalate:1", "slack", "major"),
        ("a-1:escalate:1", "email", "warning"),
        ("a-1:resolve:1", "email", "warning"),
        ("a-1:resolve:1", "slack", "major"),
    ]


def test_a_resolve_tells_no_one_who_was_not_told(customers: AuthService) -> None:
    run(customers, [notice("open", "warning", recipients=(CRITICAL,))])
    run(customers, [notice("resolve", "warning", recipients=(CRITICAL,))])
    assert told(customers) == []
    with Session(customers.engine) as session:
        keys = session.scalars(select(AlertNotice.key).order_by(AlertNotice.id)).all()
    assert keys == ["a-1:open:1", "a-1:resolve:1"]


def test_a_resolve_signs_with_the_recipients_current_secret(customers: AuthService) -> None:
    run(customers, [notice("open", "critical", recipients=(CRITICAL,))])
    rotated = Recipient(CRITICAL.kind, CRITICAL.target, CRITICAL.level, "rotated")
    run(customers, [notice("resolve", "critical", recipients=(rotated,))])
    with Session(customers.engine) as session:
        assert session.scalars(select(AlertDelivery.secret).order_by(AlertDelivery.id)).all() == [
            "pager-secret",
            "rotated",
        ]


def test_a_notice_enqueued_again_is_delivered_once(customers: AuthService) -> None:
    opened = notice("open", "critical")
    run(customers, [opened, opened])
    run(customers, [opened])
    assert len(told(customers)) == 3


def test_a_recipient_listed_twice_is_told_once(customers: AuthService) -> None:
    twice = (WARNING, Recipient("email", WARNING.target, "critical"), CRITICAL)
    run(customers, [notice("open", "critical", recipients=twice)])
    assert told(customers) == [("a-1:open:1", "email", "warning"), ("a-1:open:1", "webhook", "critical")]


def test_another_customers_notice_with_the_same_key_is_its_own(customers: AuthService) -> None:
    run(customers, [notice("open", "critical", customer_id=A)])
    run(customers, [notice("open", "critical", customer_id=B)])
    assert len(told(customers, A)) == len(told(customers, B)) == 3
    with Session(customers.engine) as session:
        rows, total = read_log(session, B, None, None, 10, 0)
        assert total == 3
        assert {row["alertid"] for row in rows} == {"a-1"}
        keys_a = {r["idempotencykey"] for r in read_log(session, A, None, None, 10, 0)[0]}
        assert keys_a.isdisjoint(row["idempotencykey"] for row in rows)


def test_notices_commit_with_the_callers_transaction_and_roll_back_with_it(customers: AuthService) -> None:
    with Session(customers.engine) as session:
        session.begin()
        enqueue(session, [notice("open", "critical")])
        session.rollback()
    assert told(customers) == []
    run(customers, [notice("open", "critical")])
    assert len(told(customers)) == 3


def test_a_bad_recipient_is_a_failed_delivery_saying_why_and_the_rest_are_told(customers: AuthService) -> None:
    bad = (
        Recipient("webhook", "https://example.com/" + "x" * 3000, "warning", "s"),
        Recipient("email", "ops@example.com\r\nBcc: everyone@example.com"),
        Recipient("slack", "javascript:alert(1)"),
        Recipient("webhook", "https://example.com:99999/in"),
        Recipient("email", "ops@example.com", "urgent"),  # type: ignore[arg-type]
        Recipient("email", "ops2@example.com", "warning", "a secret for e-mail"),
    )
    run(customers, [notice("open", "critical", recipients=(CRITICAL, *bad))])
    with Session(customers.engine) as session:
        rows, total = read_log(session, A, None, None, 10, 0)
        secrets = session.scalars(select(AlertDelivery.secret).order_by(AlertDelivery.id)).all()
    by_status = sorted((row["status"], row["kind"], str(row["lasterror"])[:24]) for row in rows)
    assert total == 7
    assert by_status == [
        ("failed", "email", "a recipient's level must"),
        ("failed", "email", "an email recipient's tar"),
        ("failed", "email", "only a webhook recipient"),
        ("failed", "slack", "a slack recipient's targ"),
        ("failed", "webhook", "a recipient's target mus"),
        ("failed", "webhook", "a webhook recipient's ta"),
        ("pending", "webhook", "None"),
    ]
    assert secrets == ["pager-secret", None, None, None, None, None, None]


def test_an_alert_that_json_cannot_hold_as_it_is_is_stored_as_it_can(customers: AuthService) -> None:
    alert: dict[Any, Any] = {
        "expected": float("nan"),
        "band": (1.0, float("inf")),
        "start": datetime(2026, 1, 5, tzinfo=UTC),
        7: "x",
    }
    run(customers, [replace(notice("open", "critical"), alert=alert)])
    with Session(customers.engine) as session:
        stored = session.scalars(select(AlertNotice.alert)).one()
    assert stored == {"expected": None, "band": [1.0, None], "start": "2026-01-05 00:00:00+00:00", "7": "x"}
