"""`GET /mm-apis/error/{customerId}` against an independent pandas computation over the simulated events:
errors by code and message, by dimensions and time, under filters on dimensions and error fields, with
business exceptions, a qoefilter and an unaligned period; ordering and pages; the heatmap's cells, axes
and column totals; and the injected incident (a player version that fails to start with
DRM_LICENSE_FAILED) as the hottest cells over its time and its dimension.

The independent side counts error events in the period (`event == "error"`, business exceptions left out
unless asked), and attempts as the play requests of the views that started in the period, grouped by the
dimensions and the bucket of the view's start; rates are 100 × affected views (or fatal errors) ÷ attempts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from sightline.simulate.incidents import PLAYER_FAILURE_CODE
from tests.api.simulated import CUSTOMER, HOUR_MS, OTHER, START, World, period, simulated_world

METRICS = ("errors", "fatalerrors", "affectedviews", "affectedviewers", "attempts", "errorrate", "fatalerrorrate")
ERROR_COLUMNS = {"errorcode": "error_code", "errormessage": "error_message"}
DAY = (START, START + timedelta(days=1))
UNALIGNED = (START + timedelta(hours=5, minutes=17), START + timedelta(hours=17, minutes=43))

Condition = tuple[str, bool, tuple[str, ...]]
"""(field, negated, values): the field is (not) one of the values."""


@dataclass(frozen=True)
class Case:
    id: str
    aggby: tuple[str, ...] = ()
    filter: str | None = None
    conditions: tuple[Condition, ...] = ()
    business: bool = False
    qoefilter: str | None = None
    passes: Callable[[pd.DataFrame], pd.Series] | None = None
    """The qoefilter over each view's events."""
    window: tuple[datetime, datetime] = DAY
    ad: bool = False
    """`dimension=ad`: ad errors, per ad request."""
    customer: int = CUSTOMER

    @property
    def keys(self) -> tuple[str, ...]:
        return self.aggby or ("errorcode", "errormessage")

    def params(self) -> dict[str, str]:
        params = {"metrics": ",".join(METRICS), "period": period(*self.window), "limit": "10000"}
        if self.aggby:
            params["aggby"] = ",".join(self.aggby)
        if "timestamp" in self.aggby:
            params["granularity"] = "hour"
        if self.filter is not None:
            params["filter"] = self.filter
        if self.business:
            params["businesserror"] = "true"
        if self.qoefilter is not None:
            params["qoefilter"] = self.qoefilter
        if self.ad:
            params["dimension"] = "ad"
        return params


def _latency_above(seconds: float) -> Callable[[pd.DataFrame], pd.Series]:
    def passes(events: pd.DataFrame) -> pd.Series:
        first = events[events["event"] == "first_frame"].groupby("view_key")["startup_ms"].max()
        return first[first > seconds * 1000].index.to_series()

    return passes


CASES = (
    Case("by_code_and_message"),
    Case("by_cdn", ("cdn",)),
    Case(
        "by_code_country_hour_not_mobile",
        ("errorcode", "country", "timestamp"),
        "[device!=mobile]",
        (("device", True, ("mobile",)),),
    ),
    Case(
        "two_codes_by_playerversion",
        ("playerversion",),
        f"[errorcode={PLAYER_FAILURE_CODE}|MEDIA_ERR_NETWORK]",
        (("errorcode", False, (PLAYER_FAILURE_CODE, "MEDIA_ERR_NETWORK")),),
    ),
    Case("business", business=True),
    Case("unaligned_by_code_and_cdn", ("errorcode", "cdn"), window=UNALIGNED),
    Case("qoe_by_code", ("errorcode",), qoefilter="latency>2", passes=_latency_above(2)),
    Case("ad_errors_by_code_and_hour", ("errorcode", "timestamp"), ad=True, customer=OTHER),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with simulated_world(tmp_path_factory.mktemp("errors")) as opened:
        yield opened


def _mask(events: pd.DataFrame, conditions: tuple[Condition, ...], errors: bool) -> pd.Series:
    mask = pd.Series(True, index=events.index)
    for field, negated, values in conditions:
        if (field in ERROR_COLUMNS) != errors:
            continue
        inside = events[ERROR_COLUMNS.get(field, field)].isin(values)
        mask &= ~inside if negated else inside
    return mask


def _key(frame: pd.DataFrame, fields: tuple[str, ...], time: str) -> pd.Series:
    columns = [
        (frame[time] // HOUR_MS * 3600).tolist() if f == "timestamp" else frame[ERROR_COLUMNS.get(f, f)].tolist()
        for f in fields
    ]
    return pd.Series(list(zip(*columns, strict=True)) if columns else [()] * len(frame), index=frame.index)


def _rate(count: int, attempts: int) -> float | None:
    return 100.0 * count / attempts if attempts else None


def expected(world: World, case: Case) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every row of `case`, keyed by its fields' values."""
    start, end = (int(t.timestamp() * 1000) for t in case.window)
    events = world.events[world.events["customer_id"] == case.customer]
    events = events[_mask(events, case.conditions, errors=False)]
    if case.passes is not None:
        events = events[events["view_key"].isin(case.passes(events))]
    event = "ad_error" if case.ad else "error"
    errors = events[(events["event"] == event) & (events["ts"] >= start) & (events["ts"] < end)]
    errors = errors[_mask(errors, case.conditions, errors=True)]
    if not case.business and not case.ad:
        errors = errors[errors["business_error"] == 0]
    # attempts count at the view's start; ad requests (the catalog's `adrequests`) when they happen
    time = "ts" if case.ad else "view_start"
    attempts = events[
        (events["event"] == ("ad_request" if case.ad else "play_request"))
        & (events[time] >= start)
        & (events[time] < end)
    ]
    join = tuple(f for f in case.keys if f not in ERROR_COLUMNS)
    attempts_by: dict[tuple[Any, ...], int] = {
        tuple(key): int(count)  # type: ignore[arg-type]
        for key, count in attempts.groupby(_key(attempts, join, time)).size().items()
    }
    grouped = errors.groupby(_key(errors, case.keys, "ts"))
    counts = pd.DataFrame(
        {
            "errors": grouped.size(),
            "fatalerrors": grouped["fatal"].sum(),
            "affectedviews": grouped["view_key"].nunique(),
            "affectedviewers": grouped["viewerid"].nunique(),
        }
    )
    rows: dict[tuple[Any, ...], dict[str, Any]] = {
        tuple(key): {str(name): int(value) for name, value in row.items()}  # type: ignore[arg-type]
        for key, row in counts.iterrows()
    }
    if join == case.keys:  # no error field: every group with attempts too
        for key in attempts_by:
            rows.setdefault(key, dict.fromkeys(("errors", "fatalerrors", "affectedviews", "affectedviewers"), 0))
    for key, row in rows.items():
        tried = attempts_by.get(tuple(v for f, v in zip(case.keys, key, strict=True) if f in join), 0)
        row["attempts"] = tried
        row["errorrate"] = _rate(row["errors" if case.ad else "affectedviews"], tried)
        row["fatalerrorrate"] = _rate(row["fatalerrors"], tried)
    return rows


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float):
        return isinstance(got, float) and abs(got - want) <= 5e-5 + 1e-9 * abs(want)
    return bool(got == want) and type(got) is type(want)


def _answered(body: dict[str, Any], keys: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Any]]:
    assert body["totalcount"] == len(body["response"]) == body["totalrecords"], "one page holds every row"
    rows = {}
    for row in body["response"]:
        key = tuple(row[k] for k in keys)
        assert key not in rows, f"{key} answered twice"
        rows[key] = row
    return rows


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rows_equal_the_independent_computation(world: World, case: Case) -> None:
    want = expected(world, case)
    assert want, "the case has data"
    got = _answered(world.get("/mm-apis/error", case.params(), case.customer), case.keys)
    assert set(got) == set(want), (
        f"missing {sorted(set(want) - set(got))[:5]}, extra {sorted(set(got) - set(want))[:5]}"
    )
    wrong = [
        f"{key} {m}: got {got[key][m]!r}, expected {want[key][m]!r}"
        for key in want
        for m in METRICS
        if not _same(got[key][m], want[key][m])
    ]
    assert not wrong, f"{len(wrong)} values differ, e.g. " + "; ".join(wrong[:5])


def test_the_list_holds_the_incident_code_and_the_catalog_totals(world: World) -> None:
    """The error list's totals equal metricquery's `errors` and `fatalerrors` over the same period."""
    body = world.get("/mm-apis/error", {"metrics": "errors,fatalerrors", "period": period(*DAY)})
    assert PLAYER_FAILURE_CODE in {row["errorcode"] for row in body["response"]}
    totals = world.get("/mm-apis/metricquery", {"metrics": "errors,fatalerrors", "period": period(*DAY)})
    [catalog] = totals["response"]
    assert sum(r["errors"] for r in body["response"]) == catalog["errors"]
    assert sum(r["fatalerrors"] for r in body["response"]) == catalog["fatalerrors"]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_follow_the_order_and_cover_every_row(world: World, order: str) -> None:
    params = {"metrics": "errorrate,errors", "period": period(*DAY), "aggby": "playerversion", "orderby": "errorrate"}
    whole = world.get("/mm-apis/error", {**params, "order": order})["response"]
    rates = [r["errorrate"] for r in whole if r["errorrate"] is not None]
    assert rates == sorted(rates, reverse=order == "desc")
    pages = [world.get("/mm-apis/error", {**params, "order": order, "limit": "4", "offset": str(o)}) for o in (0, 4, 8)]
    assert {p["totalrecords"] for p in pages} == {len(whole)}
    assert {r["totalpages"] for p in pages for r in p["response"]} == {-(-len(whole) // 4)}
    paged = [r["playerversion"] for p in pages for r in p["response"]]
    assert paged == [r["playerversion"] for r in whole][:12]


# ---------------------------------------------------------------------------------------------------
# The heatmap.
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "extra"),
    [("cdn", {}), ("playerversion", {"columnlimit": "5"}), ("timestamp", {"granularity": "hour"})],
)
def test_heatmap_cells_equal_the_independent_computation(world: World, column: str, extra: dict[str, str]) -> None:
    params = {"metrics": ",".join(METRICS), "period": period(*DAY), "heatmap": column, "limit": "6", **extra}
    body = world.get("/mm-apis/error", params)
    heatmap = body["heatmap"]
    cells = expected(world, Case("cells", ("errorcode", column)))
    columns = expected(world, Case("columns", (column,)))
    codes = expected(world, Case("codes", ("errorcode",)))
    by_errors = sorted(codes, key=lambda k: (-codes[k]["errors"], k))
    assert [r["errorcode"] for r in body["response"]] == [k[0] for k in by_errors[:6]]
    assert body["totalrecords"] == len(codes)
    labels = heatmap["columnlabels"]
    if column == "timestamp":
        assert labels == [int(START.timestamp()) + 3600 * h for h in range(24)]
    else:
        ranked = sorted(columns, key=lambda k: (-columns[k]["errors"], k))
        assert labels == [k[0] for k in ranked[: int(extra.get("columnlimit", "50"))]]
    for m in METRICS:
        want_totals = [columns.get((label,), {}).get(m, 0 if "rate" not in m else None) for label in labels]
        assert all(_same(g, w) for g, w in zip(heatmap["columntotals"][m], want_totals, strict=True)), m
    for row in body["response"]:
        assert all(_same(row[m], codes[(row["errorcode"],)][m]) for m in METRICS), row["errorcode"]
        for m in METRICS:
            attempts = [columns.get((label,), {}).get("attempts", 0) for label in labels]
            want = [
                cells[(row["errorcode"], label)][m]
                if (row["errorcode"], label) in cells
                else (attempts[j] if m == "attempts" else (0.0 if attempts[j] else None) if "rate" in m else 0)
                for j, label in enumerate(labels)
            ]
            got = row["cells"][m]
            assert all(_same(g, w) for g, w in zip(got, want, strict=True)), f"{row['errorcode']} {m}: {got} {want}"
    assert heatmap["max"]["errors"] == max(v for r in body["response"] for v in r["cells"]["errors"])


def _incident(world: World) -> Any:
    return next(i for i in world.incidents if i.name == "player_start_failure" and i.customer_id == CUSTOMER)


def test_the_incident_is_the_hottest_over_time(world: World) -> None:
    incident = _incident(world)
    params = {"metrics": "fatalerrorrate", "period": period(*DAY), "heatmap": "timestamp", "granularity": "hour"}
    heatmap = world.get("/mm-apis/error", params)["heatmap"]
    hottest = heatmap["hottest"]
    assert len(heatmap["columntotals"]["attempts"]) == 24
    start, end = int(incident.start.timestamp()), int(incident.end.timestamp())
    whole_hours = {h for h in range(-(-start // 3600) * 3600, end, 3600) if h + 3600 <= end}
    assert len(whole_hours) == 2
    top = {(h["errorcode"], h["timestamp"]) for h in hottest[: len(whole_hours)]}
    assert top == {(PLAYER_FAILURE_CODE, h) for h in whole_hours}


def test_the_incident_is_the_hottest_over_its_dimension(world: World) -> None:
    incident = _incident(world)
    window = (incident.start, incident.end)
    params = {"metrics": "fatalerrorrate,errorrate", "period": period(*window), "heatmap": "playerversion"}
    body = world.get("/mm-apis/error", params)
    top = body["heatmap"]["hottest"][0]
    assert (top["errorcode"], top["playerversion"]) == (PLAYER_FAILURE_CODE, incident.filters["playerversion"])
    assert top["fatalerrorrate"] > 40  # 60 % of the version's attempts fail (ExoPlayer only has 1.3.1 affected)
    assert body["response"][0]["errorcode"] == PLAYER_FAILURE_CODE


def test_the_ad_server_outage_is_the_hottest_over_time(world: World) -> None:
    """`dimension=ad`: the ad errors of the ad server outage (VAST codes) are the hottest cells, in its hours (the
    hour after a partial last hour is as hot: the mid-rolls of the views that started in the outage fail too)."""
    incident = next(i for i in world.incidents if i.name == "ad_server_errors")
    params = {
        "metrics": "errorrate,errors",
        "period": period(*DAY),
        "heatmap": "timestamp",
        "granularity": "hour",
        "dimension": "ad",
    }
    body = world.get("/mm-apis/error", params, incident.customer_id)
    assert {row["errorcode"] for row in body["response"]} <= {"VAST_301", "VAST_303", "VAST_402", "VAST_900"}
    start, end = int(incident.start.timestamp()), int(incident.end.timestamp())
    hours = set(range(start // 3600 * 3600, end, 3600))
    whole_hours = {h for h in hours if start <= h and h + 3600 <= end}
    assert whole_hours
    top = {h["timestamp"] for h in body["heatmap"]["hottest"][: 2 * len(whole_hours)]}
    assert top <= hours, top
    assert top & whole_hours, top
