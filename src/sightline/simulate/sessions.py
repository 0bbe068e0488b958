"""Viewing sessions of one customer in one time window: arrivals with daily and weekly seasonality in
each viewer's local time, then binge sessions of consecutive views by the same viewer.

Invariants: a session's views follow each other (the next starts after the previous one's last event);
every view starts in [window start, span end), and its events before the span's end are apart from those
after it; after a failure the viewer often retries the same title, after an episode often watches the
next one. The truth names each view's session (`session`,
unique per customer: the window's start in ms × 2^20 + the session's index) and its place in it
(`session_view`, from 0).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from sightline.simulate.audience import ENTRY, Customer
from sightline.simulate.batch import events_table, truth_table
from sightline.simulate.columns import uuid7
from sightline.simulate.customers import KIND_EPISODE, KIND_LIVE, pick_assets
from sightline.simulate.timeline import build_timeline
from sightline.simulate.views import COMPLETED, EXITED, VPF, VSF, draw_views
from sightline.simulate.world import HOURLY_INTENSITY, WEEKEND_DAYTIME_FACTOR, WEEKEND_FACTOR

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MAX_SESSION_VIEWS = 10
MEAN_SESSION_VIEWS = 2.2
_SESSION_BITS = 20
_HOURLY = np.array(HOURLY_INTENSITY)


def intensity(local_ms: NDArray[np.int64]) -> NDArray[np.float64]:
    """Relative arrival rate at local time `local_ms`: hourly curve (interpolated), weekend bump."""
    hours = (local_ms % DAY_MS) / HOUR_MS
    low = np.floor(hours).astype(np.int64)
    rate = _HOURLY[low] + (_HOURLY[(low + 1) % 24] - _HOURLY[low]) * (hours - low)
    weekday = (local_ms // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    weekend = weekday >= 5
    daytime = (hours >= 9) & (hours < 18)
    return np.asarray(rate * np.where(weekend, WEEKEND_FACTOR * np.where(daytime, WEEKEND_DAYTIME_FACTOR, 1.0), 1.0))


_WEEK = np.arange(0, 7 * DAY_MS, 60_000, dtype=np.int64)
MEAN_INTENSITY = float(intensity(_WEEK).mean())
MAX_INTENSITY = float(_HOURLY.max() * WEEKEND_FACTOR * WEEKEND_DAYTIME_FACTOR)


def arrivals(
    customer: Customer, sessions_per_day: float, start_ms: int, end_ms: int, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Session start times and viewers in [start_ms, end_ms), by thinning a Poisson process."""
    peak_rate = sessions_per_day / DAY_MS * MAX_INTENSITY / MEAN_INTENSITY
    candidates = int(rng.poisson(peak_rate * (end_ms - start_ms)))
    times = np.sort(start_ms + (rng.random(candidates) * (end_ms - start_ms)).astype(np.int64))
    pop = customer.population
    viewers = np.minimum(np.searchsorted(pop.activity_cdf, rng.random(candidates), side="right"), pop.size - 1)
    keep = rng.random(candidates) * MAX_INTENSITY < intensity(times + pop.utc_offset_ms[viewers])
    return times[keep], viewers[keep].astype(np.int64)


def _next_assets(
    customer: Customer, previous: NDArray[np.int64], outcome: NDArray[np.int64], rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The title each session plays next, and how the viewer got there (an ENTRY code)."""
    cat = customer.catalogue
    n = previous.size
    after = np.minimum(previous + 1, cat.kind.size - 1)
    has_next = (
        (cat.kind[previous] == KIND_EPISODE) & (cat.series_of[after] == cat.series_of[previous]) & (after != previous)
    )
    u = rng.random(n)
    retry = np.isin(outcome, (VSF, VPF)) & (u < 0.6)
    binge = ~retry & has_next & np.isin(outcome, (COMPLETED, EXITED)) & (u < np.where(outcome == COMPLETED, 0.85, 0.45))
    live = cat.kind[previous] == KIND_LIVE
    fresh = pick_assets(cat, np.where(live, 0.7, customer.profile.live_share), rng, n)
    asset = np.select([retry, binge], [previous, after], fresh)
    entry = np.select(
        [retry, binge & (outcome == COMPLETED), binge],
        [ENTRY["retry"], ENTRY["autoplay"], ENTRY["continue_watching"]],
        np.where(rng.random(n) < 0.7, ENTRY["home"], ENTRY["search"]),
    )
    return asset.astype(np.int64), entry.astype(np.int64)


def simulate_window(
    customer: Customer,
    sessions_per_day: float,
    start_ms: int,
    end_ms: int,
    span_end_ms: int,
    rng: np.random.Generator,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The events before `span_end_ms`, the events from then on, and the truth as of then (`truth_table`), of
    the sessions that begin in [start_ms, end_ms); views start before span_end_ms."""
    times, viewers = arrivals(customer, sessions_per_day, start_ms, end_ms, rng)
    n = times.size
    if n >= 1 << _SESSION_BITS:
        raise ValueError(f"{n} sessions in one window; at most {1 << _SESSION_BITS} can be named")
    session = (np.uint64(start_ms) << np.uint64(_SESSION_BITS)) + np.arange(n, dtype=np.uint64)
    length = np.minimum(rng.geometric(1 / MEAN_SESSION_VIEWS, n), MAX_SESSION_VIEWS)
    next_start = times.copy()
    asset = pick_assets(customer.catalogue, customer.profile.live_share, rng, n).astype(np.int64)
    entry = rng.choice(
        np.array([ENTRY["home"], ENTRY["search"], ENTRY["continue_watching"], ENTRY["deeplink"]]),
        n,
        p=[0.5, 0.15, 0.25, 0.1],
    ).astype(np.int64)
    events: list[pa.Table] = []
    later: list[pa.Table] = []
    truth: list[pa.Table] = []
    for k in range(int(length.max(initial=0))):
        rows = np.flatnonzero((length > k) & (next_start < span_end_ms))
        if rows.size == 0:
            break
        batch = draw_views(customer, next_start[rows], viewers[rows], asset[rows], entry[rows], rng)
        timeline = build_timeline(batch.groups, batch.start_ms)
        ids = uuid7(batch.start_ms, rng)
        table = events_table(customer, batch, timeline, ids, rng)
        inside = pa.array(timeline.ts < span_end_ms)
        events.append(table.filter(inside))
        later.append(table.filter(pc.invert(inside)))
        truth.append(truth_table(customer, batch, timeline, ids, session[rows], np.full(rows.size, k), span_end_ms))
        asset[rows], entry[rows] = _next_assets(customer, asset[rows], batch.outcome, rng)
        autoplay = entry[rows] == ENTRY["autoplay"]
        gap = np.where(
            autoplay,
            rng.integers(3000, 15_000, rows.size),
            (20_000 * rng.lognormal(0.0, 0.8, rows.size)).astype(np.int64),
        )
        next_start[rows] = timeline.view_end_ms + gap
    if not events:
        return _empty(customer, rng)
    return pa.concat_tables(events), pa.concat_tables(later), pa.concat_tables(truth)


def _empty(customer: Customer, rng: np.random.Generator) -> tuple[pa.Table, pa.Table, pa.Table]:
    none = np.zeros(0, dtype=np.int64)
    batch = draw_views(customer, none, none, none, none, rng)
    timeline = build_timeline(batch.groups, batch.start_ms)
    ids = uuid7(none, rng)
    truth = truth_table(customer, batch, timeline, ids, none.astype(np.uint64), none, 0)
    events = events_table(customer, batch, timeline, ids, rng)
    return events, events, truth
