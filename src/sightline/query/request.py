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

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from sightline.catalog import DIMENSIONS
from sightline.catalog.metrics import METRICS, MetricSpec
from sightline.catalog.perview import PER_VIEW_METRICS
from sightline.query.ast import Direction
from sightline.query.compile import TIMESTAMP, MetricQuery
from sightline.query.filters import FieldKind, FilterError, parse_filter, quote
from sightline.query.period import PeriodError, choose_granularity, parse_period
from sightline.query.qoefilter import parse_qoefilter

MAX_LIMIT = 10_000
MAX_OFFSET = 10**12
METRIC_NAMES: dict[str, MetricSpec] = {m.name: m for m in METRICS}
DIMENSION_KINDS: dict[str, FieldKind] = {d.name: d.kind for d in DIMENSIONS}
QOE_METRICS: dict[str, str] = {name: m.label for name, m in PER_VIEW_METRICS.items()}


class RequestError(ValueError):
    """A parameter the API refuses with a 400: which one, why, and what is allowed."""

    def __init__(self, parameter: str, message: str, allowed: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message
        self.allowed = tuple(allowed)


@dataclass(frozen=True, slots=True)
class MetricQueryParams:
    """The raw query parameters, as strings, before validation."""

    metrics: str
    period: str
    aggby: str | None = None
    granularity: str = "auto"
    filter: str | None = None
    orderby: str | None = None
    order: str | None = None
    orderas: str | None = None
    limit: int = 1000
    offset: int = 0
    sessiontype: str | None = None
    qoefilter: str | None = None
    concurrency: int = 0
    businesserror: str | None = None
    allstatus: int = 1


def split_names(text: str | None) -> list[str]:
    """The comma-separated names of `text`, trimmed, blanks left out."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def unknown_value(parameter: str, name: str, allowed: Iterable[str]) -> RequestError:
    """The error for a name `parameter` does not allow, with the closest allowed name as a hint."""
    choices = sorted(allowed)
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return RequestError(
        parameter, f"unknown {parameter[:-1] if parameter.endswith('s') else parameter} {quote(name)}{hint}", choices
    )


def parse_direction(order: str | None, orderas: str | None) -> Direction | None:
    """The direction `orderas` (preferred) or `order` gives, None when neither does."""
    text = orderas if orderas else order
    if not text:
        return None
    if text.strip().lower() not in ("asc", "desc"):
        raise RequestError("orderas" if orderas else "order", "order must be asc or desc", ("asc", "desc"))
    return "ASC" if text.strip().lower() == "asc" else "DESC"


def parse_allstatus(value: int) -> bool:
    """Whether views not closed yet count: SmartSight's `allstatus`, 0 (closed views only) or 1 (views of any
    status, `playing` and `starting` ones too)."""
    if value not in (0, 1):
        raise RequestError("allstatus", "allstatus must be 0 or 1", ("0", "1"))
    return value == 1


def parse_flag(parameter: str, text: str | None) -> bool:
    """A true/false (or 1/0) parameter; false when absent."""
    value = (text or "false").strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise RequestError(parameter, f"{parameter} must be true or false", ("true", "false"))
    return value in ("true", "1")


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
    sessiontype = (params.sessiontype or "started").strip().lower()
    if sessiontype not in ("started", "ended"):
        raise RequestError("sessiontype", "sessiontype must be started or ended", ("started", "ended"))
    try:
        period = parse_period(params.period)
    except PeriodError as error:
        raise RequestError("period", str(error)) from error
    try:
        granularity = choose_granularity(params.granularity.strip().lower(), period)
    except PeriodError as error:
        raise RequestError("granularity", str(error)) from error
    metrics, dimensions, series = _fields(params)
    include_business = parse_flag("businesserror", params.businesserror)
    ended = sessiontype == "ended"
    if ended and (series or params.concurrency or params.qoefilter):
        raise RequestError(
            "sessiontype",
            "sessiontype=ended counts whole views in the period they ended in: it cannot make a time series "
            "and does not combine with concurrency or qoefilter; use sessiontype=started",
        )
    if params.concurrency not in (0, 1):
        raise RequestError("concurrency", "concurrency must be 0 or 1", ("0", "1"))
    refused = [m.name for m in metrics if params.concurrency and not m.concurrency]
    if refused:
        allowed = [m.name for m in METRICS if m.concurrency]
        raise RequestError("concurrency", f"concurrency=1 does not apply to {', '.join(refused)}", allowed)
    filter_node = parse_filter(params.filter or "", DIMENSION_KINDS)
    qoefilter = parse_qoefilter(params.qoefilter or "", QOE_METRICS)
    if not 1 <= params.limit <= MAX_LIMIT:
        raise RequestError("limit", f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= params.offset <= MAX_OFFSET:
        raise RequestError("offset", f"offset must be between 0 and {MAX_OFFSET}")
    direction = parse_direction(params.order, params.orderas)
    outputs = [m.name for m in metrics] + dimensions + ([TIMESTAMP] if series else [])
    if params.orderby:
        if params.orderby.strip() not in outputs:
            raise RequestError(
                "orderby", f"orderby must name a requested field, not {quote(params.orderby.strip())}", outputs
            )
        order_by = (params.orderby.strip(), direction or "DESC")
    elif series:
        order_by = (TIMESTAMP, direction or "ASC")
    else:
        order_by = (metrics[0].name, direction or "DESC")
    return MetricQuery(
        customer_id,
        tuple(metrics),
        tuple(dimensions),
        series,
        period,
        granularity,
        filter_node,
        qoefilter,
        params.concurrency == 1,
        include_business,
        ended,
        order_by,
        params.limit,
        params.offset,
        parse_allstatus(params.allstatus),
    )


__all__ = ["FilterError", "MetricQueryParams", "RequestError", "parse_metric_query"]
