"""`GET /mm-apis/listsessions/{customerId}` and the session fields of metricquery, against an independent
pandas computation over the simulated events and the simulator's truth: one row per view with its start,
end, status, fatal error code, watch time, dimensions and per-view metrics; filters, qoefilter, ended
views, open views (`allstatus`), order and pages; one view's event timeline, for this customer only; and
metricquery's `aggby=sessionid`, grouped session fields, and SmartSight's example X6.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.api.simulated import CUSTOMER, OTHER, PLAN_LEVEL, START, World, period, simulated_world

DAY = (START, START + timedelta(days=1))
UNALIGNED = (START + timedelta(hours=9, minutes=41), START + timedelta(hours=13, minutes=2))
FIELDS = (
    "sessionid",
    "starttime",
    "endtime",
    "status",
    "errorcode",
    "watchtime",
    "assetname",
    "cdn",
    "latency",
    "bufferingratio",
    "errors",
    "fatalerrors",
    "buffcount",
    "livelatency",
)
OUTCOME_STATUS = {
    "vsf": "startfailed",
    "vpf": "playbackfailed",
    "ebvs": "exitedbeforestart",
    "completed": "completed",
    "exited": "exited",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with simulated_world(tmp_path_factory.mktemp("sessions"), open_views=6) as opened:
        yield opened


def per_view(world: World) -> pd.DataFrame:
    """Every view of CUSTOMER, one row each, with the listed fields (index: the view id); error counts leave
    business exceptions out, as the API does by default. Computed once per world."""
    if "per_view" not in world.cache:
        world.cache["per_view"] = _per_view(world.events[world.events["customer_id"] == CUSTOMER])
    frame: pd.DataFrame = world.cache["per_view"]
    return frame


def _per_view(events: pd.DataFrame) -> pd.DataFrame:
    by_view = events.groupby("view_key")
    play, rebuffer = by_view["play_ms"].sum(), by_view["rebuffer_ms"].sum()
    watched = play + rebuffer
    errors = events[(events["event"] == "error") & (events["business_error"] == 0)].groupby("view_key")
    fatal = events[(events["event"] == "error") & (events["fatal"] == 1)].groupby("view_key").first()
    terminal = events[events["event"].isin(["end", "exit"])].groupby("view_key").first()
    first = events[events["event"] == "first_frame"].groupby("view_key")["startup_ms"].max()
    live = events[(events["live_latency_ms"] > 0) & (events["streamtype"] == "live")].groupby("view_key")
    frame = pd.DataFrame(
        {
            "startms": by_view["view_start"].first(),
            "endms": by_view["ts"].max(),
            "watchtime": watched / 60_000,
            "assetname": by_view["assetname"].first(),
            "cdn": by_view["cdn"].first(),
            "latency": first / 1000,
            "bufferingratio": (100 * rebuffer / watched).where(watched > 0),
            "errors": errors.size(),
            "fatalerrors": errors["fatal"].sum(),
            "buffcount": events[events["event"] == "stall_start"].groupby("view_key").size(),
            "livelatency": live["live_latency_ms"].mean() / 1000,  # samples of live views only
            "errorcode": fatal["error_code"],
            "business": fatal["business_error"] == 1,
        }
    )
    for name in ("errors", "fatalerrors", "buffcount"):
        frame[name] = frame[name].fillna(0).astype(int)
    frame["errorcode"] = frame["errorcode"].fillna("")
    frame["business"] = frame["business"].fillna(False).astype(bool)
    fatal_started = fatal["started"].reindex(frame.index)
    end_event, end_started = terminal["event"].reindex(frame.index), terminal["started"].reindex(frame.index)
    frame["status"] = np.select(
        [
            fatal_started == 0,
            fatal_started == 1,
            end_started == 0,
            (end_event == "end") & (end_started == 1),
            (end_event == "exit") & (end_started == 1),
            frame["latency"].notna(),
        ],
        ["startfailed", "playbackfailed", "exitedbeforestart", "completed", "exited", "playing"],
        "starting",
    )
    frame["starttime"] = frame["startms"] / 1000
    frame["endtime"] = frame["endms"] / 1000
    return frame


def _expected_row(view: str, row: pd.Series) -> dict[str, Any]:
    values: dict[str, Any] = {"sessionid": view}
    for name in FIELDS[1:]:
        value = row[name]
        if isinstance(value, float | np.floating) and np.isnan(value):
            values[name] = None
        elif isinstance(value, np.integer):
            values[name] = int(value)
        elif isinstance(value, np.floating):
            values[name] = float(value)
        else:
            values[name] = value
    return values


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float):
        return isinstance(got, float) and abs(got - want) <= 5e-4  # times have 3 decimals, metrics 4
    return bool(got == want)


def _differences(got: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]]) -> list[str]:
    assert set(got) == set(want), f"{len(set(want) - set(got))} missing, {len(set(got) - set(want))} extra"
    return [
        f"{view} {name}: got {got[view][name]!r}, expected {want[view][name]!r}"
        for view in want
        for name in want[view]
        if not _same(got[view][name], want[view][name])
    ]


def _list(world: World, **params: str) -> dict[str, Any]:
    base = {"metrics": ",".join(FIELDS), "period": period(*DAY), "limit": "10000"}
    body: dict[str, Any] = world.get("/mm-apis/listsessions", {**base, **params})
    return body


def _rows(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert body["totalrecords"] == len(body["response"]), "one page holds every row"
    return {row["sessionid"]: row for row in body["response"]}


def _want(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(view): _expected_row(str(view), row) for view, row in frame.iterrows()}


def _in(frame: pd.DataFrame, window: tuple[Any, Any], column: str = "startms") -> pd.DataFrame:
    start, end = (int(t.timestamp() * 1000) for t in window)
    return frame[(frame[column] >= start) & (frame[column] < end)]


def test_the_independent_values_agree_with_the_simulator_truth(world: World) -> None:
    views = per_view(world)
    truth = world.truth[world.truth["customer_id"] == CUSTOMER].set_index("view_id")
    closed = views[~views.index.isin(world.opened)]
    assert len(world.opened) > 6  # 6 left open, and those going on at the end of the day
    assert set(views.loc[list(world.opened), "status"]) == {"playing", "starting"}
    assert len(closed) == len(truth) - len(world.opened)
    expected_status = truth["outcome"].astype(str).map(OUTCOME_STATUS)
    assert (closed["status"] == expected_status[closed.index]).all()
    assert (closed["endms"] == truth["end_ts"].astype("int64")[closed.index]).all()
    watched = (truth["play_ms"] + truth["rebuffer_ms"]).astype(float) / 60_000
    assert np.allclose(closed["watchtime"], watched[closed.index])
    technical = closed[~closed["business"]]  # the truth counts business exceptions too
    assert (technical["errors"] == truth["errors"].astype(int)[technical.index]).all()
    assert closed["business"].sum() > 0


def test_every_closed_view_is_a_row_with_its_values(world: World) -> None:
    views = _in(per_view(world), DAY)
    want = _want(views[~views.index.isin(world.opened)])
    body = _list(world)
    assert body["totalrecords"] == len(want) > 1000
    wrong = _differences(_rows(body), want)
    assert not wrong, f"{len(wrong)} values differ, e.g. " + "; ".join(wrong[:5])


def test_allstatus_adds_the_open_views(world: World) -> None:
    views = _in(per_view(world), DAY)
    rows = _rows(_list(world, allstatus="1"))
    assert set(rows) == set(views.index)
    assert {rows[v]["status"] for v in world.opened} == {"playing", "starting"}
    assert all(rows[v]["errorcode"] == "" for v in world.opened)


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        (
            {"filter": "[cdn=Akamai][status=startfailed|playbackfailed]"},
            lambda v: (v["cdn"] == "Akamai") & v["status"].isin(["startfailed", "playbackfailed"]),
        ),
        ({"filter": "[errorcode=DRM_LICENSE_FAILED]"}, lambda v: v["errorcode"] == "DRM_LICENSE_FAILED"),
        (
            {"qoefilter": "latency>2 OR buffcount>=2", "filter": "[status!=completed]"},
            lambda v: ((v["latency"] > 2) | (v["buffcount"] >= 2)) & (v["status"] != "completed"),
        ),
        ({"qoefilter": "vsf>0"}, lambda v: (v["status"] == "startfailed") & ~v["business"]),  # as vsf counts
    ],
)
def test_filters_keep_the_views_that_pass(world: World, params: dict[str, str], keep: Any) -> None:
    views = _in(per_view(world), DAY)
    views = views[~views.index.isin(world.opened)]
    want = _want(views[keep(views)])
    assert want
    wrong = _differences(_rows(_list(world, **params)), want)
    assert not wrong, "; ".join(wrong[:5])


def test_a_qoefilter_counts_business_exceptions_as_its_metric_does(world: World) -> None:
    views = _in(per_view(world), DAY)
    failed = views[(views["status"] == "startfailed") & ~views.index.isin(world.opened)]
    assert failed["business"].any()
    assert not failed["business"].all()
    for flag, want in (("false", failed[~failed["business"]]), ("true", failed)):
        got = _rows(_list(world, qoefilter="vsf>0", businesserror=flag))
        assert set(got) == set(map(str, want.index)), flag


def test_ended_views_are_those_that_ended_in_the_period(world: World) -> None:
    views = per_view(world)
    views = views[~views.index.isin(world.opened)]
    want = _want(_in(views, UNALIGNED, "endms"))
    body = _list(world, sessiontype="ended", period=period(*UNALIGNED))
    wrong = _differences(_rows(body), want)
    assert not wrong, "; ".join(wrong[:5])


@pytest.mark.parametrize(("orderby", "order"), [("watchtime", "desc"), ("starttime", "asc"), ("latency", "asc")])
def test_pages_follow_the_order(world: World, orderby: str, order: str) -> None:
    whole = _list(world, orderby=orderby, order=order)["response"]
    values = [r[orderby] for r in whole if r[orderby] is not None]
    assert values == sorted(values, reverse=order == "desc")
    pages = [_list(world, orderby=orderby, order=order, limit="50", offset=str(o)) for o in (0, 50, 100)]
    assert {p["totalrecords"] for p in pages} == {len(whole)}
    assert {r["totalpages"] for p in pages for r in p["response"]} == {-(-len(whole) // 50)}
    assert [r["sessionid"] for p in pages for r in p["response"]] == [r["sessionid"] for r in whole[:150]]


def test_the_lead_metric_orders_by_default(world: World) -> None:
    """SmartSight's SL2 recipe: the metric under investigation leads and orders the list."""
    body = world.get(
        "/mm-apis/listsessions",
        {
            "period": period(*DAY),
            "metrics": "latency,starttime,endtime,assetname,watchtime,sessionid",
            "aggby": "sessionid",
            "limit": "5",
        },
    )
    assert len(body["response"]) == 5
    latencies = [r["latency"] for r in body["response"]]
    assert latencies == sorted(latencies, reverse=True)
    top = per_view(world)
    assert latencies[0] == pytest.approx(_in(top[~top.index.isin(world.opened)], DAY)["latency"].max())


def test_listsessions_by_a_dimension_alone_answers_its_groups_the_most_views_first(world: World) -> None:
    """`aggby=cdn` without `metrics` answered one row per view, without its cdn, as if aggby were not given."""
    body = world.get("/mm-apis/listsessions", {"period": period(*DAY), "aggby": "cdn"})
    views = _in(per_view(world), DAY)
    closed = views[~views.index.isin(world.opened)]
    rows = body["response"]
    assert {row["cdn"] for row in rows} == set(closed["cdn"])
    assert {row["cdn"]: row["attempts"] for row in rows} == closed.groupby("cdn").size().to_dict()
    assert [row["attempts"] for row in rows] == sorted((row["attempts"] for row in rows), reverse=True)
    per_view_rows = world.get(
        "/mm-apis/listsessions", {"period": period(*DAY), "aggby": "cdn", "metrics": "sessionid", "limit": "5"}
    )["response"]
    assert all(closed.loc[row["sessionid"], "cdn"] == row["cdn"] for row in per_view_rows)  # the view's own cdn


# ---------------------------------------------------------------------------------------------------
# One view's timeline.
# ---------------------------------------------------------------------------------------------------

TIMELINE_COLUMNS = {"error_code": "error_code", "fatal": "fatal", "play_ms": "play_ms", "startup_ms": "startup_ms"}


@pytest.mark.parametrize("status", ["startfailed", "playbackfailed", "completed", "exitedbeforestart", "open"])
def test_the_timeline_is_the_views_events_in_order(world: World, status: str) -> None:
    views = per_view(world)
    if status == "open":
        view = sorted(world.opened)[0]
    else:
        view = str(views[(views["status"] == status) & ~views.index.isin(world.opened)].index[0])
    body = world.get("/mm-apis/listsessions", {"sessionid": view})
    events = world.events[world.events["view_key"] == view].sort_values(["seq", "ts"])
    assert body["totalrecords"] == body["totalcount"] == len(events) == len(body["response"])
    assert [e["event"] for e in body["response"]] == events["event"].tolist()
    assert [e["seq"] for e in body["response"]] == events["seq"].tolist()
    assert [e["timestamp"] for e in body["response"]] == (events["ts"] / 1000).round(3).tolist()
    start = events["view_start"].iloc[0] / 1000
    assert [e["offset"] for e in body["response"]] == pytest.approx((events["ts"] / 1000 - start).tolist(), abs=2e-3)
    for event, (_, row) in zip(body["response"], events.iterrows(), strict=True):
        for name in TIMELINE_COLUMNS:
            assert event.get(name, 0 if name != "error_code" else "") == row[name], (name, event)
    session = body["session"]
    assert session["sessionid"] == view
    assert session["status"] == views.loc[view, "status"]
    assert session["starttime"] == pytest.approx(views.loc[view, "starttime"], abs=1e-3)


def test_a_timeline_of_another_customer_or_of_no_view_is_not_found(world: World) -> None:
    others = world.events[world.events["customer_id"] == OTHER]["view_key"]
    no_view = ("018f4596-5922-7579-803e-2ea4101fab01", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")
    beyond = ("03bb2cc3-d800-7000-8000-000000000000", "fd09e493-4c17-759a-8082-74db10accc34")  # 2100, 10786
    for view in (others.iloc[0], *no_view, *beyond):
        response = world.client.get(
            f"/mm-apis/listsessions/{CUSTOMER}", params={"sessionid": view}, headers=world.headers
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"]["parameter"] == "sessionid"


# ---------------------------------------------------------------------------------------------------
# Session fields in metricquery.
# ---------------------------------------------------------------------------------------------------


def test_metricquery_by_sessionid_answers_the_session_rows(world: World) -> None:
    params = {"metrics": ",".join(FIELDS), "period": period(*DAY), "aggby": "sessionid", "limit": "10000"}
    body = world.get("/mm-apis/metricquery", params)
    want = _want(_in(per_view(world), DAY))  # open views too: metricquery counts every view
    wrong = _differences(_rows(body), want)
    assert not wrong, "; ".join(wrong[:5])


def test_grouped_session_fields_agree_with_the_metrics_and_the_views(world: World) -> None:
    metrics = "viewercount,attempts,latency,vsf,videostartfailures,completedplays"
    grouped = world.get(
        "/mm-apis/metricquery",
        {"metrics": f"{metrics},starttime,endtime,watchtime", "period": period(*DAY), "aggby": "cdn"},
    )
    plain = world.get("/mm-apis/metricquery", {"metrics": metrics, "period": period(*DAY), "aggby": "cdn"})
    by_cdn = {r["cdn"]: r for r in plain["response"]}
    views = _in(per_view(world), DAY)
    assert {r["cdn"] for r in grouped["response"]} == set(by_cdn) == set(views["cdn"])
    for row in grouped["response"]:
        for name in metrics.split(","):
            assert _same(row[name], by_cdn[row["cdn"]][name]), (row["cdn"], name, row[name], by_cdn[row["cdn"]][name])
        of_cdn = views[views["cdn"] == row["cdn"]]
        assert row["starttime"] == pytest.approx(of_cdn["starttime"].min(), abs=1e-3)
        assert row["endtime"] == pytest.approx(of_cdn["endtime"].max(), abs=1e-3)
        assert row["watchtime"] == pytest.approx(of_cdn["watchtime"].sum(), abs=1e-3)


def test_smartsight_example_x6_answers_its_fields(world: World) -> None:
    """X6: session-level fields with `dimension=microscope`, grouped by subscriber (period typo fixed)."""
    fields = "playdur,bufferingratio,latency,subscriberid,errors,viewercount,subscribertag,ipaddress,timestamp"
    params = {
        "planlevel": str(PLAN_LEVEL),
        "metrics": f"{fields},starttime,endtime",
        "dimension": "microscope",
        "agg": "1",
        "period": period(*DAY),
        "aggby": "subscriberid",
        "orderby": "viewercount",
        "orderas": "DESC",
        "offset": "1",
        "count": "1",
        "limit": "10",
    }
    body = world.get("/mm-apis/qbrData/vod", params)
    assert body["totalcount"] == 10
    assert body["pagecount"] == -(-body["totalrecords"] // 10)
    for row in body["response"]:
        assert set(row) == {*fields.split(","), "starttime", "endtime", "totalpages"}
    counts = [r["viewercount"] for r in body["response"]]
    assert counts == sorted(counts, reverse=True)
