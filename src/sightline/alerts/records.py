"""Alerts as stored and as answered (pure): an alert's id, its JSON (what getAIAlerts answers), the requests that
reproduce it, and its state read back for the lifecycle.

An alert row holds its state in columns and the rest of its answer in `body` (JSON). The answer is the state's
fields followed by the body's, spliced as bytes (no JSON is parsed to answer a page).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from sightline.alerts.diagnosis import FAILED_VIEWS, Diagnosis
from sightline.alerts.lifecycle import STATUSES, AlertState
from sightline.alerts.models import AlertRow
from sightline.alerts.notify import LEVELS
from sightline.alerts.rules import AlertRule, Cohort
from sightline.alerts.series import as_cohort
from sightline.query.pipeline import encode_json

_NAMESPACE = uuid.UUID("6f1d3c52-8a43-4f59-9b1e-2b7c0f3e9a10")
T = TypeVar("T", bound=str)
MAX_POINTS = 288
"""The most points of an alert's series kept (a day at 5 minutes)."""


def cohort_key(cohort: Cohort) -> str:
    """A cohort as stored: the JSON object of its conditions, in the catalog's order."""
    return json.dumps(dict(cohort), ensure_ascii=False, separators=(",", ":"))


def cohort_of(key: str) -> Cohort:
    return as_cohort(json.loads(key).items())


def alert_id(rule_id: str, cohort: Cohort, started_at: int) -> str:
    """The id of the episode of `rule_id` × `cohort` that started at `started_at`: a round run twice names it alike."""
    return str(uuid.uuid5(_NAMESPACE, f"{rule_id}|{cohort_key(cohort)}|{started_at}"))


def number(value: float) -> float | None:
    """A value as answered: 4 significant decimals at most, None for no value."""
    return round(float(value), 4) if math.isfinite(value) else None


def filter_text(conditions: Cohort, status: str | None = None) -> str:
    """The `filter` parameter that selects a cohort's views (and a status, for listsessions)."""
    return "".join(f"[{name}={value}]" for name, value in (*conditions, *((("status", status),) if status else ())))


def observed_request(rule: AlertRule, cohort: Cohort, end: int) -> str:
    """The `metricquery` request whose answer is the metric over the rule's window ending at `end`: an alert's
    `observed` as the window was judged, or another value once late outcomes of its views have arrived."""
    window = {"period": f"start={end - rule.window_s},end={end}", "metrics": rule.metric.name}
    return _metricquery(rule.customer_id, window, cohort)


def requests(rule: AlertRule, cohort: Cohort, start: int, end: int) -> dict[str, str]:
    """The `metricquery` and `listsessions` requests that reproduce an alert over [start, end) and around it."""
    before, after = start - 6 * rule.interval_s, end + 6 * rule.interval_s
    period = f"start={before},end={after}"
    series = {"period": period, "metrics": rule.metric.name, "aggby": "timestamp", "granularity": rule.granularity}
    sessions = {
        "period": f"start={start - rule.window_s + rule.interval_s},end={end}",
        "metrics": "sessionid,starttime,endtime,status,errorcode,assetname,watchtime,latency,bufferingratio",
    }
    status, counted = FAILED_VIEWS.get(rule.metric.name, (None, None))
    text = filter_text(cohort, status)
    if text:
        sessions["filter"] = text
    if counted is not None:
        sessions["qoefilter"] = f"{counted}>0"
    return {
        "metricquery": _metricquery(rule.customer_id, series, cohort),
        "listsessions": f"/mm-apis/listsessions/{rule.customer_id}?{urlencode(sessions)}",
    }


def _metricquery(customer_id: int, query: Mapping[str, str], cohort: Cohort) -> str:
    """A `metricquery` request of `query`'s parameters over `cohort`'s views."""
    text = filter_text(cohort)
    return f"/mm-apis/metricquery/{customer_id}?{urlencode({**query, **({'filter': text} if text else {})})}"


def diagnosis_json(diagnosis: Diagnosis | None) -> dict[str, Any] | None:
    if diagnosis is None:
        return None
    return {
        "causes": [
            {
                "conditions": dict(cause.conditions),
                "share": number(cause.share),
                "observed": number(cause.observed),
                "expected": number(cause.expected),
                "views": int(cause.views),
                "viewers": cause.viewers,
            }
            for cause in diagnosis.causes
        ],
        "share": number(diagnosis.share),
        "customerwide": not diagnosis.causes,
        "dimensions": list(diagnosis.dimensions),
        "leaves": diagnosis.leaves,
    }


def point(
    timestamp: int, observed: float, expected: float, lower: float, upper: float, anomalous: bool
) -> dict[str, Any]:
    """A point of an alert's series: the window ending at `timestamp`."""
    return {
        "timestamp": timestamp,
        "value": number(observed),
        "expected": number(expected),
        "lower": number(lower),
        "upper": number(upper),
        "anomalous": anomalous,
    }


def with_points(series: Sequence[Mapping[str, Any]], added: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """`series` with `added` (replacing a point of the same time), the last `MAX_POINTS`."""
    times = {p["timestamp"] for p in added}
    merged = sorted([p for p in series if p["timestamp"] not in times] + list(added), key=lambda p: p["timestamp"])
    return merged[-MAX_POINTS:]


def state_of(row: AlertRow, body: Mapping[str, Any]) -> AlertState:
    """The lifecycle's view of a stored alert. Its cohort is the body's: the row's is the cohort it opened on (with
    the rule and the start, the episode's identity), the body's the one it widened to since, if it did."""
    causes = tuple(as_cohort(c["conditions"].items()) for c in (body.get("diagnosis") or {}).get("causes", []))
    cohort = as_cohort(body["cohort"].items()) if "cohort" in body else cohort_of(row.cohort)
    return AlertState(
        id=row.id,
        cohort=cohort,
        status=_one_of(row.status, STATUSES),
        severity=_one_of(row.severity, LEVELS),
        started_at=_epoch(row.started_at),
        last_seen_at=_epoch(row.last_seen_at),
        clean_intervals=row.clean_intervals,
        escalations=row.escalations,
        covers=frozenset(as_cohort(c.items()) for c in body.get("covers", [])),
        causes=causes,
        acknowledged=row.acknowledged_at is not None,
        muted_until=None if row.muted_until is None else _epoch(row.muted_until),
    )


def _one_of(text: str, allowed: tuple[T, ...]) -> T:
    """`text` as the value of `allowed` it equals (ValueError when none: a row no version of ours wrote)."""
    for value in allowed:
        if value == text:
            return value
    raise ValueError(f"{text!r} is none of {', '.join(allowed)}")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def answer(row: AlertRow, now: datetime) -> bytes:
    """The alert as getAIAlerts answers it at `now`: its state's fields (a mute while it lasts), then its body's."""
    until = None if row.muted_until is None else _epoch(row.muted_until)
    state = {
        "id": row.id,
        "status": row.status,
        "severity": row.severity,
        "start": _epoch(row.started_at),
        "lastseen": _epoch(row.last_seen_at),
        "end": None if row.ended_at is None else _epoch(row.ended_at),
        "acknowledged": None
        if row.acknowledged_at is None
        else {"at": _epoch(row.acknowledged_at), "by": row.acknowledged_by},
        "muted": {"until": until, "by": row.muted_by} if until is not None and until > _epoch(now) else None,
    }
    return encode_json(state)[:-1] + b"," + row.body.encode()[1:]
