"""The two sources of the named queries: one row per view, and viewing sessions.

A view's values are those of the whole view (`views` read with FINAL, every insert block merged), and
count at the view's start: a view belongs to the period in which it started. The `filter` on dimensions
applies to the merged values.

A viewing session is what one viewer (`viewerid`: one device install) watches in a row: that viewer's
views that rendered a first frame, in order of start, where a view starts a new session when it starts
more than `SESSION_GAP` after the end (last event) of the viewer's previous view, or on another UTC day.
Only views started in the period count, so a session is cut at the period's edges. A session never spans
two days, so the sessions of a whole day are the same in every period that holds the day: a past day's
can be stored (`stored_days`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sightline.catalog import DIMENSION_HASHES, ROLLUPS
from sightline.query.ast import Aliased, Column, Expr, Param, ScalarSelect, Select, Table, UnionAll, and_all
from sightline.query.compile import filter_expr, moment
from sightline.query.period import Period
from sightline.smartquery.spec import SmartQuery
from sightline.smartquery.sql import and_, at, between, col, f, i, item, lam, named, op, or_, same, text

SESSION_GAP = timedelta(minutes=30)
VIEW_START = col("view_start")
STARTED = op("=", col("started"), i(1))


Spans = tuple[tuple[datetime, datetime], ...]
"""Disjoint spans of time [start, end), in order."""


def day_start(day: date) -> datetime:
    """The UTC midnight that starts `day`."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def whole_days(period: Period) -> tuple[date, ...]:
    """The UTC days that lie wholly in `period`, in order."""
    first = period.start.astimezone(UTC).date()
    if day_start(first) < period.start:
        first += timedelta(days=1)
    count = (period.end - day_start(first)) // timedelta(days=1)
    return tuple(first + timedelta(days=k) for k in range(max(0, count)))


def live_spans(period: Period, stored_days: tuple[date, ...]) -> Spans | None:
    """The spans of `period` outside the whole days `stored_days` (in order); None for the whole period."""
    if not stored_days:
        return None
    spans, cursor = [], period.start
    for day in stored_days:
        if day_start(day) > cursor:
            spans.append((cursor, day_start(day)))
        cursor = day_start(day) + timedelta(days=1)
    if cursor < period.end:
        spans.append((cursor, period.end))
    return tuple(spans)


def stored_or_computed(
    query: SmartQuery, span: Period, table: str, columns: tuple[str, ...], computed: Callable[[Spans | None], Select]
) -> Select | UnionAll:
    """The rows of `span`: `columns` of the rows of `table` in the stored slices of `query.stored`
    (`stored_days`), and `computed(spans)` for the spans of `span` outside those days (`computed(None)`: the
    whole span, when no day is stored). `computed` answers the same columns."""
    spans = live_spans(span, query.stored.days)
    parts = [] if spans == () else [computed(spans)]
    days = query.stored.days
    if days:
        stored = Select(
            same(*columns),
            Table(table, query.customer_id),
            where=and_(
                op(">=", col("day"), f("toDate", moment(day_start(days[0])), text("UTC"))),
                op("<=", col("day"), f("toDate", moment(day_start(days[-1])), text("UTC"))),
                f("has", Param(query.stored.slices, "Array(UInt64)"), col("slice")),
            ),
        )
        parts.insert(0, stored)
    return parts[0] if len(parts) == 1 else UnionAll(tuple(parts))


def view_rows(
    query: SmartQuery,
    columns: tuple[Aliased, ...],
    since: datetime | None = None,
    where: tuple[Expr, ...] = (),
    spans: Spans | None = None,
) -> Select:
    """One row per view started in [`since` (default: the period's start), the period's end), or in one of
    `spans` when given, that passes the view filter and `where`."""
    started_in = spans if spans is not None else ((since or query.period.start, query.period.end),)
    conditions = [or_(*(between(VIEW_START, start, end) for start, end in started_in)), *where]
    if query.filter is not None:
        conditions.append(filter_expr(query.filter))
    return Select(columns, Table("views", query.customer_id, final=True), where=and_all(conditions))


_HASH_COLUMNS = {h.dimension: h.name for h in DIMENSION_HASHES}


def hash_of(dimension: str) -> Column:
    """A view's `dimension` as a number, from the column of `views` that stores it (`DIMENSION_HASHES`): 0 for
    the empty value and never for another. Grouping by it is faster than by the text, and reading it spares
    hashing millions of ids on every query (and merging their text in FINAL). (Identifiers are grouped by
    their 64-bit hashes throughout: with millions of ids, the chance that two share one is below one in a
    million.)"""
    return col(_HASH_COLUMNS[dimension])


def text_hash(value: Expr) -> Expr:
    """The hash `hash_of` stores, computed from the text (for the tables that store no hash)."""
    return f("if", f("notEmpty", value), f("cityHash64", value), f("toUInt64", i(0)))


def sessions(query: SmartQuery, extra: tuple[Aliased, ...] = (), spans: Spans | None = None) -> Select:
    """One row per viewing session of the views started in the period (or in `spans`): `viewer` (the hash of
    its `viewerid`) and `session`, the array of its views in start order, each a tuple (start ms, end ms,
    title hash, *extra); views that start in the same millisecond are ordered by end, then title, so that
    the answer never depends on the engine's order."""
    played = view_rows(
        query,
        named(
            viewer=hash_of("viewerid"),
            start_ms=f("toUnixTimestamp64Milli", VIEW_START),
            end_ms=f("toUnixTimestamp64Milli", col("last_ts")),
            title=hash_of("assetid"),
            day=f("toDate", VIEW_START),
        )
        + extra,
        where=(STARTED, op("!=", hash_of("viewerid"), i(0)), op("!=", hash_of("assetid"), i(0))),
        spans=spans,
    )
    fields = ("start_ms", "end_ms", "title", *(e.alias for e in extra))
    gathered = Select(
        (Aliased(col("viewer"), "viewer"), *(Aliased(f("groupArray", col(name)), f"all_{name}") for name in fields)),
        played,
        group_by=(col("viewer"), col("day")),
    )
    ordered = Select(
        named(viewer=col("viewer"), viewlist=f("arraySort", f("arrayZip", *(col(f"all_{name}") for name in fields)))),
        gathered,
    )
    views = col("viewlist")
    gap = op("-", item(col("v"), 1), item(at(views, op("-", col("k"), i(1))), 2))
    cuts = f(
        "arrayMap",
        lam("v, k", op("AND", op(">", col("k"), i(1)), op(">", gap, i(int(SESSION_GAP.total_seconds() * 1000))))),
        views,
        f("arrayEnumerate", views),
    )
    return Select(
        named(viewer=col("viewer"), session=f("arrayJoin", f("arraySplit", lam("v, cut", col("cut")), views, cuts))),
        ordered,
    )


def collapsed_titles(session: Expr) -> Expr:
    """The titles of a session's views, a title repeated right after itself (a retry, a resume) kept once."""
    raw = f("arrayMap", lam("v", item(col("v"), 3)), session)
    kept = op("OR", op("=", col("k"), i(1)), op("!=", col("t"), at(raw, op("-", col("k"), i(1)))))
    return f("arrayFilter", lam("t, k", kept), raw, f("arrayEnumerate", raw))


NAMES_ROLLUP = next(
    r for r in ROLLUPS if r.grain == "hour" and {"assetid", "assetname", "series", "genre"} <= set(r.dimensions)
)
"""The hourly rollup that names titles: a view that rendered a first frame has a row there, in the hour of
its start, with its `assetid`, `assetname`, `series` and `genre`; far fewer rows to read than `views`."""


TITLE_ATTRIBUTES: dict[str, str] = {"assetid": "any", "assetname": "max", "series": "max", "genre": "max"}
"""What `name_of` can tell of a title, and how its rows in the rollup are merged."""


def _names(query: SmartQuery, key: str, key_hash: Expr, value: Expr) -> Select:
    """One row, one value: a map from `key_hash` to `value` over the rows of `NAMES_ROLLUP` in the period's
    hours with a non-empty `key`."""
    hour = query.period.start.replace(minute=0, second=0, microsecond=0)
    per_key = Select(
        named(key_hash=key_hash, key_value=value),
        Table(NAMES_ROLLUP.name, query.customer_id),
        where=and_all([between(col("bucket"), hour, query.period.end), f("notEmpty", col(key))]),
        group_by=(key_hash,),
    )
    by_hash = f("mapFromArrays", f("groupArray", col("key_hash")), f("groupArray", col("key_value")))
    return Select((Aliased(by_hash, "names"),), per_key)


def title_names(query: SmartQuery, attribute: str) -> Select:
    """A map from the hash of each title of the views that rendered a first frame in the period to its
    `attribute` (one of `TITLE_ATTRIBUTES`)."""
    return _names(query, "assetid", text_hash(col("assetid")), f(TITLE_ATTRIBUTES[attribute], col(attribute)))


def name_of(query: SmartQuery, hash_value: Expr, attribute: str, end: str = "") -> Expr:
    """The `attribute` of the title whose hash is `hash_value` (`title_names`); `end` for the hash 0. The map
    is a scalar subquery, which the engine computes once per query."""
    found = at(ScalarSelect(title_names(query, attribute)), hash_value)
    return f("if", op("=", hash_value, i(0)), text(end), found)


def series_of(query: SmartQuery, hash_value: Expr) -> Expr:
    """The series whose hash (`hash_of`) is `hash_value` (non-zero), among those of the views that rendered a
    first frame in the period; a scalar subquery, computed once per query."""
    return at(ScalarSelect(_names(query, "series", text_hash(col("series")), f("any", col("series")))), hash_value)
