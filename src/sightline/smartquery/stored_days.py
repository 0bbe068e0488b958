"""What named queries store of past days, so as not to compute it from `views` on every request.

A named query that can sum its period from per-day parts declares a `DayTable`: the rows it needs of one
UTC day (for `contentpaths`, the counted path entries of the day's viewing sessions; for the subscriber
queries, each subscriber's sums of the day) and which days of a request can be read so. Each customer's
day is stored under the `slice` id of one computation, recorded in `stored_day_slices` with the version
of the day's partition of `views` it was computed from (`Store.partition_versions`) and the catalog version
that computed it (`catalog_version`: a digest of the SQL that computes a day's rows, `kind_version`, so that a
changed formula, builder or printer makes the slices computed before of another version).

- `refresh_days` (which a `Refresher` runs every `Settings.stored_days_every_s` in the server) computes
  a slice for each customer's day that ended at least `SETTLE` ago and whose latest slice is missing or of
  another version (of `views`, or of the catalog); then it deletes the slices superseded more than
  `RETIRE_AFTER` ago (a query that planned with one may still be reading it).
- `plan` gives a query the days its `DayTable` allows whose latest slice is of the day's current version and
  of the current catalog version; the rest of the period is built from `views`, as without stored days.

Invariant: a day's version is read before its views, so a slice never claims a version older than the
views it was computed from; a day whose current version is its latest slice's holds exactly that slice's
sessions. A migration that rewrites `views` rows (not only adds parts) must drop the stored slices.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import pairwise

from sightline.catalog.versions import digest
from sightline.periodic import Periodic
from sightline.query.ast import Delete, Expr, Insert, Param, Row, Select, Symbol, Table
from sightline.query.compile import moment
from sightline.query.period import Period
from sightline.query.printer import print_delete, print_insert, print_select
from sightline.smartquery import paths, subscribers
from sightline.smartquery.spec import DayTable, SmartQuery, StoredDays
from sightline.smartquery.sql import col, f, i, named, op, same, text
from sightline.smartquery.views import day_start
from sightline.store.base import Store
from sightline.store.migrations import stored_slice_versions
from sightline.store.schema import STORED_DAY_SLICES_TABLE

logger = logging.getLogger(__name__)

SETTLE = timedelta(hours=1)
"""How long after its end a day is first stored: most views that play past midnight have ended by then (an
event of a later one changes the day's version, and the day is stored again)."""
LEASE = "stored-days"
"""The lease (`auth.leases`) under which one process of the service refreshes the stored days."""
RETIRE_AFTER = timedelta(minutes=10)
"""How long a superseded slice is kept for the queries that planned with it (longer than any query runs)."""

_DAY = timedelta(days=1)
DAY_TABLES: tuple[DayTable, ...] = (paths.DAYS, subscribers.DAYS)


@dataclass(frozen=True, slots=True)
class Slice:
    """A recorded computation of a customer's day."""

    day: date
    slice_id: int
    views_version: int
    computed_at: datetime
    catalog_version: str

    def current(self, views_version: int | None, catalog_version: str) -> bool:
        """Whether the slice holds the day as its views of `views_version` are now and the catalog computes it."""
        return self.views_version == views_version and self.catalog_version == catalog_version


def day_versions(store: Store) -> dict[date, int]:
    """The version of each day's partition of `views`."""
    return {
        date(int(p[:4]), int(p[4:6]), int(p[6:])): version
        for p, version in store.partition_versions("views").items()
        if len(p) == 8 and p.isdigit()
    }


def recorded_slices(store: Store, customer_id: int, kind: str) -> list[Slice]:
    """Every recorded slice of the customer of `kind`, by day, then oldest first: by the version it was
    computed from (a day's versions only grow), then by when."""
    columns = ("day", "slice", "views_version", "computed_at", "catalog_version")
    select = Select(same(*columns), Table(STORED_DAY_SLICES_TABLE, customer_id), where=op("=", col("kind"), text(kind)))
    rows = store.query(print_select(select)).to_pylist()
    found = [
        Slice(r["day"], int(r["slice"]), int(r["views_version"]), r["computed_at"], r["catalog_version"]) for r in rows
    ]
    return sorted(found, key=lambda s: (s.day, s.views_version, s.computed_at))


def _latest(slices: list[Slice]) -> dict[date, Slice]:
    return {s.day: s for s in slices}  # oldest first: the latest of a day is kept


_REFERENCE_DAY = date(2000, 1, 1)


@cache
def kind_version(days_of: DayTable) -> str:
    """The catalog version of what `days_of` stores: a digest of the SQL that computes one day's rows (of a
    reference customer and day; the text and the kinds of its values do not depend on which)."""
    statement = print_select(days_of.rows(_day_query(0, _REFERENCE_DAY)))
    return digest(statement.sql + repr(sorted(statement.params.items())))


def _day_query(customer_id: int, day: date) -> SmartQuery:
    period = Period(day_start(day), day_start(day) + _DAY)
    return SmartQuery(customer_id=customer_id, period=period, granularity="hour", limit=1, name="")


def plan(days_of: DayTable, store: Store, query: SmartQuery) -> SmartQuery:
    """`query` with the days `days_of` allows whose latest slice is of the day's current version and of the current
    catalog version as `stored`; unchanged when the query counts only some views (a `filter` on dimensions)."""
    days = days_of.stored_days(query)
    if query.filter is not None or not days:
        return query
    versions = day_versions(store)
    latest = _latest(recorded_slices(store, query.customer_id, days_of.kind))
    catalog = kind_version(days_of)
    ready = [latest[d] for d in days if d in latest and latest[d].current(versions.get(d), catalog)]
    return replace(query, stored=StoredDays(tuple(s.day for s in ready), tuple(s.slice_id for s in ready)))


def refresh_days(
    store: Store, customer_ids: list[int], now: datetime, stopping: Callable[[], bool] = lambda: False
) -> int:
    """Store the slice of every `DAY_TABLES` kind of every settled day of `views` whose latest slice (for each of
    `customer_ids`) is missing or of another version (of the day or of the catalog), and retire superseded slices;
    how many slices were computed. Returns early, between two slices, once `stopping()` is true."""
    versions = day_versions(store)
    settled = {d: v for d, v in versions.items() if day_start(d) + _DAY + SETTLE <= now}
    computed = 0
    for customer_id in customer_ids:
        for days_of in DAY_TABLES:
            recorded = recorded_slices(store, customer_id, days_of.kind)
            latest = _latest(recorded)
            catalog = kind_version(days_of)
            for day, version in sorted(settled.items()):
                if stopping():
                    return computed
                if day not in latest or not latest[day].current(version, catalog):
                    _store_slice(store, days_of, customer_id, day, version, now)
                    computed += 1
            _retire(store, days_of, customer_id, recorded, now)
    return computed


def _store_slice(store: Store, days_of: DayTable, customer_id: int, day: date, version: int, now: datetime) -> None:
    """Compute the day's slice and record it as of `now`; `version` was read before the views are."""
    slice_id = secrets.randbits(63)
    day_rows = days_of.rows(_day_query(customer_id, day))
    of_slice = named(day=_date(day), slice=i(slice_id))
    rows = Select(of_slice + same(*(column.alias for column in day_rows.columns)), day_rows)
    store.execute(print_insert(Insert(days_of.table, customer_id, rows)))
    computed_at = f("fromUnixTimestamp64Milli", Param(int(now.timestamp() * 1000), "Int64"), Symbol("UTC"))
    record = named(
        kind=text(days_of.kind),
        views_version=Param(version, "UInt64"),
        computed_at=computed_at,
        catalog_version=text(kind_version(days_of)),
    )
    store.execute(print_insert(Insert(STORED_DAY_SLICES_TABLE, customer_id, Row(of_slice + record))))


def _date(day: date) -> Expr:
    return f("toDate", moment(day_start(day)), text("UTC"))


def _retire(store: Store, days_of: DayTable, customer_id: int, recorded: list[Slice], now: datetime) -> None:
    """Delete the slices (rows and records) that a later slice of their day superseded before
    `now - RETIRE_AFTER`."""
    retired = [
        older.slice_id
        for older, newer in pairwise(recorded)
        if older.day == newer.day and newer.computed_at <= now - RETIRE_AFTER
    ]
    if not retired:
        return
    slices = f("has", Param(tuple(retired), "Array(UInt64)"), col("slice"))  # random 63-bit ids: unique
    for table in (days_of.table, STORED_DAY_SLICES_TABLE):
        store.execute(print_delete(Delete(table, customer_id, slices)))


class Refresher:
    """Runs `refresh_days` every `every_s`, on a thread of its own, for the customers `customers()` lists,
    until `stop` (which waits for the slice under way, so that the store can be closed after it); only while
    `may_run()` (this process holds the `LEASE`), which is asked before each slice. A round that fails is logged,
    and the next round tries again."""

    def __init__(
        self,
        store: Store,
        customers: Callable[[], list[int]],
        every_s: float,
        may_run: Callable[[], bool] = lambda: True,
    ) -> None:
        self.store = store
        self.customers = customers
        self.every_s = every_s
        self.may_run = may_run
        self._loop = Periodic("sightline-stored-days", every_s, self._refresh_if_held)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def _refresh_if_held(self) -> None:
        if not self.may_run():
            return
        try:
            refresh_days(self.store, self.customers(), datetime.now(UTC), self._stop_slicing)
        except Exception:
            logger.exception("storing past days' viewing sessions failed; trying again in %s s", self.every_s)

    def _stop_slicing(self) -> bool:
        return self._loop.stopping.is_set() or not self.may_run()


def outdated_slices(store: Store) -> dict[str, int]:
    """How many stored slices of each kind (every customer's) another catalog version computed: they are not read,
    and the server computes their days again (`sightline migrate` says so)."""
    current = {days_of.kind: kind_version(days_of) for days_of in DAY_TABLES}
    found: dict[str, int] = {}
    for (kind, version), count in stored_slice_versions(store).items():
        if kind in current and version != current[kind]:
            found[kind] = found.get(kind, 0) + count
    return found
