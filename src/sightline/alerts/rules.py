"""Alert rules as data: what the rules API and `sightline alertrules` accept, validated against the catalog. Pure.

A rule watches one alertable metric (`alerts.metrics`) of one customer, either against the value the detector
expects from the cohort's own history (`type` ai) or against a threshold (`type` manual: a fixed value, or a share
worse than the average over all users at the same time). Its cohorts (`scope`): the whole (`all`), or the whole and
every value of each `selected` dimension and, with `pairs`, every pair of values of two of them. Every `interval`
seconds the engine judges the last `window` seconds (a whole number of intervals) of each cohort that had at least
`minattempts` attempts and `minusers` distinct viewers in it.

Invariants of an `AlertRule`: its metric is alertable; its dimensions are catalog dimensions that are not per-person
identifiers, distinct, in the order given; the interval is a granularity of the query API that divides a day; the
window is 1 to `MAX_WINDOW_INTERVALS` intervals; an ai rule has a sensitivity in [0, 1] and no threshold, a manual
rule a condition and a finite threshold that its metric can reach.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from sightline.alerts.detect import Direction
from sightline.alerts.diagnose_leaves import Named
from sightline.alerts.metrics import ALERT_METRICS, AlertMetric
from sightline.alerts.notify import Level, Recipient, recipient_problem
from sightline.alerts.targets import shown_target
from sightline.catalog import DIMENSIONS
from sightline.query.period import Granularity
from sightline.query.pipeline import RequestError, unknown_value

RuleType = Literal["ai", "manual"]
Scope = Literal["all", "selected"]
ThresholdCondition = Literal["fixed", "relative"]
Cohort = Named
"""A cohort: (dimension, value) pairs in the order of the rule's dimensions; () is the whole."""

INTERVALS: dict[int, Granularity] = {60: "minute", 300: "5minute", 600: "10minute", 3600: "hour"}
"""Detection intervals (seconds) and the granularity of the query that reads them."""
MAX_WINDOW_INTERVALS = 24
MAX_DIMENSIONS = 6
MAX_RECIPIENTS = 20
DEFAULT_SENSITIVITY = 0.5
SCOPE_DIMENSIONS: tuple[str, ...] = tuple(
    d.name for d in DIMENSIONS if not (d.group == "viewer" and d.high_cardinality)
)
"""Dimensions a rule's cohorts may be drawn from: every catalog dimension but per-person identifiers (viewerid,
subscriberid, ipaddress), whose cohorts would be single people."""


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Characters that reorder the text around them: a name shown in a portal or an e-mail reads as it is."""
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
"""Letters and symbols drawn as nothing (Hangul fillers, the blank Braille pattern)."""
MAX_NAME = 200


def unfit_for_one_line(character: str) -> bool:
    """Whether `character` may not stand in one line of text: a control character (line break, tab, NUL), a line
    or paragraph separator (U+2028), or a bidirectional control (U+202E)."""
    return unicodedata.category(character) in ("Cc", "Zl", "Zp") or character in _BIDI_CONTROLS


def has_visible(text: str) -> bool:
    """Whether `text` has a character to see: not only spaces and invisible ones (U+200B, U+3164)."""
    return not all(unicodedata.category(c) == "Cf" or c.isspace() or c in _BLANKS for c in text)


def _printable(text: str) -> str:
    if any(unfit_for_one_line(c) for c in text):
        raise ValueError(
            "must be printable text, without control characters (line breaks, tabs, NUL, U+2028) or bidirectional"
            " controls (U+202E)"
        )
    if not has_visible(text):
        raise ValueError("must have a visible character")
    return text


Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME), AfterValidator(_printable)
]


class RecipientInput(BaseModel):
    """A recipient as sent: `secret` (the HMAC key of a webhook) is never answered back."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["webhook", "slack", "email"]
    target: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    level: Level = "warning"
    secret: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    hassecret: bool | None = None
    """As the API answers a webhook with a secret. Sent back without `secret` (a rule read and written back), its
    secret stays; `false` removes it (`RuleStore.replace`). Never stored."""


MAX_MINIMUM = 1_000_000_000
"""The largest `minattempts` and `minusers`: more than any cohort's window holds (a number past a float's range
cannot be compared with counts)."""


class RuleInput(BaseModel):
    """An alert rule as sent to `POST`/`PUT /mm-apis/alertrules/{customerId}` (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Name
    type: RuleType = "ai"
    metric: str
    scope: Scope = "all"
    dimensions: list[str] = Field(default_factory=list)
    pairs: bool = True
    interval: int = 300
    window: int | None = None
    minattempts: Annotated[int, Field(ge=0, le=MAX_MINIMUM)] = 20
    minusers: Annotated[int, Field(ge=0, le=MAX_MINIMUM)] = 0
    sensitivity: float | None = None
    condition: ThresholdCondition | None = None
    threshold: float | None = None
    recipients: list[RecipientInput] = Field(default_factory=list)
    enabled: bool = True

    def stored(self) -> str:
        """The rule as the metadata database keeps it (JSON, secrets included, no `hassecret`)."""
        return self.model_dump_json(exclude={"recipients": {"__all__": {"hassecret"}}})


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A validated rule (see the module invariants). `id` is empty until stored."""

    customer_id: int
    name: str
    type: RuleType
    metric: AlertMetric
    dimensions: tuple[str, ...]
    pairs: bool
    interval_s: int
    window_s: int
    min_attempts: int
    min_users: int
    sensitivity: float
    condition: ThresholdCondition | None
    threshold: float | None
    recipients: tuple[Recipient, ...]
    enabled: bool = True
    id: str = ""

    @property
    def granularity(self) -> Granularity:
        return INTERVALS[self.interval_s]

    @property
    def window_intervals(self) -> int:
        return self.window_s // self.interval_s

    @property
    def groupings(self) -> tuple[tuple[str, ...], ...]:
        """The dimension sets of its cohorts: () (the whole), each dimension, and each pair when `pairs`."""
        singles = tuple((d,) for d in self.dimensions)
        doubles = tuple(combinations(self.dimensions, 2)) if self.pairs else ()
        return ((), *singles, *doubles)

    def to_input(self) -> RuleInput:
        """The rule as the API takes it (secrets included: for storing, never for answering)."""
        return RuleInput(
            name=self.name,
            type=self.type,
            metric=self.metric.name,
            scope="selected" if self.dimensions else "all",
            dimensions=list(self.dimensions),
            pairs=self.pairs,
            interval=self.interval_s,
            window=self.window_s,
            minattempts=self.min_attempts,
            minusers=self.min_users,
            sensitivity=self.sensitivity if self.type == "ai" else None,
            condition=self.condition,
            threshold=self.threshold,
            recipients=[
                RecipientInput(kind=r.kind, target=r.target, level=r.level, secret=r.secret) for r in self.recipients
            ],
            enabled=self.enabled,
        )


def parse_rule(customer_id: int, given: RuleInput, rule_id: str = "") -> AlertRule:
    """`given` validated against the catalog (RequestError names the field and what it allows)."""
    if given.metric not in ALERT_METRICS:
        raise unknown_value("metric", given.metric, ALERT_METRICS)
    metric = ALERT_METRICS[given.metric]
    dimensions = _dimensions(given)
    if given.interval not in INTERVALS:
        raise RequestError("interval", "interval must be one of 60, 300, 600 or 3600 seconds", map(str, INTERVALS))
    window = given.interval if given.window is None else given.window
    if window % given.interval or not 1 <= window // given.interval <= MAX_WINDOW_INTERVALS:
        raise RequestError(
            "window", f"window must be 1 to {MAX_WINDOW_INTERVALS} times the interval ({given.interval} s)"
        )
    sensitivity, condition, threshold = _detection(given, metric)
    if len(given.recipients) > MAX_RECIPIENTS:
        raise RequestError("recipients", f"a rule has at most {MAX_RECIPIENTS} recipients")
    return AlertRule(
        customer_id=customer_id,
        name=given.name,
        type=given.type,
        metric=metric,
        dimensions=dimensions,
        pairs=given.pairs,
        interval_s=given.interval,
        window_s=window,
        min_attempts=given.minattempts,
        min_users=given.minusers,
        sensitivity=sensitivity,
        condition=condition,
        threshold=threshold,
        recipients=tuple(_recipient(r) for r in given.recipients),
        enabled=given.enabled,
        id=rule_id,
    )


def _dimensions(given: RuleInput) -> tuple[str, ...]:
    if given.scope == "all":
        if given.dimensions:
            raise RequestError("dimensions", "scope all takes no dimensions; use scope selected to name them")
        return ()
    if not 1 <= len(given.dimensions) <= MAX_DIMENSIONS:
        raise RequestError("dimensions", f"scope selected needs 1 to {MAX_DIMENSIONS} dimensions", SCOPE_DIMENSIONS)
    for name in given.dimensions:
        if name not in SCOPE_DIMENSIONS:
            raise unknown_value("dimensions", name, SCOPE_DIMENSIONS)
    if len(set(given.dimensions)) != len(given.dimensions):
        raise RequestError("dimensions", "dimensions must be distinct")
    return tuple(given.dimensions)


def _detection(given: RuleInput, metric: AlertMetric) -> tuple[float, ThresholdCondition | None, float | None]:
    """(sensitivity, condition, threshold) of an ai or a manual rule."""
    if given.type == "ai":
        for name in ("condition", "threshold"):
            if getattr(given, name) is not None:
                raise RequestError(name, f"{name} is for manual rules; an ai rule takes a sensitivity")
        sensitivity = DEFAULT_SENSITIVITY if given.sensitivity is None else given.sensitivity
        if not 0.0 <= sensitivity <= 1.0:
            raise RequestError("sensitivity", "sensitivity must be between 0 and 1")
        return sensitivity, None, None
    if given.sensitivity is not None:
        raise RequestError("sensitivity", "sensitivity is for ai rules; a manual rule takes a condition and threshold")
    if given.condition is None:
        raise RequestError("condition", "a manual rule needs a condition, fixed or relative", ("fixed", "relative"))
    if given.threshold is None or not math.isfinite(given.threshold):
        raise RequestError("threshold", "a manual rule needs a threshold, a finite number")
    threshold = given.threshold
    if given.condition == "relative":
        ceiling = 100.0 if metric.direction is Direction.DOWN else math.inf
        if not 0.0 < threshold < ceiling:
            below = " and below 100" if ceiling == 100.0 else ""
            raise RequestError(
                "threshold", f"a relative threshold is a percentage worse than the average, above 0{below}"
            )
    elif threshold < 0 or (metric.spec.unit == "percent" and threshold > 100):
        allowed = "between 0 and 100" if metric.spec.unit == "percent" else "0 or more"
        raise RequestError("threshold", f"a fixed threshold of {metric.name} is a value {allowed}")
    return DEFAULT_SENSITIVITY, given.condition, threshold


def _recipient(given: RecipientInput) -> Recipient:
    recipient = Recipient(given.kind, given.target, given.level, given.secret)
    problem = recipient_problem(recipient)
    if problem is not None:
        raise RequestError("recipients", problem)
    return recipient


def rule_json(rule: AlertRule, targets: bool = True) -> dict[str, Any]:
    """The rule as the API answers it: its input fields and id; a webhook's secret only as `hassecret`; without
    `targets` (to those who may not change the rule), a URL's path and query left out, as the delivery log shows
    them (a Slack webhook's path is its token)."""
    body = rule.to_input().model_dump(exclude={"recipients"})
    body["recipients"] = [
        {"kind": r.kind, "target": r.target if targets else shown_target(r.kind, r.target), "level": r.level}
        | ({"hassecret": True} if r.secret else {})
        for r in rule.recipients
    ]
    return {"id": rule.id, **body}


DEFAULT_DIMENSIONS = ["cdn", "country", "device", "player", "playerversion"]
"""The dimensions of the default rules' cohorts, and their pairs: delivery, geography, the device and the player."""

FAILURE_DIMENSIONS = [*DEFAULT_DIMENSIONS, "brand"]
"""The default failure rules' dimensions: the device's maker too (a TV app's release failing on one maker's TVs,
diluted among all TVs). Not the means': a maker's start time and bitrate move with its mix of device classes (Apple:
laptops, phones and TVs), which gave 4 false alerts in a week of two customers' clean traffic."""


def default_rules() -> list[RuleInput]:
    """The AI rules a new customer gets: start failures, exits before start and playback failures by the failure
    dimensions, rebuffering, start time, bitrate and ad errors by the default dimensions, and the ad fill rate and
    plays customer-wide."""
    failures = {"scope": "selected", "dimensions": FAILURE_DIMENSIONS, "window": 900}
    by_cohort = {"scope": "selected", "dimensions": DEFAULT_DIMENSIONS, "window": 900}
    whole: Mapping[str, Any] = {"scope": "all"}
    rules: list[tuple[str, str, Mapping[str, Any]]] = [
        ("Video start failures", "vsf", failures),
        ("Exits before video start", "ebvs", failures),
        ("Video playback failures", "vpf", failures),
        ("Rebuffering", "bufferingratio", by_cohort),
        ("Video start time", "latency", by_cohort),
        ("Bitrate", "avgbitrate", by_cohort),
        ("Ad errors", "aderrorrate", by_cohort),
        ("Ad fill rate", "adfillrate", whole),
        ("Plays", "viewercount", whole),
    ]
    return [RuleInput.model_validate({"name": name, "metric": metric, **scope}) for name, metric, scope in rules]
