"""The query cache: answers of named queries, kept until new data arrives for the times they read.

Two ways of hearing of new data, one for each way the store is shared:
- this process's inserts: the store's insert listener tells the cache what arrived (`invalidate`), exactly (by
  customer and times). With the embedded engine that is all there is: one process owns a data directory.
- every process's inserts, when the store is a server that other processes write to: an entry carries the
  `Versions` of the store's data that the answer read, read before the query ran, and a lookup gives the
  versions read now; an entry is served only to a lookup whose versions are its own. `SmartQueryService` reads
  the versions of the `views` partitions (by day of the view's start) of every day from `event_max_late_s` before
  its span to `event_max_ahead_s` after it: every row a named query reads (of `views`, the rollups, the stored
  days) comes from the events of a view that started in those days (the ingest window refuses an event further
  from its view's start), and an insert of such events adds a part, so raises the version
  (`Store.partition_versions`), of its view's day of `views`. Exact across processes and coarse: any customer's
  new views of a day within a week after a span drop its answers, so recent periods are rarely served from the
  cache of a busy service. With the embedded engine no versions are read (None).

Invariants (thread-safe; no IO):
- an entry is keyed by the validated request (`SmartQuery`: customer, query, period, granularity, filters,
  page), so a hit is an identical request and its answer the one computed for it;
- an arrival of new rows for a customer (`store.DataArrival`) removes that customer's entries whose span of
  times overlaps it;
- an answer computed while an overlapping arrival happened is not stored (`put` with the `ticket` taken
  before the query ran), so no entry is older than the data it was computed from;
- an entry is answered only to a lookup with the `Versions` it was stored with;
- bounded: at most `max_entries` entries holding at most `max_bytes` bytes of answers in all; the least
  recently used go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

from sightline.smartquery.spec import SmartQuery
from sightline.store.base import DataArrival

Versions = tuple[tuple[str, int], ...] | None
"""The versions of the store's data an answer read ((partition, version), sorted), or None when not checked."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A page of a named query's answer as the API sends it (`body`), and the rows of the whole answer."""

    body: bytes
    total: int


@dataclass(frozen=True, slots=True)
class _Entry:
    customer_id: int
    start_ms: int
    end_ms: int
    answer: Answer
    versions: Versions


class ResultCache:
    def __init__(self, max_entries: int = 512, max_bytes: int = 256 * 1024**2, arrivals_kept: int = 4096) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[SmartQuery, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._seq = 0
        self._arrivals: deque[tuple[int, DataArrival]] = deque(maxlen=arrivals_kept)
        self.hits = 0
        """Lookups (`get`) answered from the cache since it was made."""
        self.misses = 0
        """Lookups that found nothing."""

    def ticket(self) -> int:
        """Take before running a query; give to `put` with its answer."""
        with self._lock:
            return self._seq

    def get(self, key: SmartQuery, versions: Versions = None) -> Answer | None:
        """The answer kept for `key` with `versions` (read now), if any; one kept with others is dropped."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.versions != versions:
                self._drop(key)
                entry = None
            if entry is None:
                self.misses += 1
                return None
            self.hits += 1
            self._entries.move_to_end(key)
            return entry.answer

    def put(
        self, key: SmartQuery, span_ms: tuple[int, int], answer: Answer, ticket: int, versions: Versions = None
    ) -> bool:
        """Keep `answer` for `key`, which read the times [start, end) of `span_ms` (and the data of `versions`, read
        before it ran), unless data that overlaps them arrived since `ticket` was taken (or too long ago to tell).
        True when kept."""
        entry = _Entry(key.customer_id, span_ms[0], span_ms[1], answer, versions)
        with self._lock:
            if ticket < self._seq - len(self._arrivals):
                return False
            if any(seq > ticket and _overlaps(entry, arrival) for seq, arrival in self._arrivals):
                return False
            self._drop(key)
            self._entries[key] = entry
            self._bytes += len(answer.body)
            while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
                self._drop(next(iter(self._entries)))
            return key in self._entries

    def invalidate(self, arrivals: tuple[DataArrival, ...]) -> None:
        """New rows were stored: forget the answers they may change (a `store.InsertListener`)."""
        with self._lock:
            for arrival in arrivals:
                self._seq += 1
                self._arrivals.append((self._seq, arrival))
                stale = [key for key, entry in self._entries.items() if _overlaps(entry, arrival)]
                for key in stale:
                    self._drop(key)

    def _drop(self, key: SmartQuery) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.answer.body)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._bytes


def _overlaps(entry: _Entry, arrival: DataArrival) -> bool:
    return (
        entry.customer_id == arrival.customer_id
        and arrival.start_ms < entry.end_ms
        and arrival.end_ms >= entry.start_ms
    )
