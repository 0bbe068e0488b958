"""Parsing the query parameters of `qbrData/vod` and `metricquery` into a validated `MetricQuery`.

Rules (SmartSight's, with its contradictions resolved as reference §6 advises — accept every variant):
- `metrics` lists metrics and output fields; a dimension or `timestamp` listed there is grouped by, as
  the legacy recipes expect (`metrics=assetid&aggby=assetid`, `metrics=timestamp,viewercount`); with
  no metric at all, `viewercount` is answered.
- `aggby` lists dimensions and/or `timestamp`; `timestamp` makes a series at `granularity`.
- `orderby` names a requested metric, dimension or `timestamp`; `order` (asc/desc) or `orderas`
  (ASC/DESC) gives the direction. Default order: time ascending for a series, else the first metric
  descending. Ties are broken by the group keys, so pages are stable.
- `sessiontype=started` (our default) counts outcomes in the bucket of the view's start and time-based
  quantities when they happen; `sessiontype=ended` counts every value of the views that ended (end, exit,
  failure) in the period, for totals and breakdowns.
- `concurrency=1` counts what happened inside the period: outcomes (plays, attempts, ended plays) in the
  bucket of their event rather than of their view's start; only metrics marked `concurrency` allow it.
- `allstatus=1` (our default) counts views of any status, as the rollups do: a view still open (`playing`,
  `starting`) counts what it has sent so far. `allstatus=0` counts only the views closed (ended, exited,
  failed) by the time of the query, as listsessions does; rollups cannot tell which views have closed, so
  `events` answers it, keeping the views that `views` shows closed (SmartSight's default is 0: here it
  would read every query from raw events). `sessiontype=ended` counts closed views either way.
- `businesserror=true` counts business exceptions (entitlement, geo-block, concurrency limit) in the
  error metrics; by default (false, as in SmartSight) they are left out (`MetricSpec.formula_for`).
- `qoefilter` keeps the views whose whole-view values pass it (`latency>3 AND bufferingratio>5`, or the
  legacy `bufferingratio > 10 , buffcount > 1`), over the per-view metrics of `catalog.perview`.
- `dimension`, `agg` and `count` are accepted for compatibility and change nothing: the planner picks
  the table, and values are always aggregated per group.
"""

from __future__ import annotations

from dataclasses import dataclass

from sightline.catalog import DIMENSIONS
from sightline.catalog.metrics import METRICS, MetricSpec
from sightline.catalog.perview import PER_VIEW_METRICS
from sightline.query.ast import Direction
from sightline.query.compile import TIMESTAMP, MetricQuery
from sightline.query.filters import FieldKind, FilterError, parse_filter
from sightline.query.pipeline import (
    MAX_LIMIT,
    QueryParams,
    RequestError,
    parse_bounded,
    parse_choice,
    parse_flag,
    parse_offset,
    parse_order,
    parse_window,
    split_names,
    unknown_value,
)
from sightline.query.qoefilter import parse_qoefilter

METRIC_NAMES: dict[str, MetricSpec] = {m.name: m for m in METRICS}
DIMENSION_KINDS: dict[str, FieldKind] = {d.name: d.kind for d in DIMENSIONS}
QOE_METRICS: dict[str, str] = {name: m.label for name, m in PER_VIEW_METRICS.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricQueryParams(QueryParams):
    """The raw parameters of the metric query API, as sent."""

    metrics: str
    aggby: str | None = None
    sessiontype: str | None = None
    concurrency: int = 0
    allstatus: int = 1


def parse_allstatus(value: int) -> bool:
    """Whether views not closed yet count: SmartSight's `allstatus`, 0 (closed views only) or 1 (views of any
    status, `playing` and `starting` ones too)."""
    return parse_choice("allstatus", value, (0, 1)) == 1


def parse_sessiontype(text: str | None) -> bool:
    """Whether `sessiontype` is `ended` (whole views at their end) rather than `started` (the default)."""
    sessiontype = (text or "started").strip().lower()
    if sessiontype not in ("started", "ended"):
        raise RequestError("sessiontype", "sessiontype must be started or ended", ("started", "ended"))
    return sessiontype == "ended"


def _fields(params: MetricQueryParams) -> tuple[list[MetricSpec], list[str], bool]:
    metrics: list[MetricSpec] = []
    dimensions: list[str] = []
    series = False
    for name in split_names(params.aggby):
        if name == TIMESTAMP:
            series = True
        elif name in DIMENSION_KINDS:
            dimensions.append(name)
        else:
            raise unknown_value("aggby", name, [*DIMENSION_KINDS, TIMESTAMP])
    requested = split_names(params.metrics)
    if not requested:
        raise RequestError("metrics", "metrics must name at least one metric", METRIC_NAMES)
    for name in requested:
        if name in METRIC_NAMES:
            metrics.append(METRIC_NAMES[name])
        elif name == TIMESTAMP:
            series = True
        elif name in DIMENSION_KINDS:
            dimensions.append(name)
        else:
            raise unknown_value("metrics", name, [*METRIC_NAMES, *DIMENSION_KINDS, TIMESTAMP])
    unique_metrics = list(dict.fromkeys(metrics)) or [METRIC_NAMES["viewercount"]]
    return unique_metrics, list(dict.fromkeys(dimensions)), series


def parse_metric_query(customer_id: int, params: MetricQueryParams) -> MetricQuery:
    """Validate `params` against the catalog; RequestError (or FilterError) names what is wrong."""
    ended = parse_sessiontype(params.sessiontype)
    period, granularity = parse_window(params.period, params.granularity)
    metrics, dimensions, series = _fields(params)
    include_business = parse_flag("businesserror", params.businesserror)
    if ended and (series or params.concurrency or params.qoefilter):
        raise RequestError(
            "sessiontype",
            "sessiontype=ended counts whole views in the period they ended in: it cannot make a time series "
            "and does not combine with concurrency or qoefilter; use sessiontype=started",
        )
    concurrency = parse_choice("concurrency", params.concurrency, (0, 1)) == 1
    refused = [m.name for m in metrics if concurrency and not m.concurrency]
    if refused:
        allowed = [m.name for m in METRICS if m.concurrency]
        raise RequestError("concurrency", f"concurrency=1 does not apply to {', '.join(refused)}", allowed)
    filter_node = parse_filter(params.filter or "", DIMENSION_KINDS)
    qoefilter = parse_qoefilter(params.qoefilter or "", QOE_METRICS)
    limit = parse_bounded("limit", params.limit, 1000, MAX_LIMIT)
    offset = parse_offset(params.offset)
    outputs = [m.name for m in metrics] + dimensions + ([TIMESTAMP] if series else [])
    default_order: tuple[str, Direction] = (TIMESTAMP, "ASC") if series else (metrics[0].name, "DESC")
    return MetricQuery(
        customer_id=customer_id,
        period=period,
        granularity=granularity,
        filter=filter_node,
        qoefilter=qoefilter,
        include_business=include_business,
        order_by=parse_order(params, outputs, default_order),
        limit=limit,
        offset=offset,
        metrics=tuple(metrics),
        dimensions=tuple(dimensions),
        series=series,
        concurrency=concurrency,
        ended=ended,
        open_views=parse_allstatus(params.allstatus),
    )


__all__ = ["FilterError", "MetricQueryParams", "RequestError", "parse_metric_query"]
