"""Parsing the parameters of `GET /mm-apis/smartQuery/{customerId}` into a validated `SmartQuery`.

Rules:
- `queryname` names one of `NAMED_QUERIES` (case-insensitive); anything else is a 400 listing them.
- `period`, `granularity`, `limit` and `offset` follow the metric query API (`query.request`); the
  granularity matters only to the queries that make a series and is validated for all.
- `filter` takes the filter language of the metric query API (`query.filters`, all three syntaxes) over the
  dimensions and the query's filterable result columns: a condition on a dimension selects the views the
  query counts; a condition on a result column (`[cohort=atrisk]`, `[kind=path]`) selects the rows answered.
- `querycache` is true unless `False`, `false` or `0` (SmartSight's default is `'True'`).
- `queryId`, when given, must be a UUID; it is answered in its canonical lowercase form.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sightline.catalog import DIMENSIONS
from sightline.query.filters import And, Condition, FieldKind, FilterError, Node, parse_filter, quote
from sightline.query.pipeline import MAX_LIMIT, QueryParams, RequestError, parse_bounded, parse_offset, parse_window
from sightline.smartquery.spec import ColumnKind, NamedQuerySpec, SmartQuery

DIMENSION_KINDS: dict[str, FieldKind] = {d.name: d.kind for d in DIMENSIONS}
_FILTER_KINDS: dict[ColumnKind, FieldKind] = {"string": "string", "number": "number"}


@dataclass(frozen=True, slots=True, kw_only=True)
class SmartQueryParams(QueryParams):
    """The raw parameters of the named query API, as sent."""

    queryname: str
    querycache: str | None = None
    query_id: str | None = None


def parse_query_id(text: str | None) -> str | None:
    """The canonical form of a `queryId`; RequestError unless it is a UUID."""
    if text is None or not text.strip():
        return None
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise RequestError("queryId", f"queryId must be a UUID, not {quote(text.strip())}") from None


def parse_querycache(text: str | None) -> bool:
    value = (text or "true").strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise RequestError("querycache", "querycache must be True or False", ("True", "False"))
    return value in ("true", "1")


def _split(node: Node | None) -> tuple[Node | None, tuple[Condition, ...]]:
    """The conditions on dimensions (as a tree) and those on result columns. A filter is a conjunction of
    conditions (`parse_filter` makes no other tree), so the two parts are independent."""
    if node is None:
        return None, ()
    conditions = [node] if isinstance(node, Condition) else list(node.children)
    views = [c for c in conditions if isinstance(c, Condition) and c.field in DIMENSION_KINDS]
    kept = tuple(c for c in conditions if isinstance(c, Condition) and c.field not in DIMENSION_KINDS)
    if len(views) + len(kept) != len(conditions):
        raise FilterError("filter", "filter must be a conjunction of conditions")
    tree: Node | None = None if not views else views[0] if len(views) == 1 else And(tuple(views))
    return tree, kept


def parse_smart_query(customer_id: int, params: SmartQueryParams, queries: Mapping[str, NamedQuerySpec]) -> SmartQuery:
    """Validate `params` for one of `queries`; RequestError (or FilterError) names what is wrong."""
    name = params.queryname.strip().lower()
    if name not in queries:
        raise RequestError("queryname", f"unknown queryname {quote(params.queryname.strip())}", sorted(queries))
    spec = queries[name]
    period, granularity = parse_window(params.period, params.granularity)
    limit = parse_bounded("limit", params.limit, 1000, MAX_LIMIT)
    offset = parse_offset(params.offset)
    fields = dict(DIMENSION_KINDS)
    for column, kind in spec.filterable().items():
        if column not in fields and kind in _FILTER_KINDS:
            fields[column] = _FILTER_KINDS[kind]
    view_filter, row_filter = _split(parse_filter(params.filter or "", fields))
    return SmartQuery(
        customer_id=customer_id,
        period=period,
        granularity=granularity,
        filter=view_filter,
        limit=limit,
        offset=offset,
        name=name,
        row_filter=row_filter,
    )
