"""The delivery worker: sends the outbox's due deliveries (alerts/outbox.py), retries with backoff, and
records each outcome. Started and stopped by the app's lifespan; `deliver_one` is one step of it.

Exactly one effect per (notice, recipient), as far as a receiver can tell: a delivery is claimed by moving
its `next_attempt_at` one lease ahead and counting the attempt, in one conditional UPDATE (so that two
workers, in one process or several, never both claim it), then sent, then recorded under the same
condition. A process killed after the send and before the record sends again once the lease has expired,
with the same `Idempotency-Key` (a receiver that remembers keys drops it); a restart resumes every pending
delivery. Retries: the wait before attempt n + 1 is `base · 2^(n-1)`, at most `cap`, at least what the
receiver's `Retry-After` asks, of which a random half is left out (jitter); after `max_attempts` the
delivery is `failed`. A target gets one delivery at a time, and an alert's notices in the order they were
enqueued; a customer holds at most half the workers, so that another customer's notices never wait on its
receivers.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from sqlalchemy import Engine, and_, exists, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from sightline.alerts.notify import Level, Notice, Transition
from sightline.alerts.outbox import AlertDelivery, AlertNotice
from sightline.alerts.senders import Job, Outcome, Senders
from sightline.alerts.targets import shown_target
from sightline.auth.clock import Clock, utc_now
from sightline.settings import Settings

logger = logging.getLogger(__name__)
LEASE = "notifications"
"""The lease (`auth.leases`) under which one process of the service delivers notifications: the limits of one
delivery at a time per target and half the workers per customer are this process's, so they hold for the service
only while one process delivers."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long a delivery is tried (`Settings.notify_*`)."""

    max_attempts: int = 10
    base_s: float = 10.0
    cap_s: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.notify_max_attempts, settings.notify_retry_base_s, settings.notify_retry_cap_s)

    def delay_s(self, attempt: int, jitter: float, retry_after_s: float | None = None) -> float:
        """The wait after failed attempt `attempt` (1 for the first), `jitter` drawn from [0, 1): the
        exponential wait (at least `retry_after_s`, at most the cap), less up to half of it."""
        wait = min(self.cap_s, max(self.base_s * 2.0 ** (attempt - 1), retry_after_s or 0.0))
        return wait / 2 + wait / 2 * jitter


class DeliveryWorker:
    """`workers` threads that deliver due deliveries until `stop` (which lets each finish and record the
    delivery it is sending), claiming one only while `may_run()` (this process holds the `LEASE`). `lease` bounds
    one attempt: longer than the senders' time limit."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        senders: Senders,
        policy: RetryPolicy,
        *,
        workers: int = 1,
        poll_s: float = 1.0,
        lease: timedelta = timedelta(minutes=1),
        clock: Clock = utc_now,
        jitter: Callable[[], float] = random.random,
        may_run: Callable[[], bool] = lambda: True,
    ) -> None:
        self._sessions = sessions
        self._may_run = may_run
        self._senders = senders
        self._policy = policy
        self._poll_s = poll_s
        self._lease = lease
        self._clock = clock
        self._jitter = jitter
        self._per_customer = max(1, workers // 2)
        self._lock = threading.Lock()
        self._busy_targets: set[str] = set()
        self._busy_customers: Counter[int] = Counter()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"sightline-notify-{n}", daemon=True) for n in range(workers)
        ]

    @classmethod
    def for_settings(
        cls, engine: Engine, settings: Settings, may_run: Callable[[], bool] = lambda: True
    ) -> DeliveryWorker:
        return cls(
            sessionmaker(engine, expire_on_commit=False),
            Senders(settings),
            RetryPolicy.from_settings(settings),
            workers=settings.notify_workers,
            poll_s=settings.notify_poll_s,
            lease=timedelta(seconds=3 * settings.notify_timeout_s + 30),
            may_run=may_run,
        )

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()
        self._senders.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                delivered = self._may_run() and self.deliver_one()
            except Exception:
                logger.exception("delivering notifications failed; trying again in %s s", self._poll_s)
                delivered = False
            if not delivered:
                self._stopping.wait(self._poll_s)

    def deliver_one(self) -> bool:
        """Claim one due delivery, send it and record the outcome; False when none is due."""
        job = self.claim()
        if job is None:
            return False
        try:
            try:
                outcome = self._senders.send(job, self._clock())
            except Exception:  # an error of ours: retried like a failed send, so that it ends as `failed`
                logger.exception("notification %s could not be sent", job.delivery_id)
                outcome = Outcome(False, error="Sightline could not send it (an internal error: see the service's log)")
            self.record(job, outcome)
        finally:
            with self._lock:
                self._busy_targets.discard(job.target)
                self._busy_customers[job.notice.customer_id] -= 1
        return True

    def claim(self) -> Job | None:
        """The earliest due delivery whose target is idle, whose customer has workers left and that no earlier
        pending delivery of its alert to its target precedes; claimed (its lease taken, its attempt counted)."""
        with self._lock, self._sessions.begin() as session:
            now = self._clock()
            earlier = aliased(AlertDelivery)
            precedes = exists().where(
                and_(
                    earlier.customer_id == AlertDelivery.customer_id,
                    earlier.alert_id == AlertDelivery.alert_id,
                    earlier.kind == AlertDelivery.kind,
                    earlier.target == AlertDelivery.target,
                    earlier.status == "pending",
                    earlier.id < AlertDelivery.id,
                )
            )
            full = [customer for customer, n in self._busy_customers.items() if n >= self._per_customer]
            due = (
                select(AlertDelivery, AlertNotice)
                .join(AlertNotice, AlertDelivery.notice_id == AlertNotice.id)
                .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now, ~precedes)
                .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
                .limit(1)
            )
            if self._busy_targets:
                due = due.where(AlertDelivery.target.not_in(self._busy_targets))
            if full:
                due = due.where(AlertDelivery.customer_id.not_in(full))
            found = session.execute(due).first()
            if found is None:
                return None
            delivery, notice = found
            attempt = delivery.attempts + 1
            claimed = session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id == delivery.id, AlertDelivery.attempts == delivery.attempts)
                .where(AlertDelivery.status == "pending")
                .values(attempts=attempt, last_attempt_at=now, next_attempt_at=now + self._lease)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            self._busy_targets.add(delivery.target)
            self._busy_customers[delivery.customer_id] += 1
            return _job(delivery, notice, attempt)

    def record(self, job: Job, outcome: Outcome) -> None:
        """Record the outcome of `job`'s attempt, unless another worker claimed the delivery since."""
        now = self._clock()
        values: dict[str, object] = {"last_code": outcome.code, "last_error": outcome.error}
        if outcome.delivered:
            values |= {"status": "delivered", "delivered_at": now}
        elif outcome.permanent or job.attempt >= self._policy.max_attempts:
            values |= {"status": "failed"}
        else:
            wait = self._policy.delay_s(job.attempt, self._jitter(), outcome.retry_after_s)
            values |= {"next_attempt_at": now + timedelta(seconds=wait)}
        with self._sessions.begin() as session:
            session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id == job.delivery_id, AlertDelivery.attempts == job.attempt)
                .where(AlertDelivery.status == "pending")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        if not outcome.delivered:
            logger.warning(
                "notification %s of alert %s to %s %s, attempt %d: %s%s",
                job.delivery_id,
                job.notice.alert_id,
                job.kind,
                shown_target(job.kind, job.target),
                job.attempt,
                outcome.error,
                "" if values.get("status") != "failed" else " (failed)",
            )


def _job(delivery: AlertDelivery, notice: AlertNotice, attempt: int) -> Job:
    told = Notice(
        key=notice.key,
        customer_id=notice.customer_id,
        alert_id=notice.alert_id,
        rule_id=notice.rule_id,
        transition=cast(Transition, notice.transition),
        severity=cast(Level, notice.severity),
        title=notice.title,
        alert=notice.alert,
        recipients=(),
    )
    return Job(
        delivery.id,
        attempt,
        delivery.kind,
        delivery.target,
        delivery.secret,
        delivery.idempotency_key,
        told,
        notice.created_at,
    )
