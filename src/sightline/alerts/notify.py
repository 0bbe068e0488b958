"""The interface between the alerts engine and its notifications (/work/briefs/notify_contract.md).

This branch holds the contract's types and a stand-in `enqueue` that logs the notices it is given; the
notifications module (delivery, its tables, retries, the delivery log) replaces this file when it is merged. The
engine calls `enqueue(session, notices)` in the transaction of the alerts' state change and knows nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

Level = Literal["critical", "major", "warning"]
"""A recipient's level and an alert's severity, most severe first."""
Transition = Literal["open", "escalate", "resolve"]
LEVELS: tuple[Level, ...] = ("critical", "major", "warning")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a rule's notifications go, and from which severity on (`level`: a recipient at "major" gets major
    and critical alerts; resolves go to whoever got the alert)."""

    kind: Literal["webhook", "slack", "email"]
    target: str
    level: Level = "warning"
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """One transition of one alert, to tell its recipients. `key` is unique per (alert, transition, occurrence),
    so enqueueing it twice (a replay, a restart) delivers it once."""

    key: str
    customer_id: int
    alert_id: str
    rule_id: str
    transition: Transition
    severity: Level
    title: str
    alert: Mapping[str, Any]
    recipients: tuple[Recipient, ...]


def enqueue(session: Session, notices: Sequence[Notice]) -> None:
    """Record `notices` for delivery in the caller's transaction; idempotent by `Notice.key`. (Stand-in: logs.)"""
    for notice in notices:
        log.info("notice %s to %d recipient(s): %s", notice.key, len(notice.recipients), notice.title)
