"""Parsing session-level requests into a validated `SessionQuery`: `GET /mm-apis/listsessions` and
metricquery/qbrData requests that name session fields (SmartSight's `dimension=microscope` recipes).

Rules (docs/errors.md):
- `metrics` lists session fields (`query.sessions.SESSION_FIELDS`), dimensions, `timestamp` and per-view
  metrics (`METRIC_FORMULAS`: the catalog's metrics that one view can evaluate, and `watchtime`).
- `aggby` (listsessions: default and usually `sessionid`) lists the keys: `sessionid` gives one row per
  view, and every other field is then that view's value; otherwise rows group views by dimensions,
  `timestamp` (the bucket of their start), `status` or `errorcode`, and fields listed in `metrics` that can
  be keys are grouped by, as in metricquery.
- `filter` takes dimensions, `status` and `errorcode`; `qoefilter` keeps the views that pass it.
- `sessiontype=started` (default) takes the views that started in the period, `ended` those that ended.
- `businesserror=true` counts business exceptions in error metrics (left out by default, as in metricquery).
- `allstatus=0` keeps the closed views only, `1` adds the views still open (`playing`, `starting`);
  listsessions defaults to 0 (SmartSight's default), metricquery to 1 (`query.request`).
- `orderby` names a requested field or key; by default the first field requested when it is a metric
  (SmartSight's "lead with the metric under investigation"), descending, else the start time, latest
  first; ties by the keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from sightline.query.ast import Direction
from sightline.query.compile import TIMESTAMP
from sightline.query.filters import FieldKind, parse_filter, quote
from sightline.query.period import PeriodError, choose_granularity, parse_period
from sightline.query.qoefilter import parse_qoefilter
from sightline.query.request import (
    DIMENSION_KINDS,
    MAX_LIMIT,
    MAX_OFFSET,
    METRIC_NAMES,
    QOE_METRICS,
    MetricQueryParams,
    RequestError,
    parse_allstatus,
    parse_direction,
    parse_flag,
    split_names,
    unknown_value,
)
from sightline.query.sessions import GROUP_FIELDS, METRIC_FORMULAS, SESSION_FIELDS, SESSION_ID, SessionQuery

DEFAULT_FIELDS = "sessionid,starttime,endtime,status,errorcode,assetname,watchtime,latency,bufferingratio"
FILTER_FIELDS: dict[str, FieldKind] = {**DIMENSION_KINDS, "status": "string", "errorcode": "string"}
KEY_FIELDS = frozenset({*DIMENSION_KINDS, TIMESTAMP, *GROUP_FIELDS})


@dataclass(frozen=True, slots=True)
class SessionParams:
    """The raw query parameters, as strings, before validation."""

    metrics: str | None
    period: str
    aggby: str | None = None
    granularity: str = "auto"
    sessiontype: str | None = None
    filter: str | None = None
    qoefilter: str | None = None
    orderby: str | None = None
    order: str | None = None
    orderas: str | None = None
    limit: int = 1000
    offset: int = 0
    allstatus: int = 1
    businesserror: str | None = None


def wants_sessions(params: MetricQueryParams) -> bool:
    """Whether a metricquery request names a session field: a session query answers it."""
    return any(name in SESSION_FIELDS for name in (*split_names(params.metrics), *split_names(params.aggby)))


def session_params(params: MetricQueryParams) -> SessionParams:
    """The session parameters of a metricquery request (`concurrency` does not apply to whole views)."""
    if params.concurrency:
        raise RequestError("concurrency", "session fields count whole views: concurrency=1 does not apply")
    return SessionParams(
        params.metrics,
        params.period,
        params.aggby,
        params.granularity,
        params.sessiontype,
        params.filter,
        params.qoefilter,
        params.orderby,
        params.order,
        params.orderas,
        params.limit,
        params.offset,
        params.allstatus,
        params.businesserror,
    )


def _keys_and_fields(params: SessionParams) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(keys, fields, the first field requested)."""
    aggby = split_names(params.aggby)
    for name in aggby:
        if name not in KEY_FIELDS:
            raise unknown_value("aggby", name, KEY_FIELDS)
    requested = split_names(params.metrics) or split_names(DEFAULT_FIELDS)
    allowed = {*SESSION_FIELDS, *METRIC_FORMULAS, *DIMENSION_KINDS, TIMESTAMP}
    for name in requested:
        if name not in allowed:
            if name in METRIC_NAMES:
                raise RequestError(
                    "metrics",
                    f"{quote(name)} is not available per session (it is not a sum over views); use metricquery",
                    sorted(METRIC_FORMULAS),
                )
            raise unknown_value("metrics", name, allowed)
    if SESSION_ID in (*aggby, *requested):
        keys: tuple[str, ...] = (SESSION_ID,)
    else:
        keys = tuple(dict.fromkeys([*aggby, *(n for n in requested if n in KEY_FIELDS)]))
    return keys, tuple(dict.fromkeys([*keys, *requested])), requested[0]


def parse_session_query(
    customer_id: int, params: SessionParams, view_id: str | None = None, period_text: str | None = None
) -> SessionQuery:
    """Validate `params`; RequestError (or FilterError) names the parameter at fault and what is allowed.
    `view_id` restricts the query to one view; `period_text` then replaces a missing period."""
    sessiontype = (params.sessiontype or "started").strip().lower()
    if sessiontype not in ("started", "ended"):
        raise RequestError("sessiontype", "sessiontype must be started or ended", ("started", "ended"))
    try:
        period = parse_period(params.period or period_text or "")
    except PeriodError as error:
        raise RequestError("period", str(error)) from error
    try:
        granularity = choose_granularity(params.granularity.strip().lower(), period)
    except PeriodError as error:
        raise RequestError("granularity", str(error)) from error
    keys, fields, lead = _keys_and_fields(params)
    if not keys:
        raise RequestError("aggby", "name what to group views by: sessionid, or dimensions", sorted(KEY_FIELDS))
    filter_node = parse_filter(params.filter or "", FILTER_FIELDS)
    qoefilter = parse_qoefilter(params.qoefilter or "", QOE_METRICS)
    open_views = parse_allstatus(params.allstatus)
    if not 1 <= params.limit <= MAX_LIMIT:
        raise RequestError("limit", f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= params.offset <= MAX_OFFSET:
        raise RequestError("offset", f"offset must be between 0 and {MAX_OFFSET}")
    direction: Direction | None = parse_direction(params.order, params.orderas)
    if params.orderby:
        if params.orderby.strip() not in fields:
            raise RequestError(
                "orderby", f"orderby must name a requested field, not {quote(params.orderby.strip())}", fields
            )
        order_by = (params.orderby.strip(), direction or "DESC")
    else:
        order_by = (lead if lead in METRIC_FORMULAS else "starttime", direction or "DESC")
    return SessionQuery(
        customer_id,
        fields,
        keys,
        period,
        granularity,
        ended=sessiontype == "ended",
        filter=filter_node,
        qoefilter=qoefilter,
        open_views=open_views,
        view_id=view_id,
        include_business=parse_flag("businesserror", params.businesserror),
        order_by=order_by,
        limit=params.limit,
        offset=params.offset,
    )
