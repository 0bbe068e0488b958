"""`GET /mm-apis/smartQuery/{customerId}`: named queries (docs/smartquery.md), with their query cache and
queryIds; `GET` and `DELETE /mm-apis/smartQuery/{customerId}/queries/{queryId}`: a query's status, and
cancelling it.

The answer is the envelope of the query API (README: `totalcount`, `pagecount`, `totalrecords`,
`response`, each row carrying `totalpages`) with the query's `queryId`. A cancelled query answers 409
`query_cancelled`; a queryId that is still running, 409 `query_id_in_use`. Every route needs the
`smart_query` feature. Any user or API key of the customer may run a query and read a query's status;
cancelling is for the user or key that ran the query and for the customer's admins (403 `not_query_owner`
for anyone else).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.concurrency import run_in_threadpool

from sightline.api.access import access
from sightline.api.deps import CurrentPrincipal, CustomerScope, SmartQueryDep
from sightline.api.errors import ApiError, invalid_parameter
from sightline.api.querying import Explain, explain_answer, json_value, on_store, store_error_answer
from sightline.auth.kinds import Role
from sightline.auth.plans import CUSTOMER, OWNER_OR_ADMIN, Feature
from sightline.query.filters import FilterError
from sightline.query.period import GRANULARITY_SECONDS
from sightline.query.pipeline import RequestError, encode_rows, envelope
from sightline.smartquery.catalog import NAMED_QUERIES
from sightline.smartquery.request import SmartQueryParams, parse_query_id, parse_querycache, parse_smart_query
from sightline.smartquery.spec import SmartQuery
from sightline.smartquery.tracking import NotQueryOwnerError, QueryIdInUseError, QueryRecord
from sightline.store import QueryCancelledError, StoreError

router = APIRouter(prefix="/mm-apis", tags=["smartQuery"])

QueryIdPath = Annotated[str, Path(alias="queryId", description="The queryId the query was run with.")]


def render_page(rows: list[dict[str, Any]], total: int, query: SmartQuery) -> bytes:
    """The envelope of a page as JSON, without the queryId (`with_query_id` adds it)."""
    return envelope(encode_rows(rows, json_value), total, query.limit)


def with_query_id(body: bytes, query_id: str) -> Response:
    """The answer: the envelope of `render_page` with `"queryId"` last (a cached body serves every queryId)."""
    content = body[:-1] + b',"queryId":' + json.dumps(query_id).encode() + b"}"
    return Response(content, media_type="application/json")


def _record(record: QueryRecord) -> dict[str, Any]:
    return {
        "queryId": record.query_id,
        "queryname": record.queryname,
        "status": record.status,
        "submitted": record.submitted,
        "finished": record.finished,
        "elapsedms": record.elapsed_ms,
        "totalrecords": record.rows,
        "cached": record.cached,
        "error": record.error,
    }


@router.get(
    "/smartQuery/{customerId}",
    summary="Named queries: content paths, subscriber insight, …",
    response_class=Response,
    **access(
        CUSTOMER,
        409,
        503,
        504,
        descriptions={409: "The query was cancelled, or its queryId still runs."},
        responses={200: {"content": {"application/json": {}}, "description": "The envelope of the query endpoints."}},
    ),
)
async def smart_query(
    scope: CustomerScope,
    principal: CurrentPrincipal,
    service: SmartQueryDep,
    queryname: Annotated[str, Query(description=f"The named query: {', '.join(NAMED_QUERIES)}.")],
    period: Annotated[str, Query(description="`start=<epoch s>,end=<epoch s>`.")],
    filter_text: Annotated[
        str | None,
        Query(alias="filter", description="Dimensions (the views counted) and filterable columns (the rows)."),
    ] = None,
    limit: Annotated[int, Query(description="Rows per page, 1 to 10000.")] = 1000,
    offset: Annotated[int, Query(description="Rows to skip.")] = 0,
    granularity: Annotated[str, Query(description="auto, minute, 5minute, 10minute, hour or day.")] = "auto",
    querycache: Annotated[str | None, Query(description="True (default): answer from the query cache.")] = None,
    query_id: Annotated[
        str | None, Query(alias="queryId", description="A UUID naming the query, for its status and cancelling.")
    ] = None,
    explain: Explain = False,
) -> Response:
    """Run a named query over a period (docs/smartquery.md)."""
    scope.require(Feature.SMART_QUERY)
    params = SmartQueryParams(
        period=period,
        granularity=granularity,
        filter=filter_text,
        limit=limit,
        offset=offset,
        queryname=queryname,
        querycache=querycache,
        query_id=query_id,
    )
    try:
        query = parse_smart_query(scope.id, params, NAMED_QUERIES)
        use_cache, given_id = parse_querycache(querycache), parse_query_id(query_id)
    except (RequestError, FilterError) as error:
        raise invalid_parameter(error) from error
    if NAMED_QUERIES[query.name].uses_granularity and GRANULARITY_SECONDS[query.granularity] < 3600:
        scope.require(Feature.MINUTE_GRANULARITY)
    if explain:
        return explain_answer(*await on_store(lambda: service.compiled(query)))
    try:
        ran_id, answer = await run_in_threadpool(service.run, query, principal.identity, use_cache, given_id)
    except QueryIdInUseError as error:
        raise ApiError(409, "query_id_in_use", str(error), "queryId") from error
    except QueryCancelledError as error:
        raise ApiError(409, "query_cancelled", f"query {given_id} was cancelled", "queryId") from error
    except StoreError as error:
        raise store_error_answer(error) from error
    return with_query_id(answer.body, ran_id)


def _query_id(text: str) -> str:
    try:
        found = parse_query_id(text)
    except RequestError as error:
        raise invalid_parameter(error) from error
    if found is None:
        raise ApiError(400, "invalid_parameter", "queryId must be a UUID", "queryId")
    return found


@router.get(
    "/smartQuery/{customerId}/queries/{queryId}",
    summary="A named query's status",
    **access(CUSTOMER, 404, descriptions={404: "No query of this customer ran with this queryId."}),
)
async def query_status(scope: CustomerScope, service: SmartQueryDep, query_id: QueryIdPath) -> dict[str, Any]:
    """Status (`running`, `done`, `failed` or `cancelled`), times and rows of the query run with this queryId."""
    scope.require(Feature.SMART_QUERY)
    record = service.status(scope.id, _query_id(query_id))
    if record is None:
        raise ApiError(404, "not_found", f"no query {query_id} of this customer", "queryId")
    return _record(record)


@router.delete(
    "/smartQuery/{customerId}/queries/{queryId}",
    summary="Cancel a running named query",
    **access(
        OWNER_OR_ADMIN,
        404,
        409,
        descriptions={
            403: "Not the caller's customer or plan level, or a query that another user or key ran (for a viewer "
            "or an API key).",
            404: "No query of this customer ran with this queryId.",
            409: "The query ended before it could be cancelled.",
        },
    ),
)
async def cancel_query(
    scope: CustomerScope, principal: CurrentPrincipal, service: SmartQueryDep, query_id: QueryIdPath
) -> dict[str, Any]:
    """Cancel the query run with this queryId and answer its record once it has stopped (again for a query
    already cancelled); 409 when it ended otherwise. For the user or key that ran it, and for admins."""
    scope.require(Feature.SMART_QUERY)
    found = _query_id(query_id)
    owner = None if principal.role is Role.ADMIN else principal.identity
    try:
        record = await run_in_threadpool(service.cancel, scope.id, found, owner)
    except NotQueryOwnerError as error:
        message = "only the user or key that ran a query, or an admin, may cancel it"
        raise ApiError(403, "not_query_owner", message, "queryId") from error
    if record is None:
        raise ApiError(404, "not_found", f"no query {query_id} of this customer", "queryId")
    if record.status not in ("cancelled", "running"):
        raise ApiError(409, "query_not_running", f"query {found} is not running: it is {record.status}", "queryId")
    return _record(record)
