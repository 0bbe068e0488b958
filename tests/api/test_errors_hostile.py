"""Hostile input on `GET /mm-apis/error/{customerId}`, `GET /mm-apis/listsessions/{customerId}` and the
session fields of metricquery: random and hostile strings in every parameter, one at a time over a valid
request (error list and heatmap, session list and timeline) and several at once, never answer 5xx; a 4xx
is the error envelope and a 400 names the parameter at fault; a 200 is the data envelope (with `heatmap`
for a heatmap, `session` for a timeline). Hostile values in the parameters accepted only for compatibility
(`agg`, `count`; `dimension` of listsessions) leave the answer unchanged. One refusal of each kind names its
parameter over HTTP; every refusal is checked on the parsers, and that values never reach the SQL text on the
compiled queries, in tests/query/test_errors_query.py and test_sessions_query.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from hypothesis import assume, given
from hypothesis import strategies as st

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.catalog import DIMENSIONS
from sightline.query.errors import ERROR_METRIC_NAMES
from sightline.query.sessions import METRIC_FORMULAS, SESSION_FIELDS
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, simulate
from tests.api.test_metrics_hostile import (
    EDGE_INTEGERS,
    END,
    HOSTILE,
    HYPOTHESIS,
    MAX_QUERY,
    PLAN_KEYS,
    RAW,
    START,
    E,
    S,
    _encoded_length,
    _joined,
)
from tests.auth.fixtures import api_routes, dependencies

CUSTOMER, OTHER = 1001, 1002
PLAN_LEVEL = 6831
PATH = "/mm-apis/error"
BASE = {"metrics": "errors,errorrate", "period": f"start={S},end={E}"}
ENVELOPE = {"totalcount", "pagecount", "totalrecords", "response"}
FIELDS = st.sampled_from(["errorcode", "errormessage", "timestamp", *(d.name for d in DIMENSIONS)])
ERROR_METRIC = st.sampled_from(sorted(ERROR_METRIC_NAMES))

ERROR_HOSTILE: dict[str, st.SearchStrategy[str]] = {
    **{k: v for k, v in HOSTILE.items() if k not in ("sessiontype", "concurrency", "allstatus", "metrics", "aggby")},
    "metrics": st.one_of(RAW, _joined(ERROR_METRIC, st.just(","), RAW), _joined(st.just("errors,"), FIELDS)),
    "aggby": st.one_of(RAW, _joined(FIELDS, st.just(","), RAW), _joined(FIELDS, st.just(","), FIELDS)),
    "heatmap": st.one_of(RAW, FIELDS),
    "columnlimit": st.one_of(RAW, EDGE_INTEGERS.map(str)),
    "businesserror": st.one_of(RAW, st.sampled_from(["true", "false", "1", "0", "TRUE", "yes"])),
    "queryId": st.one_of(RAW, st.uuids().map(str), st.sampled_from(["{12345678-1234-5678-1234-567812345678}"])),
    "filter": st.one_of(
        HOSTILE["filter"],
        _joined(st.just("[errorcode="), RAW, st.just("]")),
        _joined(st.just("[errormessage!="), RAW, st.just("][cdn=Akamai]")),
    ),
}
PARAMETERS = tuple(ERROR_HOSTILE)
HEATMAP_ROWS = {"heatmap": "cdn", "limit": "3"}
LEGACY = ("agg", "count")
"""Parameters the error API accepts for compatibility and never reads: what a hostile value in them does is
test_a_legacy_parameter_changes_nothing's (they stay in the several-at-once tests)."""
LEGACY_VALUES = ("\x00\x1b[31m\x7f", "x" * 10_000, "'); DROP TABLE events; -- {p0:String} \\N", "😀 İ \u202e ﬃ \ufeff")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    config = SimulationConfig(start=START, end=END, customer_ids=(CUSTOMER, OTHER), views_per_day=300)
    events = pa.concat_tables([chunk.events for chunk in simulate(config)])
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("errors-hostile")), argon2_time_cost=1)
    app = create_app(settings)
    auth = app.state.auth
    auth.accounts.add_customer(CUSTOMER, "Hostile", PLAN_LEVEL)
    auth.accounts.add_customer(OTHER, "Other", PLAN_LEVEL)
    key = auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        services(app).store.insert_events(events)
        test_client.headers["X-API-Key"] = key
        yield test_client


def _get(client: TestClient, params: Mapping[str, str] | list[tuple[str, str]], path: str = PATH) -> httpx.Response:
    items = list(params.items()) if isinstance(params, Mapping) else params
    customer = next((v for k, v in items if k == "customerId"), str(CUSTOMER))
    query = [(k, v) for k, v in items if k != "customerId"]
    response: httpx.Response = client.get(f"{path}/{quote(customer, safe='')}", params=query)
    return response


def _show(response: httpx.Response) -> str:
    return f"{response.status_code} for GET {str(response.request.url)[:500]}: {response.text[:500]}"


def check_answer(response: httpx.Response, at_fault: Collection[str]) -> dict[str, Any]:
    status = response.status_code
    assert status < 500, _show(response)
    body = response.json()
    assert isinstance(body, dict), _show(response)
    if status == 200 and "sql" in body:  # the plan, for `explain`
        assert "explain" in response.request.url.params, _show(response)
        assert set(body) == PLAN_KEYS, _show(response)
        return body
    if status == 200:
        assert ENVELOPE <= set(body) <= {*ENVELOPE, "heatmap", "queryId", "session"}, _show(response)
        assert body["totalcount"] == len(body["response"]), _show(response)
        assert all(row["totalpages"] == body["pagecount"] for row in body["response"]), _show(response)
        if "heatmap" in body:
            width = len(body["heatmap"]["columnlabels"])
            assert all(len(v) == width for row in body["response"] for v in row["cells"].values()), _show(response)
        return body
    assert status in (400, 403, 404), _show(response)
    assert set(body) == {"error"}, _show(response)
    assert set(body["error"]) == {"code", "message", "parameter", "requestid"}, _show(response)
    if status == 400:
        assert body["error"]["code"] == "invalid_parameter", _show(response)
        assert body["error"]["parameter"] in at_fault, _show(response)
    elif status == 404:  # a customerId with "/" leaves the routes; an unknown session is not found
        assert {"customerId", "sessionid"} & set(at_fault), _show(response)
        assert body["error"]["code"] == "not_found", _show(response)
    else:
        assert {"customerId", "planlevel"} & set(at_fault), _show(response)
    return body


def test_the_hostile_strategies_cover_every_parameter(client: TestClient) -> None:
    [route] = [r for r in api_routes(client.app) if r.path == PATH + "/{customerId}"]  # type: ignore[arg-type]
    names = {p.alias for d in dependencies(route.dependant) for p in d.query_params}
    assert set(PARAMETERS) == names | {"customerId"}


@pytest.mark.parametrize("rows", [{}, HEATMAP_ROWS], ids=["list", "heatmap"])
@pytest.mark.parametrize("parameter", [p for p in PARAMETERS if p not in LEGACY])
@HYPOTHESIS
@given(data=st.data())
def test_one_hostile_parameter_never_breaks_the_api(
    client: TestClient, parameter: str, rows: dict[str, str], data: st.DataObject
) -> None:
    value = data.draw(ERROR_HOSTILE[parameter], label=parameter)
    assume(_encoded_length(value) <= MAX_QUERY)  # longer URLs cannot be sent (the client refuses them)
    check_answer(_get(client, {**BASE, **rows, parameter: value}), {parameter})


@HYPOTHESIS
@given(data=st.data())
def test_several_hostile_parameters_never_break_the_api(client: TestClient, data: st.DataObject) -> None:
    names = data.draw(st.lists(st.sampled_from(PARAMETERS), min_size=2, max_size=6, unique=True))
    hostile = {name: data.draw(ERROR_HOSTILE[name], label=name) for name in names}
    assume(sum(_encoded_length(v) for v in hostile.values()) <= MAX_QUERY)
    check_answer(_get(client, {**BASE, **hostile}), set(hostile) | {"aggby", "heatmap", "granularity"})


@pytest.mark.parametrize(
    ("params", "parameter"),
    [  # one of the parser's refusals and one of the filter's: tests/query/test_errors_query.py checks every one
        ({"heatmap": "errorcode"}, "heatmap"),
        ({"filter": "[errorcode>3]"}, "filter"),
    ],
)
def test_refusals_name_their_parameter(client: TestClient, params: dict[str, str], parameter: str) -> None:
    response = _get(client, {**BASE, **params})
    assert response.status_code == 400, _show(response)
    assert response.json()["error"]["parameter"] == parameter, _show(response)


def test_query_id_is_echoed_and_another_customer_is_refused(client: TestClient) -> None:
    query_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    body = check_answer(_get(client, {**BASE, "queryId": query_id.upper()}), ())
    assert body["queryId"] == query_id
    assert _get(client, {**BASE, "customerId": str(OTHER)}).status_code == 403


def test_a_filter_that_matches_nothing_answers_no_rows(client: TestClient) -> None:
    body = check_answer(_get(client, {**BASE, "filter": "[errorcode=') OR 1=1 --]"}), ())
    assert body["response"] == []
    assert body["totalrecords"] == 0
    heatmap = check_answer(_get(client, {**BASE, **HEATMAP_ROWS, "filter": "[errorcode=\\]"}), ())
    assert heatmap["response"] == []
    assert heatmap["heatmap"]["hottest"] == []


# ---------------------------------------------------------------------------------------------------
# Session lists, timelines and the session fields of metricquery.
# ---------------------------------------------------------------------------------------------------

SESSIONS = "/mm-apis/listsessions"
SESSION_BASE = {"metrics": "latency,starttime,endtime,assetname,watchtime,sessionid", "period": BASE["period"]}
SESSION_FIELD = st.sampled_from(
    [*SESSION_FIELDS, *METRIC_FORMULAS, "timestamp", "uniqueviewercount", *(d.name for d in DIMENSIONS[:8])]
)
SESSION_HOSTILE: dict[str, st.SearchStrategy[str]] = {
    **{k: v for k, v in ERROR_HOSTILE.items() if k not in ("heatmap", "columnlimit", "queryId", "metrics", "aggby")},
    "metrics": st.one_of(
        RAW, _joined(SESSION_FIELD, st.just(","), RAW), _joined(SESSION_FIELD, st.just(","), SESSION_FIELD)
    ),
    "aggby": st.one_of(RAW, SESSION_FIELD, _joined(SESSION_FIELD, st.just(","), SESSION_FIELD)),
    "sessionid": st.one_of(RAW, st.uuids().map(str), st.uuids(version=1).map(str)),
    "sessiontype": HOSTILE["sessiontype"],
    "allstatus": st.one_of(RAW, EDGE_INTEGERS.map(str)),
    "filter": st.one_of(
        HOSTILE["filter"],
        _joined(st.just("[status="), RAW, st.just("]")),
        _joined(st.just("[errorcode!="), RAW, st.just("][status=startfailed]")),
    ),
}
SESSION_PARAMETERS = tuple(SESSION_HOSTILE)
SESSION_LEGACY = ("agg", "count", "dimension")
"""Parameters listsessions accepts for compatibility and never reads (as LEGACY for the error API)."""


def test_the_session_strategies_cover_every_parameter(client: TestClient) -> None:
    [route] = [r for r in api_routes(client.app) if r.path == SESSIONS + "/{customerId}"]  # type: ignore[arg-type]
    names = {p.alias for d in dependencies(route.dependant) for p in d.query_params}
    assert set(SESSION_PARAMETERS) == names | {"customerId"}


@pytest.mark.parametrize("parameter", [p for p in SESSION_PARAMETERS if p not in SESSION_LEGACY])
@HYPOTHESIS
@given(data=st.data())
def test_one_hostile_session_parameter_never_breaks_the_api(
    client: TestClient, parameter: str, data: st.DataObject
) -> None:
    value = data.draw(SESSION_HOSTILE[parameter], label=parameter)
    assume(_encoded_length(value) <= MAX_QUERY)  # longer URLs cannot be sent (the client refuses them)
    check_answer(_get(client, {**SESSION_BASE, parameter: value}, SESSIONS), {parameter})


@HYPOTHESIS
@given(data=st.data(), path=st.sampled_from([SESSIONS, "/mm-apis/metricquery"]))
def test_several_hostile_session_parameters_never_break_the_api(
    client: TestClient, data: st.DataObject, path: str
) -> None:
    names = data.draw(st.lists(st.sampled_from(SESSION_PARAMETERS), min_size=2, max_size=6, unique=True))
    if path != SESSIONS:
        names = [n for n in names if n not in ("sessionid", "allstatus")]
    hostile = {name: data.draw(SESSION_HOSTILE[name], label=name) for name in names}
    assume(sum(_encoded_length(v) for v in hostile.values()) <= MAX_QUERY)
    check_answer(_get(client, {**SESSION_BASE, **hostile}, path), set(hostile) | {"aggby", "metrics"})


@pytest.mark.parametrize(
    ("params", "parameter"),
    [  # one of the parser's refusals and the timeline's: tests/query/test_sessions_query.py checks the parser's
        ({"metrics": "uniqueviewercount,sessionid"}, "metrics"),
        ({"sessionid": "not-a-uuid"}, "sessionid"),
    ],
)
def test_session_refusals_name_their_parameter(
    client: TestClient, params: dict[str, str | None], parameter: str
) -> None:
    merged = {k: v for k, v in {**SESSION_BASE, **params}.items() if v is not None}
    response = _get(client, merged, SESSIONS)
    assert response.status_code == 400, _show(response)
    assert response.json()["error"]["parameter"] == parameter, _show(response)


def test_metricquery_session_fields_refuse_concurrency(client: TestClient) -> None:
    response = _get(client, {**SESSION_BASE, "concurrency": "1"}, "/mm-apis/metricquery")
    assert response.status_code == 400, _show(response)
    assert response.json()["error"]["parameter"] == "concurrency"


@pytest.mark.parametrize(
    ("path", "params", "legacy"),
    [
        pytest.param(PATH, BASE, LEGACY, id="error-list"),
        pytest.param(PATH, {**BASE, **HEATMAP_ROWS}, LEGACY, id="error-heatmap"),
        pytest.param(SESSIONS, SESSION_BASE, SESSION_LEGACY, id="listsessions"),
    ],
)
def test_a_legacy_parameter_changes_nothing(
    client: TestClient, path: str, params: dict[str, str], legacy: tuple[str, ...]
) -> None:
    """Hostile values (control characters, 10k characters, SQL and placeholder text, unicode) in every parameter
    accepted only for compatibility leave the answer as it is without them."""
    expected = check_answer(_get(client, params, path), ())
    assert expected["response"], "the simulated day has rows to answer"
    for value in LEGACY_VALUES:
        sent = {**params, **dict.fromkeys(legacy, value)}
        assert check_answer(_get(client, sent, path), legacy) == expected, value
