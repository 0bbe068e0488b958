"""Notifications of alerts: what the engine tells (`Notice`), to whom (`Recipient`), and `enqueue`, which
records them in the outbox (alerts/outbox.py) in the engine's own transaction. The delivery worker
(alerts/delivery.py) sends them; the engine knows nothing of delivery (docs/alerts.md, "Notifications").

Who is told: of an open, an escalation or a widening, each recipient whose level admits the notice's severity (a
recipient at "major" gets major and critical notices); of a resolve, whoever was told of the alert before,
whatever the severity. A recipient listed twice (same kind and target) is told once. A recipient that
`recipient_problem` refuses is recorded as a failed delivery saying why, never raised: one rule's bad
recipient must not undo the engine's transaction.
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from sightline.alerts.outbox import AlertDelivery, AlertNotice
from sightline.alerts.targets import parse_web_target

Level = Literal["critical", "major", "warning"]
"""A recipient's level, and an alert's severity; most severe first."""
Transition = Literal["open", "escalate", "widen", "resolve"]
"""An alert opened, its severity rose, its cohort widened to a broader one (the incident is bigger than first
seen), it resolved."""
Kind = Literal["webhook", "slack", "email"]
LEVELS: tuple[Level, ...] = ("critical", "major", "warning")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}
_KEYS = uuid.UUID("0b6f6a57-4a59-4f47-9d0b-5c3e2f4a8a10")
"""The namespace of idempotency keys (UUIDv5)."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a rule's notifications go, and from which severity on (`level`: a recipient at "major" gets major
    and critical alerts; resolves go to whoever got the alert)."""

    kind: Kind
    target: str
    """An http(s) URL for webhook and slack, an e-mail address for email."""
    level: Level = "warning"
    secret: str | None = None
    """Webhook only: the HMAC-SHA256 key; never answered back by the API."""


@dataclass(frozen=True, slots=True)
class Notice:
    """One transition of one alert, to tell its recipients. `key` is unique per (alert, transition, occurrence),
    e.g. f"{alert_id}:{transition}:{n}", so enqueueing it twice (a replay, a restart) delivers it once."""

    key: str
    customer_id: int
    alert_id: str
    rule_id: str
    transition: Transition
    severity: Level
    title: str
    """One line, e.g. "VSF 12.3 % on cdn=Akamai ∧ country=US (expected 1.1 %)"."""
    alert: Mapping[str, Any]
    """The alert as getAIAlerts answers it (JSON-able)."""
    recipients: tuple[Recipient, ...]


def admits(level: Level, severity: Level) -> bool:
    """Whether a recipient at `level` is told of an alert of `severity`."""
    return _RANK[severity] <= _RANK[level]


_EMAIL = re.compile(
    r"[^@\s<>,;:\"()\[\]]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]"
)
"""One address: a local part without spaces or the separators of address lists; a domain of labels that neither
start nor end with a hyphen, under a top-level domain of 2 characters or more (IDNs in their xn-- form)."""
MAX_TARGET = 2000
MAX_SECRET = 500


def recipient_problem(recipient: Recipient) -> str | None:
    """What is wrong with `recipient`, in words for a 400 (the rules API checks recipients with it); None when
    nothing is. A URL of http(s) with a host for webhook and slack, one e-mail address for email, a known
    level, a secret for webhooks only."""
    target, kind = recipient.target, recipient.kind
    if kind not in ("webhook", "slack", "email"):
        return f"a recipient's kind must be webhook, slack or email, not {kind!r}"
    if recipient.level not in LEVELS:
        return f"a recipient's level must be one of {', '.join(LEVELS)}, not {recipient.level!r}"
    if len(target) > MAX_TARGET:
        return f"a recipient's target must be at most {MAX_TARGET} characters"
    if kind == "email" and not _EMAIL.fullmatch(target):
        return "an email recipient's target must be one e-mail address (name@domain)"
    if kind != "email" and parse_web_target(target) is None:
        return f"a {kind} recipient's target must be an http(s) URL"
    if any(unicodedata.category(c) == "Cc" for c in (*target, *(recipient.secret or ""))):
        return "a recipient's target and secret must be printable text, without control characters"
    if recipient.secret is not None and (kind != "webhook" or not 0 < len(recipient.secret) <= MAX_SECRET):
        return f"only a webhook recipient has a secret, of 1 to {MAX_SECRET} characters"
    return None


def idempotency_key(customer_id: int, notice_key: str, recipient: Recipient) -> str:
    """The key of a (notice, recipient) delivery: the same on every attempt and on every enqueueing."""
    return str(uuid.uuid5(_KEYS, f"{customer_id}\n{notice_key}\n{recipient.kind}\n{recipient.target}"))


def enqueue(session: Session, notices: Sequence[Notice]) -> None:
    """Record `notices` for delivery in the metadata database, in the caller's transaction (so an alert's state
    and its notices commit together: a restart neither loses nor repeats one). Idempotent by `Notice.key`."""
    now = datetime.now(UTC)
    for notice in notices:
        same = (AlertNotice.customer_id == notice.customer_id, AlertNotice.key == notice.key)
        if session.scalar(select(AlertNotice.id).where(*same)) is not None:
            continue
        row = AlertNotice(
            customer_id=notice.customer_id,
            key=notice.key,
            alert_id=notice.alert_id,
            rule_id=notice.rule_id,
            transition=notice.transition,
            severity=notice.severity,
            title=notice.title[:500],
            alert=_jsonable(notice.alert),
            created_at=now,
        )
        session.add(row)
        session.flush()
        for recipient in _addressees(session, notice):
            problem = recipient_problem(recipient)  # recorded as failed, not raised: the engine's round goes on
            session.add(
                AlertDelivery(
                    notice_id=row.id,
                    customer_id=notice.customer_id,
                    alert_id=notice.alert_id,
                    kind=recipient.kind[:16],
                    target=recipient.target[:MAX_TARGET],
                    level=recipient.level[:16],
                    secret=None if problem else recipient.secret,
                    idempotency_key=idempotency_key(notice.customer_id, notice.key, recipient),
                    status="failed" if problem else "pending",
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                    last_error=problem,
                )
            )
        session.flush()


def _jsonable(value: Any) -> Any:
    """`value` as JSON can hold it: mappings with string keys, lists, and no NaN or infinity (null instead);
    anything else as its text. So that no alert's content can fail the engine's transaction."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def _addressees(session: Session, notice: Notice) -> list[Recipient]:
    """Who is told of `notice`, each (kind, target) once."""
    if notice.transition == "resolve":
        current = {(r.kind, r.target): r for r in notice.recipients}  # for a secret changed since
        ordered = [current.get((r.kind, r.target), r) for r in _told(session, notice)]
    else:
        ordered = [r for r in notice.recipients if recipient_problem(r) or admits(r.level, notice.severity)]
    chosen: dict[tuple[str, str], Recipient] = {}
    for recipient in ordered:
        chosen.setdefault((recipient.kind, recipient.target), recipient)
    return list(chosen.values())


def _told(session: Session, notice: Notice) -> list[Recipient]:
    """The recipients that were told of the alert of `notice` before it (by any notice but a resolve), in the
    order they were first told, each with its latest level and secret."""
    rows = session.scalars(
        select(AlertDelivery)
        .join(AlertNotice, AlertDelivery.notice_id == AlertNotice.id)
        .where(
            AlertDelivery.customer_id == notice.customer_id,
            AlertDelivery.alert_id == notice.alert_id,
            AlertNotice.transition != "resolve",
        )
        .order_by(AlertDelivery.id)
    ).all()
    latest = {(row.kind, row.target): row for row in rows}
    return [Recipient(cast(Kind, r.kind), r.target, cast(Level, r.level), r.secret) for r in latest.values()]
