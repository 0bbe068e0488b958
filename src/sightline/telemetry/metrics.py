"""The Prometheus metrics of one app (docs/operations.md says what each one means).

Invariants: every app has its own registry (two apps in one process count apart); a label's values come from a
bounded set made by the code — route templates, formats, reason and table kinds, status codes — never from a
client's raw path, query string, customer id or free text. What the writer, the spool and the query cache hold
is read when `/metrics` is scraped (`StateCollector`), so the paths that feed them pay nothing for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from sightline.auth.leases import LeaseKeeper
from sightline.ingest.format import Refusal
from sightline.smartquery.cache import ResultCache
from sightline.store import quarantine, spool
from sightline.store.writer import BatchingWriter

REQUEST_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
QUERY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 200.0)
FORMATS = ("native", "cmcd", "mux")


def table_kind(tables: Sequence[str]) -> str:
    """The kinds of tables a query reads, as one label: `rollup`, `views`, `events` or several joined by `+`."""
    kinds = {"events" if t == "events" else "views" if t == "views" else "rollup" for t in tables}
    return "+".join(sorted(kinds)) or "views"


class Telemetry:
    """The metrics of one app: the counters and histograms the request paths feed, and what `watch` reads."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "sightline_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "sightline_http_request_duration_seconds",
            "Time from a request's arrival to its answer's last byte, by method and route template.",
            ("method", "route"),
            buckets=REQUEST_BUCKETS_S,
            registry=self.registry,
        )
        self.events_accepted = Counter(
            "sightline_ingest_events_accepted",
            "Events (CMCD: records) acknowledged to players, by format.",
            ("format",),
            registry=self.registry,
        )
        self.events_refused = Counter(
            "sightline_ingest_events_refused",
            "Events (CMCD: records) refused one by one, by format and reason.",
            ("format", "reason"),
            registry=self.registry,
        )
        self._state: StateCollector | None = None
        self.query_seconds = Histogram(
            "sightline_query_duration_seconds",
            "Time a query API spent on the store, by route template and the kind of table read.",
            ("api", "table"),
            buckets=QUERY_BUCKETS_S,
            registry=self.registry,
        )

    def count_ingest(self, format_name: str, accepted: int, refused: Sequence[Refusal]) -> None:
        """`accepted` events (CMCD: records) of `format_name` acknowledged, and the events refused, by the code
        of their refusal (`ingest.format.RefusalCode`)."""
        if accepted:
            self.events_accepted.labels(format_name).inc(accepted)
        for refusal in refused:
            self.events_refused.labels(format_name, refusal.code).inc()

    def watch(self, writer: BatchingWriter, cache: ResultCache, leases: LeaseKeeper | None = None) -> None:
        """Read the writer, its spool, the query cache and the leases at each scrape (instead of those watched
        before)."""
        if self._state is not None:
            self.registry.unregister(self._state)
        self._state = StateCollector(writer, cache, leases)
        self.registry.register(self._state)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


@dataclass(frozen=True)
class StateCollector(Collector):
    """The writer's counters, the spool's depth, the query cache's and the leases held, read when scraped."""

    writer: BatchingWriter
    cache: ResultCache
    leases: LeaseKeeper | None = None

    def collect(self) -> Iterable[Metric]:
        stats = self.writer.stats()
        depth = spool.depth(self.writer.spool_dir)
        age = 0.0 if depth.oldest_opened_s is None else max(0.0, time.time() - depth.oldest_opened_s)
        in_quarantine = len(spool.segments(self.writer.spool_dir / quarantine.DIRECTORY))
        yield GaugeMetricFamily("sightline_spool_segments", "Spool segments not yet stored.", depth.segments)
        yield GaugeMetricFamily("sightline_spool_bytes", "Bytes of the spool segments not yet stored.", depth.bytes)
        yield GaugeMetricFamily(
            "sightline_spool_oldest_segment_age_seconds", "Age of the oldest segment not yet stored (0: none).", age
        )
        yield GaugeMetricFamily(
            "sightline_spool_rows", "Rows acknowledged (or being written) and not yet stored.", stats.pending_rows
        )
        yield GaugeMetricFamily(
            "sightline_spool_rows_limit", "Pending rows past which ingest answers 503.", stats.max_pending_rows
        )
        yield CounterMetricFamily("sightline_writer_inserts", "Inserts the store accepted.", stats.inserts)
        yield CounterMetricFamily(
            "sightline_writer_insert_failures", "Inserts the store refused (each is retried).", stats.insert_failures
        )
        yield SummaryMetricFamily(
            "sightline_writer_insert_seconds",
            "Time in the store's inserts, accepted or refused.",
            count_value=stats.inserts + stats.insert_failures,
            sum_value=stats.insert_seconds,
        )
        yield CounterMetricFamily("sightline_writer_rows_stored", "Rows the store accepted.", stats.stored_rows)
        yield CounterMetricFamily(
            "sightline_writer_quarantined_units", "Units quarantined (refused on their own).", stats.quarantined_units
        )
        yield CounterMetricFamily(
            "sightline_writer_quarantined_rows", "Rows of the units quarantined.", stats.quarantined_rows
        )
        yield GaugeMetricFamily(
            "sightline_quarantine_units", "Units in quarantine now, waiting for an operator.", in_quarantine
        )
        yield CounterMetricFamily(
            "sightline_query_cache_hits", "Named queries answered from the cache.", self.cache.hits
        )
        yield CounterMetricFamily("sightline_query_cache_misses", "Named queries not in the cache.", self.cache.misses)
        yield GaugeMetricFamily("sightline_query_cache_entries", "Answers in the query cache.", len(self.cache))
        yield GaugeMetricFamily("sightline_query_cache_bytes", "Bytes of the answers in the cache.", self.cache.bytes)
        if self.leases is not None:
            held = GaugeMetricFamily(
                "sightline_lease_held",
                "1 while this process holds the lease of a once-only work, else 0.",
                labels=["lease"],
            )
            for name, holds in self.leases.held().items():
                held.add_metric([name], 1.0 if holds else 0.0)
            yield held
