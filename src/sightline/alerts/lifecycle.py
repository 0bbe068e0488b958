"""The lifecycle of alerts (pure): which alerts a rule's round continues, opens and resolves; their severity; the
recipients each transition is told to.

One alert per rule × cohort episode. At each round of a rule:
- an open alert is *active* when its cohort is anomalous or goes on (`Judged.continuing`), or when a reported
  cohort is its own: related to its cohort (one's conditions extend the other's) or overlapping it (sharing a
  condition, none in conflict), related to one of its causes, or one it took in before (`covers`); an active
  alert is updated (last seen, values, impact, severity), never duplicated;
- an alert that is not active counts a clean interval; after `RESOLVE_AFTER` clean intervals in a row it is
  resolved (it ended at its last anomalous interval); a round that could not judge its cohort (too few attempts)
  while its value was still past the alert's band counts none, and the alert then resolves only once
  `STALE_AFTER` intervals passed since its last anomalous one;
- a reported cohort that no open alert covers is a *candidate*: the engine diagnoses the rule's anomaly and opens
  one alert per cohort its causes point to (`targets`), each taking in the candidates consistent with its causes,
  unless an open alert has a cause nested with its own (`owner`: one incident, one alert; nested by views, as the
  engine's diagnosis tells, or by conditions).
Severity, from the magnitude (how many times the expected value, either way), the duration and the affected
viewers, each worth 0 to 2 points: critical from 5 points, major from 3, else warning. An alert's severity never
falls during its episode; a rise is an escalation. Notices: on open, on escalation and on widening to a broader
cohort (unless the alert was acknowledged) to the recipients its severity reaches (`recipients_for`), and on
resolve to whoever was told of it (`notify.enqueue` knows); none while muted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sightline.alerts.notify import LEVELS, Level, Recipient, Transition, admits
from sightline.alerts.rules import Cohort

RESOLVE_AFTER = 6
"""Clean intervals in a row that resolve an alert (30 minutes at 5: the views an incident degraded play on for a
while after it ends)."""
STALE_AFTER = 2 * RESOLVE_AFTER
"""Intervals after its last anomalous one at which an alert whose cohort could not be judged since, its value still
past the band, resolves."""
Status = Literal["open", "ongoing", "resolved"]
STATUSES: tuple[Status, ...] = ("open", "ongoing", "resolved")
MAGNITUDE_POINTS = (math.log(1.5), math.log(3.0))
"""|ln(observed ÷ expected)| for 1 and 2 points: 1.5 and 3 times (or a third and a third of) the expected value."""
DURATION_POINTS = (15 * 60, 60 * 60)
VIEWER_POINTS = (10, 100)
SEVERITY_POINTS: tuple[tuple[int, Level], ...] = ((5, "critical"), (3, "major"), (0, "warning"))


@dataclass(frozen=True, slots=True)
class AlertState:
    """What the lifecycle knows of a stored alert. Times in epoch seconds."""

    id: str
    cohort: Cohort
    status: Status
    severity: Level
    started_at: int
    last_seen_at: int
    clean_intervals: int = 0
    escalations: int = 0
    covers: frozenset[Cohort] = frozenset()
    causes: tuple[Cohort, ...] = ()
    acknowledged: bool = False
    muted_until: int | None = None


def related(one: Cohort, other: Cohort) -> bool:
    """Whether one cohort's conditions extend the other's (or they are the same)."""
    return set(one) <= set(other) or set(other) <= set(one)


def consistent(one: Cohort, other: Cohort) -> bool:
    """Whether two cohorts can hold the same views: no dimension with two different values."""
    values = dict(one)
    return all(values.get(name, value) == value for name, value in other)


def overlaps(one: Cohort, other: Cohort) -> bool:
    """Whether two cohorts share a condition and can hold the same views (`cdn=X ∧ country=Y` and `cdn=X ∧
    device=tv`)."""
    return bool(set(one) & set(other)) and consistent(one, other)


def covers(alert: AlertState, cohort: Cohort) -> bool:
    """Whether `cohort`'s anomaly belongs to `alert` (see the module docstring)."""
    return (
        related(alert.cohort, cohort)
        or overlaps(alert.cohort, cohort)
        or cohort in alert.covers
        or any(related(c, cohort) for c in alert.causes)
    )


def owner(
    alerts: Sequence[AlertState],
    cohort: Cohort,
    causes: Sequence[Cohort] = (),
    nested: Callable[[Cohort, Cohort], bool] = related,
) -> AlertState | None:
    """The open alert a new anomaly of `cohort` with `causes` belongs to: the first that covers the cohort, else
    the first with a cause `nested` with one of `causes` (one's views hold the other's: the same failing views,
    seen later in another cohort)."""
    mine = next((alert for alert in alerts if covers(alert, cohort)), None)
    if mine is None:
        mine = next((alert for alert in alerts if shares_cause(alert.causes, causes, nested)), None)
    return mine


def shares_cause(
    causes: Sequence[Cohort], others: Sequence[Cohort], nested: Callable[[Cohort, Cohort], bool] = related
) -> bool:
    """Whether one of `causes` is `nested` with one of `others` (the same failing views: one incident)."""
    return any(nested(cause, other) for cause in causes for other in others)


@dataclass(frozen=True, slots=True)
class RoundPlan:
    """What a rule's round does to its open alerts: `active` (with the reported cohorts each took in), `quiet`
    (clean, not yet resolved), `waiting` (too few attempts to judge, still past its band: no clean interval
    counted), `resolved`; and the `candidates` (reported cohorts no open alert covers)."""

    active: tuple[tuple[AlertState, frozenset[Cohort]], ...]
    quiet: tuple[AlertState, ...]
    resolved: tuple[AlertState, ...]
    candidates: tuple[Cohort, ...]
    waiting: tuple[AlertState, ...] = ()

    def taking(self, folded: Mapping[str, frozenset[Cohort]]) -> RoundPlan:
        """The plan once open alerts took the cohorts of new anomalies they `owner` (`folded`, by alert id): a quiet,
        waiting or resolving alert that took one is active (its incident goes on in another cohort)."""
        waking = tuple(alert for alert in (*self.quiet, *self.waiting, *self.resolved) if alert.id in folded)
        active = [(alert, mine | folded.get(alert.id, frozenset())) for alert, mine in self.active]
        active += [(alert, folded[alert.id]) for alert in waking]
        quiet, waiting, resolved = (
            tuple(a for a in alerts if a not in waking) for alerts in (self.quiet, self.waiting, self.resolved)
        )
        return RoundPlan(tuple(active), quiet, resolved, self.candidates, waiting)


def plan_round(
    open_alerts: Sequence[AlertState],
    continuing: Collection[Cohort],
    reported: Sequence[Cohort],
    failing: Collection[Cohort] = (),
    stale_before: int = 0,
) -> RoundPlan:
    """The plan of a round whose `continuing` cohorts (the anomalous ones and those that go on) include the
    `reported` ones. An alert whose cohort is `failing` (too few attempts to be judged, its value still past its
    alert's band) counts no clean interval, and resolves only once its last anomalous interval ended before
    `stale_before` (epoch s)."""
    active: list[tuple[AlertState, frozenset[Cohort]]] = []
    quiet: list[AlertState] = []
    waiting: list[AlertState] = []
    resolved: list[AlertState] = []
    taken: set[Cohort] = set()
    for alert in open_alerts:
        mine = frozenset(c for c in reported if covers(alert, c))
        taken |= mine
        if alert.cohort in continuing or mine:
            active.append((alert, mine))
        elif alert.cohort in failing:
            (resolved if alert.last_seen_at < stale_before else waiting).append(alert)
        elif alert.clean_intervals + 1 >= RESOLVE_AFTER:
            resolved.append(alert)
        else:
            quiet.append(alert)
    candidates = tuple(c for c in reported if c not in taken)
    return RoundPlan(tuple(active), tuple(quiet), tuple(resolved), candidates, tuple(waiting))


@dataclass(frozen=True, slots=True)
class Target:
    """A cohort to open an alert on, the causes that point to it and the candidates it takes in."""

    cohort: Cohort
    causes: tuple[Cohort, ...]
    covers: frozenset[Cohort] = field(default_factory=frozenset)


def targets(
    candidates: Sequence[Cohort],
    causes: Sequence[Cohort],
    anomalous: Sequence[Cohort],
    scores: dict[Cohort, float],
    nested: Callable[[Cohort, Cohort], bool] = related,
) -> tuple[Target, ...]:
    """Where the candidates' alerts go, given the causes the diagnosis of the rule's anomaly found: for each cause,
    the target of an earlier cause `nested` with it (one incident seen in two combinations: `cdn=X ∧ country=Y` and
    `cdn=X ∧ country=Y ∧ device=mobile`), else the narrowest anomalous cohort inside it (the strongest among
    equals; else the strongest candidate consistent with it), taking in the candidates whose `_home` it is (one
    cause a candidate: `device=desktop ∧ playerversion=1.5.8`, anomalous by its views of `cdn=X ∧ country=Y`, is not
    also the target of a weaker cause `cdn=Z ∧ country=W` it is merely consistent with, and `cdn=Z ∧ device=tv`
    goes to the cause `cdn=Z`, not to a stronger `country=Y`); a later cause that only the whole holds goes with
    the first target (a start-time incident of one player and a few views of one country's premium subscribers,
    3 % of the excess, are one alert, not two).
    The candidates consistent with no cause (the diagnosis found them no part of the others) open alerts without
    causes, one per group of candidates that share a condition (`related` or `overlapping`: `player=hls.js` and
    `player=hls.js ∧ device=desktop`; `brand=Apple ∧ playerversion=17.5` and `player=AVPlayer ∧
    playerversion=17.5`, the same views), on its broadest cohort (the strongest among equals).
    `nested(one, other)`: whether one's views hold the other's (by default by their conditions, `related`)."""
    chosen: dict[Cohort, tuple[list[Cohort], set[Cohort]]] = {}
    left = set(candidates)
    homes = {candidate: _home(candidate, causes, nested) for candidate in candidates}
    for cause in causes:
        inside = [c for c in anomalous if set(c) <= set(cause)]
        near = [c for c in candidates if homes[c] == cause]
        pool = inside or near
        joined = [t for t, (found, _) in chosen.items() if shares_cause((t, *found), (cause,), nested)]
        if not pool and not joined:
            continue
        target = joined[0] if joined else max(pool, key=lambda c: (len(c), scores.get(c, 0.0)))
        if target == () and chosen:
            target = next(iter(chosen))  # the whole's anomaly is the incident of its strongest cause
        entry = chosen.setdefault(target, ([], set()))
        entry[0].append(cause)
        entry[1].update(near)
        left -= set(near)
    found = [Target(cohort, tuple(found), frozenset(near)) for cohort, (found, near) in chosen.items()]
    return (*found, *_groups([c for c in candidates if c in left and c not in chosen], scores))


def _home(candidate: Cohort, causes: Sequence[Cohort], nested: Callable[[Cohort, Cohort], bool]) -> Cohort | None:
    """The cause whose alert takes `candidate` in: the first (strongest) `nested` with it (one's views hold the
    other's: `playerversion=1.5.8 ∧ cdn=Akamai` in `player=hls.js`), else the first that shares a condition with
    it, else the first it is consistent with (can hold the same views); None if none."""
    for fits in (nested, overlaps, consistent):
        home = next((cause for cause in causes if fits(candidate, cause)), None)
        if home is not None:
            return home
    return None


def _groups(candidates: Sequence[Cohort], scores: dict[Cohort, float]) -> list[Target]:
    """One target per group of candidates sharing a condition, on its broadest cohort, taking in the others."""
    groups: list[tuple[Cohort, set[Cohort]]] = []
    for candidate in sorted(candidates, key=lambda c: (len(c), -scores.get(c, 0.0))):
        group = next((g for g in groups if any(related(c, candidate) or overlaps(c, candidate) for c in g[1])), None)
        if group is None:
            groups.append((candidate, {candidate}))
        else:
            group[1].add(candidate)
    return [Target(head, (), frozenset(members - {head})) for head, members in groups]


def points(value: float, thresholds: tuple[float, float]) -> int:
    return sum(value >= threshold for threshold in thresholds)


def magnitude(observed: float, expected: float) -> float:
    """|ln(observed ÷ expected)|: 0 when neither is a positive number (or one is not a number), large when
    nothing was expected or nothing was observed."""
    if not (math.isfinite(observed) and math.isfinite(expected)) or (observed <= 0 and expected <= 0):
        return 0.0
    return abs(math.log(max(observed, 1e-9) / max(expected, 1e-9)))


def severity(magnitude_seen: float, duration_s: int, viewers: int) -> Level:
    """The severity of an alert whose largest magnitude so far is `magnitude_seen`, that has lasted `duration_s`
    and affected `viewers` (see the module docstring)."""
    total = (
        points(magnitude_seen, MAGNITUDE_POINTS) + points(duration_s, DURATION_POINTS) + points(viewers, VIEWER_POINTS)
    )
    return next(level for least, level in SEVERITY_POINTS if total >= least)


def higher(one: Level, other: Level) -> Level:
    """The more severe of two levels."""
    return one if LEVELS.index(one) <= LEVELS.index(other) else other


def recipients_for(recipients: Sequence[Recipient], level: Level) -> tuple[Recipient, ...]:
    """The recipients an alert of severity `level` reaches: those at `level` or below it (a recipient at major
    gets major and critical alerts)."""
    return tuple(r for r in recipients if admits(r.level, level))


def notice_key(alert_id: str, transition: Transition, occurrence: int) -> str:
    """The idempotency key of a notice: the same transition of the same alert is the same notice."""
    return f"{alert_id}:{transition}:{occurrence}"


def muted(alert: AlertState, now: int) -> bool:
    return alert.muted_until is not None and now < alert.muted_until
