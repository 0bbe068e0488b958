"""SmartSight's documented example requests (spec/smartsight-reference.md §5) against simulated data:
each answers 200 with the envelope and the fields the example shows. X17 is a list of parameter examples:
as one request its `orderby` names a field not requested (a 400, as GG-B has it); with an `orderby` it
requests, its other parameters answer. X6's period is taken as the day (the document's start is after its
end)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, run_simulation
from tests.handwritten import by_hand

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
        run_simulation(services(app).store, config)
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


X17 = {
    "dimension": "asset",
    "metrics": "viewercount",
    "period": f"start={START_S}, end={END_S}",
    "agg": "1",
    "aggby": "device",
    "count": "0",
    "filter": "city=Bengaluru | San Diego, device= Smartphone",
    "limit": "10",
    "offset": "17",
    "orderas": "ASC",
    "orderby": "country",
}
"""X17, SmartSight's list of parameter examples for qbrData, as one request: its `orderby` names a field the
request does not ask for, which GG-B forbids."""


def test_x17_as_one_request_is_refused_for_its_orderby_alone(client: TestClient) -> None:
    response = client.get("/mm-apis/qbrData/vod/1001", params=X17)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["parameter"] == "orderby"
    assert "device" in error["message"]
    assert "viewercount" in error["message"]


def test_x17_with_an_orderby_it_requests_answers_each_of_its_parameters(client: TestClient) -> None:
    store = services(client.app).store
    city, device = (
        store.query(  # X17's filter syntax over values the simulated day holds
            by_hand(
                "SELECT city, device FROM views WHERE customer_id = 1001 AND city != '' GROUP BY city, device "
                "ORDER BY count() DESC, city, device LIMIT 1"
            )
        )
        .to_pylist()[0]
        .values()
    )
    request = {**X17, "filter": f"city=Bengaluru | {city}, device= {device}", "orderby": "device"}
    everything = client.get("/mm-apis/qbrData/vod/1001", params={**request, "offset": "0"})
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert [row["device"] for row in body["response"]] == [device]
    assert body["response"][0]["viewercount"] > 0
    paged = client.get("/mm-apis/qbrData/vod/1001", params=request)  # offset 17 is past the one row
    assert paged.status_code == 200
    assert (paged.json()["totalrecords"], paged.json()["response"]) == (1, [])
