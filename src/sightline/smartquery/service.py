"""Running named queries: through the cache, under their queryId, on the store; and cancelling them.

`SmartQueryService.run` records the query as running, answers from the cache when allowed and possible,
else prints the query's SELECT and runs it on the store tagged with its queryId, then records how it
ended (`done`, `failed` or `cancelled`). With a store other processes write to (`views_reach` given), the cache
is checked against the versions of the days whose views the query may read (`smartquery.cache`), read before it
runs. `cancel`
stops a running query by its queryId, wherever it is: waiting for a store session, running in the engine, or
about to be sent. The store's failures are raised as they are, for the API to answer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sightline.query.ast import Select
from sightline.query.pipeline import Compiled, fetch_value_page
from sightline.query.printer import print_select
from sightline.smartquery.cache import Answer, ResultCache, Versions
from sightline.smartquery.catalog import NAMED_QUERIES, compile_named
from sightline.smartquery.spec import RowLabels, SmartQuery
from sightline.smartquery.stored_days import day_versions
from sightline.smartquery.tracking import QueryRecord, QueryRegistry
from sightline.store.base import QueryCancelledError, Store, StoreError
from sightline.telemetry.context import observe_query

Render = Callable[[list[dict[str, Any]], int, SmartQuery], bytes]
"""The body of an answer: from its page of rows, the rows of the whole answer, and the request."""

CANCEL_WAIT_S = 10.0
"""How long `cancel` waits for the query to end."""
_CANCEL_RETRY_S = 0.01


def store_tag(customer_id: int, query_id: str) -> str:
    return f"smartquery-{customer_id}-{query_id}"


class SmartQueryService:
    def __init__(
        self,
        store: Store,
        render: Render,
        cache: ResultCache | None = None,
        registry: QueryRegistry | None = None,
        *,
        views_reach: tuple[timedelta, timedelta] | None = None,
    ) -> None:
        """`views_reach`, when other processes write to the store: how long before and after the times a query
        reads the views whose rows it reads may have started (an event is stored at most `event_max_late_s` after
        and `event_max_ahead_s` before its view's start: `ingest.window`)."""
        self.store = store
        self.views_reach = views_reach
        self.render = render
        self.cache = cache or ResultCache()
        self.registry = registry or QueryRegistry()
        store.add_insert_listener(self.cache.invalidate)

    def run(
        self, query: SmartQuery, owner: str, use_cache: bool = True, query_id: str | None = None
    ) -> tuple[str, Answer]:
        """The queryId (the one given, or a new one) and the answer of a query run by `owner`; QueryIdInUseError,
        QueryCancelledError or another StoreError when it has none."""
        query_id = query_id or str(uuid.uuid4())
        self.registry.start(query.customer_id, query_id, query.name, owner)
        try:
            versions = self._versions(query) if use_cache else None
            cached = self.cache.get(query, versions) if use_cache else None
            if cached is not None:
                self.registry.finish(query.customer_id, query_id, "done", cached.total, cached=True)
                return query_id, cached
            ticket = self.cache.ticket()
            answer = self._compute(query, query_id)
            if use_cache:
                self.cache.put(query, _span_ms(query), answer, ticket, versions)
        except QueryCancelledError:
            self.registry.finish(query.customer_id, query_id, "cancelled")
            raise
        except StoreError as error:
            self.registry.finish(query.customer_id, query_id, "failed", error=str(error).splitlines()[0][:300])
            raise
        except BaseException:
            self.registry.finish(query.customer_id, query_id, "failed", error="internal error")
            raise
        self.registry.finish(query.customer_id, query_id, "done", answer.total)
        return query_id, answer

    def _versions(self, query: SmartQuery) -> Versions:
        """The versions of the `views` partitions of the days whose views `query` may read, when other processes
        write to the store (None otherwise: this process hears of every insert)."""
        if self.views_reach is None:
            return None
        start_ms, end_ms = _span_ms(query)
        before, after = self.views_reach
        first, last = _utc_day(start_ms - before // _MS), _utc_day(end_ms - 1 + after // _MS)
        return tuple(
            sorted((day.isoformat(), v) for day, v in day_versions(self.store).items() if first <= day <= last)
        )

    def compiled(self, query: SmartQuery) -> tuple[SmartQuery, Compiled]:
        """The query with what the store holds ready for it (its spec's `plan`), and its compiled form."""
        spec = NAMED_QUERIES[query.name]
        if spec.plan is not None:
            query = spec.plan(self.store, query)
        return query, compile_named(query)

    def _compute(self, query: SmartQuery, query_id: str) -> Answer:
        spec = NAMED_QUERIES[query.name]
        started = time.perf_counter()
        query, compiled = self.compiled(query)
        run = partial(self._rows, query=query, query_id=query_id)
        page = fetch_value_page(run, compiled, query.limit, query.offset)
        rows = page.rows
        if spec.labels is not None and rows:
            rows = self._labelled(spec.labels, rows, query, query_id)
        observe_query([segment.table for segment in compiled.segments], time.perf_counter() - started)
        answered = [{c.name: row[c.name] for c in spec.columns} for row in rows]
        return Answer(self.render(answered, page.total, query), page.total)

    def _labelled(
        self, labels: RowLabels, rows: list[dict[str, Any]], query: SmartQuery, query_id: str
    ) -> list[dict[str, Any]]:
        """The page's rows with the columns `labels` names, found by each row's first key."""
        located = tuple(tuple(int(row[key]) for key in labels.keys) for row in rows)
        key = labels.keys[0]
        found = {int(row[key]): row for row in self._rows(labels.build(query, located), query, query_id)}
        # Every row on the page comes from views that carry its labels; "" only if they went away meanwhile.
        return [row | {c: found.get(int(row[key]), {}).get(c, "") for c in labels.columns} for row in rows]

    def _rows(self, select: Select, query: SmartQuery, query_id: str) -> list[dict[str, Any]]:
        record = self.registry.get(query.customer_id, query_id)
        if record is not None and record.cancel_requested:
            raise QueryCancelledError(f"query {query_id} was cancelled before it started")
        statement = print_select(select)
        rows: list[dict[str, Any]] = self.store.query(statement, tag=store_tag(query.customer_id, query_id)).to_pylist()
        return rows

    def status(self, customer_id: int, query_id: str) -> QueryRecord | None:
        return self.registry.get(customer_id, query_id)

    def cancel(self, customer_id: int, query_id: str, owner: str | None) -> QueryRecord | None:
        """Cancel the query if it runs, and wait (up to `CANCEL_WAIT_S`) for it to end; its record then, or None
        for a queryId the customer never used (or long forgotten). With `owner`, only a query of that owner
        (NotQueryOwnerError otherwise); None for any (an admin)."""
        record = self.registry.request_cancel(customer_id, query_id, owner)
        if record is None or record.status != "running":
            return record
        tag = store_tag(customer_id, query_id)
        deadline = time.monotonic() + CANCEL_WAIT_S
        while time.monotonic() < deadline:
            if self.store.cancel(tag):
                break
            current = self.registry.get(customer_id, query_id)
            if current is None or current.status != "running":
                return current
            time.sleep(_CANCEL_RETRY_S)  # between the registry and the store: try again
        return self.registry.wait(customer_id, query_id, max(0.0, deadline - time.monotonic()))


_MS = timedelta(milliseconds=1)


def _utc_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def _span_ms(query: SmartQuery) -> tuple[int, int]:
    """The times a query reads: views started from its lookback to the period's end, and their events."""
    lookback = NAMED_QUERIES[query.name].lookback
    start = query.period.start - lookback
    return int(start.timestamp() * 1000), int(query.period.end.timestamp() * 1000)
