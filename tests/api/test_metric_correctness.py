"""Every metric of the catalog, answered by the API over simulated data, equals an independent computation
from the simulator's raw events: exactly for counts and sums, within 1 % for distinct counts and
quantiles; for the total, a breakdown by five dimensions, an hourly series, under filters and over a
period not aligned to hours. The tests are parametrised over `METRICS`, so a new metric is tested
without anyone remembering; `PART_DEFINITIONS` must define every part of `PARTS`, so a new part needs a
definition here.

The independent side never reads the catalog's SQL (`expression`, `condition`, `attribution`): each
part is defined below in pandas from the events the simulator produced, with the attribution of
DESIGN.md §4 (view outcomes in the bucket of the view's start, time-based quantities in the bucket of
the event). Only the formula trees of `METRICS` are shared, evaluated in Python by the documented rule
(`tests/catalog/formulas.by_the_rule`, which the catalog's tests hold the formulas to).

One request per case answers every metric (a module-scoped cache); the per-metric tests read it, so a
failure names the metric and the case. Should the combined request fail, each metric is requested alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.catalog.formula import Binary, Clamp, Formula, Part, Quantile, parts_of
from sightline.catalog.metrics import METRICS, MetricSpec
from sightline.catalog.parts import PARTS, PartSpec
from sightline.catalog.rollups import ROLLUPS
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, simulate
from tests.api.simulated import without_closing
from tests.catalog.formulas import by_the_rule, quantile_key
from tests.handwritten import by_hand

CUSTOMER = 1001
PLAN_LEVEL = 6831  # Enterprise: ad metrics and every granularity
START = datetime(2024, 5, 4, tzinfo=UTC)
CONFIG = SimulationConfig(
    start=START, end=START + timedelta(days=1), customer_ids=(CUSTOMER,), views_per_day=4000, seed=11
)
HOUR_MS = 3_600_000
UNALIGNED = (START + timedelta(hours=5, minutes=17), START + timedelta(hours=17, minutes=43))


def integral(formula: Formula) -> bool:
    """True for counts: sums and differences of parts, which the API answers as integers."""
    if isinstance(formula, Part):
        return True
    return isinstance(formula, Binary) and formula.op in "+-" and integral(formula.left) and integral(formula.right)


APPROXIMATE_UNIQ = 0.01  # uniq: within 1 % (+1, see _interval)
APPROXIMATE_QUANTILE = 0.01  # the promise: within 1 % of an exact quantile (see _interval)
ROUNDING = 5e-5  # the API rounds floats to 4 decimals


# ---------------------------------------------------------------------------------------------------
# The independent definitions of the parts, from the raw events.
# ---------------------------------------------------------------------------------------------------

Attribution = Literal["view_start", "event_time"]
Aggregate = Literal["sum", "uniq", "ddsketch"]


@dataclass(frozen=True)
class PartDefinition:
    """A part: `values(events)` gives one value per event row that counts (indexed like `events`); the
    part of a group is their sum, their number of distinct values, or their exact quantiles. The row
    counts in the bucket of its view's start (`view_start`) or of its own time (`event_time`)."""

    attribution: Attribution
    aggregate: Aggregate
    values: Callable[[pd.DataFrame], pd.Series]


def _is(event: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda e: e["event"] == event


def _fatal(e: pd.DataFrame) -> pd.Series:
    return (e["event"] == "error") & (e["fatal"] == 1)


def _terminal(e: pd.DataFrame) -> pd.Series:
    return e["event"].isin(["end", "exit"])


def _switch(e: pd.DataFrame) -> pd.Series:
    return e["event"] == "rendition_change"


def _ones(where: Callable[[pd.DataFrame], pd.Series]) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda e: pd.Series(1, index=e.index[where(e).to_numpy()], dtype="int64")


def _column(name: str, where: Callable[[pd.DataFrame], pd.Series] | None = None) -> Callable[[pd.DataFrame], pd.Series]:
    def values(e: pd.DataFrame) -> pd.Series:
        column = e[name]
        return column if where is None else column[where(e)]

    return values


def _count(attribution: Attribution, where: Callable[[pd.DataFrame], pd.Series]) -> PartDefinition:
    return PartDefinition(attribution, "sum", _ones(where))


def _time_sum(name: str) -> PartDefinition:
    return PartDefinition("event_time", "sum", _column(name))


def _ad(event: str) -> PartDefinition:
    return _count("event_time", _is(event))


def _bitrate_play(e: pd.DataFrame) -> pd.Series:
    return e["interval_bitrate_kbps"] * e["play_ms"]


def _started(e: pd.DataFrame) -> pd.Series:
    return e["started"] == 1


def _live_sample(e: pd.DataFrame) -> pd.Series:
    return (e["live_latency_ms"] > 0) & (e["streamtype"] == "live")


PART_DEFINITIONS: dict[str, PartDefinition] = {
    # view outcomes: in the bucket of the view's start, whenever the deciding event arrives
    "attempts": _count("view_start", _is("play_request")),
    "plays": _count("view_start", _is("first_frame")),
    # start time is a view outcome (DESIGN §4), so its sum is attributed like `plays`, its divisor
    "startup_ms_sum": PartDefinition("view_start", "sum", _column("startup_ms", _is("first_frame"))),
    "startup_ms_sketch": PartDefinition("view_start", "ddsketch", _column("startup_ms", _is("first_frame"))),
    "vsf_views": _count("view_start", lambda e: _fatal(e) & ~_started(e)),
    "vsf_business_views": _count("view_start", lambda e: _fatal(e) & ~_started(e) & (e["business_error"] == 1)),
    "ebvs_views": _count("view_start", lambda e: _terminal(e) & ~_started(e)),
    "vpf_views": _count("view_start", lambda e: _fatal(e) & _started(e)),
    "vpf_business_views": _count("view_start", lambda e: _fatal(e) & _started(e) & (e["business_error"] == 1)),
    "completed_views": _count("view_start", lambda e: (e["event"] == "end") & _started(e)),
    "ended_views": _count("view_start", lambda e: _terminal(e) | _fatal(e)),
    "viewers": PartDefinition("view_start", "uniq", _column("viewerid", _is("first_frame"))),
    "anonymous_viewers": PartDefinition(
        "view_start", "uniq", _column("viewerid", lambda e: (e["event"] == "first_frame") & (e["subscriberid"] == ""))
    ),
    "subscribers": PartDefinition(
        "view_start",
        "uniq",
        _column("subscriberid", lambda e: (e["event"] == "first_frame") & (e["subscriberid"] != "")),
    ),
    # time-based quantities: in the bucket of the event
    "play_ms": _time_sum("play_ms"),
    "rebuffer_ms": _time_sum("rebuffer_ms"),
    "rebuffer_count": _count("event_time", _is("stall_start")),
    "bitrate_play": PartDefinition("event_time", "sum", _bitrate_play),
    "dropped_frames": _time_sum("dropped_frames"),
    "bytes": _time_sum("bytes"),
    "errors": _count("event_time", _is("error")),
    "fatal_errors": _count("event_time", _fatal),
    "business_errors": _count("event_time", lambda e: (e["event"] == "error") & (e["business_error"] == 1)),
    "fatal_business_errors": _count("event_time", lambda e: _fatal(e) & (e["business_error"] == 1)),
    "bitrate_switches": _count("event_time", _switch),
    "upswitches": _count(
        "event_time", lambda e: _switch(e) & (e["rendition_bitrate_kbps"] > e["interval_bitrate_kbps"])
    ),
    "downswitches": _count(
        "event_time", lambda e: _switch(e) & (e["rendition_bitrate_kbps"] < e["interval_bitrate_kbps"])
    ),
    # samples of live views only: a VOD view has no live edge, whatever its player sent
    "live_latency_sum": PartDefinition("event_time", "sum", _column("live_latency_ms", _live_sample)),
    "live_latency_count": _count("event_time", _live_sample),
    "active_views": PartDefinition("event_time", "uniq", _column("view_key", lambda e: e["play_ms"] > 0)),
    "ad_requests": _ad("ad_request"),
    "ad_impressions": _ad("ad_impression"),
    "ad_starts": _ad("ad_start"),
    "ad_first_quartiles": _ad("ad_first_quartile"),
    "ad_midpoints": _ad("ad_midpoint"),
    "ad_third_quartiles": _ad("ad_third_quartile"),
    "ad_completes": _ad("ad_complete"),
    "ad_skips": _ad("ad_skip"),
    "ad_clicks": _ad("ad_click"),
    "ad_errors": _ad("ad_error"),
    "ad_stalls": _ad("ad_stall"),
    "ad_ms": _time_sum("ad_ms"),
}

# ---------------------------------------------------------------------------------------------------
# The cases: the requests, and how the independent side groups and restricts the events for each.
# ---------------------------------------------------------------------------------------------------

Condition = tuple[str, bool, tuple[str, ...]]
"""(dimension, negated, values): the dimension is (not) one of the values."""


@dataclass(frozen=True)
class Case:
    id: str
    dimensions: tuple[str, ...] = ()
    series: bool = False
    filter: str | None = None
    conditions: tuple[Condition, ...] = ()
    aligned: bool = True
    qoefilter: str | None = None
    concurrency: bool = False
    """`concurrency=1`: every part counts at its event's time; only metrics marked `concurrency` apply."""
    business: bool = False
    """`businesserror=true`: error metrics count business exceptions too."""
    ended: bool = False
    """`sessiontype=ended`: every event of the closed views whose last event falls in the period."""
    closed_only: bool = False
    """`allstatus=0`: only the views closed (by an end, exit or fatal error) count."""
    passes: Callable[[pd.DataFrame], pd.Series] | None = None
    """The qoefilter as a predicate over per-view values (`per_view_values`)."""
    tables: tuple[str, ...] = ()
    """The tables the planner must choose, in segment order: the case exists to exercise them."""

    def params(self, period: tuple[datetime, datetime]) -> dict[str, str]:
        params = {"period": f"start={int(period[0].timestamp())},end={int(period[1].timestamp())}", "limit": "10000"}
        aggby = [*self.dimensions, *(["timestamp"] if self.series else [])]
        if aggby:
            params["aggby"] = ",".join(aggby)
        if self.series:
            params["granularity"] = "hour"
        if self.filter is not None:
            params["filter"] = self.filter
        if self.qoefilter is not None:
            params["qoefilter"] = self.qoefilter
        if self.concurrency:
            params["concurrency"] = "1"
        if self.business:
            params["businesserror"] = "true"
        if self.ended:
            params["sessiontype"] = "ended"
        if self.closed_only:
            params["allstatus"] = "0"
        return params

    def metrics(self) -> list[MetricSpec]:
        return [m for m in METRICS if m.concurrency or not self.concurrency]


UNALIGNED_MINUTES = ("rollup_1m", "rollup_1h", "rollup_1m")
CASES: tuple[Case, ...] = (
    Case("total", tables=("rollup_1h",)),
    Case("by_cdn", ("cdn",), tables=("rollup_1h",)),
    Case("by_country", ("country",), tables=("rollup_1h_delivery",)),
    Case("by_device", ("device",), tables=("rollup_1h_device",)),
    Case("by_platform", ("platform",), tables=("rollup_1h_device",)),
    Case("by_assetid", ("assetid",), tables=("rollup_1h_content",)),
    Case("hourly", series=True, tables=("rollup_1h",)),
    Case(
        "filter_events",
        filter="[country=US|GB][device=desktop|mobile]",
        conditions=(("country", False, ("US", "GB")), ("device", False, ("desktop", "mobile"))),
        tables=("events",),
    ),
    Case("filter_rollup", filter="[cdn=Akamai]", conditions=(("cdn", False, ("Akamai",)),), tables=("rollup_1h",)),
    Case(
        "filter_not_by_platform",
        ("platform",),
        filter="[device!=mobile]",
        conditions=(("device", True, ("mobile",)),),
        tables=("rollup_1h_device",),
    ),
    Case("unaligned_total", aligned=False, tables=UNALIGNED_MINUTES),
    Case("unaligned_hourly", series=True, aligned=False, tables=UNALIGNED_MINUTES),
    Case("unaligned_by_country", ("country",), aligned=False, tables=("events", "rollup_1h_delivery", "events")),
    Case(
        "qoe_and",
        qoefilter="latency>1.5 AND bufferingratio>0",
        passes=lambda v: (v["latency"] > 1.5) & (v["bufferingratio"] > 0),
        tables=("events",),
    ),
    Case(
        "qoe_legacy_by_cdn",
        ("cdn",),
        qoefilter="bufferingratio > 0.5 , buffcount > 1",
        passes=lambda v: (v["bufferingratio"] > 0.5) & (v["buffcount"] > 1),
        tables=("events",),
    ),
    Case(
        "qoe_or_unaligned",
        qoefilter="latency>=3 OR buffcount>=2",
        passes=lambda v: (v["latency"] >= 3) | (v["buffcount"] >= 2),
        aligned=False,
        tables=("events",),
    ),
    Case("concurrency_hourly", series=True, aligned=False, concurrency=True, tables=("events",)),
    Case("concurrency_by_cdn", ("cdn",), concurrency=True, tables=("events",)),
    Case("business_by_cdn", ("cdn",), business=True, tables=("rollup_1h",)),
    Case("ended_unaligned", aligned=False, ended=True, tables=("events",)),
    Case("ended_by_country", ("country",), aligned=False, ended=True, tables=("events",)),
)
DIMENSIONS = sorted(
    {d for case in CASES for d in case.dimensions} | {d for c in CASES for d, _, _ in c.conditions} | {"streamtype"}
)

# ---------------------------------------------------------------------------------------------------
# The simulated world: the app over a store holding the simulated day, and the events as pandas.
# ---------------------------------------------------------------------------------------------------


@dataclass
class World:
    client: TestClient
    headers: dict[str, str]
    events: pd.DataFrame
    truth: pd.DataFrame
    whole: tuple[datetime, datetime]
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    expected: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = field(default_factory=dict)

    def period(self, case: Case) -> tuple[datetime, datetime]:
        return self.whole if case.aligned else UNALIGNED


def _events_frame(events: pa.Table) -> pd.DataFrame:
    """The columns the definitions read, dimensions as plain strings, and each row's view start (ms)
    decoded from the UUIDv7 id (its first 48 bits, big-endian)."""
    frame: pd.DataFrame = events.select(
        [
            "ts",
            "event",
            "viewerid",
            "subscriberid",
            "seq",
            "started",
            "startup_ms",
            "play_ms",
            "rebuffer_ms",
            "interval_bitrate_kbps",
            "dropped_frames",
            "bytes",
            "ad_ms",
            "live_latency_ms",
            "rendition_bitrate_kbps",
            "fatal",
            "business_error",
            *DIMENSIONS,
        ]
    ).to_pandas()
    for name in ("event", "viewerid", "subscriberid", *DIMENSIONS):
        frame[name] = frame[name].astype(str)
    for name in frame.columns:
        if frame[name].dtype.kind == "u":
            frame[name] = frame[name].astype("int64")
    ids = events.column("view_id").combine_chunks()
    raw = np.frombuffer(ids.buffers()[1], dtype=np.uint8)[ids.offset * 16 : (ids.offset + len(ids)) * 16]
    halves = raw.reshape(-1, 16).view(">u8").astype(np.uint64)
    frame["view_start"] = (halves[:, 0] >> np.uint64(16)).astype(np.int64)
    frame["view_key"] = [f"{h:016x}{lo:016x}" for h, lo in halves]
    return frame


def _ceil_hour(ms: int) -> datetime:
    return datetime.fromtimestamp(-(-ms // HOUR_MS) * HOUR_MS / 1000, UTC)


@contextmanager
def simulated_day(data_dir: Path, open_views: int = 0) -> Iterator[World]:
    """The app (owning its store, closed on exit: chDB opens one data directory per process) with the
    simulated day inserted, `open_views` views of it without their closing event (still open), customer
    1001 on the plan that allows everything, and an API key of it."""
    chunks = list(simulate(CONFIG))
    events = pa.concat_tables([c.events for c in chunks])
    truth = pa.concat_tables([c.views for c in chunks]).to_pandas()
    events = without_closing(events, open_views)[0] if open_views else events
    settings = Settings(data_dir=data_dir, argon2_time_cost=1, argon2_memory_kib=1024)
    app = create_app(settings)
    auth = app.state.auth
    auth.accounts.add_customer(CUSTOMER, "Correctness", PLAN_LEVEL)
    key = auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]
    with TestClient(app) as client:
        # in shuffled batches, so that each view's events reach the materialized views in several
        # insert blocks and out of order, as they do from players
        rows = np.random.default_rng(1).permutation(events.num_rows)
        for batch in np.array_split(rows, 4):
            services(app).store.insert_events(events.take(pa.array(batch)))
        frame = _events_frame(events)
        start = START.replace(minute=0, second=0, microsecond=0)
        yield World(client, {"X-API-Key": key}, frame, truth, (start, _ceil_hour(int(frame["ts"].max()) + 1)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Every view of the simulated day closed."""
    with simulated_day(Path(tmp_path_factory.mktemp("correctness"))) as day:
        yield day


# ---------------------------------------------------------------------------------------------------
# The expected values: parts per group, then each metric's formula over them.
# ---------------------------------------------------------------------------------------------------

Key = tuple[Any, ...]


def _mask(events: pd.DataFrame, conditions: tuple[Condition, ...]) -> pd.Series:
    mask = pd.Series(True, index=events.index)
    for name, negated, values in conditions:
        inside = events[name].isin(values)
        mask &= ~inside if negated else inside
    return mask


def _keys(rows: pd.DataFrame, case: Case, time: pd.Series) -> pd.Series:
    columns = [rows[d].tolist() for d in case.dimensions]
    if case.series:
        columns.append((time // HOUR_MS * (HOUR_MS // 1000)).tolist())
    keys = list(zip(*columns, strict=True)) if columns else [() for _ in range(len(rows))]
    return pd.Series(keys, index=rows.index, dtype=object)


def per_view_values(events: pd.DataFrame) -> pd.DataFrame:
    """Each view's whole-view latency (s, started views only), rebuffering ratio (%) and stall count."""
    by_view = events.assign(
        first_frame=events["event"] == "first_frame",
        stalls=(events["event"] == "stall_start").astype(int),
    ).groupby("view_key")
    started = by_view["first_frame"].any()
    startup = by_view["startup_ms"].max()
    play, rebuffer = by_view["play_ms"].sum(), by_view["rebuffer_ms"].sum()
    watched = (play + rebuffer).where(play + rebuffer > 0)
    return pd.DataFrame(
        {
            "latency": (startup / 1000).where(started),
            "bufferingratio": 100 * rebuffer / watched,
            "buffcount": by_view["stalls"].sum(),
        }
    )


def _aggregate(definition: PartDefinition, values: pd.Series, keys: pd.Series) -> dict[Any, Any]:
    grouped = values.groupby(keys[values.index], sort=False)
    if definition.aggregate == "sum":
        return {k: int(v) for k, v in grouped.sum().items()}
    if definition.aggregate == "uniq":
        return {k: int(v) for k, v in grouped.nunique().items()}
    return {k: np.sort(v.to_numpy()) for k, v in grouped}


def expected_parts(world: World, case: Case) -> dict[Key, dict[str, Any]]:
    """Every part per group key (dimension values, then the bucket's epoch seconds for a series), over the
    closed views only (those with an end, exit or fatal error) for `closed_only` and `ended` cases.

    A view-start part counts the events of the views that started in [start, end), whatever their time
    (the `events` fallback only looks a day past a view's start — `MAX_VIEW_SPAN` — which no view of a
    one-day simulation exceeds); an event-time part counts the events in [start, end)."""
    start, end = (int(t.timestamp() * 1000) for t in world.period(case))
    events = world.events[_mask(world.events, case.conditions)]
    if case.ended or case.closed_only:  # an open view has not ended
        closing = _terminal(world.events) | _fatal(world.events)
        events = events[events["view_key"].isin(world.events.loc[closing, "view_key"])]
    if case.ended:  # whole views, keyed by nothing but the dimensions: every part counts all their events
        last = world.events.groupby("view_key")["ts"].transform("max")
        events = events[(last[events.index] >= start) & (last[events.index] < end)]
        keys = _keys(events, case, events["ts"])
        found_ended = {
            name: _aggregate(definition, definition.values(events), keys)
            for name, definition in PART_DEFINITIONS.items()
        }
        return {
            key: {name: found_ended[name].get(key, _empty(name)) for name in PART_DEFINITIONS}
            for key in dict.fromkeys(keys.unique())
        }
    if case.passes is not None:
        per_view = per_view_values(world.events)
        events = events[events["view_key"].isin(per_view.index[case.passes(per_view)])]
    found: dict[str, dict[Any, Any]] = {}
    keys_seen: dict[Key, None] = {}
    for attribution, time_column in (("view_start", "view_start"), ("event_time", "ts")):
        if case.concurrency and attribution == "view_start":
            continue  # every part counts at its event's time
        time = events[time_column]
        rows = events[(time >= start) & (time < end)]
        keys = _keys(rows, case, rows[time_column])
        keys_seen.update(dict.fromkeys(keys.unique()))
        for name, definition in PART_DEFINITIONS.items():
            if definition.attribution != attribution and not case.concurrency:
                continue
            found[name] = _aggregate(definition, definition.values(rows), keys)
    return {key: {name: found[name].get(key, _empty(name)) for name in PART_DEFINITIONS} for key in keys_seen}


Interval = tuple[float, float] | None
"""What the API may answer for a part or metric: [low, high], or None for no value."""


def _interval(name: str, level: float | None, value: Any) -> Interval:
    """The honest range of the API's value of a part.

    - sums are exact;
    - uniq is ClickHouse's adaptive sample (exact while small, hashed beyond): within 1 % + 1, and
      never 0 for a non-empty set nor more than 0 for an empty one;
    - a quantile of a non-empty set: any value between the order statistics around the rank (numpy's
      `lower` and `higher`, the definitions of "exact quantile" differ only in between) is exact, and the
      API promises 1 % around that bracket (docs/metrics.md; tests/api/test_percentiles.py holds it to
      that over group sizes from 1 to 20,000).
    """
    aggregate = PART_DEFINITIONS[name].aggregate
    if aggregate == "sum":
        return float(value), float(value)
    if aggregate == "uniq":
        if value == 0:
            return 0.0, 0.0
        slack = APPROXIMATE_UNIQ * value + 1
        return max(1.0, value - slack), value + slack
    if len(value) == 0 or level is None:
        return None
    low = float(np.quantile(value, level, method="lower"))
    high = float(np.quantile(value, level, method="higher"))
    return low * (1 - APPROXIMATE_QUANTILE), high * (1 + APPROXIMATE_QUANTILE)


def _leaves(formula: Formula) -> set[tuple[str, float | None]]:
    if isinstance(formula, Part):
        return {(formula.name, None)}
    if isinstance(formula, Quantile):
        return {(formula.name, formula.level)}
    if isinstance(formula, Binary):
        return _leaves(formula.left) | _leaves(formula.right)
    if isinstance(formula, Clamp):
        return _leaves(formula.value)
    return set()


def expected_range(formula: Formula, parts: Mapping[str, Any], period_ms: float) -> Interval:
    """The range of the formula's value over every corner of its parts' ranges (every formula of the
    catalog is monotone in each part, so the extremes are at corners)."""
    leaves = sorted(_leaves(formula), key=lambda leaf: (leaf[0], leaf[1] or 0.0))
    ranges = [_interval(name, level, parts[name]) for name, level in leaves]
    keys = [name if level is None else quantile_key(Quantile(name, level)) for name, level in leaves]
    corners = [
        by_the_rule(formula, dict(zip(keys, corner, strict=True)), period_ms)
        for corner in itertools.product(*[(None,) if r is None else sorted(set(r)) for r in ranges])
    ]
    values = [c for c in corners if c is not None]
    if not values:
        return None
    assert len(values) == len(corners), f"some corners have no value: {corners}"
    return min(values), max(values)


def _zero(formula: Formula, parts: Mapping[str, Any]) -> bool:
    return all(
        np.size(parts[name]) == 0 if PART_DEFINITIONS[name].aggregate == "ddsketch" else parts[name] == 0
        for name in parts_of(formula)
    )


# ---------------------------------------------------------------------------------------------------
# The API side.
# ---------------------------------------------------------------------------------------------------


def _request(world: World, case: Case, metrics: list[str], explain: bool = False) -> tuple[int, Any]:
    params = {**case.params(world.period(case)), "metrics": ",".join(metrics)}
    if explain:
        params["explain"] = "true"
    response = world.client.get(f"/mm-apis/metricquery/{CUSTOMER}", params=params, headers=world.headers)
    return response.status_code, response.json()


def _rows(case: Case, body: Any) -> dict[Key, dict[str, Any]]:
    assert body["totalrecords"] == body["totalcount"] == len(body["response"]), "one page holds every group"
    rows: dict[Key, dict[str, Any]] = {}
    for row in body["response"]:
        key = tuple(row[d] for d in case.dimensions) + ((row["timestamp"],) if case.series else ())
        assert key not in rows, f"group {key} answered twice"
        rows[key] = row
    return rows


def answer(world: World, case: Case, metric: str) -> dict[Key, dict[str, Any]]:
    """The API's rows of `case` for `metric`: from one request for every metric, or alone if it failed."""
    if case.id not in world.answers:
        world.answers[case.id] = _request(world, case, [m.name for m in case.metrics()])
    status, body = world.answers[case.id]
    if status != 200:
        status, body = _request(world, case, [metric])
        assert status == 200, f"{metric} alone: {status} {body}"
    return _rows(case, body)


def expected(world: World, case: Case) -> dict[Key, dict[str, Any]]:
    if case.id not in world.expected:
        world.expected[case.id] = expected_parts(world, case)
    return world.expected[case.id]


def _within(got: float, interval: tuple[float, float]) -> bool:
    low, high = interval
    return low - ROUNDING - 1e-9 * abs(low) <= got <= high + ROUNDING + 1e-9 * abs(high)


def span_ms(period: tuple[datetime, datetime], key: Key, series: bool) -> float:
    """The length of a group's time span: the whole period, or the part of the group's hourly bucket (its
    key's last value, epoch seconds) that lies inside the period."""
    start, end = (int(t.timestamp() * 1000) for t in period)
    if not series:
        return float(end - start)
    bucket = int(key[-1]) * 1000
    return float(min(bucket + HOUR_MS, end) - max(bucket, start))


def mismatches(world: World, case: Case, metric: MetricSpec) -> list[str]:
    period = world.period(case)
    got_rows, want_parts = answer(world, case, metric.name), expected(world, case)
    formula = metric.formula_for(case.business)
    found = []
    for key in sorted(set(got_rows) | set(want_parts), key=repr):
        parts = want_parts.get(key) or {name: _empty(name) for name in PART_DEFINITIONS}
        period_ms = span_ms(period, key, case.series)
        if key not in got_rows:
            if not _zero(formula, parts):
                found.append(f"{key}: no row, expected {expected_range(formula, parts, period_ms)}")
            continue
        got, want = got_rows[key][metric.name], expected_range(formula, parts, period_ms)
        if want is None or got is None:
            if want is not got:
                found.append(f"{key}: got {got}, expected {want}")
        elif integral(formula) and want[0] == want[1]:
            if not (isinstance(got, int) and got == want[0]):
                found.append(f"{key}: got {got!r}, expected {want[0]:.0f}")
        elif not _within(got, want):
            found.append(f"{key}: got {got}, expected {_show(want)}")
    return found


def _empty(name: str) -> Any:
    return np.array([], dtype=np.int64) if PART_DEFINITIONS[name].aggregate == "ddsketch" else 0


def _show(interval: tuple[float, float]) -> str:
    low, high = interval
    return f"{low:.6g}" if low == high else f"[{low:.6g}, {high:.6g}]"


# ---------------------------------------------------------------------------------------------------
# The tests.
# ---------------------------------------------------------------------------------------------------


def test_every_part_has_an_independent_definition() -> None:
    assert set(PART_DEFINITIONS) == {p.name for p in PARTS}


@pytest.mark.parametrize("part", PARTS, ids=[p.name for p in PARTS])
def test_the_catalog_attributes_and_aggregates_each_part_as_defined(part: PartSpec) -> None:
    """DESIGN §4: outcomes (attempts, start time, VSF, EBVS, VPF, completion, viewers) count at the view's
    start, time-based quantities in the minute they happen."""
    definition = PART_DEFINITIONS[part.name]
    assert (part.attribution, part.aggregate) == (definition.attribution, definition.aggregate)


def test_the_definitions_agree_with_the_ground_truth(world: World) -> None:
    """The definitions read the events; the simulator's truth (one row per view, from its model) is a
    second source for the totals it holds."""
    parts = expected_parts(world, CASES[0])[()]
    truth = world.truth
    outcome = truth["outcome"].astype(str)
    started = truth[truth["started"] == 1]
    assert len(world.events.groupby("view_key")) == len(truth)
    view_starts = world.events.groupby("view_key")["view_start"].first().sort_values().to_numpy()
    assert (view_starts == np.sort(truth["view_start"].astype("datetime64[ms, UTC]").astype("int64").to_numpy())).all()
    assert parts["attempts"] == len(truth)
    assert parts["plays"] == len(started)
    assert parts["startup_ms_sum"] == int(started["startup_ms"].sum())
    assert parts["vsf_views"] == int((outcome == "vsf").sum())
    assert parts["ebvs_views"] == int((outcome == "ebvs").sum())
    assert parts["vpf_views"] == int((outcome == "vpf").sum())
    assert parts["completed_views"] == int((outcome == "completed").sum())
    assert parts["ended_views"] == int((outcome != "open").sum())  # all but those going on at the end
    assert parts["viewers"] == started["viewerid"].astype(str).nunique()
    for name in ("play_ms", "rebuffer_ms", "rebuffer_count", "bitrate_play", "errors", "fatal_errors"):
        assert parts[name] == int(truth[name].sum()), name
    assert parts["ad_impressions"] == int(truth["ad_impressions"].sum())
    assert parts["ad_errors"] == int(truth["ad_errors"].sum())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_each_case_exercises_its_tables(world: World, case: Case) -> None:
    status, plan = _request(world, case, ["viewercount"], explain=True)
    assert status == 200, plan
    assert tuple(s["table"] for s in plan["segments"]) == case.tables
    # the data of each case is not empty: every dimension and filter value occurs
    assert expected(world, case), case.id


@pytest.mark.parametrize(
    ("case", "metric"),
    [pytest.param(c, m, id=f"{c.id}-{m.name}") for c in CASES for m in c.metrics()],
)
def test_metric_equals_the_independent_computation(world: World, case: Case, metric: MetricSpec) -> None:
    found = mismatches(world, case, metric)
    assert not found, f"{metric.name} ({case.id}): {len(found)} groups differ, e.g. " + "; ".join(found[:5])


UNREAD_PARTS = tuple(
    p for p in PARTS if not any(p.name in parts_of(m.formula_for(b)) for m in METRICS for b in (False, True))
)


@pytest.mark.parametrize("rollup", [r.name for r in ROLLUPS])
@pytest.mark.parametrize("part", [pytest.param(p, id=p.name) for p in UNREAD_PARTS])
def test_parts_no_metric_reads_equal_their_definitions_in_every_rollup(
    world: World, part: PartSpec, rollup: str
) -> None:
    """The API cannot show a part that no metric reads; its stored total is checked directly."""
    merge = "sum" if part.aggregate == "sum" else "uniqMerge"
    sql = f"SELECT {merge}(`{part.name}`) AS value FROM {rollup} WHERE customer_id = {CUSTOMER}"
    got = services(world.client.app).store.query(by_hand(sql)).to_pylist()[0]["value"]
    want = _interval(part.name, None, expected(world, CASES[0])[()][part.name])
    assert want is not None
    assert want[0] <= got <= want[1], f"{part.name} in {rollup}: got {got}, expected {_show(want)}"


def test_explain_names_the_tables_of_each_segment_and_why_others_were_rejected(world: World) -> None:
    case = Case("explain", ("country",), aligned=False)
    status, plan = _request(world, case, ["viewercount", "bufferingratio"], explain=True)
    assert status == 200, plan
    start, end = (int(t.timestamp()) for t in UNALIGNED)
    middle_start, middle_end = (
        int((START + timedelta(hours=6)).timestamp()),
        int((START + timedelta(hours=17)).timestamp()),
    )
    assert plan["granularity"] == "hour"  # auto: the period is longer than 12 hours
    assert plan["period"] == {"start": start, "end": end}
    assert plan["segments"] == [
        {"table": "events", "start": start, "end": middle_start},
        {"table": "rollup_1h_delivery", "start": middle_start, "end": middle_end},
        {"table": "events", "start": middle_end, "end": end},
    ]
    rejected = {r["table"]: r["reason"] for r in plan["rejected"]}
    assert rejected == {
        "rollup_1m": "lacks dimensions country",
        "rollup_1h": "lacks dimensions country",
        "rollup_1h_device": "lacks dimensions country",
        "rollup_1h_content": "lacks dimensions country",
    }
    assert "rollup_1h_delivery" in plan["sql"]
    assert "events" in plan["sql"]
    assert plan["params"]


@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_ordering_by_a_metric_puts_groups_without_a_value_last_and_pages_agree(world: World, direction: str) -> None:
    """Titles that were attempted but never played have no quality score (a ratio over zero plays)."""
    case = Case("order", ("assetid",))
    params = {
        **case.params(world.period(case)),
        "metrics": "qualityofexperience",
        "orderby": "qualityofexperience",
        "order": direction,
    }
    url = f"/mm-apis/metricquery/{CUSTOMER}"
    body = world.client.get(url, params=params, headers=world.headers).json()
    values = [row["qualityofexperience"] for row in body["response"]]
    scored = [v for v in values if v is not None]
    assert 0 < len(scored) < len(values), "the simulated titles include some without a score"
    assert values == scored + [None] * (len(values) - len(scored))
    assert scored == sorted(scored, reverse=direction == "desc")
    page = world.client.get(url, params={**params, "limit": "7", "offset": "5"}, headers=world.headers).json()
    assert [r["assetid"] for r in page["response"]] == [r["assetid"] for r in body["response"][5:12]]
    assert (page["totalrecords"], page["totalcount"], page["pagecount"]) == (len(values), 7, -(-len(values) // 7))
