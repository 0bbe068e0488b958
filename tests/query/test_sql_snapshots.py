"""Snapshots of the compiled SQL of a representative set of requests, one file per request under
`tests/query/snapshots/`: a change to a formula, a plan or the printer shows in the diff of these files.

Each request goes through the same parsing and compiling as the API (no store): its statements are printed
and compared with the file. `SIGHTLINE_UPDATE_SNAPSHOTS=1 pytest tests/query/test_sql_snapshots.py` writes the
files anew; review their diff like code.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sightline.api.metrics import compiled
from sightline.query.ast import Select
from sightline.query.error_request import ErrorQueryParams, parse_error_request
from sightline.query.errors import compile_errors
from sightline.query.heatmap import cells_query, columns_query
from sightline.query.pipeline import Compiled, QueryRequest
from sightline.query.printer import print_select
from sightline.query.request import MetricQueryParams
from sightline.query.session_request import SessionParams, parse_session_query
from sightline.query.sessions import compile_sessions
from sightline.query.timeline import compile_timeline, view_start
from sightline.smartquery.catalog import NAMED_QUERIES, compile_named
from sightline.smartquery.request import SmartQueryParams, parse_smart_query

SNAPSHOTS = Path(__file__).parent / "snapshots"
CUSTOMER = 1001
DAY_START = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp())
DAY = f"start={DAY_START},end={DAY_START + 86_400}"
"""A whole day: rollups of an hour answer it."""
RAGGED = f"start={DAY_START + 1_830},end={DAY_START + 3 * 3_600 + 1_220}"
"""00:30:30 to 03:20:20: whole hours in the middle, minutes at the edges."""
TWO_HOURS = f"start={DAY_START},end={DAY_START + 7_200}"
WEEK = f"start={DAY_START - 6 * 86_400},end={DAY_START + 86_400}"
VIEW_ID = uuid.UUID("019a42c1-7e00-7abc-8def-0123456789ab")


def _first(request: QueryRequest, compiled: Compiled) -> Select:
    """The SELECT the runner sends first for `request` (`pipeline.fetch_page`)."""
    if request.limit is None or not compiled.paged_in_engine:
        return compiled.select
    return compiled.page(request.limit, request.offset)


def _metrics(params: MetricQueryParams) -> list[Select]:
    query, compiled_query = compiled(CUSTOMER, params)
    return [_first(query, compiled_query)]


def _errors(params: ErrorQueryParams) -> list[Select]:
    request = parse_error_request(CUSTOMER, params)
    rows = request.query
    if request.heatmap is None:
        return [_first(rows, compile_errors(rows))]
    labels: list[object] = (
        [datetime.fromtimestamp(DAY_START, UTC)] if request.heatmap.column == "timestamp" else ["Akamai", "Fastly"]
    )
    cells = cells_query(rows, request.heatmap, ["HTTP_404", "DRM_LICENSE_FAILED"], labels)
    return [_first(q, compile_errors(q)) for q in (rows, columns_query(rows, request.heatmap), cells)]


def _sessions(params: SessionParams) -> list[Select]:
    query = parse_session_query(CUSTOMER, params)
    return [_first(query, compile_sessions(query))]


def _timeline() -> list[Select]:
    start = view_start(VIEW_ID)
    assert start is not None
    return [compile_timeline(CUSTOMER, VIEW_ID, start, start + timedelta(minutes=5)).page(1000, 0)]


def _smart(name: str, filter_text: str | None = None) -> Callable[[], list[Select]]:
    def build() -> list[Select]:
        params = SmartQueryParams(queryname=name, period=WEEK, filter=filter_text, limit=50)
        query = parse_smart_query(CUSTOMER, params, NAMED_QUERIES)
        spec = NAMED_QUERIES[name]
        selects = [_first(query, compile_named(query))]
        if spec.labels is not None:
            selects.append(spec.labels.build(query, ((11, 12), (13, 14))))
        return selects

    return build


CASES: dict[str, Callable[[], list[Select]]] = {
    "metrics_day_totals": lambda: _metrics(
        MetricQueryParams(metrics="viewercount,attempts,playdur,vsf,ebvs,vpf", period=DAY)
    ),
    "metrics_day_by_cdn_filtered": lambda: _metrics(
        MetricQueryParams(
            metrics="bufferingratio,latency,avgbitrate", period=DAY, aggby="cdn", filter="[country=US|CA][device=tv]"
        )
    ),
    "metrics_ragged_series_hour": lambda: _metrics(
        MetricQueryParams(metrics="concurviewavg,playdur", period=RAGGED, aggby="timestamp", granularity="hour")
    ),
    "metrics_two_hours_series_minute": lambda: _metrics(
        MetricQueryParams(
            metrics="viewercount,bufferingratio", period=TWO_HOURS, aggby="timestamp,cdn", granularity="minute"
        )
    ),
    "metrics_week_series_day": lambda: _metrics(
        MetricQueryParams(metrics="viewercount,latency", period=WEEK, aggby="timestamp", granularity="day")
    ),
    "metrics_ragged_by_country": lambda: _metrics(
        MetricQueryParams(metrics="viewercount,playdur,uniqueviewercount", period=RAGGED, aggby="country")
    ),
    "metrics_percentiles_by_device": lambda: _metrics(
        MetricQueryParams(metrics="median_latency,p95_latency,p99_latency", period=DAY, aggby="device")
    ),
    "metrics_qoefilter": lambda: _metrics(
        MetricQueryParams(
            metrics="viewercount,bufferingratio", period=DAY, aggby="cdn", qoefilter="latency>3 AND bufferingratio>5"
        )
    ),
    "metrics_ended": lambda: _metrics(
        MetricQueryParams(metrics="viewercount,playdur", period=DAY, sessiontype="ended")
    ),
    "metrics_concurrency": lambda: _metrics(
        MetricQueryParams(metrics="viewercount,attempts", period=RAGGED, concurrency=1)
    ),
    "metrics_allstatus_0": lambda: _metrics(
        MetricQueryParams(metrics="attempts,vsf", period=DAY, aggby="cdn", allstatus=0)
    ),
    "metrics_business_errors": lambda: _metrics(
        MetricQueryParams(
            metrics="vsf,vpf,failurerate", period=DAY, aggby="country", businesserror="true", orderby="vpf", order="asc"
        )
    ),
    "metrics_ads": lambda: _metrics(
        MetricQueryParams(metrics="adrequests,adfillrate,aderrors", period=DAY, aggby="timestamp")
    ),
    "metrics_paged_events": lambda: _metrics(
        MetricQueryParams(
            metrics="viewercount", period=RAGGED, aggby="assetname", filter="[isp=Comcast]", limit=20, offset=40
        )
    ),
    "errors_list": lambda: _errors(ErrorQueryParams(metrics="errors,fatalerrors,affectedviews,errorrate", period=DAY)),
    "errors_by_cdn_filtered": lambda: _errors(
        ErrorQueryParams(
            metrics="errors,affectedviewers", period=DAY, aggby="cdn", filter="[errorcode=HTTP_404][country=US]"
        )
    ),
    "errors_series_qoefilter": lambda: _errors(
        ErrorQueryParams(
            metrics="errors", period=DAY, aggby="timestamp", qoefilter="bufferingratio>5", businesserror="true"
        )
    ),
    "errors_ads": lambda: _errors(ErrorQueryParams(metrics="errors,errorrate", period=DAY, dimension="ad")),
    "errors_heatmap_cdn": lambda: _errors(
        ErrorQueryParams(metrics="errors,errorrate", period=DAY, heatmap="cdn", columnlimit=5)
    ),
    "errors_heatmap_time": lambda: _errors(
        ErrorQueryParams(metrics="errors", period=DAY, heatmap="timestamp", granularity="hour")
    ),
    "sessions_list": lambda: _sessions(
        SessionParams(
            metrics="sessionid,starttime,endtime,status,errorcode,assetname,watchtime,latency,bufferingratio",
            period=DAY,
            aggby="sessionid",
            allstatus=0,
        )
    ),
    "sessions_by_cdn_qoefilter": lambda: _sessions(
        SessionParams(
            metrics="bufferingratio,watchtime", period=DAY, aggby="cdn", qoefilter="latency>2", filter="[status=ended]"
        )
    ),
    "sessions_timeline": _timeline,
    **{f"smartquery_{name}": _smart(name) for name in NAMED_QUERIES},
    "smartquery_contentpaths_filtered": _smart("contentpaths", "[country=US][kind=path]"),
}


_CLAUSE = re.compile(r" (FROM|WHERE|GROUP BY|HAVING|ORDER BY|LIMIT|UNION ALL|LEFT OUTER JOIN|FULL OUTER JOIN) ")


def _readable(sql: str) -> str:
    """The printed SQL with a line break before each clause, so that a diff shows where it changed."""
    return _CLAUSE.sub(r"\n\1 ", sql)


def render(selects: list[Select]) -> str:
    blocks = []
    for select in selects:
        sql, params = print_select(select)
        blocks.append(f"{_readable(sql)}\n-- params: {json.dumps(params, sort_keys=True)}\n")
    return "\n".join(blocks)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_compiled_sql_is_as_reviewed(name: str) -> None:
    text = render(CASES[name]())
    path = SNAPSHOTS / f"{name}.sql"
    if os.environ.get("SIGHTLINE_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no snapshot {path.name}: run with SIGHTLINE_UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text(), f"the SQL of {name} changed: review the diff, then update the snapshot"


def test_every_snapshot_has_its_request() -> None:
    """A snapshot whose request was removed is stale."""
    assert {p.stem for p in SNAPSHOTS.glob("*.sql")} == set(CASES)


def test_a_changed_request_changes_its_snapshot() -> None:
    """The snapshots tell requests apart: another page of the same request prints other SQL."""
    params = MetricQueryParams(metrics="viewercount", period=RAGGED, aggby="assetname", qoefilter="latency>3", limit=20)
    query, compiled_query = compiled(CUSTOMER, params)
    assert render([_first(query, compiled_query)]) != render([_first(replace(query, offset=20), compiled_query)])
