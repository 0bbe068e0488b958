"""Stored alerts as getAIAlerts lists them, and acknowledged or muted through the API (IO).

Invariants: every read and write is scoped to one customer (another customer's alert id is not found); a page is
answered from the rows' columns and their stored JSON `body` spliced as bytes (`records.answer`), no JSON parsed;
acknowledging keeps the first acknowledgement; muting sets (or, with 0 seconds, lifts) the time until which the
alert's transitions notify nobody (its state still changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from sightline.alerts.lifecycle import STATUSES
from sightline.alerts.metrics import ALERT_METRICS
from sightline.alerts.models import AlertRow, AlertRuleRow
from sightline.alerts.notify import LEVELS
from sightline.alerts.records import answer
from sightline.alerts.store import Clock
from sightline.query.ast import Direction
from sightline.query.period import Period, PeriodError, parse_period
from sightline.query.pipeline import (
    RequestError,
    parse_bounded,
    parse_direction,
    parse_offset,
    split_names,
    unknown_value,
)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_MUTE_S = 30 * 86_400
ORDERS = ("start", "lastseen", "end", "severity", "metric", "status")
"""The fields getAIAlerts orders by (`orderby`); the default is the newest start first."""


class AlertNotFoundError(LookupError):
    """No alert of that id for the customer."""


@dataclass(frozen=True, slots=True)
class AlertsRequest:
    """A validated getAIAlerts request: alerts going on at some time in `period` that pass every filter given."""

    customer_id: int
    period: Period
    statuses: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()
    order_by: str = "start"
    direction: Direction = "DESC"
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def _names(parameter: str, text: str | None, allowed: Sequence[str]) -> tuple[str, ...]:
    names = split_names(text)
    for name in names:
        if name not in allowed:
            raise unknown_value(parameter, name, allowed)
    return tuple(dict.fromkeys(names))


def parse_alerts_request(
    customer_id: int,
    *,
    period: str,
    status: str | None = None,
    severity: str | None = None,
    metric: str | None = None,
    rule: str | None = None,
    orderby: str | None = None,
    order: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> AlertsRequest:
    """The request of getAIAlerts' parameters (RequestError names the one refused and what it allows)."""
    try:
        window = parse_period(period)
    except PeriodError as error:
        raise RequestError("period", str(error)) from error
    order_by = (orderby or "start").strip()
    if order_by not in ORDERS:
        raise unknown_value("orderby", order_by, ORDERS)
    return AlertsRequest(
        customer_id=customer_id,
        period=window,
        statuses=_names("status", status, STATUSES),
        severities=_names("severity", severity, LEVELS),
        metrics=_names("metric", metric, tuple(ALERT_METRICS)),
        rule_ids=tuple(dict.fromkeys(split_names(rule))),
        order_by=order_by,
        direction=parse_direction(order, None) or "DESC",
        limit=parse_bounded("limit", limit, DEFAULT_LIMIT, MAX_LIMIT),
        offset=parse_offset(offset),
    )


def _order(name: str) -> ColumnElement[Any] | InstrumentedAttribute[Any]:
    """The column (or expression) of an order field: severity from the most to the least severe."""
    if name == "severity":
        return case({level: rank for rank, level in enumerate(reversed(LEVELS))}, value=AlertRow.severity)
    columns: dict[str, ColumnElement[Any] | InstrumentedAttribute[Any]] = {
        "start": AlertRow.started_at,
        "lastseen": AlertRow.last_seen_at,
        "end": func.coalesce(AlertRow.ended_at, AlertRow.last_seen_at),
        "metric": AlertRow.metric,
        "status": AlertRow.status,
    }
    return columns[name]


def _check_rules(session: Session, customer_id: int, rule_ids: Sequence[str]) -> None:
    """RequestError naming `rule` unless each of `rule_ids` is a rule of the customer or was one (a deleted rule's
    alerts stay listed): an id mistyped would answer no alert, as if the rule had none."""
    if not rule_ids:
        return
    known = set(
        session.scalars(
            select(AlertRuleRow.id).where(AlertRuleRow.customer_id == customer_id, AlertRuleRow.id.in_(rule_ids))
        )
    )
    known.update(
        session.scalars(
            select(AlertRow.rule_id)
            .where(AlertRow.customer_id == customer_id, AlertRow.rule_id.in_(rule_ids))
            .distinct()
        )
    )
    unknown = next((rule_id for rule_id in rule_ids if rule_id not in known), None)
    if unknown is not None:
        message = (
            f"{unknown!r} is not a rule of customer {customer_id} (its rules: GET /mm-apis/alertrules/{customer_id})"
        )
        raise RequestError("rule", message)


class AlertStore:
    """The alerts of every customer, over one metadata database."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def page(self, request: AlertsRequest) -> tuple[list[bytes], int]:
        """The page of alerts `request` asks for, each as getAIAlerts answers it, and how many pass in all."""
        conditions = [
            AlertRow.customer_id == request.customer_id,
            AlertRow.started_at < request.period.end,
            or_(AlertRow.ended_at.is_(None), AlertRow.ended_at >= request.period.start),
        ]
        for column, values in (
            (AlertRow.status, request.statuses),
            (AlertRow.severity, request.severities),
            (AlertRow.metric, request.metrics),
            (AlertRow.rule_id, request.rule_ids),
        ):
            if values:
                conditions.append(column.in_(values))
        order = _order(request.order_by)
        ordered = order.asc() if request.direction == "ASC" else order.desc()
        tie = AlertRow.id.asc() if request.direction == "ASC" else AlertRow.id.desc()
        with self._sessions() as session:
            _check_rules(session, request.customer_id, request.rule_ids)
            total = session.scalar(select(func.count()).select_from(AlertRow).where(*conditions)) or 0
            rows = session.scalars(
                select(AlertRow).where(*conditions).order_by(ordered, tie).limit(request.limit).offset(request.offset)
            ).all()
            now = self._clock()
            return [answer(row, now) for row in rows], int(total)

    def acknowledge(self, customer_id: int, alert_id: str, by: str) -> bytes:
        """Acknowledge the alert (its escalations and widenings then notify nobody); the alert as answered."""
        with self._sessions.begin() as session:
            row = self._row(session, customer_id, alert_id)
            if row.acknowledged_at is None:
                row.acknowledged_at, row.acknowledged_by = self._clock(), by[:254]
            return answer(row, self._clock())

    def mute(self, customer_id: int, alert_id: str, seconds: int, by: str) -> bytes:
        """Mute the alert's notifications for `seconds` (0 lifts a mute); the alert as answered."""
        if not 0 <= seconds <= MAX_MUTE_S:
            raise RequestError("seconds", f"seconds must be between 0 (unmute) and {MAX_MUTE_S} (30 days)")
        with self._sessions.begin() as session:
            row = self._row(session, customer_id, alert_id)
            until: datetime | None = self._clock() + timedelta(seconds=seconds) if seconds else None
            row.muted_until, row.muted_by = until, (by[:254] if seconds else None)
            return answer(row, self._clock())

    @staticmethod
    def _row(session: Session, customer_id: int, alert_id: str) -> AlertRow:
        row = session.get(AlertRow, alert_id)
        if row is None or row.customer_id != customer_id:
            raise AlertNotFoundError(f"no alert {alert_id} for customer {customer_id}")
        return row
