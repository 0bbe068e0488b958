"""The notifications' outbox in the metadata database: the notices to tell, and one delivery per (notice,
recipient), which is also the delivery log that the API reads.

Invariants: a notice is recorded once per (customer, key); a delivery once per idempotency key, which is
derived from the customer, the notice's key and the recipient (so it is the same on every attempt, and on a
notice enqueued again). A delivery is `pending` until it is `delivered` or `failed`; a pending delivery is due
at `next_attempt_at`, which a worker that claims it moves one lease ahead (so that a crashed worker's claim
expires by itself). `secret` (a webhook's HMAC key) is stored to sign with and never read back by the log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from sightline.alerts.targets import shown_target
from sightline.auth.models import Base, UtcDateTime

Status = Literal["pending", "delivered", "failed"]
STATUSES: tuple[Status, ...] = ("pending", "delivered", "failed")


class AlertNotice(Base):
    """One transition of one alert to tell, as the engine enqueued it (`notify.Notice` without recipients)."""

    __tablename__ = "alert_notices"
    __table_args__ = (
        Index("ix_alert_notices_customer_id_key", "customer_id", "key", unique=True),
        Index("ix_alert_notices_customer_id_alert_id", "customer_id", "alert_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customers.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    alert_id: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(64))
    transition: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    alert: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AlertDelivery(Base):
    """A notice to one recipient, its attempts and its outcome. `last_code` is the receiver's HTTP status or
    the SMTP server's reply code; `last_error` says what went wrong in our words (never a target or a secret)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_alert_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_alert_deliveries_customer_id_alert_id", "customer_id", "alert_id"),
        Index("ix_alert_deliveries_customer_id_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("alert_notices.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    alert_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(2000))
    level: Mapped[str] = mapped_column(String(16))
    secret: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


def _epoch(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _log_row(delivery: AlertDelivery, notice: AlertNotice) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "alertid": delivery.alert_id,
        "ruleid": notice.rule_id,
        "notice": notice.key,
        "transition": notice.transition,
        "severity": notice.severity,
        "title": notice.title,
        "kind": delivery.kind,
        "target": shown_target(delivery.kind, delivery.target),
        "level": delivery.level,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created": _epoch(delivery.created_at),
        "lastattempt": _epoch(delivery.last_attempt_at),
        "nextattempt": _epoch(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "delivered": _epoch(delivery.delivered_at),
        "lastcode": delivery.last_code,
        "lasterror": delivery.last_error,
        "idempotencykey": delivery.idempotency_key,
    }


def read_log(
    session: Session, customer_id: int, alert_id: str | None, status: Status | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of the customer's deliveries, newest first, of one alert and in one status when given, as the
    API answers them; and how many there are in all."""
    conditions = [AlertDelivery.customer_id == customer_id]
    if alert_id is not None:
        conditions.append(AlertDelivery.alert_id == alert_id)
    if status is not None:
        conditions.append(AlertDelivery.status == status)
    total = session.scalar(select(func.count()).select_from(AlertDelivery).where(*conditions)) or 0
    rows = session.execute(
        select(AlertDelivery, AlertNotice)
        .join(AlertNotice, AlertDelivery.notice_id == AlertNotice.id)
        .where(*conditions)
        .order_by(AlertDelivery.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [_log_row(delivery, notice) for delivery, notice in rows], total
