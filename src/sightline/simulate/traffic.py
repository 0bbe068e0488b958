"""The traffic simulator's entry points: configuration, the chunk generator and the run into a store.

Invariants: the output depends only on the `SimulationConfig` (same config → identical tables); a
chunk holds whole views (every event of each view whose truth row it carries: those before the end of
the period in `events`, the rest in `later`); chunks come in time order, customers in config order
within a time window.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from sightline.simulate.audience import Customer, build_customer
from sightline.simulate.customers import profile_for
from sightline.simulate.incidents import Incident, plan_incidents, to_ms
from sightline.simulate.sessions import HOUR_MS, MEAN_SESSION_VIEWS, simulate_window
from sightline.simulate.truth import GroundTruthWriter, touched_views
from sightline.store.base import Store

EVENTS_PER_VIEW = 15.0  # measured average, used only to size chunks
_CHUNK_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate. Views start in [start, end), and so do the events of a chunk; what views still going
    on at `end` do afterwards is apart (`SimulatedChunk.later`).

    `views_per_day` is per customer at `scale` 1.0, before the customer's relative size (1.0 for the
    first profile); the default makes 7 days of 2 customers about 2.7 million events (~15 per view).
    `rate` simulates that share of the views, of the same audience (a quieter stretch, e.g. the weeks
    before the demo's period). `given_incidents` are injected; None injects the demo's four
    (`plan_incidents`), () none. Every incident lies within [start, end) and is of a simulated customer.
    """

    start: datetime
    end: datetime
    customer_ids: tuple[int, ...] = (1, 2)
    views_per_day: int = 16_000
    scale: float = 1.0
    seed: int = 0
    chunk_events: int = 250_000
    given_incidents: tuple[Incident, ...] | None = None
    rate: float = 1.0

    def __post_init__(self) -> None:
        if not self.customer_ids or any(c <= 0 for c in self.customer_ids):
            raise ValueError("customer_ids must be positive and not empty")
        if to_ms(self.end) <= to_ms(self.start):
            raise ValueError("end must be after start")
        if self.scale <= 0 or self.views_per_day <= 0 or not 0 < self.rate <= 1:
            raise ValueError("scale and views_per_day must be positive, rate in (0, 1]")
        for incident in self.given_incidents or ():
            if incident.customer_id not in self.customer_ids:
                raise ValueError(f"incident {incident.name!r}: customer {incident.customer_id} is not simulated")
            if to_ms(incident.start) < to_ms(self.start) or to_ms(incident.end) > to_ms(self.end):
                raise ValueError(
                    f"incident {incident.name!r}: {incident.start.isoformat()} + {incident.duration_s} s is not within "
                    f"the simulated period {self.start.isoformat()} to {self.end.isoformat()}"
                )

    @staticmethod
    def last_days(days: float, *, end: datetime | None = None, **options: Any) -> SimulationConfig:
        """The `days` before `end` (default: now, to the minute); `options` are the other fields."""
        finish = _minute(end or datetime.now(UTC))
        return SimulationConfig(start=finish - timedelta(days=days), end=finish, **options)

    def views_per_day_of(self, customer_id: int) -> float:
        return self.views_per_day * self.scale * profile_for(customer_id).size

    @property
    def incidents(self) -> tuple[Incident, ...]:
        if self.given_incidents is not None:
            return self.given_incidents
        return plan_incidents(self.customer_ids, _minute(self.start), _minute(self.end))


@dataclass(frozen=True, slots=True)
class SimulatedChunk:
    """The events (store insert layout) and the truth (one row per view) of one customer's window: `events`
    before the end of the period, and the truth as of then; `later`, the events of the views still going on
    then, for traffic that goes on live (`simulate.live`)."""

    customer_id: int
    start: datetime
    end: datetime
    events: pa.Table
    views: pa.Table
    later: pa.Table


def _chunk_hours(config: SimulationConfig) -> int:
    events_per_hour = max(config.views_per_day_of(c) for c in config.customer_ids) * EVENTS_PER_VIEW / 24
    fitting = [h for h in _CHUNK_HOURS if h * events_per_hour <= config.chunk_events]
    return fitting[-1] if fitting else 1


def simulate(config: SimulationConfig) -> Iterator[SimulatedChunk]:
    """The simulated traffic, chunk by chunk (see the module invariants)."""
    incidents = config.incidents
    customers = [
        build_customer(c, config.seed, max(50, int(config.views_per_day_of(c) / 2)), incidents)
        for c in config.customer_ids
    ]
    hours = _chunk_hours(config)
    start_ms, end_ms = to_ms(config.start), to_ms(config.end)
    window_ms = hours * HOUR_MS
    for window in range(start_ms // window_ms * window_ms, end_ms, window_ms):
        low, high = max(window, start_ms), min(window + window_ms, end_ms)
        for customer in customers:
            yield _chunk(config, customer, low, high, end_ms, hours)


def _chunk(
    config: SimulationConfig, customer: Customer, low: int, high: int, end_ms: int, hours: int
) -> SimulatedChunk:
    seeds = np.random.SeedSequence([config.seed, customer.customer_id, low // 60_000, hours])
    rng = np.random.Generator(np.random.PCG64(seeds))
    sessions_per_day = config.views_per_day_of(customer.customer_id) * config.rate / MEAN_SESSION_VIEWS
    events, later, views = simulate_window(customer, sessions_per_day, low, high, end_ms, rng)
    return SimulatedChunk(
        customer.customer_id,
        datetime.fromtimestamp(low / 1000, UTC),
        datetime.fromtimestamp(high / 1000, UTC),
        events,
        views,
        later,
    )


@runtime_checkable
class ProgressBar(Protocol):
    def update(self, n: int) -> object: ...


Progress = Callable[[int], object] | ProgressBar


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    events: int
    views: int
    seconds: float
    incidents: tuple[Incident, ...] = field(default=())
    touched: dict[str, int] = field(default_factory=dict)
    """Views each incident touched, by name (none for an incident whose filters no view matched)."""

    @property
    def events_per_minute(self) -> float:
        return self.events / self.seconds * 60 if self.seconds > 0 else 0.0


def prefetch(chunks: Iterator[SimulatedChunk], depth: int = 2) -> Iterator[SimulatedChunk]:
    """`chunks`, generated on a background thread up to `depth` ahead (numpy and chDB release the GIL)."""
    slots: queue.Queue[SimulatedChunk | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                slots.put(chunk)
            slots.put(None)
        except BaseException as error:  # handed to the consumer, raised there
            slots.put(error)

    thread = threading.Thread(target=produce, name="sightline-simulate", daemon=True)
    thread.start()
    try:
        while (item := slots.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                slots.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def run_simulation(
    store: Store, config: SimulationConfig, truth_path: Path | None = None, progress: Progress | None = None
) -> SimulationSummary:
    """Insert the simulated traffic into `store` (and its ground truth into `truth_path` if given)."""
    began = time.perf_counter()
    events = views = 0
    touched: Counter[str] = Counter()
    writer = GroundTruthWriter(truth_path, config.incidents) if truth_path is not None else None
    try:
        for chunk in prefetch(simulate(config)):
            store.insert_events(chunk.events)
            if writer is not None:
                writer.write(chunk.views)
            events += chunk.events.num_rows
            views += chunk.views.num_rows
            touched += touched_views(chunk.views)
            if isinstance(progress, ProgressBar):
                progress.update(chunk.events.num_rows)
            elif progress is not None:
                progress(events)
    finally:
        if writer is not None:
            writer.close()
    return SimulationSummary(events, views, time.perf_counter() - began, config.incidents, dict(touched))
