"""Parsing session-level requests into a validated `SessionQuery`: `GET /mm-apis/listsessions` and
metricquery/qbrData requests that name session fields (SmartSight's `dimension=microscope` recipes).

Rules (docs/errors.md):
- `metrics` lists session fields (`query.sessions.SESSION_FIELDS`), dimensions, `timestamp` and per-view
  metrics (`METRIC_FORMULAS`: the catalog's metrics that one view can evaluate, and `watchtime`).
- `aggby` (listsessions: default and usually `sessionid`) lists the keys: `sessionid` (in `aggby` or in
  `metrics`) gives one row per view, and every other field, the other keys named too, is then that view's value;
  otherwise rows group views by dimensions, `timestamp` (the bucket of their start), `status` or `errorcode`, and
  fields listed in `metrics` that can be keys are grouped by, as in metricquery (`metrics` by default then
  `DEFAULT_GROUP_FIELDS`, not a view's fields).
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

from sightline.query.compile import TIMESTAMP
from sightline.query.filters import FieldKind, parse_filter, quote
from sightline.query.pipeline import (
    MAX_LIMIT,
    QueryParams,
    RequestError,
    parse_bounded,
    parse_flag,
    parse_offset,
    parse_order,
    parse_window,
    split_names,
    unknown_value,
)
from sightline.query.qoefilter import parse_qoefilter
from sightline.query.request import (
    DIMENSION_KINDS,
    METRIC_NAMES,
    QOE_METRICS,
    MetricQueryParams,
    parse_allstatus,
    parse_sessiontype,
)
from sightline.query.sessions import GROUP_FIELDS, METRIC_FORMULAS, SESSION_FIELDS, SESSION_ID, SessionQuery

DEFAULT_FIELDS = "sessionid,starttime,endtime,status,errorcode,assetname,watchtime,latency,bufferingratio"
DEFAULT_GROUP_FIELDS = "attempts,starttime,endtime,watchtime,latency,bufferingratio"
"""The fields of views grouped (`aggby` other than `sessionid`) when `metrics` names none: the most views first."""
FILTER_FIELDS: dict[str, FieldKind] = {**DIMENSION_KINDS, "status": "string", "errorcode": "string"}
KEY_FIELDS = frozenset({*DIMENSION_KINDS, TIMESTAMP, *GROUP_FIELDS})


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionParams(QueryParams):
    """The raw parameters of a session query, as sent."""

    metrics: str | None
    aggby: str | None = None
    sessiontype: str | None = None
    allstatus: int = 1


def wants_sessions(params: MetricQueryParams) -> bool:
    """Whether a metricquery request names a session field: a session query answers it."""
    return any(name in SESSION_FIELDS for name in (*split_names(params.metrics), *split_names(params.aggby)))


def session_params(params: MetricQueryParams) -> SessionParams:
    """The session parameters of a metricquery request (`concurrency` does not apply to whole views)."""
    if params.concurrency:
        raise RequestError("concurrency", "session fields count whole views: concurrency=1 does not apply")
    return SessionParams(
        period=params.period,
        granularity=params.granularity,
        filter=params.filter,
        qoefilter=params.qoefilter,
        orderby=params.orderby,
        order=params.order,
        orderas=params.orderas,
        limit=params.limit,
        offset=params.offset,
        businesserror=params.businesserror,
        metrics=params.metrics,
        aggby=params.aggby,
        sessiontype=params.sessiontype,
        allstatus=params.allstatus,
    )


def _keys_and_fields(params: SessionParams) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(keys, fields, the first field requested)."""
    aggby = split_names(params.aggby)
    for name in aggby:
        if name not in KEY_FIELDS:
            raise unknown_value("aggby", name, KEY_FIELDS)
    grouped = bool(aggby) and SESSION_ID not in aggby
    requested = split_names(params.metrics) or split_names(DEFAULT_GROUP_FIELDS if grouped else DEFAULT_FIELDS)
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
    if SESSION_ID in (*aggby, *requested):  # one row per view: the other keys named are the view's own values
        keys: tuple[str, ...] = (SESSION_ID,)
    else:
        keys = tuple(dict.fromkeys([*aggby, *(n for n in requested if n in KEY_FIELDS)]))
    return keys, tuple(dict.fromkeys([*keys, *aggby, *requested])), requested[0]


def parse_session_query(
    customer_id: int, params: SessionParams, view_id: str | None = None, period_text: str | None = None
) -> SessionQuery:
    """Validate `params`; RequestError (or FilterError) names the parameter at fault and what is allowed.
    `view_id` restricts the query to one view; `period_text` then replaces a missing period."""
    ended = parse_sessiontype(params.sessiontype)
    period, granularity = parse_window(params.period or period_text or "", params.granularity)
    keys, fields, lead = _keys_and_fields(params)
    if not keys:
        raise RequestError("aggby", "name what to group views by: sessionid, or dimensions", sorted(KEY_FIELDS))
    filter_node = parse_filter(params.filter or "", FILTER_FIELDS)
    qoefilter = parse_qoefilter(params.qoefilter or "", QOE_METRICS)
    open_views = parse_allstatus(params.allstatus)
    limit = parse_bounded("limit", params.limit, 1000, MAX_LIMIT)
    offset = parse_offset(params.offset)
    order_by = parse_order(params, fields, (lead if lead in METRIC_FORMULAS else "starttime", "DESC"))
    return SessionQuery(
        customer_id=customer_id,
        period=period,
        granularity=granularity,
        filter=filter_node,
        qoefilter=qoefilter,
        include_business=parse_flag("businesserror", params.businesserror),
        order_by=order_by,
        limit=limit,
        offset=offset,
        fields=fields,
        keys=keys,
        ended=ended,
        open_views=open_views,
        view_id=view_id,
    )
