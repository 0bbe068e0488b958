"""Alert rules in the metadata database: read, added, replaced and deleted per customer (IO).

Invariants: every read and write is scoped to one customer (another customer's rule id is not found); a customer
gets the default rules once, the first time its rules are read (`alert_customers` remembers it, so a customer that
deleted them does not get them back), or at migration 0003 for the customers that existed then; a replaced rule
keeps the secret of a webhook recipient whose target is unchanged when none is sent (the API never answers it)
unless `hassecret` is false; the alerts going on of a deleted or disabled rule, or of one no longer valid (read
again, the catalog refuses it), are resolved; no two rules of a customer have one name (compared without case and
outer spaces: it titles the alerts and notices).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sightline.alerts.models import AlertCustomerRow, AlertRow, AlertRuleRow
from sightline.alerts.rules import (
    MAX_MINIMUM,
    MAX_NAME,
    AlertRule,
    RecipientInput,
    RuleInput,
    default_rules,
    has_visible,
    parse_rule,
    unfit_for_one_line,
)
from sightline.query.pipeline import RequestError

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


class RuleNotFoundError(LookupError):
    """No rule of that id for the customer."""


class RuleNameTakenError(ValueError):
    """Another rule of the customer has the name."""


def default_rule_definitions() -> list[str]:
    """The `definition` of each default rule, as stored (migration 0003 inserts them too)."""
    return [rule.stored() for rule in default_rules()]


def load_rule(row: AlertRuleRow) -> AlertRule | None:
    """The stored rule, validated again; None (logged) when the catalog no longer allows it."""
    try:
        return _parsed(row.customer_id, row.definition, row.id)
    except (ValidationError, RequestError) as error:
        log.warning("alert rule %s of customer %s is no longer valid: %s", row.id, row.customer_id, error)
        return None


def _parsed(customer_id: int, definition: str, rule_id: str = "") -> AlertRule:
    return parse_rule(customer_id, RuleInput.model_validate_json(definition), rule_id)


def _valid(customer_id: int, definition: str) -> bool:
    try:
        _parsed(customer_id, definition)
    except (ValidationError, RequestError):
        return False
    return True


def mended(rule_id: str, customer_id: int, definition: str) -> str | None:
    """A stored definition that checks added since refuse, mended (migration 0007), or None when it is valid as it
    is or cannot be mended: a name's line separators and bidirectional controls become spaces (a name left with
    nothing to see is `Rule <id>`), `minattempts` and `minusers` are brought within their bounds, and a recipient
    no longer allowed (a URL that no client can send to) is left out."""
    if _valid(customer_id, definition):
        return None
    try:
        given = json.loads(definition)
    except ValueError:
        return None
    if not isinstance(given, dict):
        return None
    if isinstance(given.get("name"), str):
        name = "".join(" " if unfit_for_one_line(c) else c for c in given["name"]).strip()
        given["name"] = name[:MAX_NAME] if has_visible(name) else f"Rule {rule_id[:8]}"
    for field in ("minattempts", "minusers"):
        if isinstance(given.get(field), int):
            given[field] = min(max(given[field], 0), MAX_MINIMUM)
    if isinstance(given.get("recipients"), list):
        alone = {**given, "recipients": []}
        given["recipients"] = [
            r for r in given["recipients"] if _valid(customer_id, json.dumps({**alone, "recipients": [r]}))
        ]
    text = json.dumps(given)
    return text if _valid(customer_id, text) else None


class RuleStore:
    """The rules of every customer, over one metadata database."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def rules(self, customer_id: int) -> list[AlertRule]:
        """The customer's rules, oldest first, then by name (the defaults added first if it never had them)."""
        return [rule for rule, _ in self.versions(customer_id)]

    def versions(self, customer_id: int) -> list[tuple[AlertRule, str]]:
        """The customer's rules as `rules` orders them, each with the stored definition it was read from (its
        version: an edit that changes the rule changes it, whatever the clock says)."""
        self._ensure_defaults(customer_id)
        with self._sessions() as session:
            rows = session.scalars(select(AlertRuleRow).where(AlertRuleRow.customer_id == customer_id)).all()
        loaded: list[tuple[datetime, AlertRule, str]] = []
        invalid: list[str] = []
        for row in rows:
            rule = load_rule(row)
            if rule is None:
                invalid.append(row.id)
            else:
                loaded.append((row.created_at, rule, row.definition))
        if invalid:
            with self._sessions.begin() as session:
                for rule_id in invalid:  # it judges no more, as a disabled rule
                    _end_alerts(session, rule_id)
        loaded.sort(key=lambda each: (each[0], each[1].name, each[1].id))
        return [(rule, version) for _, rule, version in loaded]

    def rule(self, customer_id: int, rule_id: str) -> AlertRule:
        with self._sessions() as session:
            rule = load_rule(self._row(session, customer_id, rule_id))
        if rule is None:
            raise RuleNotFoundError(f"rule {rule_id} is no longer valid")
        return rule

    def add(self, customer_id: int, given: RuleInput) -> AlertRule:
        """A new rule (RequestError when `given` is invalid)."""
        rule_id = str(uuid.uuid4())
        rule = parse_rule(customer_id, given, rule_id)
        self._ensure_defaults(customer_id)
        now = self._clock()
        with self._sessions.begin() as session:
            _check_name(session, customer_id, rule.name, rule_id)
            definition = rule.to_input().stored()
            session.add(
                AlertRuleRow(id=rule_id, customer_id=customer_id, definition=definition, created_at=now, updated_at=now)
            )
        return rule

    def replace(self, customer_id: int, rule_id: str, given: RuleInput) -> AlertRule:
        """The rule `rule_id` replaced by `given`, keeping unchanged webhooks' secrets (see the invariants)."""
        with self._sessions.begin() as session:
            row = self._row(session, customer_id, rule_id)
            before = json.loads(row.definition)  # as stored, valid by today's rules or not
            kept = {
                r["target"]: r["secret"]
                for r in before.get("recipients") or []
                if r.get("kind") == "webhook" and r.get("secret")
            }
            recipients = [_with_secret(r, kept) for r in given.recipients]
            rule = parse_rule(customer_id, given.model_copy(update={"recipients": recipients}), rule_id)
            if _name_key(rule.name) != _name_key(str(before.get("name", ""))):  # a rule keeps the name it has
                _check_name(session, customer_id, rule.name, rule_id)
            row.definition = rule.to_input().stored()
            row.updated_at = self._clock()
            if not rule.enabled:
                _end_alerts(session, rule_id)
        return rule

    def delete(self, customer_id: int, rule_id: str) -> None:
        """Delete the rule and end its alerts still going on."""
        with self._sessions.begin() as session:
            session.delete(self._row(session, customer_id, rule_id))
            _end_alerts(session, rule_id)

    @staticmethod
    def _row(session: Session, customer_id: int, rule_id: str) -> AlertRuleRow:
        row = session.get(AlertRuleRow, rule_id)
        if row is None or row.customer_id != customer_id:
            raise RuleNotFoundError(f"no alert rule {rule_id} for customer {customer_id}")
        return row

    def _ensure_defaults(self, customer_id: int) -> None:
        with self._sessions() as session:
            if session.get(AlertCustomerRow, customer_id) is not None:
                return
        now = self._clock()
        try:
            with self._sessions.begin() as session:
                session.add(AlertCustomerRow(customer_id=customer_id, defaults_added_at=now))
                session.flush()  # another process adding them at the same time fails here, before the rules
                session.add_all(
                    AlertRuleRow(
                        id=str(uuid.uuid4()), customer_id=customer_id, definition=text, created_at=now, updated_at=now
                    )
                    for text in default_rule_definitions()
                )
        except IntegrityError:
            log.info("default alert rules of customer %s were added by another process", customer_id)


def _with_secret(recipient: RecipientInput, kept: dict[str, str]) -> RecipientInput:
    """`recipient` with the secret its webhook had, unless it brings one or removes it (`hassecret` false)."""
    if (
        recipient.kind != "webhook"
        or recipient.secret is not None
        or recipient.hassecret is False
        or recipient.target not in kept
    ):
        return recipient
    return recipient.model_copy(update={"secret": kept[recipient.target]})


def _name_key(name: str) -> str:
    """What two names must differ by: case and outer spaces aside."""
    return name.strip().casefold()


def _check_name(session: Session, customer_id: int, name: str, rule_id: str) -> None:
    """RuleNameTakenError when a rule of the customer other than `rule_id` has `name`. First the transaction
    writes the customer's `alert_customers` row (unchanged), which locks it on PostgreSQL and the database on
    SQLite until the commit, so two writers of one name check one after the other."""
    same = AlertCustomerRow.customer_id == customer_id
    touch = update(AlertCustomerRow).where(same).values(defaults_added_at=AlertCustomerRow.defaults_added_at)
    session.execute(touch.execution_options(synchronize_session=False))
    others = session.execute(
        select(AlertRuleRow.id, AlertRuleRow.definition).where(
            AlertRuleRow.customer_id == customer_id, AlertRuleRow.id != rule_id
        )
    )
    key = _name_key(name)
    for other_id, definition in others:
        taken = str(json.loads(definition).get("name", ""))
        if _name_key(taken) == key:
            raise RuleNameTakenError(f"name {name!r}: the rule {other_id} is named {taken!r}; give this one another")


def _end_alerts(session: Session, rule_id: str) -> None:
    """Resolve the rule's alerts still going on (a deleted, disabled or invalid rule judges no more), each ending at
    its last anomalous interval; no notice: nobody asked to be told of them."""
    for alert in session.scalars(select(AlertRow).where(AlertRow.rule_id == rule_id, AlertRow.status != "resolved")):
        alert.status, alert.ended_at = "resolved", alert.last_seen_at
