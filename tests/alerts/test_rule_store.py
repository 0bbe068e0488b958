"""Rules in the metadata database (SQLite, and PostgreSQL when configured): the default rules of customers that
existed at migration 0003 and of later ones, given once."""

from __future__ import annotations

import contextlib
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from sightline.alerts import store
from sightline.alerts.models import AlertCustomerRow, AlertRow, AlertRuleRow
from sightline.alerts.rules import RuleInput, default_rules
from sightline.alerts.store import RuleStore
from sightline.auth.db import MIGRATIONS, migrate, open_engine
from sightline.auth.service import AuthService
from sightline.settings import Settings
from tests.auth.fixtures import ManualClock


def _store(auth: AuthService, clock: ManualClock) -> RuleStore:
    return RuleStore(sessionmaker(auth.engine, expire_on_commit=False), clock)


def _migrated_to(settings: Settings, revision: str) -> Engine:
    """The metadata database of `settings`, migrated up to `revision` only."""
    engine = open_engine(settings.metadata_database_url())
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine


def test_customers_that_existed_at_migration_get_the_default_rules(settings: Settings, clock: ManualClock) -> None:
    engine = _migrated_to(settings, "0002")
    auth = AuthService(engine, settings, clock)
    try:
        auth.accounts.add_customer(1001, "Alpha", 6831)
        migrate(engine)
        with engine.connect() as connection:
            rows = connection.execute(AlertRuleRow.__table__.select()).all()
            marked = connection.execute(AlertCustomerRow.__table__.select()).all()
        assert len(rows) == len(default_rules())
        assert [m.customer_id for m in marked] == [1001]
        assert sorted(r.metric.name for r in _store(auth, clock).rules(1001)) == sorted(
            r.metric for r in default_rules()
        )
    finally:
        auth.close()


def _definition(**changes: Any) -> str:
    """A stored rule's definition, valid but for `changes` (what a check added since refuses)."""
    hooks = [
        {"kind": "webhook", "target": "https://hooks.example/a", "secret": "kept"},
        {"kind": "slack", "target": "https://256.0.0.1/b"},
    ]
    given = json.loads(
        RuleInput.model_validate({"name": "Failures", "metric": "vsf", "recipients": hooks[:1]}).stored()
    )
    given["recipients"] = [{**given["recipients"][0]}, {**given["recipients"][0], **hooks[1], "secret": None}]
    return json.dumps({**given, **changes})


def test_a_stored_rule_that_later_checks_refuse_is_mended_at_migration_0007(
    settings: Settings, clock: ManualClock
) -> None:
    engine = _migrated_to(settings, "0006")
    auth = AuthService(engine, settings, clock)
    stored = {
        "line": _definition(name="Fehler\u2028rate", minattempts=10**12),
        "blank": _definition(name="\u200b\u3164", minusers=5_000_000_000),
        "valid": _definition(recipients=[]),
        "foreign": _definition(metric="nosuchmetric"),  # not mended: no later check refused it
    }
    try:
        auth.accounts.add_customer(1001, "Alpha", 6831)
        with engine.begin() as connection:
            for rule_id, definition in stored.items():
                row = {"id": rule_id, "customer_id": 1001, "definition": definition}
                connection.execute(sa.insert(AlertRuleRow).values(**row, created_at=clock(), updated_at=clock()))
        migrate(engine)
        rules = {rule.id: rule for rule in _store(auth, clock).rules(1001)}
        assert (rules["line"].name, rules["line"].min_attempts) == ("Fehler rate", 1_000_000_000)
        assert (rules["blank"].name, rules["blank"].min_users) == ("Rule blank", 1_000_000_000)
        assert [(r.kind, r.target, r.secret) for r in rules["line"].recipients] == [
            ("webhook", "https://hooks.example/a", "kept")  # the Slack URL no client can send to left out
        ]
        with engine.connect() as connection:
            after = dict(connection.execute(sa.select(AlertRuleRow.id, AlertRuleRow.definition)).all())
        assert (after["valid"], after["foreign"]) == (stored["valid"], stored["foreign"])
        assert "foreign" not in rules
    finally:
        auth.close()


def test_a_customer_gets_the_defaults_once(auth: AuthService, clock: ManualClock) -> None:
    auth.accounts.add_customer(1002, "Beta", 6831)
    rules = _store(auth, clock)
    first = rules.rules(1002)
    assert len(first) == len(default_rules())
    assert [r.id for r in rules.rules(1002)] == [r.id for r in first]
    for rule in first:
        rules.delete(1002, rule.id)
    assert rules.rules(1002) == []


def _open_alert(auth: AuthService, rule_id: str, n: int) -> None:
    started = datetime(2025, 1, 1, 12, tzinfo=UTC)
    with sessionmaker(auth.engine).begin() as session:
        session.add(
            AlertRow(
                id=f"alert-{n}",
                customer_id=1002,
                rule_id=rule_id,
                cohort=f'{{"cdn": "cdn{n}"}}',
                metric="vsf",
                status="ongoing",
                severity="major",
                started_at=started,
                last_seen_at=started + timedelta(minutes=20),
                ended_at=None,
                clean_intervals=2,
                escalations=0,
                body="{}",
            )
        )


def _alert(auth: AuthService, n: int) -> tuple[str, int | None]:
    with sessionmaker(auth.engine)() as session:
        row = session.get(AlertRow, f"alert-{n}")
        assert row is not None
        ended = None if row.ended_at is None else int((row.ended_at - row.last_seen_at).total_seconds())
        return row.status, ended


def test_a_disabled_or_deleted_rule_s_alerts_end_at_their_last_anomalous_interval(
    auth: AuthService, clock: ManualClock
) -> None:
    auth.accounts.add_customer(1002, "Beta", 6831)
    rules = _store(auth, clock)
    given = RuleInput(name="failures", metric="vsf")
    other = given.model_copy(update={"name": "failures too"})
    kept, disabled = rules.add(1002, given), rules.add(1002, other)
    for n, rule in enumerate((kept, disabled, kept)):
        _open_alert(auth, rule.id, n)
    rules.replace(1002, kept.id, given.model_copy(update={"name": "start failures"}))
    rules.replace(1002, disabled.id, other.model_copy(update={"enabled": False}))
    assert [_alert(auth, n) for n in range(3)] == [("ongoing", None), ("resolved", 0), ("ongoing", None)]
    rules.delete(1002, kept.id)
    assert [_alert(auth, n) for n in (0, 2)] == [("resolved", 0), ("resolved", 0)]


def test_a_rule_stored_before_todays_checks_can_be_replaced(auth: AuthService, clock: ManualClock) -> None:
    auth.accounts.add_customer(1002, "Beta", 6831)
    rules = _store(auth, clock)
    hook = {"kind": "webhook", "target": "https://hooks.example/a", "secret": "kept"}
    rule = rules.add(1002, RuleInput.model_validate({"name": "failures", "metric": "vsf", "recipients": [hook]}))
    with sessionmaker(auth.engine).begin() as session:
        row = session.get(AlertRuleRow, rule.id)
        assert row is not None
        row.definition = row.definition.replace('"failures"', '"fail\\nures"')  # refused today
    _open_alert(auth, rule.id, 0)
    assert rule.id not in {r.id for r in rules.rules(1002)}  # no longer valid: not judged
    assert _alert(auth, 0) == ("resolved", 0)  # nor left open for good
    again = {**hook, "secret": None}
    fixed = rules.replace(
        1002, rule.id, RuleInput.model_validate({"name": "failures", "metric": "vsf", "recipients": [again]})
    )
    assert (fixed.name, fixed.recipients[0].secret) == ("failures", "kept")


def test_two_writers_of_one_name_check_it_one_after_the_other(
    auth: AuthService, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth.accounts.add_customer(1002, "Beta", 6831)
    rules = _store(auth, clock)
    rules.rules(1002)
    check, both_checked = store._check_name, threading.Barrier(2)

    def check_then_wait(*args: Any) -> None:  # each writer waits (2 s at most) for the other to have checked too
        check(*args)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait(timeout=2)

    monkeypatch.setattr(store, "_check_name", check_then_wait)
    refused: list[Exception] = []

    def add() -> None:
        try:
            rules.add(1002, RuleInput(name="Failures", metric="vsf"))
        except store.RuleNameTakenError as error:
            refused.append(error)

    writers = [threading.Thread(target=add) for _ in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    assert [rule.name for rule in rules.rules(1002)].count("Failures") == 1
    assert len(refused) == 1


def test_a_rule_keeps_its_name_whatever_others_are_called(auth: AuthService, clock: ManualClock) -> None:
    auth.accounts.add_customer(1002, "Beta", 6831)
    rules = _store(auth, clock)
    given = RuleInput(name="Dup", metric="vsf")
    rule = rules.add(1002, given)
    with sessionmaker(auth.engine).begin() as session:  # a second one of the name, stored before names were checked
        now, text = clock(), given.stored()
        session.add(AlertRuleRow(id="older", customer_id=1002, definition=text, created_at=now, updated_at=now))
    assert not rules.replace(1002, rule.id, given.model_copy(update={"enabled": False})).enabled
    capitals = given.model_copy(update={"name": " DUP"})  # its own name, in capitals
    assert rules.replace(1002, rule.id, capitals).name == " DUP"
    rules.replace(1002, rule.id, given.model_copy(update={"name": "Other"}))
    with pytest.raises(store.RuleNameTakenError, match="the rule older is named 'Dup'"):
        rules.replace(1002, rule.id, given.model_copy(update={"name": "dup"}))
