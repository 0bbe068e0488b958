"""SmartSight's documented example requests (spec/smartsight-reference.md §5) against simulated data:
each answers 200 with the envelope and the fields the example shows. X17 (a list of parameter examples,
with `orderby` on a field not requested) is not here: see the issue notes. X6's period is taken as the
day (the document's start is after its end)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, run_simulation

END = datetime(2026, 10, 1, tzinfo=UTC)
START_S, END_S = int((END - timedelta(days=1)).timestamp()), int(END.timestamp())
PERIOD = f"start={START_S},end={END_S}"
PLAN = 6831


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("examples"), argon2_time_cost=1, argon2_memory_kib=1024)
    with TestClient(create_app(settings)) as test_client:
        app = test_client.app
        config = SimulationConfig(
            start=END - timedelta(days=1), end=END, customer_ids=(1001,), views_per_day=2000, seed=3
        )
        run_simulation(app.state.store, config)  # type: ignore[attr-defined]
        auth = app.state.auth  # type: ignore[attr-defined]
        auth.accounts.add_customer(1001, "Alpha", PLAN)
        test_client.headers["X-API-Key"] = auth.accounts.create_key(KeyKind.API, 1001)[1]
        yield test_client


EXAMPLES: dict[str, tuple[str, dict[str, str], set[str], int | None]] = {
    "X5": ("qbrData/vod", {"planlevel": str(PLAN), "metrics": "viewercount"}, {"viewercount"}, 1),
    "X7": ("qbrData/vod", {"planlevel": str(PLAN), "metrics": "viewercount"}, {"viewercount"}, 1),
    "X9": ("qbrData/vod", {"planlevel": str(PLAN), "metrics": "attempts"}, {"attempts"}, 1),
    "X10-qbrData": (
        "qbrData/vod",
        {"planlevel": str(PLAN), "metrics": "adfillrate,player", "agg": "1", "aggby": "player"},
        {"adfillrate", "player"},
        None,
    ),
    "X10-metricquery": (
        "metricquery",
        {"planlevel": str(PLAN), "metrics": "adfillrate,player", "agg": "1", "aggby": "player"},
        {"adfillrate", "player"},
        None,
    ),
    "X11": (
        "metricquery",
        {
            "metrics": "latency,viewercount",
            "aggby": "timestamp",
            "granularity": "hour",
            "orderby": "timestamp",
            "order": "asc",
        },
        {"timestamp", "latency", "viewercount"},
        24,
    ),
    "X12": (
        "qbrData/vod",
        {
            "planlevel": str(PLAN),
            "metrics": "assetid",
            "dimension": "asset",
            "count": "1",
            "agg": "1",
            "aggby": "assetid",
        },
        {"assetid", "viewercount"},
        None,
    ),
    "X14": (
        "qbrData/vod",
        {
            "planlevel": str(PLAN),
            "metrics": "assetid,playdur",
            "dimension": "asset",
            "count": "1",
            "agg": "1",
            "filter": "assetid=GameOfThrones",
        },
        {"assetid", "playdur"},
        0,
    ),
    "X15": (
        "qbrData/vod",
        {
            "planlevel": str(PLAN),
            "metrics": "viewercount",
            "dimension": "all",
            "count": "1",
            "agg": "1",
            "aggby": "assetid",
        },
        {"assetid", "viewercount"},
        None,
    ),
    "X16": (
        "qbrData/vod",
        {"planlevel": str(PLAN), "metrics": "timestamp,viewercount,bufferingratio", "agg": "1", "orderby": "timestamp"},
        {"timestamp", "viewercount", "bufferingratio"},
        24,
    ),
    "X6": (
        "qbrData/vod",
        {
            "planlevel": str(PLAN),
            "metrics": "playdur,bufferingratio,latency,subscriberid,errors,viewercount,subscribertag,ipaddress,"
            "timestamp,starttime,endtime",
            "dimension": "microscope",
            "agg": "1",
            "aggby": "subscriberid",
            "orderby": "viewercount",
            "orderas": "DESC",
            "offset": "1",
            "count": "1",
            "limit": "10",
        },
        {
            "playdur",
            "bufferingratio",
            "latency",
            "subscriberid",
            "errors",
            "viewercount",
            "subscribertag",
            "ipaddress",
            "timestamp",
            "starttime",
            "endtime",
        },
        10,
    ),
    "X19": (
        "listsessions",
        {"metrics": "latency,starttime,endtime,assetname,watchtime,sessionid", "aggby": "sessionid"},
        {"latency", "starttime", "endtime", "assetname", "watchtime", "sessionid"},
        None,
    ),
    "X20-error": (
        "error",
        {"planlevel": str(PLAN), "metrics": "errors,fatalerrors"},
        {"errorcode", "errormessage", "errors", "fatalerrors"},
        None,
    ),
    "X18": (
        "metricquery",
        {
            "metrics": "viewercount",
            "filter": "[country=US|Canada][platform=Android]",
            "qoefilter": "latency>3 AND bufferingratio>5",
        },
        {"viewercount"},
        1,
    ),
}


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_documented_example_answers_with_its_fields(client: TestClient, example: str) -> None:
    path, params, fields, rows = EXAMPLES[example]
    response = client.get(f"/mm-apis/{path}/1001", params={"period": PERIOD, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert {"totalcount", "pagecount", "totalrecords", "response"} <= body.keys()
    assert body["totalcount"] == len(body["response"])
    if rows is not None:
        assert len(body["response"]) == rows
    else:
        assert len(body["response"]) > 1
    for row in body["response"]:
        assert fields | {"totalpages"} == row.keys()
