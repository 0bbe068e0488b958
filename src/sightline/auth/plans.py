"""Plan levels as data: which features each SmartSight-style numeric plan level allows.

Invariant: plans are ordered by level and each plan allows every feature of the plans below it; the
highest plan allows every feature. docs/plans.md is rendered from this module (`plans_md`).
"""

from __future__ import annotations

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


def plan_for(level: int) -> PlanSpec:
    """The plan of `level`; ValueError naming the known levels when there is none."""
    try:
        return _BY_LEVEL[level]
    except KeyError:
        known = ", ".join(f"{p.level} ({p.name})" for p in PLANS)
        raise ValueError(f"unknown plan level {level}; known levels: {known}") from None


def plans_md() -> str:
    """docs/plans.md: the plan levels and the features table."""
    header = "| feature | what it allows | " + " | ".join(f"{p.name} ({p.level})" for p in PLANS) + " |"
    rows = [
        f"| `{f.value}` | {description} | " + " | ".join("yes" if f in p.features else "—" for p in PLANS) + " |"
        for f, description in FEATURE_DESCRIPTIONS.items()
    ]
    table = "\n".join([header, "|" + "---|" * (len(PLANS) + 2), *rows])
    return f"""# Plan levels

<!-- generated from src/sightline/auth/plans.py; a test fails when this file is stale -->

Every customer has one plan level, a SmartSight-style numeric id. Routes under `/mm-apis/` that take
`planlevel` answer 403 (`plan_level_mismatch`) when it is not the customer's plan level, and 403
(`plan_forbidden`) when the plan does not allow what the request asks for. Every plan has the video
QoE metrics at hour and day granularity, with breakdowns by dimension; each plan adds to the one
before it.

{table}

`GET /mm-apis/whoami/{{customerId}}` tells a caller its customer's plan level and allowed features.
Set a customer's plan with `sightline customers add --plan-level LEVEL`.
"""
