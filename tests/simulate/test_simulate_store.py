"""The simulated day in a real chDB store: `views` and every rollup equal the ground truth, although
each view's events arrived in several batches and out of order; incidents show in the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sightline.catalog import DIMENSION_HASHES, PARTS, ROLLUPS
from sightline.catalog.dimensions import DimensionHashSpec
from sightline.catalog.parts import OUTCOMES
from sightline.query.parts import part_state
from sightline.query.printer import print_definition
from sightline.simulate.batch import TRUTH_COUNTS
from sightline.simulate.incidents import to_ms
from sightline.store import EmbeddedStore
from tests.handwritten import by_hand
from tests.simulate.conftest import DAY, SimulatedDay

TRUE_COLUMNS = TRUTH_COUNTS
SUM_PARTS = tuple(p for p in PARTS if p.aggregate == "sum")
UNIQ_PARTS = tuple(p for p in PARTS if p.aggregate == "uniq")


def _views(store: EmbeddedStore) -> pd.DataFrame:
    merged = ", ".join(f"{'max' if c in ('startup_ms',) else 'sum'}({c}) AS {c}" for c in TRUE_COLUMNS)
    flags = ", ".join(f"max({o}) AS {o}" for o in OUTCOMES)
    sql = (
        f"SELECT toString(view_id) AS view_id, toUnixTimestamp64Milli(min(view_start)) AS start_ms, "
        f"max(play_requested) AS play_requested, max(started) AS started, {merged}, {flags} "
        "FROM views GROUP BY view_id"
    )
    views: pd.DataFrame = store.query(by_hand(sql)).to_pandas().set_index("view_id").sort_index()
    return views


def test_views_equal_the_ground_truth(loaded_store: EmbeddedStore, day: SimulatedDay) -> None:
    got = _views(loaded_store)
    truth = day.views.to_pandas().set_index("view_id").sort_index()
    truth["start_ms"] = pd.Series(
        day.views.column("view_start").cast("int64").to_numpy(), index=day.views.column("view_id").to_pylist()
    ).sort_index()
    assert list(got.index) == list(truth.index)
    assert (got["play_requested"] == 1).all()
    assert (got["start_ms"].to_numpy() == truth["start_ms"].to_numpy()).all()
    for column in TRUE_COLUMNS:
        assert (got[column].to_numpy().astype(np.int64) == truth[column].to_numpy().astype(np.int64)).all(), column
    flags = got[list(OUTCOMES)].to_numpy()
    still_open = (truth["outcome"].astype(str) == "open").to_numpy()  # going on at the end of the day
    assert still_open.any()
    assert (flags.sum(axis=1) == np.where(still_open, 0, 1)).all(), "exactly one outcome per closed view"
    outcome = np.where(still_open, "open", np.array(OUTCOMES)[flags.argmax(axis=1)])
    assert (outcome == truth["outcome"].astype(str).to_numpy()).all()
    assert (got["started"].to_numpy() == truth["started"].to_numpy()).all()


@pytest.mark.parametrize("stored", DIMENSION_HASHES, ids=lambda h: h.name)
def test_stored_hashes_are_those_of_the_true_ids(
    loaded_store: EmbeddedStore, day: SimulatedDay, stored: DimensionHashSpec
) -> None:
    """Each view's stored hash is the hash of its true value (0 for none), although its rows were merged from
    several insert blocks."""
    got = loaded_store.query(
        by_hand(
            f"SELECT toString(view_id) AS view_id, `{stored.dimension}` AS value, `{stored.name}` AS stored, "
            "if(empty(value), 0, cityHash64(value)) AS expected FROM views FINAL ORDER BY view_id"
        )
    ).to_pandas()
    truth = day.views.to_pandas().set_index("view_id").sort_index()
    assert list(got["view_id"]) == list(truth.index)
    assert (got["value"].to_numpy() == truth[stored.dimension].astype(str).to_numpy()).all()
    assert (got["stored"].to_numpy() == got["expected"].to_numpy()).all()
    assert (got["stored"] == 0).sum() == (got["value"] == "").sum()


def _rollup_totals(store: EmbeddedStore, table: str) -> dict[str, float]:
    sums = ", ".join(f"sum(`{p.name}`) AS `{p.name}`" for p in SUM_PARTS)
    uniqs = ", ".join(f"uniqMerge(`{p.name}`) AS `{p.name}`" for p in UNIQ_PARTS)
    return dict(store.query(by_hand(f"SELECT {sums}, {uniqs} FROM {table}")).to_pylist()[0])


def _event_totals(store: EmbeddedStore) -> dict[str, float]:
    sums = ", ".join(f"{print_definition(part_state(p))} AS `{p.name}`" for p in SUM_PARTS)
    return dict(
        store.query(by_hand(f"SELECT {sums} FROM events SETTINGS prefer_column_name_to_alias = 1")).to_pylist()[0]
    )


def _truth_totals(day: SimulatedDay) -> dict[str, int]:
    t = day.views.to_pandas()
    outcome = t["outcome"].astype(str)
    started = t[t["started"] == 1]
    return {
        "attempts": len(t),
        "plays": len(started),
        "startup_ms_sum": int(t["startup_ms"].sum()),
        "vsf_views": int((outcome == "vsf").sum()),
        "ebvs_views": int((outcome == "ebvs").sum()),
        "vpf_views": int((outcome == "vpf").sum()),
        "completed_views": int((outcome == "completed").sum()),
        "ended_views": int((outcome != "open").sum()),
        "play_ms": int(t["play_ms"].sum()),
        "rebuffer_ms": int(t["rebuffer_ms"].sum()),
        "rebuffer_count": int(t["rebuffer_count"].sum()),
        "bitrate_play": int(t["bitrate_play"].sum()),
        "errors": int(t["errors"].sum()),
        "fatal_errors": int(t["fatal_errors"].sum()),
        "ad_impressions": int(t["ad_impressions"].sum()),
        "ad_errors": int(t["ad_errors"].sum()),
        "viewers": started["viewerid"].astype(str).nunique(),
        "subscribers": started.loc[started["subscriberid"].astype(str) != "", "subscriberid"].astype(str).nunique(),
        "active_views": int((t["play_ms"] > 0).sum()),
    }


@pytest.mark.parametrize("rollup", [r.name for r in ROLLUPS])
def test_rollup_totals_equal_truth_and_events(loaded_store: EmbeddedStore, day: SimulatedDay, rollup: str) -> None:
    totals = _rollup_totals(loaded_store, rollup)
    from_events = _event_totals(loaded_store)
    for part in SUM_PARTS:
        assert totals[part.name] == from_events[part.name], part.name
    truth = _truth_totals(day)
    for name, expected in truth.items():
        if name in {p.name for p in UNIQ_PARTS}:
            assert abs(totals[name] - expected) <= 0.02 * expected, name
        else:
            assert totals[name] == expected, name


def _ratio_in_and_out(store: EmbeddedStore, sql_value: str, where: str, name: str) -> tuple[float, float]:
    incident = next(i for i in DAY.incidents if i.name == name)
    matches = " AND ".join(f"{k} = '{v}'" for k, v in incident.filters.items()) or "1"
    inside = f"toUnixTimestamp64Milli(view_start) BETWEEN {to_ms(incident.start)} AND {to_ms(incident.end) - 1}"
    row = store.query(
        by_hand(
            f"SELECT {sql_value.format(cond=inside)} AS during, {sql_value.format(cond=f'NOT ({inside})')} AS base "
            f"FROM (SELECT * FROM views FINAL) WHERE {matches} AND {where}"
        )
    ).to_pylist()[0]
    return float(row["during"]), float(row["base"])


@pytest.mark.parametrize(
    ("name", "value", "where", "factor"),
    [
        (
            "cdn_degradation",
            "sumIf(rebuffer_ms, {cond}) / sumIf(play_ms + rebuffer_ms, {cond})",
            "started = 1",
            3,
        ),
        (
            "player_start_failure",
            "countIf(vsf = 1 AND fatal_error_code = 'DRM_LICENSE_FAILED' AND {cond}) / countIf({cond})",
            "1",
            10,
        ),
        ("ebvs_spike", "countIf(ebvs = 1 AND {cond}) / countIf({cond})", "1", 3),
        (
            "ad_server_errors",
            "sumIf(ad_errors, {cond}) / greatest(sumIf(ad_impressions + ad_errors, {cond}), 1)",
            "1",
            3,
        ),
    ],
)
def test_incidents_show_in_the_data(
    loaded_store: EmbeddedStore, name: str, value: str, where: str, factor: float
) -> None:
    during, base = _ratio_in_and_out(loaded_store, value, where, name)
    assert during > 0
    assert during >= factor * base, (during, base)


VIEW_TOTALS = {
    "attempts": "sum(play_requested)",
    "plays": "sum(started)",
    "startup_ms_sum": "sum(startup_ms)",
    "vsf_views": "sum(vsf)",
    "ebvs_views": "sum(ebvs)",
    "vpf_views": "sum(vpf)",
    "completed_views": "sum(completed)",
    "play_ms": "sum(play_ms)",
    "rebuffer_ms": "sum(rebuffer_ms)",
    "rebuffer_count": "sum(rebuffer_count)",
    "bitrate_play": "sum(bitrate_play)",
    "errors": "sum(errors)",
    "fatal_errors": "sum(fatal_errors)",
    "ad_impressions": "sum(ad_impressions)",
    "ad_errors": "sum(ad_errors)",
}


@pytest.mark.parametrize("rollup", [r.name for r in ROLLUPS])
def test_rollup_totals_equal_the_totals_of_views(loaded_store: EmbeddedStore, rollup: str) -> None:
    selects = ", ".join(f"{sql} AS `{name}`" for name, sql in VIEW_TOTALS.items())
    of_views = loaded_store.query(by_hand(f"SELECT {selects} FROM (SELECT * FROM views FINAL)")).to_pylist()[0]
    totals = _rollup_totals(loaded_store, rollup)
    assert {name: totals[name] for name in VIEW_TOTALS} == of_views
    assert of_views["attempts"] > 1000
