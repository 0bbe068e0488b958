"""The simulator's output on its own: determinism, the insert layout and per-view invariants."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sightline.catalog import DIMENSIONS
from sightline.simulate import SimulationConfig, simulate
from sightline.simulate.incidents import to_ms
from sightline.store.layout import EVENT_COLUMN_NAMES, check_batch
from sightline.store.schema import event_columns
from tests.simulate.conftest import DAY, SimulatedDay

SMALL = SimulationConfig(
    start=datetime(2024, 5, 6, 18, tzinfo=UTC),
    end=datetime(2024, 5, 6, 21, tzinfo=UTC),
    customer_ids=(1, 2),
    views_per_day=3000,
    seed=3,
)
TERMINAL = ("end", "exit")
_WIDTHS = {
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt32": pa.uint32(),
    "UInt64": pa.uint64(),
    "Float32": pa.float32(),
}


def _tables(config: SimulationConfig) -> list[tuple[pa.Table, pa.Table]]:
    return [(c.events, c.views) for c in simulate(config)]


def test_same_seed_same_tables_and_another_seed_differs() -> None:
    first, again = _tables(SMALL), _tables(SMALL)
    assert len(first) == len(again) > 0
    for (events, views), (events2, views2) in zip(first, again, strict=True):
        assert events.equals(events2)
        assert views.equals(views2)
    other = _tables(dataclasses.replace(SMALL, seed=4))
    assert not all(a[0].equals(b[0]) for a, b in zip(first, other, strict=False))


def test_events_have_the_insert_layout(day: SimulatedDay) -> None:
    check_batch(day.events)
    assert tuple(day.events.column_names) == EVENT_COLUMN_NAMES
    for column in event_columns():
        if column.clickhouse_type in _WIDTHS:
            assert day.events.schema.field(column.name).type == _WIDTHS[column.clickhouse_type], column.name
    assert len(DIMENSIONS) >= 46


def _frame(day: SimulatedDay) -> pd.DataFrame:
    ids = np.frombuffer(day.events.column("view_id").combine_chunks().buffers()[1], dtype=np.uint8)
    names = [
        "event",
        "seq",
        "ts",
        "started",
        "startup_ms",
        "play_ms",
        "rebuffer_ms",
        "fatal",
        "country",
        "cdn",
    ]
    frame = day.events.select(names).to_pandas()
    frame["event"] = frame["event"].astype(str)
    head = ids.reshape(-1, 16)[:, :8].copy().view(">u8").ravel()
    frame["view"] = head.astype(np.int64)
    frame["uuid_ms"] = (head >> 16).astype(np.int64)
    frame["version"] = (head >> 12) & 0xF
    frame["variant"] = ids.reshape(-1, 16)[:, 8] >> 6
    ordered: pd.DataFrame = frame.sort_values(["view", "seq"], kind="stable").reset_index(drop=True)
    return ordered


def test_every_view_is_well_formed(day: SimulatedDay) -> None:
    _check_well_formed(_frame(day), closed=False)


def _check_well_formed(f: pd.DataFrame, closed: bool) -> None:
    """Each view of `f` is well formed; every view ends with a terminal event if `closed`, else only those
    that have one (the views still open at the end of the period have none)."""
    by_view = f.groupby("view", sort=False)
    assert (f["version"] == 7).all()
    assert (f["variant"] == 2).all()
    assert (f["seq"] == by_view.cumcount()).all(), "seq counts 0..n-1 within each view"
    first = by_view.head(1)
    assert (first["event"] == "play_request").all()
    assert (first["ts"] == first["uuid_ms"]).all(), "play_request at the UUIDv7 ms"
    assert (f["event"] == "play_request").sum() == len(first)
    terminal = f["event"].isin(TERMINAL) | ((f["event"] == "error") & (f["fatal"] == 1))
    last = by_view.tail(1)
    assert terminal.groupby(f["view"]).sum().max() == 1, "at most one terminal event per view"
    assert terminal.sum() == terminal[last.index].sum(), "the terminal event is the last"
    assert terminal[last.index].all() if closed else terminal[last.index].mean() > 0.9
    first_frame = f["event"] == "first_frame"
    assert first_frame.groupby(f["view"]).sum().max() == 1
    assert (f["started"] == first_frame.astype(int).groupby(f["view"]).cumsum()).all()
    assert f.groupby(["view", "country", "cdn"]).ngroups == len(first), "one value per view and dimension"
    gap = by_view["ts"].diff().fillna(0)
    assert gap.min() >= 0, "timestamps follow seq"
    assert gap.max() <= 60_000, "an event at least every 60 s"


def test_only_live_views_report_latency_on_their_heartbeats(day: SimulatedDay) -> None:
    """A VOD view has no live edge: no latency sample (not even 1 ms)."""
    frame = day.events.select(["event", "streamtype", "live_latency_ms"]).to_pandas()
    live = frame["streamtype"].astype(str) == "live"
    heartbeat = frame["event"].astype(str) == "heartbeat"
    sampled = frame["live_latency_ms"] > 0
    assert (sampled == (live & heartbeat)).all()
    assert heartbeat[~live].any(), "VOD views have heartbeats"


def test_startup_excludes_preroll_ads(day: SimulatedDay) -> None:
    f = _frame(day)
    f["gap"] = f.groupby("view")["ts"].diff().fillna(0).astype(np.int64)
    ff_seq = f[f["event"] == "first_frame"].set_index("view")["seq"]
    f = f[f["view"].isin(ff_seq.index)]
    before = f["seq"] <= f["view"].map(ff_seq)
    ads = f[before & f["event"].str.startswith("ad_")].groupby("view")["gap"].sum()
    ff = f[f["event"] == "first_frame"].set_index("view")
    request = f[f["event"] == "play_request"].set_index("view")["ts"]
    expected = ff["ts"] - request - ads.reindex(ff.index, fill_value=0)
    assert (ff["startup_ms"] == expected).all()
    assert (ff["startup_ms"] > 0).all()


def test_truth_sums_equal_event_sums(day: SimulatedDay) -> None:
    f = _frame(day)
    truth = day.views.to_pandas()
    truth["start_ms"] = day.views.column("view_start").cast(pa.int64()).to_numpy()
    sums = f.groupby("view")[["play_ms", "rebuffer_ms"]].sum().sort_index()
    head = pd.Series([int(v.replace("-", "")[:16], 16) for v in truth["view_id"]]).astype(np.uint64)
    truth.index = head.astype(np.int64)
    truth = truth.sort_index()
    assert list(sums.index) == list(truth.index)
    for column in ("play_ms", "rebuffer_ms"):
        assert (sums[column].to_numpy() == truth[column].to_numpy().astype(np.int64)).all(), column
    assert (f.groupby("view").size().to_numpy() == truth["event_count"].to_numpy()).all()
    assert (truth["start_ms"].to_numpy() == truth.index.to_numpy() >> 16).all()
    assert set(truth["outcome"].astype(str)) == {"vsf", "ebvs", "vpf", "completed", "exited", "open"}


def test_every_event_falls_in_the_period(day: SimulatedDay) -> None:
    ts = day.events.column("ts").to_numpy()
    assert ts.min() >= to_ms(DAY.start)
    assert ts.max() < to_ms(DAY.end)


def test_views_in_progress_at_the_end_are_open_and_go_on_later() -> None:
    """What views do after the end is held apart (`later`, for live traffic to release when its time comes):
    in the period they are open, with true values as of the end; with their later events they are whole."""
    end = to_ms(SMALL.end)
    chunks = list(simulate(SMALL))
    events = pa.concat_tables([c.events for c in chunks])
    later = pa.concat_tables([c.later for c in chunks])
    truth = pa.concat_tables([c.views for c in chunks]).to_pandas()
    assert events.column("ts").to_numpy().max() < end <= later.column("ts").to_numpy().min()
    cut = set(later.column("view_id").to_pylist())
    ids = [bytes.fromhex(v.replace("-", "")) for v in truth["view_id"]]
    open_views = {i for i, outcome in zip(ids, truth["outcome"].astype(str), strict=True) if outcome == "open"}
    assert open_views == cut
    assert len(cut) > 10
    inside = events.filter(pa.array([v in cut for v in events.column("view_id").to_pylist()]))
    names = set(inside.column("event").cast(pa.string()).to_pylist())
    assert not names & {"end", "exit"}, "an open view has not ended"
    whole = SimulatedDay(pa.concat_tables([events, later]), pa.table({}))
    _check_well_formed(_frame(whole), closed=True)


def test_views_start_in_the_span_and_show_seasonality(day: SimulatedDay) -> None:
    starts = day.views.column("view_start").cast(pa.int64()).to_numpy()
    assert starts.min() >= to_ms(DAY.start)
    assert starts.max() < to_ms(DAY.end)
    hours = (starts // 3_600_000) % 24
    per_hour = np.bincount(hours, minlength=24)
    assert per_hour.max() > 4 * per_hour.min(), "evening peak and night trough"


@pytest.mark.parametrize("bad", [{"scale": 0.0}, {"customer_ids": ()}, {"end": DAY.start}])
def test_config_rejects_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        dataclasses.replace(DAY, **bad)  # type: ignore[arg-type]


def test_viewers_have_a_network_address_per_household_and_isp(day: SimulatedDay) -> None:
    columns = day.events.select(["ipaddress", "isp", "viewerid"]).to_pandas()
    networks = columns["ipaddress"]
    assert networks.str.fullmatch(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.0").all(), "a /24 network, as stored by default"
    assert columns.groupby("viewerid")["ipaddress"].nunique().max() == 1, "one network per viewer"
    assert columns.groupby("ipaddress")["isp"].nunique().max() == 1, "a network belongs to one ISP"
    assert 1 < networks.nunique() <= columns["viewerid"].nunique()
