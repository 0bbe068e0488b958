"""The alerts engine (IO): a customer's detection rounds, from the store's series to stored alerts and their notices.

`AlertEngine.run(customer, until, now)` runs the rounds due for the customer's enabled rules: for each rule, every
interval ending after the last one it judged (`judged_until`) and by `until`; a rule never judged starts at the last
interval (or at `first`, for a replay), and a rule behind by more than `MAX_CATCH_UP` intervals skips the older ones.
The rules of one interval whose dimensions one set holds read one series (`series_groups`; one query of the store
for what it did not hold: `SeriesCache`). Each rule's round is judged (`rounds`), planned over its open alerts
(`lifecycle`), its new anomalies diagnosed (`diagnosis`), and its changes written in one transaction of the metadata
database, with its notices
(`notify(session, notices)`) and the rule's `judged_until`: a round is written whole or not at all, and a round
already written (by an earlier run, or another process) is not written again, so a restart neither loses nor
repeats an alert or a notice. A round is written only while its rule is the version it was judged by: a rule
edited, disabled or deleted meanwhile writes nothing, and the next run judges that interval by the rule as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sightline.alerts.detect import Direction, MetricKind
from sightline.alerts.diagnosis import Diagnosis, affected_viewers, diagnose_window, span
from sightline.alerts.lifecycle import (
    STALE_AFTER,
    AlertState,
    RoundPlan,
    Target,
    higher,
    magnitude,
    muted,
    notice_key,
    owner,
    plan_round,
    recipients_for,
    severity,
    shares_cause,
    targets,
)
from sightline.alerts.metrics import VOLUME_PARTS, judged_parts
from sightline.alerts.models import AlertRow, AlertRuleRow
from sightline.alerts.notify import Notice, Transition, enqueue
from sightline.alerts.records import (
    alert_id,
    answer,
    cohort_key,
    cohort_of,
    diagnosis_json,
    number,
    observed_request,
    point,
    requests,
    state_of,
    with_points,
)
from sightline.alerts.rounds import Judged, Round, history_intervals
from sightline.alerts.rules import INTERVALS, AlertRule, Cohort
from sightline.alerts.series import CohortSeries, SeriesCache, SeriesKey, catalog_order, instant
from sightline.alerts.store import Clock, RuleStore
from sightline.query.period import Period
from sightline.query.pipeline import Engine

Notify = Callable[[Session, Sequence[Notice]], None]
Stored = dict[str, tuple[AlertRow, dict[str, Any]]]
"""A rule's open alerts by id: row and body."""
SETTLE_S = 60
"""How long after an interval's end its round waits (outcomes of views started near its end still arrive)."""
MAX_CATCH_UP = 12
CONTEXT_POINTS = 12
DIAGNOSIS_MIN_S = 900
"""The shortest span a diagnosis looks at: a 5-minute window holds too few views of a cohort's combinations to
tell which of them the excess belongs to (the views before an incident add no excess, only evidence of the rest)."""
REDIAGNOSE_S = 3600
"""An alert younger than this is diagnosed again at each round it goes on, over its whole episode: the diagnosis
sharpens as views accumulate (one query of the customer's leaves and one of the day before, per alert and
round). A diagnosis that finds nothing narrower than the cohort keeps the causes before whose views hold the
cohort's (the customer-wide diagnosis' `player=hls.js` for an alert on `playerversion=1.5.8 ∧ country=GB` says more
than that cohort), not pieces of it or causes beside it: a few views with long stalls that one window's diagnosis
took for causes are the cohort's once the episode has more views."""


@dataclass
class _Change:
    """One alert's new state in a round: its row's fields, its body, the notice it owes."""

    state: AlertState
    body: dict[str, Any]
    transition: Transition | None
    ended: bool = False


class RuleRoundsError(RuntimeError):
    """Rules whose round failed (`failed`: by rule id, the first error), after every other rule's due rounds ran
    (`ran` of them)."""

    def __init__(self, failed: dict[str, Exception], ran: int) -> None:
        super().__init__(", ".join(f"rule {rule_id}: {error!r}" for rule_id, error in failed.items()))
        self.failed = failed
        self.ran = ran


class AlertEngine:
    """Rounds over one store, alerts in one metadata database."""

    def __init__(
        self,
        store: Engine,
        sessions: sessionmaker[Session],
        clock: Clock,
        notify: Notify = enqueue,
        settle_s: int = SETTLE_S,
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._notify = notify
        self.rules = RuleStore(sessions, clock)
        self._cache = SeriesCache(store, settle_s)

    def run(self, customer_id: int, until: int, now: int, first: int | None = None, skip: Collection[str] = ()) -> int:
        """The rounds of `customer_id`'s enabled rules due by `until` (epoch s), at time `now`, but the rules of ids
        in `skip`; `first`: where a rule never judged starts (default: its last interval). The number of rule rounds
        run. One rule's failed round costs the other rules nothing: they run, and then `RuleRoundsError` names the
        rules that failed (their later rounds wait for the next run)."""
        versions = {
            rule.id: (rule, version)
            for rule, version in self.rules.versions(customer_id)
            if rule.enabled and rule.id not in skip
        }
        rules = [rule for rule, _ in versions.values()]
        judged = self._judged_until(list(versions))
        groups = series_groups(rules)
        self._cache.retain(customer_id, [series_key(customer_id, group) for group in groups])
        rounds: list[tuple[int, int, CohortSeries, list[AlertRule]]] = []  # end, group, its series, rules due
        for order, group in enumerate(groups):
            step = group[0].interval_s
            last = until // step * step
            due: dict[int, list[AlertRule]] = {}
            for rule in group:
                done = judged.get(rule.id)
                begin = (first if first is not None else last) if done is None else done + step
                begin = max(-(-begin // step) * step, last - (MAX_CATCH_UP - 1) * step)
                for end in range(begin, last + 1, step):
                    due.setdefault(end, []).append(rule)
            if due:
                history = max(history_intervals(rule) for rule in group) + MAX_CATCH_UP
                series = self._cache.series(series_key(customer_id, group), last - history * step, last, now)
                rounds += [(end, order, series, of_end) for end, of_end in due.items()]
        ran = 0
        failed: dict[str, Exception] = {}
        for end, _, series, of_end in sorted(rounds, key=lambda r: r[:2]):  # in time, as the scheduler runs them
            round_ = Round(series, end)
            for rule in of_end:
                if rule.id in failed:
                    continue  # its later rounds wait: a rule is judged in order, none skipped
                try:
                    self._rule_round(rule, versions[rule.id][1], round_, now)
                except Exception as error:
                    failed[rule.id] = error
                    continue
                ran += 1
        if failed:
            raise RuleRoundsError(failed, ran) from next(iter(failed.values()))
        return ran

    def _judged_until(self, rule_ids: list[str]) -> dict[str, int]:
        with self._sessions() as session:
            rows = session.execute(
                select(AlertRuleRow.id, AlertRuleRow.judged_until).where(AlertRuleRow.id.in_(rule_ids))
            ).all()
        return {rule_id: int(until.timestamp()) for rule_id, until in rows if until is not None}

    def _rule_round(self, rule: AlertRule, version: str, round_: Round, now: int) -> None:
        """One rule's round: judged, planned, diagnosed, then written with its notices in one transaction, unless
        the rule is no longer `version` (its stored definition when read)."""
        end = round_.end
        with self._sessions() as session:
            going_on = (AlertRow.rule_id == rule.id, AlertRow.status != "resolved", AlertRow.started_at < instant(end))
            rows = session.scalars(select(AlertRow).where(*going_on))  # a replay of earlier rounds leaves later ones
            stored = {row.id: (row, json.loads(row.body)) for row in rows}
        judged = round_.judge(rule)
        changes = [] if judged is None else self._changes(rule, round_, judged, stored)
        with self._sessions.begin() as session:
            rule_row = session.get(AlertRuleRow, rule.id, with_for_update=True)
            done = None if rule_row is None or rule_row.judged_until is None else rule_row.judged_until.timestamp()
            if rule_row is None or rule_row.definition != version or (done is not None and done >= end):
                return  # deleted or changed meanwhile, or this round was written already
            notices = [self._write(session, rule, change, now) for change in changes]
            self._notify(session, [n for n in notices if n is not None])
            rule_row.judged_until = instant(end)

    def _changes(self, rule: AlertRule, round_: Round, judged: Judged, stored: Stored) -> list[_Change]:
        """The alerts a judged round opens, updates and resolves."""
        states = [state_of(row, body) for row, body in stored.values()]
        reported = [judged.cohorts[n] for n in np.flatnonzero(judged.reported)]
        continuing = {judged.cohorts[n] for n in np.flatnonzero(judged.continuing)}
        failing = _failing_unjudged(judged, states, stored)
        plan = plan_round(states, continuing, reported, failing, judged.end - STALE_AFTER * rule.interval_s)
        opened, folded = self._targets(rule, judged, plan, states)
        plan = plan.taking(folded)
        changes = [self._open(rule, round_, judged, target, diagnosis) for target, diagnosis in opened]
        claimed = {state.cohort for state in states}  # one open alert a cohort, widened or not
        for state, mine in plan.active:
            wider = _widest(state.cohort, mine - claimed, judged)
            claimed |= set() if wider is None else {wider}
            changes.append(self._update(rule, round_, judged, state, stored[state.id][1], mine, wider))
        for state in chain(plan.quiet, plan.waiting, plan.resolved):
            counted = state.cohort not in failing
            changes.append(_clean(judged, state, stored[state.id][1], state in plan.resolved, counted))
        return changes

    def _targets(
        self, rule: AlertRule, judged: Judged, plan: RoundPlan, states: list[AlertState]
    ) -> tuple[list[tuple[Target, Diagnosis]], dict[str, frozenset[Cohort]]]:
        """The alerts to open for the plan's candidates, each with its diagnosis, and the candidates that open alerts
        take in (by alert id): the rule's anomaly diagnosed once, its causes pointing to the cohorts to alert on; a
        target that has an `owner` among the open alerts goes to it."""
        if not plan.candidates:
            return [], {}
        whole = judged.position(())
        expected = None if whole is None else float(judged.expected[whole])
        window = span(judged.end, max(rule.window_s, DIAGNOSIS_MIN_S))
        overall = diagnose_window(self._store, rule, (), window, expected)
        anomalous = [judged.cohorts[n] for n in np.flatnonzero(judged.anomalous)]
        scores = {judged.cohorts[n]: float(judged.score[n]) for n in np.flatnonzero(judged.anomalous)}
        opened: list[tuple[Target, Diagnosis]] = []
        folded: dict[str, frozenset[Cohort]] = {}
        causes = [c.conditions for c in overall.causes]
        for target in targets(plan.candidates, causes, anomalous, scores, overall.nested):
            mine = owner(states, target.cohort)
            if mine is None:
                diagnosis = self._diagnosis(rule, judged, target, overall, window)
                mine = owner(states, target.cohort, [c.conditions for c in diagnosis.causes], diagnosis.nested)
            if mine is not None:
                folded[mine.id] = folded.get(mine.id, frozenset()) | target.covers | {target.cohort}
                continue
            opened = _joined(opened, target, diagnosis)
        return opened, folded

    def _diagnosis(
        self, rule: AlertRule, judged: Judged, target: Target, overall: Diagnosis, window: Period
    ) -> Diagnosis:
        """A target's diagnosis: the overall diagnosis' causes that point to it, else (none, on a cohort) its
        cohort's anomaly diagnosed."""
        if target.causes or not target.cohort:
            causes = tuple(c for c in overall.causes if c.conditions in target.causes)
            share = sum(c.share for c in causes)
            return Diagnosis(causes, share, overall.leaves, overall.dimensions, coded=overall.coded)
        position = judged.position(target.cohort)
        own = None if position is None else float(judged.expected[position])
        return diagnose_window(self._store, rule, target.cohort, window, own)

    def _open(self, rule: AlertRule, round_: Round, judged: Judged, target: Target, diagnosis: Diagnosis) -> _Change:
        n = judged.position(target.cohort)
        assert n is not None  # a target is a judged cohort
        started = judged.end - rule.window_s
        window = span(judged.end, rule.window_s)
        viewers = affected_viewers(self._store, rule.customer_id, rule.metric, target.cohort, window)
        peak = magnitude(float(judged.observed[n]), float(judged.expected[n]))
        level = severity(peak, judged.end - started, viewers)
        state = AlertState(
            id=alert_id(rule.id, target.cohort, started),
            cohort=target.cohort,
            status="open",
            severity=level,
            started_at=started,
            last_seen_at=judged.end,
            covers=target.covers - {target.cohort},
            causes=tuple(c.conditions for c in diagnosis.causes),
        )
        context = _drawn(round_, judged, n)
        body = {
            "rule": {"id": rule.id, "name": rule.name},
            "type": rule.type,
            "metric": rule.metric.name,
            "label": rule.metric.spec.label,
            "unit": rule.metric.spec.unit,
            "cohort": dict(target.cohort),
            "interval": rule.interval_s,
            "window": rule.window_s,
            **_values(judged, n),
            "magnitude": number(peak),
            "impact": {"views": int(judged.attempts[n]), "viewers": viewers, "excess": number(_excess(judged, n))},
            "diagnosis": diagnosis_json(diagnosis),
            "series": {"interval": rule.interval_s, "points": context},
            "covers": [dict(c) for c in sorted(state.covers)],
            **requests(rule, target.cohort, started, judged.end),
        }
        return _Change(state, body, "open")

    def _update(
        self,
        rule: AlertRule,
        round_: Round,
        judged: Judged,
        state: AlertState,
        body: dict[str, Any],
        taken: frozenset[Cohort],
        wider: Cohort | None = None,
    ) -> _Change:
        """`state` going on this round, with the reported cohorts it `taken` in; on the `wider` cohort among them,
        when its anomaly turned out broader than its own (`_widest`), rediagnosed there."""
        cohort = state.cohort if wider is None else wider
        n = judged.position(cohort)
        own = n is not None and bool(judged.continuing[n])
        period = Period(instant(state.started_at), instant(judged.end))
        viewers = affected_viewers(self._store, rule.customer_id, rule.metric, cohort, period)
        impact = dict(body["impact"], viewers=viewers)
        peak = float(body.get("magnitude") or 0.0)
        causes = state.causes
        if n is not None and own:
            peak = max(peak, magnitude(float(judged.observed[n]), float(judged.expected[n])))
            body.update(_values(judged, n))
            impact["excess"] = number((impact.get("excess") or 0.0) + _excess(judged, n) / rule.window_intervals)
            age = judged.end - state.started_at
            if age <= REDIAGNOSE_S or wider is not None:
                episode = span(judged.end, max(age, DIAGNOSIS_MIN_S))
                diagnosis = diagnose_window(self._store, rule, cohort, episode, float(judged.expected[n]))
                if wider is not None or _replaces(cohort, causes, diagnosis):
                    body["diagnosis"] = diagnosis_json(diagnosis)  # else it keeps the one before
                    causes = tuple(c.conditions for c in diagnosis.causes)
            if wider is not None:
                body["cohort"] = dict(cohort)
                body["series"] = dict(body["series"], points=_drawn(round_, judged, n))
        if n is not None:
            row = judged.rows[n]
            attempts = round_.series.part("attempts")[row]
            first = max(0, round_.series.column(state.started_at))
            impact["views"] = int(attempts[first : round_.series.column(judged.end)].sum())
        level = higher(state.severity, severity(peak, judged.end - state.started_at, viewers))
        escalated = level != state.severity
        new = AlertState(
            **{
                **_fields(state),
                "status": "ongoing",
                "severity": level,
                "last_seen_at": judged.end,
                "clean_intervals": 0,
                "escalations": state.escalations + escalated,
                "cohort": cohort,
                "covers": (state.covers | taken | {state.cohort}) - {cohort},
                "causes": causes,
            }
        )
        added = []  # the series drawn again for a wider cohort holds this round's point already
        if n is not None and wider is None:
            added = [point(judged.end, *_bounds(judged, n), bool(judged.anomalous[n]))]
        body.update(
            magnitude=number(peak),
            impact=impact,
            covers=[dict(c) for c in sorted(new.covers)],
            series=dict(body["series"], points=with_points(body["series"]["points"], added)),
            **requests(rule, cohort, state.started_at, judged.end),
        )
        return _Change(new, body, "escalate" if escalated else "widen" if wider is not None else None)

    def _write(self, session: Session, rule: AlertRule, change: _Change, now: int) -> Notice | None:
        """Store an alert's change; the notice it owes (None: none, or no recipient, or muted)."""
        state = change.state
        row = session.get(AlertRow, state.id)
        if row is None:
            row = AlertRow(
                id=state.id,
                customer_id=rule.customer_id,
                rule_id=rule.id,
                cohort=cohort_key(state.cohort),
                metric=rule.metric.name,
                started_at=instant(state.started_at),
            )
            session.add(row)
        row.status, row.severity = state.status, state.severity
        row.last_seen_at = instant(state.last_seen_at)
        row.ended_at = instant(state.last_seen_at) if change.ended else None
        row.clean_intervals, row.escalations = state.clean_intervals, state.escalations
        row.body = json.dumps(change.body, ensure_ascii=False, separators=(",", ":"))
        told = state_of(row, {})  # acknowledged and muted as they are now (the API may have changed them)
        news = change.transition in ("escalate", "widen")  # an acknowledged alert's owner knows of it
        if change.transition is None or muted(told, now) or (news and told.acknowledged):
            return None
        # a resolve goes to whoever was told of the alert (notify.enqueue knows), whatever its severity now
        recipients = (
            rule.recipients if change.transition == "resolve" else recipients_for(rule.recipients, state.severity)
        )
        if not recipients:
            return None
        return Notice(
            key=notice_key(state.id, change.transition, _occurrence(change.transition, state, row)),
            customer_id=rule.customer_id,
            alert_id=state.id,
            rule_id=rule.id,
            transition=change.transition,
            severity=state.severity,
            title=title(rule, state.cohort, change.body),
            alert=json.loads(answer(row, instant(now))),
            recipients=recipients,
        )


def _occurrence(transition: Transition, state: AlertState, row: AlertRow) -> int:
    """Which notice of its kind a transition is: an alert opens and resolves once, escalates once a level, and
    widens to fewer conditions each time (`row.cohort` is the cohort it opened on)."""
    if transition == "escalate":
        return state.escalations
    if transition == "widen":
        return len(cohort_of(row.cohort)) - len(state.cohort)
    return 1


def series_groups(rules: Sequence[AlertRule]) -> list[list[AlertRule]]:
    """The rules grouped by the series they read: of one interval, each joining the first group (broadest first)
    whose dimensions hold its own. Rules of other dimensions read a series of their own: the union's leaves, the
    combinations of every dimension, would be far more than either's."""
    groups: list[tuple[int, set[str], list[AlertRule]]] = []
    for rule in sorted(rules, key=lambda r: (r.interval_s, -len(r.dimensions))):
        home = next((g for g in groups if g[0] == rule.interval_s and set(rule.dimensions) <= g[1]), None)
        if home is None:
            groups.append((rule.interval_s, set(rule.dimensions), [rule]))
        else:
            home[2].append(rule)
    return [group for _, _, group in groups]


def series_key(customer_id: int, rules: list[AlertRule]) -> SeriesKey:
    """What a group of rules of one interval (`series_groups`) reads: the union of their dimensions, groupings and
    parts."""
    groupings = {catalog_order(g) for rule in rules for g in rule.groupings}
    return SeriesKey(
        customer_id=customer_id,
        dimensions=catalog_order(d for rule in rules for d in rule.dimensions),
        groupings=tuple(sorted(groupings, key=lambda g: (len(g), g))),
        parts=tuple(sorted({*VOLUME_PARTS, *(p for rule in rules for p in judged_parts(rule.metric))})),
        granularity=INTERVALS[rules[0].interval_s],
        step=rules[0].interval_s,
    )


def _bounds(judged: Judged, n: int) -> tuple[float, float, float, float]:
    return (float(judged.observed[n]), float(judged.expected[n]), float(judged.lower[n]), float(judged.upper[n]))


def _values(judged: Judged, n: int) -> dict[str, Any]:
    """The fields of the latest window that opened an alert or kept it going, and the request that answers its
    value."""
    observed, expected, lower, upper = _bounds(judged, n)
    return {
        "observed": number(observed),
        "expected": number(expected),
        "band": {"lower": number(lower), "upper": number(upper)},
        "score": number(float(judged.score[n])),
        "observedquery": observed_request(judged.rule, judged.cohorts[n], judged.end),
    }


def _excess(judged: Judged, n: int) -> float:
    """The window's amount beyond the expected (failed views, events, or the amount of a mean), in the bad
    direction."""
    metric = judged.rule.metric
    observed, expected = float(judged.observed[n]), float(judged.expected[n])
    if not (np.isfinite(observed) and np.isfinite(expected)):
        return 0.0
    volume = 1.0 if metric.denominator is None else float(judged.denominator[n])
    excess = (observed - expected) / metric.scale * volume
    return excess if metric.direction.value != "down" else -excess


def _failing_unjudged(judged: Judged, states: list[AlertState], stored: Stored) -> set[Cohort]:
    """The cohorts of open alerts that had attempts this round, too few to be judged, and a value still past the band
    of their alert's latest anomalous window (the way that is bad): a cohort whose failing viewers gave up may fall
    below the rule's minimum while it fails."""
    metric, failing = judged.rule.metric, set()
    down = metric.direction is Direction.DOWN
    for state in states:
        n = judged.position(state.cohort)
        edge = (stored[state.id][1].get("band") or {}).get("lower" if down else "upper")
        if n is None or judged.eligible[n] or judged.attempts[n] <= 0 or edge is None:
            continue
        volume = None if metric.kind is MetricKind.COUNT else judged.denominator[n : n + 1]
        value = float(metric.value(judged.numerator[n : n + 1], volume)[0])
        if (edge - value if down else value - edge) > 0:
            failing.add(state.cohort)
    return failing


def _clean(judged: Judged, state: AlertState, body: dict[str, Any], resolved: bool, counted: bool) -> _Change:
    """A quiet round of an alert: a clean interval when `counted` (not `_failing_unjudged`), resolving it after
    `RESOLVE_AFTER` in a row (or, failing unjudged, `STALE_AFTER` intervals after its last anomalous one)."""
    n = judged.position(state.cohort)
    added = [point(judged.end, *_bounds(judged, n), False)] if n is not None else []
    body["series"] = dict(body["series"], points=with_points(body["series"]["points"], added))
    new = AlertState(
        **{
            **_fields(state),
            "status": "resolved" if resolved else "ongoing",
            "clean_intervals": state.clean_intervals + counted,
        }
    )
    return _Change(new, body, "resolve" if resolved else None, ended=resolved)


def _drawn(round_: Round, judged: Judged, n: int) -> list[dict[str, Any]]:
    """The points of an alert's series as it opens (or widens) on the cohort at `n`: the windows up to the round's."""
    return [point(*values) for values in round_.context(judged, n, CONTEXT_POINTS)]


def _widest(cohort: Cohort, taken: frozenset[Cohort], judged: Judged) -> Cohort | None:
    """Of the reported cohorts an alert of `cohort` took in, the broadest whose conditions are some of its own, the
    strongest among equals: the incident is broader than the cohort it was first seen in (an ad server failing
    every ad, first reported on `device=mobile` when the other devices' few ads could not yet tell); None if none."""
    broader = [c for c in taken if set(c) < set(cohort) and judged.position(c) is not None]
    if not broader:
        return None

    def strength(c: Cohort) -> tuple[int, float, Cohort]:
        n = judged.position(c)
        return -len(c), float(judged.score[n]) if n is not None else -np.inf, c

    return max(broader, key=strength)


def _joined(
    opened: list[tuple[Target, Diagnosis]], target: Target, diagnosis: Diagnosis
) -> list[tuple[Target, Diagnosis]]:
    """The round's alerts to open with `target`: joined with the first that has a cause `nested` with one of its own
    (one incident seen in two cohorts in the same round: one alert), else added. The joined alert is on the broader
    cohort when one's conditions are some of the other's (as it would widen to the next round), else on the first."""
    mine = [cause.conditions for cause in diagnosis.causes]
    for i, (first, its_diagnosis) in enumerate(opened):
        if shares_cause([cause.conditions for cause in its_diagnosis.causes], mine, diagnosis.nested):
            head, head_diagnosis, other = first, its_diagnosis, target
            if set(target.cohort) < set(first.cohort):  # the broader: the alert would widen to it next round
                head, head_diagnosis, other = target, diagnosis, first
            joined = replace(head, covers=head.covers | other.covers | {other.cohort})
            return [*opened[:i], (joined, head_diagnosis), *opened[i + 1 :]]
    return [*opened, (target, diagnosis)]


def _replaces(cohort: Cohort, causes: tuple[Cohort, ...], diagnosis: Diagnosis) -> bool:
    """Whether an alert's rediagnosis over its episode replaces its `causes` (REDIAGNOSE_S): always when it had
    none; a rediagnosis that found none never replaces any; by the cohort itself unless a cause before holds the
    cohort's views (says more than it: `player=hls.js` for `playerversion=1.5.8 ∧ country=GB`)."""
    if not causes or not diagnosis.causes:
        return not causes
    return not diagnosis.the_cohort or not any(diagnosis.holds(cause, cohort) for cause in causes)


def _fields(state: AlertState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in AlertState.__slots__}


def title(rule: AlertRule, cohort: Cohort, body: dict[str, Any]) -> str:
    """A notice's one line, e.g. "Video start failure 12.3 percent on cdn=Akamai ∧ country=US (expected 1.1)"."""
    where = " ∧ ".join(f"{name}={value}" for name, value in cohort) or "all viewers"
    return (
        f"{rule.metric.spec.label} {body.get('observed')} {rule.metric.spec.unit} on {where} "
        f"(expected {body.get('expected')}) — rule {rule.name}"
    )
