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
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sightline.api.metrics import compiled
from sightline.query.ast import Select
from sightline.query.compile import compile_query
from sightline.query.error_request import ErrorQueryParams, parse_error_request
from sightline.query.errors import compile_errors
from sightline.query.heatmap import cells_query, columns_query
from sightline.query.printer import print_select
from sightline.query.request import MetricQueryParams
from sightline.query.session_request import SessionParams, parse_session_query
from sightline.query.sessions import compile_sessions
from sightline.query.timeline import compile_timeline, view_start
from sightline.smartquery.catalog import NAMED_QUERIES
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


def _metrics(params: MetricQueryParams) -> list[Select]:
    query, plan, _, _ = compiled(CUSTOMER, params)
    return [compile_query(query, plan, answer=True)]


def _errors(params: ErrorQueryParams) -> list[Select]:
    request = parse_error_request(CUSTOMER, params)
    if request.heatmap is None:
        return [compile_errors(request.query)]
    rows = request.query
    labels: list[object] = (
        [datetime.fromtimestamp(DAY_START, UTC)] if request.heatmap.column == "timestamp" else ["Akamai", "Fastly"]
    )
    cells = cells_query(rows, request.heatmap, ["HTTP_404", "DRM_LICENSE_FAILED"], labels)
    return [compile_errors(q) for q in (rows, columns_query(rows, request.heatmap), cells)]


def _sessions(params: SessionParams) -> list[Select]:
    return [compile_sessions(parse_session_query(CUSTOMER, params))]


def _timeline() -> list[Select]:
    start = view_start(VIEW_ID)
    assert start is not None
    return [compile_timeline(CUSTOMER, VIEW_ID, start, 1000, 0)]


def _smart(name: str, filter_text: str | None = None) -> Callable[[], list[Select]]:
    def build() -> list[Select]:
        query = parse_smart_query(CUSTOMER, SmartQueryParams(name, WEEK, filter_text, limit=50), NAMED_QUERIES)
        spec = NAMED_QUERIES[name]
        selects = [spec.build(query)]
        if spec.labels is not None:
            selects.append(spec.labels.build(query, ((11, 12), (13, 14))))
        return selects

    return build


CASES: dict[str, Callable[[], list[Select]]] = {
    "metrics_day_totals": lambda: _metrics(MetricQueryParams("viewercount,attempts,playdur,vsf,ebvs,vpf", DAY)),
    "metrics_day_by_cdn_filtered": lambda: _metrics(
        MetricQueryParams("bufferingratio,latency,avgbitrate", DAY, aggby="cdn", filter="[country=US|CA][device=tv]")
    ),
    "metrics_ragged_series_hour": lambda: _metrics(
        MetricQueryParams("concurviewavg,playdur", RAGGED, aggby="timestamp", granularity="hour")
    ),
    "metrics_two_hours_series_minute": lambda: _metrics(
        MetricQueryParams("viewercount,bufferingratio", TWO_HOURS, aggby="timestamp,cdn", granularity="minute")
    ),
    "metrics_percentiles_by_device": lambda: _metrics(
        MetricQueryParams("median_latency,p95_latency,p99_latency", DAY, aggby="device")
    ),
    "metrics_qoefilter": lambda: _metrics(
        MetricQueryParams("viewercount,bufferingratio", DAY, aggby="cdn", qoefilter="latency>3 AND bufferingratio>5")
    ),
    "metrics_ended": lambda: _metrics(MetricQueryParams("viewercount,playdur", DAY, sessiontype="ended")),
    "metrics_concurrency": lambda: _metrics(MetricQueryParams("viewercount,attempts", RAGGED, concurrency=1)),
    "metrics_allstatus_0": lambda: _metrics(MetricQueryParams("attempts,vsf", DAY, aggby="cdn", allstatus=0)),
    "metrics_business_errors": lambda: _metrics(
        MetricQueryParams("vsf,vpf,failurerate", DAY, aggby="country", businesserror="true", orderby="vpf", order="asc")
    ),
    "metrics_ads": lambda: _metrics(MetricQueryParams("adrequests,adfillrate,aderrors", DAY, aggby="timestamp")),
    "metrics_paged_events": lambda: _metrics(
        MetricQueryParams("viewercount", RAGGED, aggby="assetname", filter="[isp=Comcast]", limit=20, offset=40)
    ),
    "errors_list": lambda: _errors(ErrorQueryParams("errors,fatalerrors,affectedviews,errorrate", DAY)),
    "errors_by_cdn_filtered": lambda: _errors(
        ErrorQueryParams("errors,affectedviewers", DAY, aggby="cdn", filter="[errorcode=HTTP_404][country=US]")
    ),
    "errors_series_qoefilter": lambda: _errors(
        ErrorQueryParams("errors", DAY, aggby="timestamp", qoefilter="bufferingratio>5", businesserror="true")
    ),
    "errors_ads": lambda: _errors(ErrorQueryParams("errors,errorrate", DAY, dimension="ad")),
    "errors_heatmap_cdn": lambda: _errors(ErrorQueryParams("errors,errorrate", DAY, heatmap="cdn", columnlimit=5)),
    "errors_heatmap_time": lambda: _errors(ErrorQueryParams("errors", DAY, heatmap="timestamp", granularity="hour")),
    "sessions_list": lambda: _sessions(
        SessionParams(
            "sessionid,starttime,endtime,status,errorcode,assetname,watchtime,latency,bufferingratio",
            DAY,
            aggby="sessionid",
            allstatus=0,
        )
    ),
    "sessions_by_cdn_qoefilter": lambda: _sessions(
        SessionParams("bufferingratio,watchtime", DAY, aggby="cdn", qoefilter="latency>2", filter="[status=ended]")
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
    query, plan, _, _ = compiled(CUSTOMER, MetricQueryParams("viewercount", RAGGED, aggby="assetname", limit=20))
    first = render([compile_query(query, plan, answer=True)])
    second = render([compile_query(replace(query, offset=20), plan, answer=True)])
    assert first != second
