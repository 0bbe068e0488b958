"""Parsing the query parameters of `GET /mm-apis/error/{customerId}` into a validated `ErrorRequest`.

Rules (docs/errors.md):
- `metrics` lists error metrics (`query.errors.ERROR_METRICS`) and fields to group by; with no metric,
  `errors` is answered.
- The fields are `errorcode`, `errormessage`, any dimension and `timestamp` (a series at `granularity`),
  listed in `aggby` or in `metrics`. With none, rows are grouped by `errorcode,errormessage`: the error list.
- `heatmap=<dimension or timestamp>` answers the heatmap instead: error codes as rows, the dimension's
  values (the `columnlimit` with the most of the order metric) or every time bucket of the period as
  columns. It takes no other fields; `limit` and `offset` page its rows.
- `filter` takes the dimensions and the error fields (`[errorcode=DRM_LICENSE_FAILED][cdn=Akamai]`);
  conditions on error fields restrict errors, not attempts. `qoefilter` keeps the views that pass it.
- `orderby` names a requested metric or field (for a heatmap, a requested metric or `errorcode`);
  `order`/`orderas` give the direction; by default the first metric, descending.
- `businesserror=true` counts business exceptions; `queryId`, when given, must be a UUID and is echoed.
- `dimension=ad` answers ad errors (`ad_error` events, VAST codes), with ad requests as `attempts`; the
  other values of SmartSight's `dimension` (all, microscope, subscriber, geo, …) change nothing.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

from sightline.query.compile import TIMESTAMP
from sightline.query.errors import ERROR_FIELDS, ERROR_METRIC_NAMES, ErrorQuery
from sightline.query.filters import And, Condition, FieldKind, Node, parse_filter, quote
from sightline.query.period import GRANULARITY_SECONDS
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
from sightline.query.request import DIMENSION_KINDS, QOE_METRICS

HEATMAP_MAX_ROWS = 200
HEATMAP_DEFAULT_ROWS = 50
MAX_COLUMNS = 1000
DEFAULT_COLUMNS = 50
LIST_FIELDS: tuple[str, ...] = ("errorcode", "errormessage")
FILTER_FIELDS: dict[str, FieldKind] = {**DIMENSION_KINDS, **dict.fromkeys(ERROR_FIELDS, "string")}


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorQueryParams(QueryParams):
    """The raw parameters of the error API, as sent."""

    metrics: str
    aggby: str | None = None
    heatmap: str | None = None
    columnlimit: int | None = None
    query_id: str | None = None
    dimension: str | None = None


@dataclass(frozen=True, slots=True)
class HeatmapSpec:
    """Columns of the heatmap: a dimension's values (at most `column_limit`) or the time buckets."""

    column: str
    column_limit: int


@dataclass(frozen=True, slots=True)
class ErrorRequest:
    query: ErrorQuery
    """The list's query; for a heatmap, the query of its rows (grouped by `errorcode`)."""
    heatmap: HeatmapSpec | None
    query_id: str | None


def _split(node: Node | None) -> tuple[Node | None, Node | None]:
    """(conditions on dimensions, conditions on error fields) of a filter (a condition or a conjunction)."""
    if node is None:
        return None, None
    conditions = node.children if isinstance(node, And) else (node,)
    parts: tuple[list[Node], list[Node]] = ([], [])
    for condition in conditions:
        assert isinstance(condition, Condition)
        parts[condition.field in ERROR_FIELDS].append(condition)
    dims, errors = (None if not p else p[0] if len(p) == 1 else And(tuple(p)) for p in parts)
    return dims, errors


def _fields(params: ErrorQueryParams) -> tuple[list[str], list[str], list[str], bool, str | None]:
    """(metrics, error fields, dimensions, series, the first parameter naming a field) of `metrics` and `aggby`."""
    metrics: list[str] = []
    error_fields: list[str] = []
    dimensions: list[str] = []
    series = False
    named_in: str | None = None
    allowed = [*ERROR_FIELDS, *DIMENSION_KINDS, TIMESTAMP]
    for parameter, names in (("aggby", split_names(params.aggby)), ("metrics", split_names(params.metrics))):
        for name in names:
            if parameter == "metrics" and name in ERROR_METRIC_NAMES:
                metrics.append(name)
                continue
            named_in = named_in or parameter
            if name in ERROR_FIELDS:
                error_fields.append(name)
            elif name in DIMENSION_KINDS:
                dimensions.append(name)
            elif name == TIMESTAMP:
                series = True
            else:
                names_allowed = [*ERROR_METRIC_NAMES, *allowed] if parameter == "metrics" else allowed
                raise unknown_value(parameter, name, names_allowed)
    if not split_names(params.metrics):
        raise RequestError("metrics", "metrics must name at least one error metric", sorted(ERROR_METRIC_NAMES))
    unique = list(dict.fromkeys(metrics)) or ["errors"]
    return unique, list(dict.fromkeys(error_fields)), list(dict.fromkeys(dimensions)), series, named_in


def _query_id(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError as error:
        raise RequestError("queryId", f"queryId must be a UUID, not {quote(text)}") from error


def _heatmap(params: ErrorQueryParams, fields_in: str | None) -> HeatmapSpec | None:
    if params.heatmap is None:
        if params.columnlimit is not None:
            raise RequestError("columnlimit", "columnlimit applies to a heatmap over a dimension (heatmap=<dimension>)")
        return None
    column = params.heatmap.strip()
    if column != TIMESTAMP and column not in DIMENSION_KINDS:
        raise unknown_value("heatmap", column, [*DIMENSION_KINDS, TIMESTAMP])
    if fields_in is not None:
        raise RequestError(
            fields_in, "a heatmap has error codes as rows and the heatmap field as columns: it takes no other fields"
        )
    if column == TIMESTAMP and params.columnlimit is not None:
        raise RequestError("columnlimit", "a heatmap over time has every bucket of the period as columns")
    return HeatmapSpec(column, parse_bounded("columnlimit", params.columnlimit, DEFAULT_COLUMNS, MAX_COLUMNS))


def parse_error_request(customer_id: int, params: ErrorQueryParams) -> ErrorRequest:
    """Validate `params`; RequestError (or FilterError) names the parameter at fault and what is allowed."""
    period, granularity = parse_window(params.period, params.granularity)
    metrics, error_fields, dimensions, series, fields_in = _fields(params)
    heatmap = _heatmap(params, fields_in)
    if heatmap is not None:
        error_fields = ["errorcode"]
        if heatmap.column == TIMESTAMP:
            seconds = GRANULARITY_SECONDS[granularity]
            start = int(period.start.timestamp()) // seconds * seconds
            buckets = math.ceil((period.end.timestamp() - start) / seconds)
            if buckets > MAX_COLUMNS:
                raise RequestError(
                    "granularity",
                    f"a heatmap over time has at most {MAX_COLUMNS} columns; this period has {buckets} "
                    f"{granularity} buckets: choose a coarser granularity",
                    [g for g in GRANULARITY_SECONDS if GRANULARITY_SECONDS[g] >= seconds],
                )
    elif not (error_fields or dimensions or series):
        error_fields = list(LIST_FIELDS)
    dimension_filter, error_filter = _split(parse_filter(params.filter or "", FILTER_FIELDS))
    qoefilter = parse_qoefilter(params.qoefilter or "", QOE_METRICS)
    include_business = parse_flag("businesserror", params.businesserror)
    if heatmap is None:
        limit = parse_bounded("limit", params.limit, 1000, MAX_LIMIT)
    else:
        limit = parse_bounded("limit", params.limit, HEATMAP_DEFAULT_ROWS, HEATMAP_MAX_ROWS)
    offset = parse_offset(params.offset)
    keys = [*error_fields, *dimensions, *([TIMESTAMP] if series else [])]
    query = ErrorQuery(
        customer_id=customer_id,
        period=period,
        granularity=granularity,
        filter=dimension_filter,
        qoefilter=qoefilter,
        include_business=include_business,
        order_by=parse_order(params, [*metrics, *keys], (metrics[0], "DESC")),
        limit=limit,
        offset=offset,
        metrics=tuple(metrics),
        error_fields=tuple(error_fields),
        dimensions=tuple(dimensions),
        series=series,
        error_filter=error_filter,
        source="ad" if (params.dimension or "").strip().lower() == "ad" else "player",
    )
    return ErrorRequest(query, heatmap, _query_id(params.query_id))
