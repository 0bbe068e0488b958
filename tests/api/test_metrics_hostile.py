"""Hostile input on `GET /mm-apis/metricquery/{customerId}` and `GET /mm-apis/qbrData/vod/{customerId}`.

Over a real store holding a small simulated day of two customers, with an API key of the first:

- every query parameter and the path's customerId get random and hostile strings (unicode, NUL and
  control characters, 10k-character strings, SQL fragments, placeholder syntax, backslashes, numbers
  at the edges, empty strings, repeated parameters), one at a time over a valid request and several
  at once: the API never answers 5xx, a 4xx is the JSON error envelope and a 400 names the parameter
  at fault, a 200 is the data envelope (or the plan, for `explain`);
- the `explain=true` answer is the pipeline's explanation of the request, whose SQL tests/query/test_request_sql.py
  checks without the app (values are bound parameters, never SQL text; every table read has the tenant guard);
- one case of each kind of refusal answers the expected status and parameter (tests/query/test_request.py
  checks every refusal on the parser); a filter that matches nothing answers 200
  with no rows; a value is matched literally (backslashes, tabs and newlines are characters, not
  escapes); periods at the edges of time, huge offsets and a page past the end answer sensibly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.catalog import DIMENSIONS
from sightline.catalog.metrics import METRICS
from sightline.catalog.perview import PER_VIEW_METRICS
from sightline.query.compile import compile_metrics
from sightline.query.pipeline import explanation
from sightline.query.request import MetricQueryParams, parse_metric_query
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, simulate
from tests.hostile import FRAGMENTS, NUMBER

CUSTOMER = 1001
OTHER_CUSTOMER = 1002  # has data too, but the key is not its
PLAN_LEVEL = 6831  # Enterprise: every feature, so no 403 for minute granularity or ad metrics
START = datetime(2024, 5, 4, tzinfo=UTC)
END = START + timedelta(days=1)
S, E = int(START.timestamp()), int(END.timestamp())
PERIOD = f"start={S},end={E}"
PATHS = ("/mm-apis/metricquery", "/mm-apis/qbrData/vod")
BASE: dict[str, str] = {"metrics": "viewercount", "period": PERIOD}
ENVELOPE = {"totalcount", "pagecount", "totalrecords", "response"}
PLAN_KEYS = {"granularity", "period", "segments", "rejected", "sql", "params"}
QUERY_PARAMETERS = (
    "metrics",
    "period",
    "aggby",
    "granularity",
    "filter",
    "orderby",
    "order",
    "orderas",
    "limit",
    "offset",
    "sessiontype",
    "qoefilter",
    "concurrency",
    "allstatus",
    "explain",
    "dimension",
    "agg",
    "count",
    "planlevel",
)
PARAMETERS = (*QUERY_PARAMETERS, "customerId")
NUMBER_DIMENSIONS = tuple(d.name for d in DIMENSIONS if d.kind == "number")
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x660 + d) for d in range(10)))

HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------------
# The app over a store with a simulated day.
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    client: TestClient
    headers: dict[str, str]

    def get(
        self,
        params: Mapping[str, str] | Sequence[tuple[str, str]],
        customer: str = str(CUSTOMER),
        path: str = PATHS[0],
    ) -> httpx.Response:
        response: httpx.Response = self.client.get(
            f"{path}/{quote(customer, safe='')}", params=params, headers=self.headers
        )
        return response


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The app owning its store (closed at the module's end: chDB opens one data directory per process),
    a day of two customers' views, and an API key of the first customer."""
    config = SimulationConfig(start=START, end=END, customer_ids=(CUSTOMER, OTHER_CUSTOMER), views_per_day=300, seed=5)
    events = pa.concat_tables([chunk.events for chunk in simulate(config)])
    settings_ = Settings(data_dir=Path(tmp_path_factory.mktemp("hostile")), argon2_time_cost=1, argon2_memory_kib=1024)
    app = create_app(settings_)
    auth = app.state.auth
    auth.accounts.add_customer(CUSTOMER, "Hostile", PLAN_LEVEL)
    auth.accounts.add_customer(OTHER_CUSTOMER, "Other", PLAN_LEVEL)
    key = auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]
    with TestClient(app, raise_server_exceptions=False) as client:
        services(app).store.insert_events(events)
        yield Api(client, {"X-API-Key": key})


# ---------------------------------------------------------------------------------------------------
# What every answer must look like.
# ---------------------------------------------------------------------------------------------------


def _show(response: httpx.Response) -> str:
    url = str(response.request.url)
    return f"{response.status_code} for GET {url[:600]}{'…' if len(url) > 600 else ''}: {response.text[:600]}"


def check_answer(response: httpx.Response, at_fault: Collection[str]) -> dict[str, Any]:
    """Never a 5xx; a 4xx is the error envelope and a 400 names one of `at_fault`; a 200 is the data
    envelope, or the plan when `explain` was sent. Returns the body."""
    status = response.status_code
    assert status < 500, _show(response)
    assert response.headers.get("content-type", "").startswith("application/json"), _show(response)
    body = response.json()
    assert isinstance(body, dict), _show(response)
    if status == 200:
        if "sql" in body:
            assert "explain" in response.request.url.params, _show(response)
            assert set(body) == PLAN_KEYS, _show(response)
            assert isinstance(body["sql"], str), _show(response)
            assert isinstance(body["params"], dict), _show(response)
        else:
            check_envelope(body, response)
        return body
    assert status in (400, 403, 404), _show(response)
    assert set(body) == {"error"}, _show(response)
    error = body["error"]
    assert set(error) == {"code", "message", "parameter", "requestid"}, _show(response)
    assert isinstance(error["code"], str), _show(response)
    assert error["code"], _show(response)
    assert isinstance(error["message"], str), _show(response)
    assert error["message"], _show(response)
    if status == 400:
        assert error["code"] == "invalid_parameter", _show(response)
        assert error["parameter"] in at_fault, f"blames {error['parameter']!r}, not one of {sorted(at_fault)}; " + (
            _show(response)
        )
    elif status == 403:
        assert error["code"] in ("customer_forbidden", "plan_level_mismatch"), _show(response)
        if error["code"] == "plan_level_mismatch":
            assert "planlevel" in at_fault, _show(response)
            assert error["parameter"] == "planlevel", _show(response)
        else:
            assert "customerId" in at_fault, _show(response)
    else:  # only a customerId holding "/" or nothing leaves the routes
        assert "customerId" in at_fault, _show(response)
        assert error["code"] == "not_found", _show(response)
    return body


def check_envelope(body: dict[str, Any], response: httpx.Response) -> None:
    assert set(body) == ENVELOPE, _show(response)
    total, count, pages, rows = body["totalrecords"], body["totalcount"], body["pagecount"], body["response"]
    assert all(isinstance(v, int) and v >= 0 for v in (total, count, pages)), _show(response)
    assert isinstance(rows, list), _show(response)
    assert count == len(rows), _show(response)
    assert all(isinstance(row, dict) and row.get("totalpages") == pages for row in rows), _show(response)
    limits = response.request.url.params.get_list("limit")
    text = limits[0].strip() if len(limits) == 1 else ""  # a repeated limit: which one counts is the server's
    if text.isascii() and text.isdigit() and len(text) < 10:
        assert count <= int(text), _show(response)
        if total:
            assert pages == math.ceil(total / int(text)), _show(response)


# ---------------------------------------------------------------------------------------------------
# Hostile values.
# ---------------------------------------------------------------------------------------------------

MAX_QUERY = 60_000
"""httpx refuses a query string longer than 64 KiB: the client's limit, not the API's."""


def _encoded_length(text: str) -> int:
    return len(quote(text, safe=""))


NUMBERS = (
    "0",
    "-0",
    "1",
    "-1",
    "+1",
    " 7 ",
    "1.5",
    "1e3",
    "1e309",
    "-1e309",
    "nan",
    "inf",
    "-inf",
    "0x10",
    "1_000",
    "3".translate(ARABIC_INDIC),
    "\uff11",  # fullwidth 1
    str(2**31),
    str(2**32),
    str(2**63 - 1),
    str(2**63),
    str(2**64),
    str(-(2**63) - 1),
    str(10**30),
    "9" * 400,
    "10000",
    "10001",
)
LONG = st.builds(
    lambda piece, count: piece * count,
    st.sampled_from(["x", "'", "\\", "é", "[", "😀", "\x00", ",", "a|", "9"]),
    st.sampled_from([4097, 10_000]),
).filter(lambda text: _encoded_length(text) <= 40_000)
EDGE_INTEGERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 59, 60, 2**31 - 1, 2**32, 253_402_300_799, 253_402_300_800, 999_999_999_999, 10**12]),
)
RAW: st.SearchStrategy[str] = st.one_of(
    st.text(max_size=30),
    st.sampled_from(FRAGMENTS),
    st.sampled_from(NUMBERS),
    EDGE_INTEGERS.map(str),
    st.floats().map(repr),
    st.lists(st.sampled_from(FRAGMENTS + NUMBERS), min_size=2, max_size=4).map("".join),
    LONG,
)
SOME_DIMENSION = st.sampled_from([d.name for d in DIMENSIONS])
SOME_METRIC = st.sampled_from([m.name for m in METRICS])
QOE_METRIC = st.sampled_from(list(PER_VIEW_METRICS))


def _joined(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map("".join)


HOSTILE: dict[str, st.SearchStrategy[str]] = {
    "metrics": st.one_of(RAW, _joined(st.just("viewercount,"), RAW), _joined(SOME_METRIC, st.just(","), RAW)),
    "period": st.one_of(
        RAW,
        _joined(st.just("start="), RAW, st.just(f",end={E}")),
        _joined(st.just(f"start={S},end="), RAW),
        st.tuples(EDGE_INTEGERS, EDGE_INTEGERS).map(lambda p: f"start={p[0]},end={p[1]}"),
        st.tuples(st.integers(0, 10**12), st.integers(0, 500 * 86_400)).map(
            lambda p: f"start={p[0]},end={p[0] + p[1]}"
        ),
    ),
    "aggby": st.one_of(RAW, _joined(SOME_DIMENSION, st.just(","), RAW), _joined(RAW, st.just(",timestamp"))),
    "granularity": st.one_of(RAW, st.sampled_from(["MINUTE", " hour ", "5minute", "week", "auto", "Day"])),
    "filter": st.one_of(
        RAW,
        _joined(st.just("[country="), RAW, st.just("]")),
        _joined(st.just("["), RAW, st.just("=US]")),
        _joined(st.just("country="), RAW),
        _joined(st.just("[country=US|"), RAW, st.just("][device!="), RAW, st.just("]")),
        _joined(
            st.just("["), st.sampled_from(NUMBER_DIMENSIONS), st.sampled_from(["=", ">", "<=", "!="]), RAW, st.just("]")
        ),
        _joined(st.just("["), SOME_DIMENSION, st.sampled_from(["=", "!=", ">", ">="]), RAW, st.just("]")),
    ),
    "orderby": st.one_of(
        RAW, st.sampled_from(["viewercount", " country ", "timestamp", "bufferingratio", "VIEWERCOUNT"])
    ),
    "order": st.one_of(RAW, st.sampled_from(["asc", "DESC", " desc ", "ascending"])),
    "orderas": st.one_of(RAW, st.sampled_from(["ASC", "desc", "Desc "])),
    "limit": st.one_of(RAW, EDGE_INTEGERS.map(str)),
    "offset": st.one_of(RAW, EDGE_INTEGERS.map(str)),
    "sessiontype": st.one_of(RAW, st.sampled_from(["started", "ended", "STARTED"])),
    "qoefilter": st.one_of(
        RAW,
        st.sampled_from(
            ["latency>3 AND bufferingratio>5", "bufferingratio > 10 , buffcount > 1", "latency>3 or vsf=1"]
        ),
        _joined(QOE_METRIC, st.sampled_from(["=", "!=", ">", ">=", "<", "<="]), RAW),
        _joined(st.just("latency>3 AND "), RAW),
        _joined(RAW, st.just(" OR bufferingratio>5")),
        _joined(QOE_METRIC, st.just(">"), EDGE_INTEGERS.map(str), st.just(" OR "), QOE_METRIC, st.just("<"), NUMBER),
    ),
    "concurrency": st.one_of(RAW, EDGE_INTEGERS.map(str), st.sampled_from(["1", " 1", "01", "0"])),
    "allstatus": st.one_of(RAW, EDGE_INTEGERS.map(str), st.sampled_from(["0", "1", " 0", "00"])),
    "explain": st.one_of(RAW, st.sampled_from(["true", "false", "1", "0", "yes", "off", "TRUE", "t"])),
    "dimension": st.one_of(RAW, st.sampled_from(["microscope", "asset", "all"])),
    "agg": st.one_of(RAW, st.sampled_from(["1", "2", "sum"])),
    "count": st.one_of(RAW, st.sampled_from(["0", "1"])),
    "planlevel": st.one_of(
        RAW, EDGE_INTEGERS.map(str), st.sampled_from([str(PLAN_LEVEL), f" {PLAN_LEVEL} ", "6830", "0"])
    ),
    "customerId": st.one_of(
        RAW,
        EDGE_INTEGERS.map(str),
        st.sampled_from(
            [str(OTHER_CUSTOMER), f"0{CUSTOMER}", f" {CUSTOMER}", f"{CUSTOMER}\x00", "..", ".", "/", "%2F", "1001/x"]
        ),
    ),
}
"""Per parameter: raw hostile strings, and hostile pieces inside otherwise well-formed values."""

EXTRA: dict[str, dict[str, str]] = {
    "granularity": {"aggby": "timestamp"},
    "orderby": {"metrics": "viewercount,bufferingratio", "aggby": "country"},
    "order": {"aggby": "country"},
    "orderas": {"aggby": "country"},
    "offset": {"aggby": "country"},
    "limit": {"aggby": "country"},
}
"""Valid parameters that make the hostile one matter (grouped rows to order and page)."""


def _request(api: Api, hostile: Mapping[str, str], path: str, extra: Mapping[str, str] = {}) -> httpx.Response:
    params = {**BASE, **extra, **hostile}
    customer = params.pop("customerId", str(CUSTOMER))
    return api.get(params, customer, path)


# ---------------------------------------------------------------------------------------------------
# 1. Random and hostile strings in every parameter.
# ---------------------------------------------------------------------------------------------------


def test_the_hostile_strategies_cover_every_parameter() -> None:
    assert set(HOSTILE) == set(PARAMETERS)


@pytest.mark.parametrize("parameter", PARAMETERS)
@HYPOTHESIS
@given(data=st.data(), path=st.sampled_from(PATHS))
def test_one_hostile_parameter_never_breaks_the_api(api: Api, parameter: str, data: st.DataObject, path: str) -> None:
    value = data.draw(HOSTILE[parameter], label=parameter)
    check_answer(_request(api, {parameter: value}, path, EXTRA.get(parameter, {})), {parameter})


@st.composite
def _several(draw: st.DrawFn) -> dict[str, str]:
    names = draw(st.lists(st.sampled_from(PARAMETERS), min_size=2, max_size=7, unique=True))
    hostile = {name: draw(HOSTILE[name], label=name) for name in names}
    assume(sum(_encoded_length(v) for v in hostile.values()) <= MAX_QUERY)
    return hostile


@HYPOTHESIS
@given(hostile=_several(), path=st.sampled_from(PATHS))
def test_several_hostile_parameters_never_break_the_api(api: Api, hostile: dict[str, str], path: str) -> None:
    check_answer(_request(api, hostile, path), set(hostile))


@HYPOTHESIS
@given(
    parameter=st.sampled_from(QUERY_PARAMETERS),
    values=st.lists(RAW, min_size=2, max_size=4),
    path=st.sampled_from(PATHS),
)
def test_repeated_parameters_never_break_the_api(api: Api, parameter: str, values: list[str], path: str) -> None:
    assume(sum(_encoded_length(v) for v in values) <= MAX_QUERY)
    params = [(k, v) for k, v in BASE.items() if k != parameter] + [(parameter, v) for v in values]
    check_answer(api.get(params, path=path), {parameter})


# ---------------------------------------------------------------------------------------------------
# 2. The explain answer is the pipeline's explanation, whose properties tests/query/test_request_sql.py
#    checks without the app: values never reach the SQL text; every table read has the tenant guard.
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS, ids=["metricquery", "qbrData"])
@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"filter": "[country=') OR 1=1 --][device!={p1:UInt32}|\\]", "aggby": "platform"}, id="filter"),
        pytest.param({"filter": "[season>=1e308]", "qoefilter": "latency>3 AND vsf=1 OR bufferingratio<-1e308"},
                     id="qoefilter"),
        pytest.param({"metrics": "viewercount,attempts", "concurrency": "1", "aggby": "timestamp,cdn"},
                     id="concurrency"),
        pytest.param({"allstatus": "0", "aggby": "country", "limit": "5", "offset": "10"}, id="closed-views"),
    ],
)  # fmt: skip
def test_the_explain_answer_is_the_pipelines_explanation(api: Api, params: dict[str, str], path: str) -> None:
    response = api.get({**BASE, **params, "explain": "true"}, path=path)
    assert response.status_code == 200, _show(response)
    numbers = ("concurrency", "allstatus", "limit", "offset")
    typed: dict[str, Any] = {k: int(v) if k in numbers else v for k, v in params.items()}
    query = parse_metric_query(CUSTOMER, MetricQueryParams(**{**BASE, **typed}))
    expected = explanation(query, compile_metrics(query))
    assert check_answer(response, set()) == json.loads(json.dumps(expected))


# ---------------------------------------------------------------------------------------------------
# 3. Specific cases.
# ---------------------------------------------------------------------------------------------------

REFUSED: list[Any] = [
    # One case of each kind of error, to show its 400 over HTTP: the parser's (RequestError: an unknown metric, a
    # period not sent; FilterError: an unknown field), FastAPI's (a required parameter missing, a value its type
    # refuses) and the customer scope's (planlevel). Every other refusal is checked without the app, with the same
    # ids, in tests/query/test_request.py: on the parser (test_a_bad_parameter_is_refused_naming_it) or, for what
    # FastAPI's types refuse, on the routes' declarations (test_what_the_declared_type_refuses_never_reaches_…).
    pytest.param({"metrics": "nosuchmetric"}, "metrics", id="unknown-metric"),
    pytest.param({"metrics": None}, "metrics", id="missing-metrics"),
    pytest.param({"limit": "abc"}, "limit", id="limit-abc"),
    pytest.param({"period": None}, "period", id="period-missing"),
    pytest.param({"filter": "[nosuchfield=1]"}, "filter", id="filter-unknown-field"),
    pytest.param({"planlevel": "abc"}, "planlevel", id="planlevel-abc"),
    pytest.param({"planlevel": "6831' OR 1=1 --"}, "planlevel", id="planlevel-injection"),
    pytest.param({"planlevel": str(2**70)}, "planlevel", id="planlevel-huge"),
]


@pytest.mark.parametrize("path", PATHS, ids=["metricquery", "qbrData"])
@pytest.mark.parametrize(("overrides", "parameter"), REFUSED)
def test_a_bad_parameter_is_a_400_naming_it(
    api: Api, overrides: dict[str, str | None], parameter: str, path: str
) -> None:
    params = {k: v for k, v in {**BASE, **overrides}.items() if v is not None}
    response = api.get(params, path=path)
    assert response.status_code == 400, _show(response)
    body = check_answer(response, {parameter})
    assert body["error"]["parameter"] == parameter, _show(response)


@pytest.mark.parametrize(
    ("customer", "status", "code"),
    [
        pytest.param("abc", 400, "invalid_parameter", id="not-a-number"),
        pytest.param(str(2**70), 400, "invalid_parameter", id="huge"),
        pytest.param("-1", 400, "invalid_parameter", id="negative"),
        pytest.param("1001' OR 1=1 --", 400, "invalid_parameter", id="injection"),
        pytest.param("1e3", 400, "invalid_parameter", id="float"),
        pytest.param(str(CUSTOMER).translate(ARABIC_INDIC), 400, "invalid_parameter", id="arabic-indic-digits"),
        pytest.param(str(OTHER_CUSTOMER), 403, "customer_forbidden", id="another-customer"),
        pytest.param("0", 403, "customer_forbidden", id="zero"),
        pytest.param("9" * 18, 403, "customer_forbidden", id="18-digits"),
    ],
)
def test_a_bad_customer_id_is_refused(api: Api, customer: str, status: int, code: str) -> None:
    response = api.get(BASE, customer)
    assert response.status_code == status, _show(response)
    body = check_answer(response, {"customerId"})
    assert body["error"]["code"] == code
    assert body["error"]["parameter"] == ("customerId" if status == 400 else None)


def test_a_wrong_plan_level_is_a_403_naming_it(api: Api) -> None:
    response = api.get({**BASE, "planlevel": "6830"})
    assert response.status_code == 403, _show(response)
    assert check_answer(response, {"planlevel"})["error"] == {
        "code": "plan_level_mismatch",
        "message": "planlevel does not match the customer's plan level",
        "parameter": "planlevel",
        "requestid": response.headers["x-request-id"],
    }


@pytest.mark.parametrize("path", PATHS, ids=["metricquery", "qbrData"])
@pytest.mark.parametrize(
    ("overrides", "parameter", "names"),
    [
        pytest.param({"metrics": "viewercont"}, "metrics", [m.name for m in METRICS], id="unknown-metric"),
    ],
)
def test_an_unknown_name_is_refused_with_every_allowed_one(
    api: Api, overrides: dict[str, str], parameter: str, names: list[str], path: str
) -> None:
    """The 400 lists what the parameter allows, however many names that is (a typo is fixed from the answer);
    tests/query/test_request.py checks it for every parameter that names things."""
    response = api.get({**BASE, **overrides}, path=path)
    assert response.status_code == 400, _show(response)
    error = check_answer(response, {parameter})["error"]
    assert error["parameter"] == parameter
    assert "did you mean" in error["message"], error["message"]
    listed = set(error["message"].split("allowed: ", 1)[1].split(", "))
    assert set(names) <= listed, f"not listed: {sorted(set(names) - listed)}"


ACCEPTED_FILTER_VALUES = [
    pytest.param("O'Brien", id="single-quote"),
    pytest.param('say "hi"', id="double-quote"),
    pytest.param("a;b", id="semicolon"),
    pytest.param("US --", id="comment"),
    pytest.param("US)", id="parenthesis"),
    pytest.param("') OR 1=1 --", id="injection"),
    pytest.param("); DROP TABLE events; --", id="drop-table"),
    pytest.param("`events`", id="backticks"),
    pytest.param("{p1:UInt32}", id="placeholder"),
    pytest.param("{p0:String}", id="placeholder-p0"),
    pytest.param("%00", id="percent-00"),
    pytest.param("😀 İ ﬃ", id="unicode"),
    pytest.param("a\\", id="trailing-backslash"),
    pytest.param("\\", id="backslash"),
    pytest.param("a\tb", id="tab"),
    pytest.param("a\nb", id="newline"),
    pytest.param("a\\nb", id="backslash-n"),
    pytest.param("\\N", id="backslash-N"),
]


@pytest.mark.parametrize("path", PATHS, ids=["metricquery", "qbrData"])
@pytest.mark.parametrize("value", ACCEPTED_FILTER_VALUES)
def test_a_filter_value_that_matches_nothing_answers_no_rows(api: Api, value: str, path: str) -> None:
    """Quotes, `;`, `--`, `)`, placeholders and backslashes are characters of a value (filters.py):
    no country is called that, so the breakdown has no rows."""
    response = api.get({**BASE, "aggby": "country", "filter": f"[country={value}]"}, path=path)
    assert response.status_code == 200, _show(response)
    body = check_answer(response, {"filter"})
    assert body == {"totalcount": 0, "pagecount": 0, "totalrecords": 0, "response": []}, _show(response)


def test_a_filter_on_a_total_that_matches_nothing_counts_nothing(api: Api) -> None:
    response = api.get({**BASE, "filter": "[country=Atlantis]"})
    body = check_answer(response, {"filter"})
    assert response.status_code == 200, _show(response)
    assert all(row["viewercount"] == 0 for row in body["response"]), _show(response)


@pytest.mark.parametrize(
    "value", [pytest.param("\\x55S", id="hex-escape"), pytest.param("\\U\\S", id="escaped-letters")]
)
def test_a_filter_value_is_matched_literally_never_unescaped(api: Api, value: str) -> None:
    """`\\x55S` is four characters, not `US`: the US viewers must not be counted for it."""
    us = check_answer(api.get({**BASE, "filter": "[country=US]"}), set())
    assert us["response"][0]["viewercount"] > 0, "the simulated day has US views"
    response = api.get({**BASE, "aggby": "country", "filter": f"[country={value}]"})
    assert response.status_code == 200, _show(response)
    assert check_answer(response, {"filter"})["response"] == [], _show(response)


def test_hostile_filter_values_do_not_widen_the_answer(api: Api) -> None:
    """An `OR 1=1` in a value is a value: the answer is the rows of exactly that value, i.e. none."""
    everything = check_answer(api.get({**BASE, "aggby": "country"}), set())
    assert everything["totalrecords"] > 1
    for value in ("US' OR '1'='1", "US') OR (1=1", "US` OR 1=1 --"):
        body = check_answer(api.get({**BASE, "aggby": "country", "filter": f"[country={value}]"}), {"filter"})
        assert body["totalrecords"] == 0, value


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"offset": str(10**30)}, id="offset-beyond-uint64"),
        pytest.param({"offset": str(2**64)}, id="offset-2-64"),
        pytest.param({"offset": str(2**63)}, id="offset-2-63"),
        pytest.param({"period": "start=253402214400,end=253402300740", "aggby": "country"}, id="last-day-of-9999"),
        pytest.param({"period": "start=253402214400,end=253402300740", "aggby": "timestamp"}, id="last-day-series"),
        pytest.param(
            {"period": "start=253402214400,end=253402300740", "qoefilter": "latency>3"}, id="last-day-qoefilter"
        ),
        pytest.param({"period": "start=253402214400,end=253402300740", "concurrency": "1"}, id="last-day-concurrency"),
        pytest.param({"period": "start=4102444800,end=4102531200"}, id="year-2100"),
        pytest.param({"period": "start=0,end=3600", "qoefilter": "latency>3"}, id="epoch-qoefilter"),
        pytest.param({"qoefilter": "latency>1e308 OR bufferingratio<-1e308 , vsf != 0"}, id="qoefilter-edges"),
        pytest.param({"qoefilter": " OR ".join(f"latency>{i}" for i in range(50))}, id="qoefilter-50-conditions"),
        pytest.param({"period": "start=0,end=86400", "aggby": "country"}, id="epoch-start"),
        pytest.param({"period": "start=0,end=600", "aggby": "timestamp", "granularity": "minute"}, id="epoch-minutes"),
        pytest.param(
            {"period": f"start={S - 399 * 86_400},end={E}", "aggby": "timestamp", "granularity": "minute"},
            id="400-days-by-minute",
        ),
        pytest.param({"aggby": ",".join(d.name for d in DIMENSIONS)}, id="every-dimension"),
        pytest.param({"metrics": ",".join(m.name for m in METRICS), "aggby": "timestamp"}, id="every-metric"),
        pytest.param({"filter": "[" + "][".join(f"custom1=v{i}" for i in range(50)) + "]"}, id="50-conditions"),
        pytest.param({"filter": "[country=" + "|".join(f"v{i}" for i in range(200)) + "]"}, id="200-values"),
        pytest.param({"filter": "[season>=1e308][asn<-9223372036854775808]"}, id="number-edges"),
        pytest.param({"metrics": "viewercount," * 2000}, id="repeated-metric"),
        pytest.param({"period": PERIOD.translate(ARABIC_INDIC)}, id="period-arabic-indic-digits"),
    ],
)
def test_edge_requests_never_fail_on_the_server(api: Api, params: dict[str, str]) -> None:
    check_answer(api.get({**BASE, **params}), set(params))


def test_a_page_past_the_end_still_counts_every_record(api: Api) -> None:
    """`totalrecords` is the number of rows in all (README), whichever page is asked for."""
    first = check_answer(api.get({**BASE, "aggby": "country", "limit": "2"}), set())
    assert first["totalrecords"] > 2
    response = api.get({**BASE, "aggby": "country", "limit": "2", "offset": "1000"})
    past = check_answer(response, set())
    assert past["response"] == []
    assert (past["totalrecords"], past["pagecount"]) == (first["totalrecords"], first["pagecount"]), _show(response)
