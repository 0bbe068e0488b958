"""Session queries: which requests are session requests, keys and fields, defaults, and the compiled SQL
(values only as bound parameters, the tenant guard on every read, one row per view or grouped views)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sightline.query.filters import FilterError
from sightline.query.pipeline import RequestError, split_names
from sightline.query.printer import print_select
from sightline.query.request import MetricQueryParams
from sightline.query.session_request import SessionParams, parse_session_query, wants_sessions
from sightline.query.sessions import METRIC_FORMULAS, compile_sessions
from sightline.query.timeline import compile_timeline, view_start
from tests.hostile import FILTER_VALUES, guarded_reads

START = int(datetime(2024, 5, 4, tzinfo=UTC).timestamp())
PERIOD = f"start={START},end={START + 86_400}"


@pytest.mark.parametrize(
    ("metrics", "aggby", "wanted"),
    [
        ("viewercount,starttime", None, True),
        ("viewercount", "sessionid", True),
        ("playdur,subscriberid,ipaddress,endtime", "subscriberid", True),
        ("viewercount,subscriberid", "subscriberid", False),
        ("errors,timestamp", None, False),
    ],
)
def test_session_fields_make_a_session_request(metrics: str, aggby: str | None, wanted: bool) -> None:
    assert wants_sessions(MetricQueryParams(metrics=metrics, period=PERIOD, aggby=aggby)) is wanted


@pytest.mark.parametrize(
    ("metrics", "aggby", "keys", "order"),
    [
        (None, "sessionid", ("sessionid",), ("starttime", "DESC")),
        ("latency,starttime,endtime,assetname,watchtime,sessionid", "sessionid", ("sessionid",), ("latency", "DESC")),
        ("starttime,cdn,sessionid", None, ("sessionid",), ("starttime", "DESC")),
        ("viewercount,starttime,subscriberid,timestamp", "subscriberid", ("subscriberid", "timestamp"), None),
        ("attempts,status", "cdn", ("cdn", "status"), ("attempts", "DESC")),
        (None, "cdn", ("cdn",), ("attempts", "DESC")),  # views grouped: not a view's default fields
        ("sessionid,latency", "cdn", ("sessionid",), ("starttime", "DESC")),
        (None, "sessionid,cdn", ("sessionid",), ("starttime", "DESC")),  # a view's fields, and its cdn
    ],
)
def test_keys_and_default_order(
    metrics: str | None, aggby: str | None, keys: tuple[str, ...], order: tuple[str, str] | None
) -> None:
    query = parse_session_query(7, SessionParams(metrics=metrics, period=PERIOD, aggby=aggby))
    assert query.keys == keys
    assert query.fields[: len(keys)] == keys
    assert query.order_by == (order or ("viewercount", "DESC"))
    assert set(split_names(aggby)) <= set(query.fields)  # no key named is dropped


@settings(max_examples=80, deadline=None)
@given(
    value=FILTER_VALUES,
    field=st.sampled_from(["status", "errorcode", "cdn", "assetname"]),
    aggby=st.sampled_from(["sessionid", "cdn", "status,timestamp"]),
    metrics=st.lists(st.sampled_from(sorted(METRIC_FORMULAS)), min_size=1, max_size=4, unique=True),
    ended=st.booleans(),
)
def test_values_are_parameters_and_every_read_is_guarded(
    value: str, field: str, aggby: str, metrics: list[str], ended: bool
) -> None:
    def compiled(text: str) -> tuple[str, dict[str, object]]:
        params = SessionParams(
            metrics=",".join([*metrics, "starttime"]),
            period=PERIOD,
            aggby=aggby,
            sessiontype="ended" if ended else None,
            filter=f"[{field}={text}]",
            qoefilter="latency>3.5 OR buffcount>=2",
        )
        sql, bound = print_select(compile_sessions(parse_session_query(7, params)).page(1000, 0))
        return sql, dict(bound)

    sql, params = compiled(value)
    assert sql == compiled("reference")[0]
    assert value.strip() in params.values()
    assert guarded_reads(sql, params, 7) == ["views"]


def test_a_timeline_reads_one_view_of_one_customer() -> None:
    view = uuid.UUID("018f4596-5922-7579-803e-2ea4101fab00")
    start = view_start(view)
    assert start == datetime(2024, 5, 4, 21, 50, 32, 226000, tzinfo=UTC)
    sql, params = print_select(compile_timeline(7, view, start, start + timedelta(minutes=5)).page(100, 0))
    assert guarded_reads(sql, dict(params), 7) == ["events"]
    assert str(view) in params.values()
    assert "ORDER BY `seq` ASC" in sql
    assert view_start(uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")) is None  # not a UUIDv7


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"metrics": "uniqueviewercount,sessionid"}, "metrics"),
        ({"metrics": "p95_latency"}, "metrics"),
        ({"aggby": "nosuch"}, "aggby"),
        ({"aggby": "timestamp,cdn", "granularity": "week"}, "granularity"),
        ({"period": ""}, "period"),
        ({"allstatus": 2}, "allstatus"),
        ({"filter": "[status>1]"}, "filter"),
        ({"orderby": "bufferingratio"}, "orderby"),
        ({"sessiontype": "paused"}, "sessiontype"),
        ({"businesserror": "maybe"}, "businesserror"),
    ],
)
def test_refusals_name_their_parameter(params: dict[str, str | int], parameter: str) -> None:
    """The refusals tests/api/test_errors_hostile.py sent to listsessions over HTTP (it keeps one of the parser's,
    and the timeline's sessionid, to show the 400), checked on the parser; aggby defaults as the route's does."""
    sent = {"metrics": "latency,starttime,endtime,assetname,watchtime,sessionid", "period": PERIOD, **params}
    with pytest.raises((RequestError, FilterError)) as raised:
        parse_session_query(1001, SessionParams(**{"aggby": "sessionid", **sent}))  # type: ignore[arg-type]
    assert isinstance(raised.value, RequestError | FilterError)
    assert raised.value.parameter == parameter
