"""Every percentile keeps its promise in every group size: within 1 % of a value between the exact lower and
upper order statistics at its rank (numpy's `lower` and `higher` at q·(n − 1)), for groups of 1, 2, 3, 10,
166, 1,000, 5,000 and 20,000 plays and one of the smallest start times (0, 1, 2 ms …), whichever table
answers, and with the same value from every table.

The start times are drawn from four populations (a warm cache, a cold one, slow and stalled starts) whose
shares put the median, p95 and p99 just inside a population's edge, where values are dense on one side of
the rank and far apart on the other: a sketch that interpolates between merged neighbours (t-digest) lands
in the gap, far from both order statistics.

The independent side is numpy over the start times this module drew; the store gets them as the events
of real views (a play request and a first frame each), in shuffled batches, through the app.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.catalog.formula import Quantile
from sightline.catalog.metrics import METRICS
from sightline.settings import Settings
from sightline.store.layout import ViewEvents, view_events_table

CUSTOMER = 1001
PLAN_LEVEL = 6831
DAY = datetime(2024, 5, 4, tzinfo=UTC)
HOUR_S = 3600
SIZES = (1, 2, 3, 10, 166, 1000, 5000, 20_000)
POPULATIONS = ((0.505, 600.0), (0.45, 2400.0), (0.039, 7000.0), (1.0, 20_000.0))
"""(share, median start time in ms): the last takes what is left."""
EDGES = np.array([0, 0, 1, 2, 3, 10, 999])
"""A group of the smallest start times a player can report (whole milliseconds, 0 included)."""
PROMISE = 0.01
ROUNDING = 5e-5  # the API answers seconds to 4 decimals


def _levels() -> dict[str, float]:
    """Every metric that reads a quantile, and its level."""
    found = {}
    for metric in METRICS:
        quantiles = [leaf for leaf in _leaves(metric.formula) if isinstance(leaf, Quantile)]
        if quantiles:
            (quantile,) = quantiles
            found[metric.name] = quantile.level
    return found


def _leaves(formula: Any) -> list[Any]:
    children = [getattr(formula, name) for name in ("left", "right", "value") if hasattr(formula, name)]
    return [formula] if not children else [leaf for child in children for leaf in _leaves(child)]


LEVELS = _levels()


def start_times(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` start times (ms): each population's share of them (rounded), each spread 5 % around its median."""
    bounds = [round(share * n) for share, _ in POPULATIONS[:-1]]
    counts = [*bounds, n - sum(bounds)]
    values = [median * rng.lognormal(0.0, 0.05, count) for (_, median), count in zip(POPULATIONS, counts, strict=True)]
    return np.maximum(np.concatenate(values), 1).astype(np.int64)


@dataclass
class Plays:
    client: TestClient
    headers: dict[str, str]
    group: np.ndarray
    """Each play's group (its title: `n<size>`)."""
    start_s: np.ndarray
    """Each play's view start (epoch s)."""
    startup_ms: np.ndarray


def _view_id(start_ms: int, rng: np.random.Generator) -> bytes:
    tail = int(rng.integers(0, 2**62))
    return uuid.UUID(int=(start_ms << 80) | (0x7 << 76) | (0b10 << 62) | tail).bytes


def _runs(plays: Plays, rng: np.random.Generator) -> list[ViewEvents]:
    runs = []
    for title, start_s, startup in zip(plays.group, plays.start_s, plays.startup_ms, strict=True):
        start_ms = int(start_s) * 1000 + int(rng.integers(0, 1000))
        events = [
            {"event": "play_request", "ts": start_ms, "seq": 0},
            {"event": "first_frame", "ts": start_ms + int(startup), "seq": 1, "started": 1, "startup_ms": int(startup)},
        ]
        dimensions = {"assetid": title, "streamtype": "vod", "cdn": "akamai", "country": "US"}
        runs.append(ViewEvents(CUSTOMER, _view_id(start_ms, rng), dimensions, events))
    return runs


@pytest.fixture(scope="module")
def plays(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plays]:
    rng = np.random.default_rng(19)
    group = np.concatenate([*(np.full(n, f"n{n}") for n in SIZES), np.full(EDGES.size, "edges")])
    startup = np.concatenate([*(start_times(n, rng) for n in SIZES), EDGES])
    start_s = int(DAY.timestamp()) + rng.integers(0, 24 * HOUR_S, group.size)
    app = create_app(
        Settings(data_dir=Path(tmp_path_factory.mktemp("percentiles")), argon2_time_cost=1, argon2_memory_kib=1024)
    )
    app.state.auth.accounts.add_customer(CUSTOMER, "Percentiles", PLAN_LEVEL)
    key = app.state.auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]
    with TestClient(app) as client:
        found = Plays(client, {"X-API-Key": key}, group, start_s, startup)
        runs = _runs(found, rng)
        order = rng.permutation(len(runs))
        for batch in np.array_split(order, 5):  # several insert blocks, so rollup rows are merged states
            services(app).store.insert_events(view_events_table([runs[i] for i in batch]))
        yield found


@dataclass(frozen=True)
class Way:
    """A request for the percentiles of each group over `period`, answered by `tables`."""

    id: str
    period: tuple[datetime, datetime]
    aggby: tuple[str, ...] = ("assetid",)
    filter: str | None = None
    tables: tuple[str, ...] = ()


WHOLE = (DAY, DAY + timedelta(days=1))
UNALIGNED = (DAY + timedelta(minutes=17), DAY + timedelta(hours=23, minutes=43))
WAYS = (
    Way("by_title_rollup", WHOLE, tables=("rollup_1h_content",)),
    Way("by_title_events", WHOLE, filter="[country=US]", tables=("events",)),
    Way("by_title_unaligned", UNALIGNED, tables=("events", "rollup_1h_content", "events")),
    Way("total", WHOLE, aggby=(), tables=("rollup_1h",)),
    Way("by_title_hourly", WHOLE, aggby=("assetid", "timestamp"), tables=("rollup_1h_content",)),
)


def _request(plays: Plays, way: Way, explain: bool = False) -> Any:
    start, end = (int(t.timestamp()) for t in way.period)
    params = {"period": f"start={start},end={end}", "metrics": ",".join(LEVELS), "limit": "10000"}
    if way.aggby:
        params["aggby"] = ",".join(way.aggby)
    if "timestamp" in way.aggby:
        params["granularity"] = "hour"
    if way.filter is not None:
        params["filter"] = way.filter
    if explain:
        params["explain"] = "true"
    response = plays.client.get(f"/mm-apis/metricquery/{CUSTOMER}", params=params, headers=plays.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _key(way: Way, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in way.aggby)


def _groups(plays: Plays, way: Way) -> dict[tuple[Any, ...], np.ndarray]:
    """The sorted start times of each group's plays: views started in the period, keyed like the answer."""
    start, end = (int(t.timestamp()) for t in way.period)
    inside = (plays.start_s >= start) & (plays.start_s < end)
    columns = {"assetid": plays.group, "timestamp": plays.start_s // HOUR_S * HOUR_S}
    keys = list(zip(*(columns[name][inside].tolist() for name in way.aggby), strict=True)) or [()] * int(inside.sum())
    values = plays.startup_ms[inside]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for key, value in zip(keys, values.tolist(), strict=True):
        groups.setdefault(key, []).append(value)
    return {key: np.sort(np.array(found)) for key, found in groups.items()}


def _bracket(values: np.ndarray, level: float) -> tuple[float, float]:
    """The promise, in seconds: 1 % around the order statistics at rank level·(n − 1), and the API's rounding."""
    low = float(np.quantile(values, level, method="lower")) / 1000
    high = float(np.quantile(values, level, method="higher")) / 1000
    return low * (1 - PROMISE) - ROUNDING, high * (1 + PROMISE) + ROUNDING


def test_every_quantile_metric_is_measured() -> None:
    assert LEVELS == {"median_latency": 0.5, "p95_latency": 0.95, "p99_latency": 0.99}


@pytest.mark.parametrize("way", WAYS, ids=lambda w: w.id)
def test_each_way_is_answered_by_its_tables(plays: Plays, way: Way) -> None:
    plan = _request(plays, way, explain=True)
    assert tuple(s["table"] for s in plan["segments"]) == way.tables


@pytest.mark.parametrize("way", WAYS, ids=lambda w: w.id)
def test_every_percentile_is_within_its_promise_in_every_group(plays: Plays, way: Way) -> None:
    groups = _groups(plays, way)
    rows = {_key(way, row): row for row in _request(plays, way)["response"]}
    assert set(rows) == set(groups)
    broken = []
    for key, values in sorted(groups.items(), key=lambda item: (len(item[1]), repr(item[0]))):
        for metric, level in LEVELS.items():
            low, high = _bracket(values, level)
            got = rows[key][metric]
            if not low <= got <= high:
                broken.append(f"{metric} of {len(values)} plays {key}: {got} outside [{low:.4f}, {high:.4f}]")
    assert not broken, f"{len(broken)} percentiles break the promise, e.g. " + "; ".join(broken[:6])


def test_the_group_sizes_asked_for_are_there(plays: Plays) -> None:
    sizes = sorted(len(values) for values in _groups(plays, WAYS[0]).values())
    assert sizes == sorted([*SIZES, EDGES.size])


def test_the_answer_does_not_depend_on_the_table(plays: Plays) -> None:
    """The same groups over the same period from the content rollup and from `events`: the same values."""
    by_rollup = {_key(WAYS[0], row): row for row in _request(plays, WAYS[0])["response"]}
    by_events = {_key(WAYS[1], row): row for row in _request(plays, WAYS[1])["response"]}
    assert by_rollup == by_events
