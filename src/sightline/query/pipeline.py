"""One pipeline for every query API: the parameters they share, their validation, paging and the envelope.

Stages, the same for metrics, errors, heatmaps, sessions and named queries (docs/architecture.md):

    raw parameters (`QueryParams` + the API's own fields)
      → validated request (`QueryRequest` + the API's own fields; `RequestError` names a bad parameter)
      → compiled (`Compiled`: the SELECT of every row of the answer, unpaged, and the tables chosen)
      → paged (`fetch_page`: in the engine, with `totalrecords` as `count() OVER ()`, or here)
      → printed and run on an `Engine` (the store)
      → the envelope (`envelope`: `totalcount`, `pagecount`, `totalrecords`, `response`).

An API module declares its parameters, builds its request with the parsers here and its own, and hands the
compiled request to the runner (`api/querying.py`); the alerts engine reads its series by `fetch_rows`. Nothing
here does IO: the engine is given.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Generic, Protocol, Self, TypeVar

from sightline.query.ast import Aliased, Direction, Func, Select, Window
from sightline.query.filters import Node, quote
from sightline.query.period import Granularity, Period, PeriodError, choose_granularity, parse_period
from sightline.query.plan import Segment
from sightline.query.printer import Statement, print_select

TOTAL_RECORDS = "totalrecords"
"""The column a SELECT paged in the engine adds to each row: how many rows the whole answer has."""
MAX_LIMIT = 10_000
MAX_OFFSET = 10**12


class RequestError(ValueError):
    """A parameter the API refuses with a 400: which one, why, and what is allowed."""

    def __init__(self, parameter: str, message: str, allowed: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message
        self.allowed = tuple(allowed)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryParams:
    """The raw parameters every query API takes, as sent; each API's parameters extend these by name."""

    period: str
    granularity: str = "auto"
    filter: str | None = None
    qoefilter: str | None = None
    orderby: str | None = None
    order: str | None = None
    orderas: str | None = None
    limit: int | None = None
    offset: int = 0
    businesserror: str | None = None

    @classmethod
    def extending(cls, common: QueryParams, **own: Any) -> Self:
        """The parameters of an API (a subclass): `common`'s, and the API's `own` by name."""
        return cls(**{f.name: getattr(common, f.name) for f in fields(QueryParams)}, **own)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryRequest:
    """A validated request of any query API: every name is from the catalog, the period is aligned to minutes.
    Each API's request extends it by name."""

    customer_id: int
    period: Period
    granularity: Granularity
    filter: Node | None = None
    """Conditions on dimensions: only the views (or rows) that pass them count."""
    qoefilter: Node | None = None
    """Per-view conditions: only views whose whole-view values pass them count."""
    include_business: bool = False
    """Count business exceptions in error metrics (SmartSight's `businesserror=true`)."""
    order_by: tuple[str, Direction] | None = None
    """The output the rows are ordered by, first (ties go by the request's keys); None for the request's own
    order (a named query's)."""
    limit: int | None = 1000
    """Rows of a page; None answers every row (an inner query of a heatmap)."""
    offset: int = 0


def split_names(text: str | None) -> list[str]:
    """The comma-separated names of `text`, trimmed, blanks left out."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def unknown_value(parameter: str, name: str, allowed: Iterable[str]) -> RequestError:
    """The error for a name `parameter` does not allow, with the closest allowed name as a hint."""
    choices = sorted(allowed)
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    noun = parameter[:-1] if parameter.endswith("s") and not parameter.endswith("us") else parameter  # metrics, status
    return RequestError(parameter, f"unknown {noun} {quote(name)}{hint}", choices)


def parse_window(period_text: str, granularity_text: str) -> tuple[Period, Granularity]:
    """The period and the granularity of its buckets (`auto` chosen from the period's length)."""
    try:
        period = parse_period(period_text)
    except PeriodError as error:
        raise RequestError("period", str(error)) from error
    try:
        granularity = choose_granularity(granularity_text.strip().lower(), period)
    except PeriodError as error:
        raise RequestError("granularity", str(error)) from error
    return period, granularity


def parse_bounded(parameter: str, value: int | None, default: int, high: int, low: int = 1) -> int:
    """`value` (or `default` when absent) checked to lie in [low, high]."""
    if value is None:
        return default
    if not low <= value <= high:
        raise RequestError(parameter, f"{parameter} must be between {low} and {high}")
    return value


def parse_offset(offset: int) -> int:
    return parse_bounded("offset", offset, 0, MAX_OFFSET, low=0)


def parse_direction(order: str | None, orderas: str | None) -> Direction | None:
    """The direction `orderas` (preferred) or `order` gives, None when neither does."""
    text = orderas if orderas else order
    if not text:
        return None
    if text.strip().lower() not in ("asc", "desc"):
        raise RequestError("orderas" if orderas else "order", "order must be asc or desc", ("asc", "desc"))
    return "ASC" if text.strip().lower() == "asc" else "DESC"


def parse_order(params: QueryParams, outputs: Sequence[str], default: tuple[str, Direction]) -> tuple[str, Direction]:
    """The field and direction of the order: `orderby` names one of `outputs` (descending unless `order` or
    `orderas` says otherwise); without it, `default`'s field in the direction asked for, else `default`'s."""
    direction = parse_direction(params.order, params.orderas)
    if params.orderby:
        field = params.orderby.strip()
        if field not in outputs:
            raise RequestError("orderby", f"orderby must name a requested field, not {quote(field)}", outputs)
        return field, direction or "DESC"
    return default[0], direction or default[1]


def parse_flag(parameter: str, text: str | None) -> bool:
    """A true/false (or 1/0) parameter; false when absent."""
    value = (text or "false").strip().lower()
    if value not in ("true", "false", "1", "0"):
        raise RequestError(parameter, f"{parameter} must be true or false", ("true", "false"))
    return value in ("true", "1")


def parse_choice(parameter: str, value: int, choices: tuple[int, ...]) -> int:
    """An integer parameter that takes one of a few values (`allstatus`, `concurrency`)."""
    if value not in choices:
        names = tuple(str(c) for c in choices)
        raise RequestError(parameter, f"{parameter} must be {' or '.join(names)}", names)
    return value


@dataclass(frozen=True, slots=True)
class Compiled:
    """A request compiled: the SELECT of every row of its answer in order, unpaged, and how it is paged.
    `paged_in_engine`: the engine pages it (LIMIT, and `totalrecords` by a window); else every row is read and
    paged here (a rollup holds few groups: the engine is spared the window). `around_page`, when set, is the
    SELECT around the paged one that names what its rows hold as hashes (it keeps `totalrecords` and the
    order). `segments` and `rejected` are the tables chosen for the stretches of the period and those
    refused with the reason, for `explain`."""

    select: Select
    paged_in_engine: bool = True
    around_page: Callable[[Select], Select] | None = None
    segments: tuple[Segment, ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()

    def page(self, limit: int, offset: int) -> Select:
        """The SELECT of one page of the rows, with `totalrecords`, the number of rows of all pages."""
        total = Aliased(Window(Func("count", ())), TOTAL_RECORDS)
        page = replace(self.select, columns=(*self.select.columns, total), limit=limit, offset=offset)
        return page if self.around_page is None else self.around_page(page)


class Rows(Protocol):
    def to_pylist(self) -> list[dict[str, Any]]: ...


class Engine(Protocol):
    """Where printed SELECTs run: the store (`store.base.Store`)."""

    def query(self, statement: Statement, *, tag: str | None = None) -> Rows: ...

    def query_json_rows(self, statement: Statement) -> list[bytes]: ...


Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    """The rows of a page (without `totalrecords`) and the rows of the whole answer."""

    rows: list[Row]
    total: int


def fetch_page(
    run: Callable[[Select], list[Row]],
    compiled: Compiled,
    limit: int | None,
    offset: int,
    total_of: Callable[[Row], int],
    without_total: Callable[[Row], Row],
) -> Page[Row]:
    """The page [offset, offset + limit) of `compiled`'s rows (every row when `limit` is None), and how many
    rows it has in all. `run` runs a SELECT; `total_of` reads a row's `totalrecords`, `without_total` drops it.
    A page past the end asks the first page for the count."""
    if limit is None or not compiled.paged_in_engine:
        rows = run(compiled.select)
        return Page(rows[offset : None if limit is None else offset + limit], len(rows))
    rows = run(compiled.page(limit, offset))
    if rows:
        return Page([without_total(row) for row in rows], total_of(rows[0]))
    if not offset:
        return Page([], 0)
    first = run(compiled.page(1, 0))
    return Page([], total_of(first[0]) if first else 0)


def fetch_rows(engine: Engine, compiled: Compiled) -> Rows:
    """Every row of `compiled`, in order and unpaged, as the engine reads them (the store: an Arrow table): for
    clients that take the whole answer as columns (the alerts' series)."""
    return engine.query(print_select(compiled.select))


_TOTAL_KEY = b',"' + TOTAL_RECORDS.encode() + b'":'
"""How the last column of a row paged in the engine opens in the engine's JSON."""


def fetch_json_page(engine: Engine, compiled: Compiled, limit: int | None, offset: int) -> Page[bytes]:
    """A page of rows written as JSON objects by the engine (`Store.query_json_rows`): no Python per value."""

    def total_of(row: bytes) -> int:
        return int(row[row.rindex(_TOTAL_KEY) + len(_TOTAL_KEY) : -1])

    def without_total(row: bytes) -> bytes:
        return row[: row.rindex(_TOTAL_KEY)] + b"}"

    return fetch_page(
        lambda select: engine.query_json_rows(print_select(select)), compiled, limit, offset, total_of, without_total
    )


def value_rows(engine: Engine, tag: str | None = None) -> Callable[[Select], list[dict[str, Any]]]:
    """How a SELECT's rows are read as Python values (`Store.query`), under `tag` when given (so that it can be
    cancelled)."""

    def run(select: Select) -> list[dict[str, Any]]:
        return engine.query(print_select(select), tag=tag).to_pylist()

    return run


def fetch_value_page(
    run: Callable[[Select], list[dict[str, Any]]], compiled: Compiled, limit: int | None, offset: int
) -> Page[dict[str, Any]]:
    """A page of rows as Python values, each SELECT run by `run` (`value_rows`)."""

    def without_total(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k != TOTAL_RECORDS}

    return fetch_page(run, compiled, limit, offset, lambda row: int(row[TOTAL_RECORDS]), without_total)


def encode_json(value: Any) -> bytes:
    """`value` as compact JSON text, non-ASCII kept (as FastAPI answers it); NaN refused."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def encode_rows(rows: Iterable[Mapping[str, Any]], value: Callable[[str, Any], Any] | None = None) -> list[bytes]:
    """Each row as a JSON object, each value as `value(column, value)` answers it (as it is without `value`)."""
    if value is None:
        return [encode_json(row) for row in rows]
    return [encode_json({k: value(k, v) for k, v in row.items()}) for row in rows]


def envelope(
    rows: Sequence[bytes],
    total: int,
    limit: int,
    lead: Mapping[str, Any] | None = None,
    tail: Mapping[str, Any] | None = None,
) -> bytes:
    """The answer of every query API around a page of JSON objects: `{"totalcount": rows in this page,
    "pagecount": pages, "totalrecords": rows in all, …lead, "response": [rows, each with "totalpages"], …tail}`."""
    pages = math.ceil(total / limit) if total and limit else 0
    closing = b',"totalpages":%d}' % pages
    head = b'{"totalcount":%d,"pagecount":%d,"totalrecords":%d' % (len(rows), pages, total)
    members = b"".join(b',"%s":%s' % (k.encode(), encode_json(v)) for k, v in (lead or {}).items())
    after = b"".join(b',"%s":%s' % (k.encode(), encode_json(v)) for k, v in (tail or {}).items())
    return head + members + b',"response":[' + b",".join(row[:-1] + closing for row in rows) + b"]" + after + b"}"


def explanation(request: QueryRequest, compiled: Compiled) -> dict[str, Any]:
    """The `explain=true` answer: the tables chosen for each stretch of the period, those refused and why,
    and the SQL of the first page with its parameters."""
    limit = request.limit if request.limit is not None else MAX_LIMIT
    select = compiled.page(limit, request.offset) if compiled.paged_in_engine else compiled.select
    sql, params = print_select(select)
    return {
        "granularity": request.granularity,
        "period": {"start": int(request.period.start.timestamp()), "end": int(request.period.end.timestamp())},
        "segments": [
            {"table": s.table, "start": int(s.start.timestamp()), "end": int(s.end.timestamp())}
            for s in compiled.segments
        ],
        "rejected": [{"table": table, "reason": reason} for table, reason in compiled.rejected],
        "sql": sql,
        "params": params,
    }
