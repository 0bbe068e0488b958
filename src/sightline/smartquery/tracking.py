"""The queryId registry: each named query run under its `queryId`, with its status, times and rows.

Invariants (thread-safe; no IO): a queryId is a customer's own (another customer's is unknown to it); a
running query is never forgotten, and one queryId runs at most one query at a time; finished records are
kept, the oldest forgotten first beyond `max_finished`; a record moves from `running` to exactly one of
`done`, `failed` or `cancelled`; a record names its owner (who ran it), and a cancel request that names an
owner marks only a query of that owner.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

Status = Literal["running", "done", "failed", "cancelled"]
Key = tuple[int, str]


class QueryIdInUseError(Exception):
    """A query with this queryId is still running."""


class NotQueryOwnerError(Exception):
    """The query was run by someone else."""


@dataclass(frozen=True, slots=True)
class QueryRecord:
    query_id: str
    customer_id: int
    queryname: str
    owner: str
    """Who ran it (`Principal.identity`)."""
    status: Status
    submitted: float
    """Epoch seconds."""
    finished: float | None = None
    rows: int | None = None
    """For a finished query, `totalrecords` of its answer."""
    cached: bool = False
    error: str | None = None
    cancel_requested: bool = False

    @property
    def elapsed_ms(self) -> float | None:
        return None if self.finished is None else round((self.finished - self.submitted) * 1000, 1)


class QueryRegistry:
    def __init__(self, max_finished: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self.max_finished = max_finished
        self._clock = clock
        self._running: dict[Key, QueryRecord] = {}
        self._finished: OrderedDict[Key, QueryRecord] = OrderedDict()
        self._changed = threading.Condition()

    def start(self, customer_id: int, query_id: str, queryname: str, owner: str) -> QueryRecord:
        """Record a query as running; QueryIdInUseError when one with this queryId still runs."""
        key = (customer_id, query_id)
        with self._changed:
            if key in self._running:
                raise QueryIdInUseError(f"query {query_id} is still running")
            self._finished.pop(key, None)
            record = QueryRecord(query_id, customer_id, queryname, owner, "running", self._clock())
            self._running[key] = record
            return record

    def finish(
        self,
        customer_id: int,
        query_id: str,
        status: Status,
        rows: int | None = None,
        cached: bool = False,
        error: str | None = None,
    ) -> QueryRecord:
        key = (customer_id, query_id)
        with self._changed:
            record = replace(
                self._running.pop(key), status=status, finished=self._clock(), rows=rows, cached=cached, error=error
            )
            self._finished[key] = record
            while len(self._finished) > self.max_finished:
                self._finished.popitem(last=False)
            self._changed.notify_all()
            return record

    def request_cancel(self, customer_id: int, query_id: str, owner: str | None) -> QueryRecord | None:
        """Mark a running query as to be cancelled; its record (None when unknown), running or not.
        NotQueryOwnerError, with nothing marked, when `owner` is given and the query is not its."""
        key = (customer_id, query_id)
        with self._changed:
            found = self._running.get(key) or self._finished.get(key)
            if found is not None and owner is not None and found.owner != owner:
                raise NotQueryOwnerError(f"query {query_id} was run by someone else")
            if key in self._running:
                self._running[key] = replace(self._running[key], cancel_requested=True)
                return self._running[key]
            return self._finished.get(key)

    def get(self, customer_id: int, query_id: str) -> QueryRecord | None:
        key = (customer_id, query_id)
        with self._changed:
            return self._running.get(key) or self._finished.get(key)

    def wait(self, customer_id: int, query_id: str, timeout_s: float) -> QueryRecord | None:
        """The record once the query is no longer running, or as it is after `timeout_s`."""
        key = (customer_id, query_id)
        with self._changed:
            self._changed.wait_for(lambda: key not in self._running, timeout_s)
            return self._running.get(key) or self._finished.get(key)
