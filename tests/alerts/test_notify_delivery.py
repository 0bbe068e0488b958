"""The delivery worker against real receivers on 127.0.0.1 (an HTTP server that checks signatures and Slack's
shape, an aiosmtpd SMTP server) and a real metadata database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from sightline.alerts.delivery import DeliveryWorker, RetryPolicy
from sightline.alerts.notify import Level, Notice, Recipient, Transition, enqueue
from sightline.alerts.outbox import AlertDelivery, read_log
from sightline.alerts.senders import Job, Outcome, Senders
from sightline.auth.service import AuthService
from sightline.settings import Settings
from tests.alerts.receivers import Mailbox, Receiver, run_smtp, serve

A, B = 1001, 1002
SECRET = "whsec-test-1"
FAST = RetryPolicy(max_attempts=5, base_s=0.01, cap_s=0.05)


class Clock:
    """The real time, moved ahead by `ahead` (to let a lease expire)."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.fixture
def customers(auth: AuthService) -> AuthService:
    auth.accounts.add_customer(A, "Alpha", 6831)
    auth.accounts.add_customer(B, "Beta", 6831)
    return auth


@pytest.fixture
def local(settings: Settings) -> Settings:
    """Settings that let webhooks reach 127.0.0.1, with a short time limit."""
    return settings.model_copy(update={"notify_private_targets": True, "notify_timeout_s": 5.0})


def worker(
    auth: AuthService,
    settings: Settings,
    policy: RetryPolicy = FAST,
    clock: Callable[[], datetime] | None = None,
    workers: int = 1,
    may_run: Callable[[], bool] = lambda: True,
) -> DeliveryWorker:
    return DeliveryWorker(
        sessionmaker(auth.engine, expire_on_commit=False),
        Senders(settings),
        policy,
        workers=workers,
        poll_s=0.02,
        lease=timedelta(seconds=30),
        clock=clock or Clock(),
        jitter=lambda: 0.5,
        may_run=may_run,
    )


def notice(
    recipients: tuple[Recipient, ...],
    transition: Transition = "open",
    severity: Level = "critical",
    alert_id: str = "a-1",
    customer_id: int = A,
    title: str = "VSF 12.3 % on cdn=Akamai ∧ country=US (expected 1.1 %)",
) -> Notice:
    return Notice(
        key=f"{alert_id}:{transition}:1",
        customer_id=customer_id,
        alert_id=alert_id,
        rule_id="r-1",
        transition=transition,
        severity=severity,
        title=title,
        alert={"id": alert_id, "metric": "vsf", "observed": 0.123},
        recipients=recipients,
    )


def put(auth: AuthService, *notices: Notice) -> None:
    with Session(auth.engine) as session, session.begin():
        enqueue(session, notices)


def pending(auth: AuthService) -> int:
    with Session(auth.engine) as session:
        count = select(func.count()).select_from(AlertDelivery).where(AlertDelivery.status == "pending")
        return session.scalar(count) or 0


def drain(auth: AuthService, deliverer: DeliveryWorker, timeout_s: float = 30.0) -> None:
    """Deliver until nothing is pending."""
    deadline = time.monotonic() + timeout_s
    while pending(auth):
        if not deliverer.deliver_one():
            time.sleep(0.01)
        assert time.monotonic() < deadline, "deliveries still pending"


def log(auth: AuthService, customer_id: int = A) -> list[dict[str, object]]:
    with Session(auth.engine) as session:
        return read_log(session, customer_id, None, None, 100, 0)[0]


def webhook(receiver: Receiver, path: str = "/hook", level: Level = "warning") -> Recipient:
    return Recipient("webhook", receiver.url + path, level, SECRET)


def test_a_receiver_that_fails_twice_gets_the_delivery_on_the_third_try_once(
    customers: AuthService, local: Settings
) -> None:
    with serve(Receiver(script=[500, 503], secret=SECRET)) as receiver:
        put(customers, notice((webhook(receiver),)))
        drain(customers, worker(customers, local))
    assert [r.status for r in receiver.received] == [500, 503, 200]
    assert [r.problem for r in receiver.received] == [None, None, None]  # each attempt signed, and verified
    assert len(receiver.accepted()) == 1
    assert len({r.headers["idempotency-key"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    assert receiver.received[0].headers["sightline-event"] == "alert.opened"
    [row] = log(customers)
    assert (row["status"], row["attempts"], row["lastcode"], row["lasterror"]) == ("delivered", 3, 200, None)
    assert row["idempotencykey"] == receiver.received[0].headers["idempotency-key"]


def test_a_wrong_secret_is_refused_by_the_receiver_for_good(customers: AuthService, local: Settings) -> None:
    with serve(Receiver(secret="the receivers-own")) as receiver:
        put(customers, notice((webhook(receiver),)))
        drain(customers, worker(customers, local))
    assert [(r.status, r.problem) for r in receiver.received] == [(400, "bad signature")]
    assert log(customers)[0]["status"] == "failed"


@pytest.mark.parametrize(
    ("script", "statuses", "status"),
    [
        ([404], [404], "failed"),
        ([410], [410], "failed"),
        ([301], [301], "failed"),
        ([408, 429], [408, 429, 200], "delivered"),
        ([500] * 9, [500] * 5, "failed"),
    ],
)
def test_4xx_is_permanent_but_408_and_429_attempts_are_bounded(
    customers: AuthService, local: Settings, script: list[int], statuses: list[int], status: str
) -> None:
    with serve(Receiver(script=list(script))) as receiver:
        put(customers, notice((webhook(receiver),)))
        drain(customers, worker(customers, local))
    assert [r.status for r in receiver.received] == statuses
    [row] = log(customers)
    assert (row["status"], row["attempts"], row["lastcode"]) == (status, len(statuses), statuses[-1])


def test_the_workers_deliver_only_while_their_process_holds_the_lease(customers: AuthService, local: Settings) -> None:
    held = threading.Event()
    with serve(Receiver(secret=SECRET)) as receiver:
        put(customers, notice((webhook(receiver),)))
        deliverer = worker(customers, local, workers=2, may_run=held.is_set)
        deliverer.start()
        try:
            time.sleep(0.3)  # 15 polls
            assert pending(customers) == 1
            assert receiver.received == []
            held.set()
            deadline = time.monotonic() + 30
            while pending(customers):
                assert time.monotonic() < deadline
                time.sleep(0.02)
        finally:
            deliverer.stop()
    assert len(receiver.accepted()) == 1


def test_a_restart_in_the_middle_resumes_and_does_not_duplicate(customers: AuthService, local: Settings) -> None:
    with serve(Receiver(delay_s=0.2, secret=SECRET)) as receiver:
        put(customers, *(notice((webhook(receiver),), alert_id=f"a-{n}") for n in range(6)))
        first = worker(customers, local, workers=2)
        first.start()
        deadline = time.monotonic() + 30
        while not receiver.accepted():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        first.stop()  # lets the send under way finish and be recorded
        assert 0 < 6 - pending(customers) < 6
        second = worker(customers, local, workers=2)
        second.start()
        while pending(customers):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second.stop()
    keys = [r.headers["idempotency-key"] for r in receiver.received]
    assert len(keys) == len(set(keys)) == 6
    assert all(r.status == 200 for r in receiver.received)
    assert {row["attempts"] for row in log(customers)} == {1}


def test_a_crash_after_the_send_resends_with_the_same_key_once_the_lease_expires(
    customers: AuthService, local: Settings
) -> None:
    clock = Clock()
    with serve(Receiver(secret=SECRET)) as receiver:
        put(customers, notice((webhook(receiver),)))
        crashed = worker(customers, local, clock=clock)
        job = crashed.claim()
        assert job is not None
        assert Senders(local).send(job, clock()).delivered  # sent; the process dies before recording it
        restarted = worker(customers, local, clock=clock)
        assert not restarted.deliver_one()  # the lease holds
        clock.ahead = timedelta(seconds=31)
        drain(customers, restarted)
    first, second = receiver.received
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.body == second.body
    assert (second.problem, log(customers)[0]["attempts"]) == (None, 2)


def test_an_alerts_notices_reach_a_target_in_order(customers: AuthService, local: Settings) -> None:
    with serve(Receiver(script=[500, 500])) as receiver:
        target = webhook(receiver)
        put(customers, notice((target,)))
        put(customers, notice((target,), transition="resolve"))
        drain(customers, worker(customers, local))
    events = [(r.headers["sightline-event"], r.status) for r in receiver.received]
    assert events == [("alert.opened", 500), ("alert.opened", 500), ("alert.opened", 200), ("alert.resolved", 200)]


def test_one_delivery_at_a_time_per_target_and_per_customer_at_most_half_the_workers(
    customers: AuthService, local: Settings
) -> None:
    def target(name: str) -> tuple[Recipient]:
        return (Recipient("webhook", f"http://127.0.0.1:9/{name}"),)

    put(customers, notice(target("slow"), alert_id="x"), notice(target("slow"), alert_id="y"))
    put(customers, notice(target("z"), alert_id="z"), notice(target("w"), alert_id="w"))
    put(customers, notice(target("b"), alert_id="b", customer_id=B))
    claiming = worker(customers, local, workers=4)
    claimed = [claiming.claim() for _ in range(4)]
    # y waits for its target; w for its customer, which holds half the workers
    assert [job.notice.alert_id if job else None for job in claimed] == ["x", "z", "b", None]


def test_a_slack_payload_is_accepted_by_a_receiver_that_checks_slacks_shape(
    customers: AuthService, local: Settings
) -> None:
    title = "VSF <12 %> & rising on cdn=Akamai ∧ country=US " + "x" * 300
    with serve(Receiver()) as receiver:
        slack = Recipient("slack", receiver.url + "/slack/services/T000/B000/XXXXXXXX")
        put(customers, notice((slack,), title=title))
        drain(customers, worker(customers, local))
    [received] = receiver.received
    assert (received.status, received.problem) == (200, None)
    payload = json.loads(received.body)
    assert payload["text"].startswith("[CRITICAL] Alert opened: VSF &lt;12 %&gt; &amp; rising")
    assert "sightline-signature" not in received.headers
    assert received.headers["idempotency-key"] == log(customers)[0]["idempotencykey"]


def test_webhooks_to_private_addresses_are_refused_by_default(customers: AuthService, settings: Settings) -> None:
    with serve(Receiver()) as receiver:
        put(customers, notice((webhook(receiver),)))
        drain(customers, worker(customers, settings))
    assert receiver.received == []
    [row] = log(customers)
    assert row["status"] == "failed"
    assert "private address" in str(row["lasterror"])


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with run_smtp(Mailbox(refuse=frozenset({"nobody@example.com"}))) as running:
        yield running


def test_an_email_goes_over_smtp_with_text_and_html(customers: AuthService, local: Settings, mailbox: Mailbox) -> None:
    smtp = local.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": mailbox.port, "smtp_security": "none", "smtp_from": "a@x.org"}
    )
    recipients = (Recipient("email", "ops@example.com"), Recipient("email", "nobody@example.com"))
    put(customers, notice(recipients, title="VSF <b>12 %</b>"))
    drain(customers, worker(customers, smtp))
    [(to, message)] = mailbox.messages
    rows = {row["target"]: row for row in log(customers)}
    assert to == ["ops@example.com"]
    assert message["Subject"] == "[CRITICAL] Alert opened: VSF <b>12 %</b>"
    assert message["Message-ID"] == f"<{rows['ops@example.com']['idempotencykey']}@x.org>"
    kinds = [part.get_content_type() for part in message.walk()]
    assert kinds == ["multipart/alternative", "text/plain", "text/html"]
    assert (rows["ops@example.com"]["status"], rows["ops@example.com"]["lastcode"]) == ("delivered", 250)
    refused = rows["nobody@example.com"]
    assert (refused["status"], refused["attempts"], refused["lastcode"]) == ("failed", 1, 550)


@pytest.mark.parametrize("security", ["starttls", "tls"])
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # aiosmtpd's, on implicit TLS
def test_an_email_over_tls_with_a_login(customers: AuthService, local: Settings, tmp_path: Path, security: str) -> None:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    login = ("alerts", "smtp-pass")
    with run_smtp(Mailbox(), tls=server, login=login, implicit_tls=security == "tls") as box:
        smtp = local.model_copy(
            update={
                "smtp_host": "127.0.0.1",
                "smtp_port": box.port,
                "smtp_security": security,
                "smtp_user": "alerts",
                "smtp_password": SecretStr("smtp-pass"),
                "smtp_from": "alerts@example.com",
                "smtp_ca_file": tmp_path / "ca.pem",
            }
        )
        put(customers, notice((Recipient("email", "ops@example.com"),)))
        drain(customers, worker(customers, smtp))
    assert len(box.messages) == 1
    assert log(customers)[0]["status"] == "delivered"


def test_an_email_without_smtp_settings_fails_saying_so(customers: AuthService, local: Settings) -> None:
    put(customers, notice((Recipient("email", "ops@example.com"),)))
    drain(customers, worker(customers, local))
    [row] = log(customers)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    assert "SIGHTLINE_SMTP_HOST" in str(row["lasterror"])


class BrokenSenders(Senders):
    """Senders with a bug of ours: every send raises."""

    def send(self, job: Job, now: datetime) -> Outcome:
        raise RuntimeError("a bug")


def test_an_error_of_ours_in_sending_is_retried_and_ends_failed_not_claimed_forever(
    customers: AuthService, local: Settings
) -> None:
    put(customers, notice((Recipient("webhook", "http://127.0.0.1:9/x"),)))
    broken = DeliveryWorker(sessionmaker(customers.engine), BrokenSenders(local), RetryPolicy(3, 0.01, 0.01))
    drain(customers, broken)
    [row] = log(customers)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert str(row["lasterror"]).startswith("Sightline could not send it")
