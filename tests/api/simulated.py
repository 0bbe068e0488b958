"""A simulated day in a real store behind the app, and its raw events as pandas, for the error and session
API tests: the independent side of each comparison reads these events, never the catalog's SQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from sightline.simulate import Incident, SimulationConfig, simulate

CUSTOMER, OTHER = 1001, 1002
PLAN_LEVEL = 6831  # Enterprise: every feature
START = datetime(2024, 5, 4, tzinfo=UTC)
CONFIG = SimulationConfig(
    start=START, end=START + timedelta(days=1), customer_ids=(CUSTOMER, OTHER), views_per_day=6000, seed=21
)
HOUR_MS = 3_600_000
COLUMNS = (
    "customer_id",
    "ts",
    "event",
    "seq",
    "viewerid",
    "subscriberid",
    "assetname",
    "cdn",
    "country",
    "device",
    "player",
    "playerversion",
    "started",
    "startup_ms",
    "play_ms",
    "rebuffer_ms",
    "interval_bitrate_kbps",
    "live_latency_ms",
    "streamtype",
    "fatal",
    "business_error",
    "error_code",
    "error_message",
)


@dataclass
class World:
    client: TestClient
    headers: dict[str, str]
    other_headers: dict[str, str]
    """An API key of OTHER."""
    events: pd.DataFrame
    """Every customer's events as stored: ts in epoch ms, view_key (the view id), view_start in epoch ms."""
    truth: pd.DataFrame
    """The simulator's truth, one row per view (view_id, outcome, totals, dimensions)."""
    incidents: tuple[Incident, ...]
    opened: frozenset[str]
    """Views of CUSTOMER still open: going on at the end of the day, or their closing event left out."""
    cache: dict[str, Any] = field(default_factory=dict)
    """Independent computations, made once per world."""

    def get(self, path: str, params: dict[str, str] | list[tuple[str, str]], customer: int = CUSTOMER) -> Any:
        headers = self.headers if customer == CUSTOMER else self.other_headers
        response: httpx.Response = self.client.get(f"{path}/{customer}", params=params, headers=headers)
        assert response.status_code == 200, f"{response.status_code} {response.text[:500]}"
        return response.json()


def period(start: datetime, end: datetime) -> str:
    return f"start={int(start.timestamp())},end={int(end.timestamp())}"


def events_frame(events: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = events.select(list(COLUMNS)).to_pandas()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype) or frame[name].dtype == object:
            frame[name] = frame[name].astype(str)
        elif frame[name].dtype.kind == "u":
            frame[name] = frame[name].astype("int64")
    frame["ts"] = frame["ts"].astype("int64")
    ids = events.column("view_id").combine_chunks()
    raw = np.frombuffer(ids.buffers()[1], dtype=np.uint8)[ids.offset * 16 : (ids.offset + len(ids)) * 16]
    halves = raw.reshape(-1, 16).view(">u8").astype(np.uint64)
    frame["view_start"] = (halves[:, 0] >> np.uint64(16)).astype(np.int64)
    frame["view_key"] = [str(uuid.UUID(int=(int(h) << 64) | int(lo))) for h, lo in halves]
    return frame


TERMINAL = ("end", "exit")


def without_closing(events: pa.Table, count: int) -> tuple[pa.Table, frozenset[str]]:
    """`events` without the closing event (end, exit or fatal error) of `count` views of CUSTOMER, every
    tenth that closes, half of them started and half not."""
    frame = events_frame(events)
    closing = (frame["event"].isin(TERMINAL) | ((frame["event"] == "error") & (frame["fatal"] == 1))) & (
        frame["customer_id"] == CUSTOMER
    )
    rows = frame.index[closing.to_numpy()]
    started = frame.loc[rows, "started"].to_numpy() == 1
    chosen = [*rows[started][::10][: count - count // 2], *rows[~started][::10][: count // 2]]
    keep = np.ones(len(frame), dtype=bool)
    keep[chosen] = False
    return events.filter(pa.array(keep)), frozenset(frame.loc[chosen, "view_key"])


@contextmanager
def simulated_world(data_dir: Path, open_views: int = 0) -> Iterator[World]:
    """The app owning its store (closed on exit: chDB opens one data directory per process), the simulated
    day inserted in shuffled batches (`open_views` views of CUSTOMER without their closing event, besides
    those going on at the end of the day), both customers on the plan that allows everything, and an API key
    of each."""
    chunks = list(simulate(CONFIG))
    events = pa.concat_tables([chunk.events for chunk in chunks])
    truth = pa.concat_tables([chunk.views for chunk in chunks]).to_pandas()
    events, left_open = without_closing(events, open_views)
    going_on = (truth["outcome"].astype(str) == "open") & (truth["customer_id"] == CUSTOMER)
    opened = left_open | frozenset(truth.loc[going_on, "view_id"])
    app = create_app(Settings(data_dir=data_dir, argon2_time_cost=1, argon2_memory_kib=1024))
    auth = app.state.auth
    auth.accounts.add_customer(CUSTOMER, "Errors", PLAN_LEVEL)
    auth.accounts.add_customer(OTHER, "Other", PLAN_LEVEL)
    key = auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]
    other_key = auth.accounts.create_key(KeyKind.API, OTHER)[1]
    with TestClient(app) as client:
        rows = np.random.default_rng(2).permutation(events.num_rows)
        for batch in np.array_split(rows, 3):
            services(app).store.insert_events(events.take(pa.array(batch)))
        yield World(
            client, {"X-API-Key": key}, {"X-API-Key": other_key}, events_frame(events), truth, CONFIG.incidents, opened
        )
