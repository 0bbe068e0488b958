"""`allstatus` on metricquery and qbrData, over the simulated day of test_metric_correctness with views
still open (their closing event left out): every metric of the catalog equals the independent computation
of that module — over the closed views only with `allstatus=0` (from `events`, the rollups cannot tell),
over every view by default (`allstatus=1`, from the rollups) — and both answers agree with listsessions'
reading of the same parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sightline.catalog.metrics import MetricSpec
from tests.api.test_metric_correctness import CUSTOMER, Case, World, expected, mismatches, simulated_day

OPEN_VIEWS = 60
UNALIGNED_MINUTES = ("rollup_1m", "rollup_1h", "rollup_1m")
CLOSED_TOTAL = Case("closed_total", closed_only=True, tables=("events",))
ANY_TOTAL = Case("any_total", tables=("rollup_1h",))
CASES: tuple[Case, ...] = (
    CLOSED_TOTAL,
    Case("closed_by_cdn", ("cdn",), closed_only=True, tables=("events",)),
    Case("closed_hourly_unaligned", series=True, aligned=False, closed_only=True, tables=("events",)),
    Case(
        "closed_filter_qoe",
        filter="[device!=mobile]",
        conditions=(("device", True, ("mobile",)),),
        qoefilter="latency>1.5 OR buffcount>=1",
        passes=lambda v: (v["latency"] > 1.5) | (v["buffcount"] >= 1),
        closed_only=True,
        tables=("events",),
    ),
    Case("closed_concurrency_by_cdn", ("cdn",), concurrency=True, closed_only=True, tables=("events",)),
    Case("closed_ended", ended=True, closed_only=True, tables=("events",)),
    ANY_TOTAL,
    Case("any_hourly_unaligned", series=True, aligned=False, tables=UNALIGNED_MINUTES),
    Case("any_ended_by_cdn", ("cdn",), aligned=False, ended=True, tables=("events",)),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with simulated_day(Path(tmp_path_factory.mktemp("allstatus")), open_views=OPEN_VIEWS) as day:
        yield day


def _period(world: World) -> str:
    return ANY_TOTAL.params(world.whole)["period"]


def _get(world: World, path: str, params: dict[str, str]) -> Any:
    response = world.client.get(f"{path}/{CUSTOMER}", params=params, headers=world.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _open_views(world: World) -> pd.Series:
    """Whether each view (by key) is open: no end, exit or fatal error among its events."""
    events = world.events
    closing = events["event"].isin(["end", "exit"]) | ((events["event"] == "error") & (events["fatal"] == 1))
    return ~closing.groupby(events["view_key"]).any()


def test_the_open_views_change_what_counts(world: World) -> None:
    """The cases can fail: with views left open, the closed views' parts differ from every view's."""
    closed, every = expected(world, CLOSED_TOTAL)[()], expected(world, ANY_TOTAL)[()]
    going_on = world.truth[world.truth["outcome"].astype(str) == "open"]  # at the end of the day
    assert OPEN_VIEWS // 2 < int(_open_views(world).sum()) - len(going_on) <= OPEN_VIEWS
    assert every["attempts"] - closed["attempts"] == int(_open_views(world).sum())
    assert every["plays"] - closed["plays"] == OPEN_VIEWS // 2 + int(going_on["started"].sum())
    assert every["play_ms"] > closed["play_ms"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_each_case_reads_its_tables(world: World, case: Case) -> None:
    params = {**case.params(world.period(case)), "metrics": "viewercount", "explain": "true"}
    plan = _get(world, "/mm-apis/metricquery", params)
    assert tuple(s["table"] for s in plan["segments"]) == case.tables
    if case.closed_only and not (case.ended or case.concurrency or case.qoefilter):  # no other reason for events
        assert {r["reason"] for r in plan["rejected"]} == {
            "allstatus=0 counts closed views only; rollups count every view as its events arrive"
        }


@pytest.mark.parametrize(
    ("case", "metric"),
    [pytest.param(c, m, id=f"{c.id}-{m.name}") for c in CASES for m in c.metrics()],
)
def test_metric_equals_the_independent_computation(world: World, case: Case, metric: MetricSpec) -> None:
    found = mismatches(world, case, metric)
    assert not found, f"{metric.name} ({case.id}): {len(found)} groups differ, e.g. " + "; ".join(found[:5])


@pytest.mark.parametrize("allstatus", ["0", "1"])
@pytest.mark.parametrize("path", ["/mm-apis/metricquery", "/mm-apis/qbrData/vod"])
def test_allstatus_means_what_it_means_in_listsessions(world: World, allstatus: str, path: str) -> None:
    """Attempts by CDN equal the views listsessions lists with the same `allstatus`; and a metricquery that
    names a session field (answered over `views`) reads it too: no open status with `allstatus=0`."""
    period = {"period": _period(world), "allstatus": allstatus, "limit": "10000"}
    listed = _get(world, "/mm-apis/listsessions", {**period, "aggby": "cdn", "metrics": "cdn,attempts"})
    counted = _get(world, path, {**period, "aggby": "cdn", "metrics": "attempts"})
    assert {r["cdn"]: r["attempts"] for r in counted["response"]} == {
        r["cdn"]: r["attempts"] for r in listed["response"]
    }
    statuses = _get(world, path, {**period, "aggby": "status", "metrics": "attempts"})["response"]
    open_views = sum(r["attempts"] for r in statuses if r["status"] in ("playing", "starting"))
    assert open_views == (int(_open_views(world).sum()) if allstatus == "1" else 0)
    assert sum(r["attempts"] for r in statuses) == sum(r["attempts"] for r in counted["response"])


@pytest.mark.parametrize("value", ["2", "-1", "yes"])
def test_allstatus_is_0_or_1(world: World, value: str) -> None:
    response = world.client.get(
        f"/mm-apis/metricquery/{CUSTOMER}",
        params={"period": _period(world), "metrics": "attempts", "allstatus": value},
        headers=world.headers,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["parameter"] == "allstatus"
