"""The alerts engine on a real chDB with simulated traffic and the simulator's injected incidents: each incident is
an alert within 2 intervals of its start, diagnosed to its injected combination, one alert per episode, resolved
after it ends; notices go to the notifications' outbox in the round's transaction; a restart, or the same rounds
run again, neither loses nor repeats an alert or a notice; getAIAlerts' store answers the engine's alerts."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from sightline.alerts.alert_store import AlertStore, parse_alerts_request
from sightline.alerts.diagnose_leaves import coded
from sightline.alerts.diagnosis import Diagnosis, FoundCause, diagnose_window, span
from sightline.alerts.engine import (
    AlertEngine,
    RuleRoundsError,
    _Change,
    _failing_unjudged,
    _joined,
    _replaces,
    _widest,
    series_groups,
)
from sightline.alerts.lifecycle import AlertState, Target
from sightline.alerts.messages import event_name
from sightline.alerts.models import AlertRow, AlertRuleRow
from sightline.alerts.notify import Notice, enqueue
from sightline.alerts.outbox import AlertDelivery, AlertNotice
from sightline.alerts.records import cohort_key, state_of
from sightline.alerts.rounds import Judged
from sightline.alerts.rules import AlertRule, Cohort, RuleInput, parse_rule
from sightline.alerts.scheduler import REPLAY_STEP_S, replay
from sightline.alerts.series import fetch, leaves_query
from sightline.app import create_app
from sightline.auth.kinds import Role
from sightline.auth.service import AuthService, open_auth
from sightline.query.period import Period
from sightline.query.pipeline import Rows
from sightline.query.printer import Statement
from sightline.settings import Settings
from sightline.simulate import Incident, SimulationConfig, simulate
from sightline.simulate.devices import DEVICES
from sightline.store import Store, open_store
from tests.handwritten import by_hand

CUSTOMER = 1001
END = datetime(2024, 5, 12, tzinfo=UTC)
CONFIG = SimulationConfig(
    start=END - timedelta(days=2), end=END, customer_ids=(CUSTOMER,), views_per_day=16_000, seed=7
)
STEP = 300
MIN_ATTEMPTS = 20
"""The rules' minimum attempts for a cohort to be judged (the default of `minattempts`)."""
HOOK = {"kind": "webhook", "target": "https://hooks.example/alerts", "level": "warning", "secret": "k"}
RULES = [
    {"name": "Rebuffering by CDN and country", "metric": "bufferingratio", "dimensions": ["cdn", "country"]},
    {"name": "Start failures by player", "metric": "vsf", "dimensions": ["player", "playerversion"]},
]


@dataclass
class World:
    settings: Settings
    store: Store
    auth: AuthService
    sessions: sessionmaker[Session]
    incidents: dict[str, Incident]

    def engine(self) -> AlertEngine:
        """A new engine, as after a restart: nothing held but what the databases hold."""
        return AlertEngine(self.store, self.sessions, lambda: END)

    def replay(self, engine: AlertEngine, start: datetime, end: datetime) -> None:
        """The rounds of [start, end], as `sightline alerts run` replays them."""
        assert replay(engine, CUSTOMER, int(start.timestamp()), int(end.timestamp())) > 0

    def alerts(self) -> list[tuple[AlertRow, dict[str, Any]]]:
        with self.sessions() as session:
            rows = session.scalars(select(AlertRow).order_by(AlertRow.started_at, AlertRow.id)).all()
            return [(row, json.loads(row.body)) for row in rows]

    def notices(self) -> list[tuple[str, str]]:
        with self.sessions() as session:
            return sorted((n.alert_id, n.key) for n in session.scalars(select(AlertNotice)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("engine")), argon2_time_cost=1, argon2_memory_kib=1024)
    store = open_store(settings)
    for chunk in simulate(CONFIG):
        store.insert_events(chunk.events)
    auth = open_auth(settings)
    auth.accounts.add_customer(CUSTOMER, "Alpha", 6831)
    sessions = sessionmaker(auth.engine, expire_on_commit=False)
    rules = AlertEngine(store, sessions, lambda: END).rules
    for rule in rules.rules(CUSTOMER):
        rules.delete(CUSTOMER, rule.id)
    for given in RULES:
        rules.add(CUSTOMER, RuleInput.model_validate({**given, "scope": "selected", "recipients": [HOOK]}))
    try:
        yield World(settings, store, auth, sessions, {i.name: i for i in CONFIG.incidents if i.customer_id == CUSTOMER})
    finally:
        auth.close()
        store.close()


def _epoch(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


def _detected_by(incident: Incident) -> int:
    """The end of the second whole interval after the incident's start."""
    return -(-_epoch(incident.start) // STEP) * STEP + 2 * STEP


def _observable_by(world: World, incident: Incident, min_attempts: int) -> int:
    """The end of the second interval after the first one, from the incident's start, in which a cohort holding
    its views (its filters or fewer of them) made `min_attempts` attempts: the rule judges no cohort with fewer,
    however large its change, so no detector can see the incident before."""
    first = _epoch(incident.start) // STEP * STEP
    period = Period(datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(first + 12 * STEP, UTC))
    judged: list[int] = []
    for size in range(1, len(incident.filters) + 1):
        for names in combinations(sorted(incident.filters), size):
            rows = fetch(world.store, leaves_query(CUSTOMER, names, ["attempts"], period, "5minute")).to_pylist()
            judged += [
                int(row["timestamp"])
                for row in rows
                if all(str(row[name]) == str(incident.filters[name]) for name in names)
                and row["attempts"] >= min_attempts
            ]
    assert judged, "no cohort holding the incident's views made enough attempts to be judged"
    return min(judged) + 2 * STEP


def _of(world: World, metric: str) -> list[tuple[AlertRow, dict[str, Any]]]:
    return [(row, body) for row, body in world.alerts() if row.metric == metric]


def _rounds_around(world: World, name: str) -> tuple[datetime, datetime]:
    """Run the rounds from 30 minutes before incident `name` to 80 after it (none again where a test ran them);
    their bounds."""
    incident = world.incidents[name]
    first, last = incident.start - timedelta(minutes=30), incident.end + timedelta(minutes=80)
    replay(world.engine(), CUSTOMER, _epoch(first), _epoch(last))
    return first, last


def _top_cause(body: dict[str, Any]) -> dict[str, str]:
    causes = body["diagnosis"]["causes"]
    return dict(causes[0]["conditions"]) if causes else dict(body["cohort"])


def test_the_cdn_incident_is_one_alert_on_its_cdn_and_country_resolved_after_it(world: World) -> None:
    incident = world.incidents["cdn_degradation"]
    world.replay(world.engine(), incident.start - timedelta(minutes=30), incident.end + timedelta(minutes=80))
    found = _of(world, "bufferingratio")
    assert found, "no rebuffering alert"
    row, body = found[0]
    assert _top_cause(body) == incident.filters, json.dumps(
        [(r.cohort, str(r.started_at), b["diagnosis"]) for r, b in found]
    )
    assert _epoch(row.started_at) + body["window"] <= _detected_by(incident)
    assert row.status == "resolved"
    assert _epoch(row.ended_at or row.last_seen_at) >= _epoch(incident.end) - 2 * STEP
    assert len(found) == 1, [(r.cohort, r.started_at) for r, _ in found]  # one episode, not one per round
    assert body["impact"]["views"] > 0
    assert body["impact"]["viewers"] > 0
    assert body["observed"] > body["expected"]
    assert any(p["anomalous"] and p["value"] > p["upper"] for p in body["series"]["points"])
    assert "filter=" in body["metricquery"]
    assert "/mm-apis/listsessions/1001?" in body["listsessions"]
    transitions = [key.split(":")[1] for alert_id, key in world.notices() if alert_id == row.id]
    assert transitions.count("open") == 1
    assert transitions.count("resolve") == 1
    assert set(transitions) <= {"open", "escalate", "widen", "resolve"}


def test_a_widened_alert_tells_its_recipients_once_a_widening_unless_acknowledged(world: World) -> None:
    """The CDN incident's alert widened to one condition fewer (the incident bigger than first seen) owes
    a notice, `alert.widened`, keyed by how many conditions it lost (the same notice if written again); acknowledged,
    none (written in a transaction rolled back: the stored alert stays as it is)."""
    incident = world.incidents["cdn_degradation"]
    engine = world.engine()
    first, last = _epoch(incident.start - timedelta(minutes=30)), _epoch(incident.end + timedelta(minutes=80))
    replay(engine, CUSTOMER, first, last)  # no round left to run when an earlier test ran them
    row, body = _of(world, "bufferingratio")[0]
    rule = engine.rules.rule(CUSTOMER, row.rule_id)
    opened = state_of(row, body)
    wider = replace(opened, cohort=opened.cohort[:-1], status="ongoing", covers=opened.covers | {opened.cohort})
    change = _Change(wider, {**body, "cohort": dict(wider.cohort)}, "widen")
    with world.sessions() as session:
        notice = engine._write(session, rule, change, _epoch(END))
        assert notice is not None
        assert (notice.key, notice.transition, event_name(notice)) == (f"{row.id}:widen:1", "widen", "alert.widened")
        assert notice.alert["cohort"] == dict(wider.cohort)
        again = engine._write(session, rule, change, _epoch(END))
        assert again is not None
        assert again.key == notice.key  # written again (a replay): the same notice
        stored = session.get(AlertRow, row.id)
        assert stored is not None
        stored.acknowledged_at, stored.acknowledged_by = END, "ops@example.com"
        assert engine._write(session, rule, change, _epoch(END)) is None
        session.rollback()


def test_the_player_incident_is_diagnosed_to_the_player_and_its_version(world: World) -> None:
    incident = world.incidents["player_start_failure"]
    world.replay(world.engine(), incident.start - timedelta(minutes=20), incident.start + timedelta(minutes=30))
    found = _of(world, "vsf")
    assert found, "no start failure alert"
    row, body = found[0]
    assert _top_cause(body) == incident.filters
    assert _epoch(row.started_at) + body["window"] <= _observable_by(world, incident, MIN_ATTEMPTS)
    assert row.status in ("open", "ongoing")
    counted, failed = _failing_viewers(world, body["cohort"], row.started_at, row.last_seen_at)
    assert body["impact"]["viewers"] == counted, (counted, failed)  # business exceptions left out, as vsf does
    assert "qoefilter=vsf%3E0" in body["listsessions"]


def _rule(name: str, metric: str, dimensions: list[str], **given: Any) -> AlertRule:
    rule = parse_rule(CUSTOMER, RuleInput.model_validate({"name": name, "metric": metric, **given}))
    return replace(rule, id=name, dimensions=tuple(dimensions))


def test_rules_read_the_series_of_the_first_group_whose_dimensions_hold_theirs() -> None:
    by_cdn = _rule("a", "vsf", ["cdn", "country", "player"])
    by_app = _rule("b", "vsf", ["appversion", "player"])
    whole, by_player = _rule("c", "vsf", []), _rule("d", "latency", ["player"])
    hourly = _rule("e", "vsf", ["cdn"], interval=3600)
    groups = series_groups([whole, by_player, by_app, hourly, by_cdn])
    assert [[rule.id for rule in group] for group in groups] == [["a", "d", "c"], ["b"], ["e"]]


def test_the_worlds_rules_of_disjoint_dimensions_read_a_series_each(world: World) -> None:
    """The CDN and player incidents' tests above replay rules of disjoint dimensions end to end: two series."""
    groups = series_groups(world.engine().rules.rules(CUSTOMER))
    assert sorted(sorted(rule.dimensions for rule in group) for group in groups) == [
        [("cdn", "country")],
        [("player", "playerversion")],
    ]


def _failing_viewers(world: World, cohort: dict[str, str], start: datetime, end: datetime) -> tuple[int, int]:
    """Distinct viewers of the cohort's views started in [start, end) that failed to start: without business
    exceptions, and with them."""
    where = " AND ".join(f"{name} = {{{name}:String}}" for name in cohort) or "1"
    table = world.store.query(
        by_hand(
            "SELECT uniqExactIf(viewerid, vsf = 1 AND business_error = 0) AS counted, uniqExactIf(viewerid, vsf = 1)"
            " AS failed FROM (SELECT view_id, max(viewerid) AS viewerid, max(vsf) AS vsf, max(business_error) AS"
            f" business_error, {', '.join(f'max({n}) AS {n}' for n in cohort)} FROM views FINAL"
            " WHERE customer_id = {customer:UInt32} AND view_start >= toDateTime64({start:Int64}, 3, 'UTC')"
            " AND view_start < toDateTime64({end:Int64}, 3, 'UTC') GROUP BY view_id)"
            f" WHERE {where}",
            {"customer": CUSTOMER, "start": _epoch(start), "end": _epoch(end), **cohort},
        )
    )
    return int(table.column("counted")[0].as_py()), int(table.column("failed")[0].as_py())


def test_a_cohort_of_a_dimension_the_diagnosis_does_not_look_through_is_diagnosed(world: World) -> None:
    incident = world.incidents["player_start_failure"]
    rule = next(r for r in world.engine().rules.rules(CUSTOMER) if r.metric.name == "vsf")
    drm = next(d.drm for d in DEVICES if d.player == incident.filters["player"])
    cohort = (("drm", drm),)
    diagnosis = diagnose_window(world.store, rule, cohort, span(_epoch(incident.start) + 1800, 1800), None)
    assert diagnosis.causes, "no cause within the DRM's views"
    top = set(diagnosis.causes[0].conditions)
    assert set(incident.filters.items()) <= top <= {*incident.filters.items(), *cohort}


def test_rounds_run_again_after_a_restart_repeat_no_alert_and_no_notice(world: World) -> None:
    first, last = _rounds_around(world, "cdn_degradation")
    before, notices = [(row.id, row.status) for row, _ in world.alerts()], world.notices()
    assert before
    assert notices
    with world.sessions.begin() as session:  # the rounds are run again from before the incident
        session.execute(update(AlertRuleRow).values(judged_until=None))  # (every rule: the later alert stays as is)
    world.replay(world.engine(), first, last)
    assert [(row.id, row.status) for row, _ in world.alerts()][: len(before)] == before
    assert world.notices() == notices
    with world.sessions() as session:
        keys = session.scalar(select(func.count(func.distinct(AlertNotice.key))))
    assert keys == len(notices)


def test_the_alerts_store_answers_the_engines_alerts(world: World) -> None:
    _rounds_around(world, "cdn_degradation")
    period = f"start={_epoch(END - timedelta(days=1))},end={_epoch(END)}"
    rows, total = AlertStore(world.sessions, lambda: END).page(
        parse_alerts_request(CUSTOMER, period=period, metric="bufferingratio")
    )
    assert total == len(_of(world, "bufferingratio"))
    alert = json.loads(rows[0])
    for field in ("id", "rule", "type", "metric", "cohort", "severity", "status", "start", "lastseen", "end"):
        assert field in alert
    for field in ("observed", "expected", "band", "impact", "diagnosis", "series", "metricquery", "listsessions"):
        assert field in alert


def test_an_alerts_observedquery_answers_its_observed_value_through_the_api(world: World) -> None:
    """The request an alert names for its value, sent to the app over the same store, answers that value: for the
    rebuffering alert and the start failure alert, each at the window of its latest anomaly."""
    for name in ("cdn_degradation", "player_start_failure"):
        _rounds_around(world, name)
    world.auth.accounts.add_user("observer", "password-observer", [CUSTOMER], Role.VIEWER)
    app = create_app(world.settings.model_copy(update={"alert_rounds": False}), store=world.store, restore_views=False)
    with TestClient(app) as client:
        token = app.state.auth.tokens.password_grant("observer", "password-observer").access_token
        for metric in ("bufferingratio", "vsf"):
            _, body = _of(world, metric)[0]
            path, query = body["observedquery"].split("?")
            assert path == f"/mm-apis/metricquery/{CUSTOMER}"
            params = parse_qs(query)
            assert params["filter"] == ["".join(f"[{k}={v}]" for k, v in body["cohort"].items())]
            answer = client.get(body["observedquery"], headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
            [row] = answer.json()["response"]
            assert row[metric] == pytest.approx(body["observed"], abs=1e-4), (metric, body["observedquery"])
            low, high = (int(part.split("=")[1]) for part in params["period"][0].split(","))
            assert high - low == body["window"]


def test_an_alerts_series_holds_its_opening_window_as_the_round_judged_it(world: World) -> None:
    for name in ("cdn_degradation", "player_start_failure"):
        _rounds_around(world, name)
    alerts = world.alerts()
    assert alerts
    for row, body in alerts:
        opening = _epoch(row.started_at) + body["window"]
        [first] = [p for p in body["series"]["points"] if p["timestamp"] == opening]
        assert first["anomalous"], (row.metric, body["cohort"], first)
        assert not first["lower"] <= first["value"] <= first["upper"]


def test_a_round_that_fails_before_its_commit_is_written_whole_by_the_next_run(world: World) -> None:
    incident = world.incidents["cdn_degradation"]
    _rounds_around(world, incident.name)  # what a run that does not fail writes
    rule_id = next(r.id for r in world.engine().rules.rules(CUSTOMER) if r.metric.name == "bufferingratio")
    expected = sorted((row.id, row.status) for row, _ in world.alerts() if row.rule_id == rule_id)
    told = [key for alert_id, key in world.notices() if alert_id in {i for i, _ in expected}]
    with world.sessions.begin() as session:  # as if the rule had never been judged there
        session.execute(delete(AlertDelivery).where(AlertDelivery.alert_id.in_([i for i, _ in expected])))
        session.execute(delete(AlertNotice).where(AlertNotice.rule_id == rule_id))
        session.execute(delete(AlertRow).where(AlertRow.rule_id == rule_id))
        session.execute(update(AlertRuleRow).where(AlertRuleRow.id == rule_id).values(judged_until=None))

    def crash(session: Session, notices: Sequence[Notice]) -> None:
        if notices:
            raise RuntimeError("killed in the middle of the round's transaction")

    crashing = AlertEngine(world.store, world.sessions, lambda: END, notify=crash)
    with pytest.raises(RuntimeError, match="killed"):
        world.replay(crashing, incident.start - timedelta(minutes=30), incident.end + timedelta(minutes=80))
    assert [row for row, _ in world.alerts() if row.rule_id == rule_id] == []  # nothing of the round written
    world.replay(world.engine(), incident.start - timedelta(minutes=30), incident.end + timedelta(minutes=80))
    assert sorted((row.id, row.status) for row, _ in world.alerts() if row.rule_id == rule_id) == expected
    assert [key for alert_id, key in world.notices() if alert_id in {i for i, _ in expected}] == told


def test_one_rules_failing_round_costs_the_other_rules_nothing(world: World) -> None:
    incident = world.incidents["cdn_degradation"]
    _rounds_around(world, incident.name)  # the world's rules judged past it: the runs below are the new rules'
    rules = world.engine().rules
    given = {"metric": "bufferingratio", "scope": "selected", "recipients": [HOOK]}
    failing = rules.add(CUSTOMER, RuleInput.model_validate({**given, "name": "A", "dimensions": ["cdn", "country"]}))
    other = rules.add(CUSTOMER, RuleInput.model_validate({**given, "name": "B", "dimensions": ["cdn"]}))

    def fails_for_one_rule(session: Session, notices: Sequence[Notice]) -> None:
        if any(notice.rule_id == failing.id for notice in notices):
            raise RuntimeError("the round of rule A failed")
        enqueue(session, notices)

    engine = AlertEngine(world.store, world.sessions, lambda: END, notify=fails_for_one_rule)
    start, end = _epoch(incident.start - timedelta(minutes=30)), _epoch(incident.end)
    try:
        with pytest.raises(RuleRoundsError) as raised:
            replay(engine, CUSTOMER, start, end)
        assert set(raised.value.failed) == {failing.id}
        assert _judged_until(world, other.id) == datetime.fromtimestamp(end // STEP * STEP, UTC)
        opened = min(row.started_at for row, _ in world.alerts() if row.rule_id == other.id)  # B's alert's start
        stuck = _judged_until(world, failing.id)  # A's last round before the one that would open its alert
        assert stuck is not None
        last = datetime.fromtimestamp(end // STEP * STEP, UTC)
        assert opened <= stuck < last - timedelta(seconds=2 * REPLAY_STEP_S)  # stopped there, none skipped
        assert [row for row, _ in world.alerts() if row.rule_id == failing.id] == []
        assert raised.value.ran > (end - start) // STEP  # B's rounds all ran, and A's before it failed
        replay(world.engine(), CUSTOMER, start, end)  # run again, A judged on from its failed round
        assert [row.started_at for row, _ in world.alerts() if row.rule_id == failing.id] == [stuck]
    finally:
        with world.sessions.begin() as session:
            mine = [failing.id, other.id]
            alert_ids = select(AlertRow.id).where(AlertRow.rule_id.in_(mine))
            session.execute(delete(AlertDelivery).where(AlertDelivery.alert_id.in_(alert_ids)))
            session.execute(delete(AlertNotice).where(AlertNotice.rule_id.in_(mine)))
            session.execute(delete(AlertRow).where(AlertRow.rule_id.in_(mine)))
        rules.delete(CUSTOMER, failing.id)
        rules.delete(CUSTOMER, other.id)


class _EditsTheRuleMidRound:
    """The store, whose first query (the round's series, read after the rules) replaces the rule first: an admin
    editing it while its round runs."""

    def __init__(self, world: World, rule_id: str, edited: RuleInput) -> None:
        self._world, self._rule_id, self._edited = world, rule_id, edited
        self.edits = 0

    def query(self, statement: Statement, *, tag: str | None = None) -> Rows:
        if not self.edits:
            self._world.engine().rules.replace(CUSTOMER, self._rule_id, self._edited)
            self.edits += 1
        rows: Rows = self._world.store.query(statement, tag=tag)
        return rows

    def query_json_rows(self, statement: Statement) -> list[bytes]:
        return self._world.store.query_json_rows(statement)


def _judged_until(world: World, rule_id: str) -> datetime | None:
    with world.sessions() as session:
        return session.scalar(select(AlertRuleRow.judged_until).where(AlertRuleRow.id == rule_id))


@pytest.mark.parametrize("edit", [{"minattempts": 40}, {"enabled": False}])
def test_a_round_whose_rule_is_edited_while_it_runs_writes_nothing(world: World, edit: dict[str, Any]) -> None:
    incident = world.incidents["cdn_degradation"]
    _rounds_around(world, incident.name)  # the other rules judged past the round: it is the new rule's alone
    given = RuleInput.model_validate(
        {"name": "Start time by CDN", "metric": "latency", "scope": "selected", "dimensions": ["cdn"]}
    )
    rules = world.engine().rules
    rule = rules.add(CUSTOMER, given)
    end = _epoch(incident.start) // STEP * STEP + STEP
    try:
        editing = _EditsTheRuleMidRound(world, rule.id, given.model_copy(update=edit))
        run = AlertEngine(editing, world.sessions, lambda: END).run(CUSTOMER, end, end + 3600, first=end)
        assert (run, editing.edits) == (1, 1)
        assert _judged_until(world, rule.id) is None  # the round judged by the old rule was not written
        assert [row for row, _ in world.alerts() if row.rule_id == rule.id] == []
        again = world.engine().run(CUSTOMER, end, end + 3600, first=end)  # the next run: the rule as it is now
        enabled = edit.get("enabled", True)
        assert again == (1 if enabled else 0)
        assert _judged_until(world, rule.id) == (datetime.fromtimestamp(end, UTC) if enabled else None)
    finally:
        rules.delete(CUSTOMER, rule.id)
        with world.sessions.begin() as session:
            session.execute(delete(AlertNotice).where(AlertNotice.rule_id == rule.id))
            session.execute(delete(AlertRow).where(AlertRow.rule_id == rule.id))


def _judged(rule: AlertRule, cohorts: list[Cohort], **given: Any) -> Judged:
    """A round of `rule` over `cohorts` at 01:00 of the epoch: `given` arrays, NaN values and no decisions else."""
    size = len(cohorts)
    values = {name: np.full(size, np.nan) for name in ("observed", "expected", "lower", "upper", "score")}
    amounts = {name: np.zeros(size) for name in ("numerator", "denominator", "attempts", "viewers")}
    decisions = {name: np.zeros(size, dtype=bool) for name in ("eligible", "anomalous", "reported", "continuing")}
    fields = {**values, **amounts, **decisions, **given}
    return Judged(rule=rule, end=3600, alpha=1e-6, cohorts=cohorts, rows=np.arange(size), **fields)


def test_a_cohort_too_small_to_judge_still_failing_counts_no_clean_interval() -> None:
    rule = parse_rule(CUSTOMER, RuleInput(name="failures", metric="vsf", scope="selected", dimensions=["player"]))
    exo, shaka, cast = (("player", "ExoPlayer"),), (("player", "Shaka Player"),), (("player", "Chromecast"),)
    cohorts: list[Cohort] = [exo, shaka, cast]
    judged = _judged(  # under the rule's 20 attempts
        rule,
        cohorts,
        numerator=np.array([9.0, 1.0, 0.0]),  # 9 of 12 failed; 1 of 12; no attempt
        denominator=np.array([12.0, 12.0, 0.0]),
        attempts=np.array([12.0, 12.0, 0.0]),
        viewers=np.array([5.0, 5.0, 0.0]),
    )
    states = [AlertState(str(n), c, "ongoing", "major", 0, 1800) for n, c in enumerate(cohorts)]
    band = {"band": {"lower": 0.0, "upper": 20.0}}  # percent
    assert _failing_unjudged(judged, states, {s.id: (AlertRow(), band) for s in states}) == {exo}


def test_an_alert_widens_to_the_broadest_reported_cohort_it_took_in_that_holds_its_own() -> None:
    """An ad server failing every ad was first reported on `device=mobile` (the other devices' few ads could not yet
    tell); when the whole is reported and the mobile alert takes it in, the alert is the whole's."""
    rule = parse_rule(CUSTOMER, RuleInput(name="ads", metric="aderrorrate", scope="selected", dimensions=["device"]))
    mobile, tv, mobile_gb = (("device", "mobile"),), (("device", "tv"),), (("device", "mobile"), ("country", "GB"))
    judged = _judged(rule, [(), mobile, tv, mobile_gb], score=np.array([8.0, 9.0, 7.5, 6.0]))
    assert _widest(mobile_gb, frozenset({(), mobile, mobile_gb}), judged) == ()
    assert _widest(mobile_gb, frozenset({mobile, tv}), judged) == mobile  # tv holds none of its views
    assert _widest(mobile, frozenset({mobile_gb, tv}), judged) is None  # nothing broader than its own


def test_a_widened_alert_is_its_wider_cohorts_and_keeps_the_identity_it_opened_with() -> None:
    """The row keeps the cohort the alert opened on (with the rule and the start, unique: a widened alert cannot
    collide with another episode's row); the lifecycle reads the cohort it widened to, from its body."""
    opened = datetime(2024, 5, 11, 20, 10)
    row = AlertRow(
        id="a1",
        cohort=cohort_key((("device", "mobile"),)),
        status="ongoing",
        severity="critical",
        started_at=opened,
        last_seen_at=opened,
        clean_intervals=0,
        escalations=0,
    )
    assert state_of(row, {"cohort": {}, "covers": [{"device": "mobile"}]}).cohort == ()
    assert state_of(row, {}).cohort == (("device", "mobile"),)


def _diagnosed(*causes: Cohort, the_cohort: bool = False) -> Diagnosis:
    found = tuple(FoundCause(c, 1.0 / len(causes), 1.0, 0.5, 10.0, 10, 20.0) for c in causes)
    return Diagnosis(found, 1.0, 10, (), the_cohort)


def test_a_rediagnosis_naming_the_cohort_replaces_pieces_of_it_not_a_broader_cause() -> None:
    """The demo's CDN rebuffering alert opened diagnosed `cdn=CloudFront ∧ country=US`; one window's rediagnosis
    took five pieces of a few views with long stalls for causes, and every later one (more views) named the cohort
    again, which could not replace them: the alert ended on the pieces. Its start-time alert, in another run, kept
    the customer-wide diagnosis' `streamtype=live ∧ device=mobile ∧ isp=T-Mobile`, which holds none of the cohort's
    views. A cause whose views hold the cohort's says more than the cohort and stays."""
    leaves = coded(
        ("cdn", "country", "player", "playerversion", "isp"),
        [
            np.array(["CloudFront", "CloudFront", "Akamai", "Akamai"]),
            np.array(["US", "US", "GB", "GB"]),
            np.array(["hls.js", "dash.js", "hls.js", "hls.js"]),
            np.array(["1.5.8", "4.7", "1.5.8", "1.4.0"]),
            np.array(["Comcast", "T-Mobile", "BT", "BT"]),
        ],
    )

    def seen(*causes: Cohort) -> Diagnosis:
        return replace(_diagnosed(*causes, the_cohort=True), coded=leaves)

    cohort: Cohort = (("cdn", "CloudFront"), ("country", "US"))
    pieces = ((*cohort, ("player", "hls.js")), (*cohort, ("isp", "Comcast")))
    t_mobile: Cohort = (("isp", "T-Mobile"), ("player", "hls.js"))
    assert _replaces(cohort, pieces, seen(cohort))
    assert _replaces(cohort, (t_mobile,), seen(cohort))  # holds none of the cohort's views
    version_gb: Cohort = (("country", "GB"), ("playerversion", "1.5.8"))
    hls: Cohort = (("player", "hls.js"),)
    assert not _replaces(version_gb, (hls,), seen(version_gb))  # it says more than the cohort
    assert _replaces(cohort, (hls,), _diagnosed(pieces[0]))
    assert not _replaces(cohort, pieces, _diagnosed())  # nothing found keeps what was
    assert _replaces(cohort, (), _diagnosed())


def test_two_cohorts_of_one_round_whose_causes_are_nested_open_one_alert_on_the_broader() -> None:
    hls: Cohort = (("player", "hls.js"),)
    hls_desktop: Cohort = (("player", "hls.js"), ("device", "desktop"))
    akamai: Cohort = (("cdn", "Akamai"),)
    first, second, other = Target(hls, ()), Target(hls_desktop, (), frozenset({hls_desktop})), Target(akamai, ())
    opened = _joined(_joined([], first, _diagnosed(hls)), other, _diagnosed(akamai))
    joined = _joined(opened, second, _diagnosed(hls_desktop))
    assert [(t.cohort, t.covers) for t, _ in joined] == [(hls, frozenset({hls_desktop})), (akamai, frozenset())]
    assert [d.causes[0].conditions for _, d in joined] == [hls, akamai]
    narrow_first = _joined(_joined([], second, _diagnosed(hls_desktop)), first, _diagnosed(hls))
    assert [(t.cohort, t.covers, d.causes[0].conditions) for t, d in narrow_first] == [
        (hls, frozenset({hls_desktop}), hls)  # as it would widen to the next round
    ]


def test_causes_nested_by_their_views_open_one_alert() -> None:
    """`platform=Tizen` and `brand=Samsung ∧ player=Shaka Player` share no condition, but among the customer's
    leaves their views are the same: one incident."""
    leaves = coded(
        ("brand", "platform", "player"),
        [np.array(["Samsung", "Samsung", "LG"]), np.array(["Tizen", "Tizen", "webOS"]), np.array(["Shaka Player"] * 3)],
    )
    tizen: Cohort = (("platform", "Tizen"),)
    samsung: Cohort = (("brand", "Samsung"), ("player", "Shaka Player"))
    lg: Cohort = (("brand", "LG"),)

    def seen(*causes: Cohort) -> Diagnosis:
        return replace(_diagnosed(*causes), coded=leaves)

    opened = _joined([], Target(tizen, ()), seen(tizen))
    assert [t.cohort for t, _ in _joined(opened, Target(samsung, ()), seen(samsung))] == [tizen]
    assert [t.cohort for t, _ in _joined(opened, Target(lg, ()), seen(lg))] == [tizen, lg]
