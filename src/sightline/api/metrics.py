"""`GET /mm-apis/qbrData/vod/{customerId}` (legacy) and `GET /mm-apis/metricquery/{customerId}` (current).

Both take SmartSight's parameters (docs and `query.request`) and answer the envelope of the query API (README):
`{"totalcount": rows in this page, "pagecount": pages, "totalrecords": rows in all, "response": [...]}`,
each row carrying `totalpages` as SmartSight's examples do. `explain=true` answers the plan instead: the
tables chosen for each stretch of the period, the tables rejected and why, and the SQL with its
parameters.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from sightline.api import sessions
from sightline.api.access import access
from sightline.api.deps import CustomerScope, StoreDep
from sightline.api.errors import invalid_parameter
from sightline.api.querying import CommonQuery, Explain, envelope_answer, explain_answer, json_page
from sightline.auth.access import CustomerContext
from sightline.auth.plans import CUSTOMER, Feature
from sightline.query.compile import MetricQuery, compile_metrics
from sightline.query.filters import FilterError
from sightline.query.period import GRANULARITY_SECONDS
from sightline.query.pipeline import Compiled, RequestError
from sightline.query.request import MetricQueryParams, parse_metric_query
from sightline.query.session_request import wants_sessions
from sightline.store import Store

router = APIRouter(prefix="/mm-apis", tags=["metrics and dimensions"])


def _check_plan(scope: CustomerContext, query: MetricQuery) -> None:
    if query.series and GRANULARITY_SECONDS[query.granularity] < 3600:
        scope.require(Feature.MINUTE_GRANULARITY)
    if any(m.ad for m in query.metrics):
        scope.require(Feature.AD_METRICS)


@lru_cache(maxsize=1024)
def compiled(customer_id: int, params: MetricQueryParams) -> tuple[MetricQuery, Compiled]:
    """The validated query and its compiled form: a pure function of the request, remembered for the requests
    a dashboard repeats (RequestError or FilterError for a bad one, which is not remembered). The answer is
    shared between requests: read it, never change it."""
    query = parse_metric_query(customer_id, params)
    return query, compile_metrics(query)


async def answer(scope: CustomerContext, store: Store, params: MetricQueryParams, explain: bool) -> Response:
    """The answer as JSON bytes: the engine writes the rows (`Store.query_json_rows`), the API only pages them
    and wraps them, so a page costs no Python per value."""
    if wants_sessions(params):
        return await sessions.answer_metricquery(scope, store, params, explain)
    try:
        query, compiled_query = compiled(scope.id, params)
    except (RequestError, FilterError) as error:
        raise invalid_parameter(error) from error
    _check_plan(scope, query)
    if explain:
        return explain_answer(query, compiled_query)
    page = await json_page(store, query, compiled_query)
    return envelope_answer(query, page.rows, page.total)


@router.get("/qbrData/vod/{customerId}", summary="Metrics and dimensions (legacy)", **access(CUSTOMER, 503, 504))
@router.get("/metricquery/{customerId}", summary="Metrics and dimensions", **access(CUSTOMER, 503, 504))
async def metric_query(
    scope: CustomerScope,
    store: StoreDep,
    common: CommonQuery,
    metrics: Annotated[str, Query(description="Comma-separated metrics, and fields to group by.")],
    aggby: Annotated[str | None, Query(description="Dimensions and/or `timestamp` to group by.")] = None,
    sessiontype: Annotated[
        str | None, Query(description="started (default): at the view's start; ended: whole views at their end.")
    ] = None,
    concurrency: Annotated[
        int, Query(description="1: count what happened inside the period (outcomes by event time).")
    ] = 0,
    allstatus: Annotated[
        int,
        Query(
            description="1 (default): views of any status, open ones too; 0: closed views only (read from events, "
            "slower). With sessiontype=ended only closed views count either way."
        ),
    ] = 1,
    explain: Explain = False,
    dimension: Annotated[str | None, Query(description="Legacy; accepted, the planner picks the table.")] = None,
    agg: Annotated[str | None, Query(description="Legacy; accepted, values are always aggregated.")] = None,
    count: Annotated[str | None, Query(description="Legacy; accepted, totalrecords is always given.")] = None,
) -> Response:
    """Metrics over a period: totals, breakdowns by dimensions, or a time series."""
    params = MetricQueryParams.extending(
        common, metrics=metrics, aggby=aggby, sessiontype=sessiontype, concurrency=concurrency, allstatus=allstatus
    )
    return await answer(scope, store, params, explain)
