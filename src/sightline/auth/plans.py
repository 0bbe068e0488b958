"""Plan levels as data: which features each SmartSight-style numeric plan level allows.

Invariant: plans are ordered by level and each plan allows every feature of the plans below it; the
highest plan allows every feature. Who may call a route is data too (`AccessRule`): each route of the app
names its rule (api/access.py). docs/plans.md is rendered from this module (`plans_md`), with the
routes read from the app's route table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Feature(StrEnum):
    """A capability that a plan level may allow."""

    MINUTE_GRANULARITY = "minute_granularity"
    AD_METRICS = "ad_metrics"
    ERROR_HEATMAP = "error_heatmap"
    SESSION_DATA = "session_data"
    SMART_QUERY = "smart_query"
    ALERTS = "alerts"


FEATURE_DESCRIPTIONS: dict[Feature, str] = {
    Feature.MINUTE_GRANULARITY: "`granularity=minute` (and 5- and 10-minute) time series",
    Feature.AD_METRICS: "ad metrics (requests, impressions, fill rate, ad errors, completion)",
    Feature.ERROR_HEATMAP: "`/mm-apis/error`: errors and the error heatmap",
    Feature.SESSION_DATA: "session-level data: `dimension=microscope`, `aggby=sessionid`, `/mm-apis/listsessions`",
    Feature.SMART_QUERY: "`/mm-apis/smartQuery`: named queries (content paths, subscriber insight)",
    Feature.ALERTS: "`/mm-apis/getAIAlerts`: detected incidents with their diagnosis",
}


@dataclass(frozen=True, slots=True)
class PlanSpec:
    level: int
    name: str
    features: frozenset[Feature]


_ESSENTIALS: frozenset[Feature] = frozenset()
_PROFESSIONAL = _ESSENTIALS | {Feature.MINUTE_GRANULARITY, Feature.AD_METRICS, Feature.ERROR_HEATMAP}
_ENTERPRISE = frozenset(Feature)

PLANS: tuple[PlanSpec, ...] = (
    PlanSpec(6829, "Essentials", _ESSENTIALS),
    PlanSpec(6830, "Professional", _PROFESSIONAL),
    PlanSpec(6831, "Enterprise", _ENTERPRISE),
)

_BY_LEVEL = {plan.level: plan for plan in PLANS}


class Caller(StrEnum):
    """Who calls a route: the columns of docs/plans.md's route table, each called in the route × role test."""

    ADMIN = "admin"
    VIEWER = "viewer"
    API_KEY = "API key"
    OTHER_CUSTOMER = "another customer's user"
    INGEST_KEY = "ingest key"
    ANONYMOUS = "no credentials"


@dataclass(frozen=True, slots=True)
class AccessRule:
    """Who may call a route: `allowed` callers, and `own` callers for what they own (a query they ran)."""

    name: str
    description: str
    allowed: frozenset[Caller]
    own: frozenset[Caller] = frozenset()


PUBLIC = AccessRule("public", "anyone, without credentials", frozenset(Caller))
INGEST = AccessRule(
    "ingest key",
    "the customer's ingest key (public: it ships in players), nothing else",
    frozenset({Caller.INGEST_KEY}),
)
SIGNED_IN = AccessRule(
    "signed in",
    "any user or API key, whatever its customer",
    frozenset({Caller.ADMIN, Caller.VIEWER, Caller.API_KEY, Caller.OTHER_CUSTOMER}),
)
CUSTOMER = AccessRule(
    "customer",
    "a user (admin or viewer) or an API key of the customer",
    frozenset({Caller.ADMIN, Caller.VIEWER, Caller.API_KEY}),
)
OWNER_OR_ADMIN = AccessRule(
    "owner or admin",
    "an admin of the customer, or the user or API key of the customer that ran the query",
    frozenset({Caller.ADMIN}),
    frozenset({Caller.VIEWER, Caller.API_KEY}),
)
ADMIN = AccessRule("admin", "an admin of the customer (a user, not an API key)", frozenset({Caller.ADMIN}))
OPERATOR = AccessRule(
    "operator",
    "the operator's metrics token (`metrics_token`, docs/operations.md); no user, API key or ingest key",
    frozenset(),
)
ACCESS_RULES: dict[str, AccessRule] = {
    rule.name: rule for rule in (PUBLIC, INGEST, SIGNED_IN, CUSTOMER, OWNER_OR_ADMIN, ADMIN, OPERATOR)
}


@dataclass(frozen=True, slots=True)
class RouteAccess:
    """A route of the app (a method and a path) and who may call it."""

    method: str
    path: str
    rule: AccessRule


def plan_for(level: int) -> PlanSpec:
    """The plan of `level`; ValueError naming the known levels when there is none."""
    try:
        return _BY_LEVEL[level]
    except KeyError:
        known = ", ".join(f"{p.level} ({p.name})" for p in PLANS)
        raise ValueError(f"unknown plan level {level}; known levels: {known}") from None


def _cell(rule: AccessRule, caller: Caller) -> str:
    if caller in rule.allowed:
        return "yes"
    return "its own" if caller in rule.own else "—"


def routes_md(routes: Sequence[RouteAccess]) -> str:
    """The route × caller table of docs/plans.md."""
    header = "| method | route | who may call | " + " | ".join(caller.value for caller in Caller) + " |"
    rows = [
        f"| {r.method} | `{r.path}` | {r.rule.name} | " + " | ".join(_cell(r.rule, c) for c in Caller) + " |"
        for r in routes
    ]
    rules = "\n".join(f"- **{rule.name}**: {rule.description}." for rule in ACCESS_RULES.values())
    return "\n".join([rules, "", header, "|" + "---|" * (len(Caller) + 3), *rows])


def plans_md(routes: Sequence[RouteAccess]) -> str:
    """docs/plans.md: the plan levels and the features table, and who may call each of `routes` (the app's)."""
    header = "| feature | what it allows | " + " | ".join(f"{p.name} ({p.level})" for p in PLANS) + " |"
    rows = [
        f"| `{f.value}` | {description} | " + " | ".join("yes" if f in p.features else "—" for p in PLANS) + " |"
        for f, description in FEATURE_DESCRIPTIONS.items()
    ]
    table = "\n".join([header, "|" + "---|" * (len(PLANS) + 2), *rows])
    return f"""# Plan levels and roles

<!-- generated from src/sightline/auth/plans.py and the app's routes; a test fails when this file is stale -->

Every customer has one plan level, a SmartSight-style numeric id. Routes under `/mm-apis/` that take
`planlevel` answer 403 (`plan_level_mismatch`) when it is not the customer's plan level, and 403
(`plan_forbidden`) when the plan does not allow what the request asks for. Every plan has the video
QoE metrics at hour and day granularity, with breakdowns by dimension; each plan adds to the one
before it.

{table}

`GET /mm-apis/whoami/{{customerId}}` tells a caller its customer's plan level and allowed features.
Set a customer's plan with `sightline customers add --plan-level LEVEL`.

## Who may call each route

A user is an `admin` or a `viewer` of one or more customers (`sightline users add --role`) and signs in
for an access token (`Authorization: Bearer`); an API key (`X-API-Key`, `sightline apikeys create`)
reads one customer's data as a viewer does; an ingest key (`sightline ingestkeys create`) only sends a
customer's beacons. A caller without credentials gets 401 (with `WWW-Authenticate: Bearer`); a user or
key of another customer, or a viewer or key on what only its owner or an admin may do, gets 403; a
route that takes an ingest key answers 401 without a valid one (CMCD's routes: 410 for an unknown key,
so that a player stops sending). The table lists every route of the app, read from its route table:

{routes_md(routes)}
"""
