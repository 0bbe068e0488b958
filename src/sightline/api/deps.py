"""Dependencies shared by the routers, as `Annotated` aliases: the app's services (`api/services.py`) and
the caller's identity and customer.

`CustomerScope` guards every `/mm-apis/{customerId}` route. It answers, in this order: 401 without a
valid Bearer token or `X-API-Key`; 400 for a customerId that is not a number; 403 when the customer
is not the caller's (or does not exist); 400 for a query parameter given two different values (a list is one
comma-separated value: the last of several would be taken silently; the same value twice is one); 400 for a
`planlevel` that is not a number; 403 when `planlevel` is given and is not the customer's plan level (without
saying which level it is).

The dependencies are `async`: their lookups (a key or token by its hash, a customer by id) take well
under a millisecond on the indexed metadata tables, so running them on the event loop saves two
thread-pool hops per request (~2 ms, bench/query.py).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp

from sightline.alerts.alert_store import AlertStore
from sightline.alerts.store import RuleStore
from sightline.api.errors import ApiError, unauthorized
from sightline.api.media_origin import MediaOrigin
from sightline.api.services import accounts, services
from sightline.auth.access import CustomerContext, Principal
from sightline.auth.service import AuthService
from sightline.ingest.formats import Formats
from sightline.ingest.intake import Intake
from sightline.smartquery.service import SmartQueryService
from sightline.store import Store
from sightline.store.writer import BatchingWriter

T = TypeVar("T")
_NUMBER = re.compile(r"[0-9]{1,18}")
_bearer = HTTPBearer(auto_error=False, description="An access token from `POST /generateOAuthToken`.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A customer's API key.")


def _of_app(part: Callable[[ASGIApp], T]) -> Callable[[Request], Awaitable[T]]:
    """The dependency that answers `part` of the request's app (its services, or its accounts)."""

    async def dependency(request: Request) -> T:
        return part(request.app)

    return dependency


StoreDep = Annotated[Store, Depends(_of_app(lambda app: services(app).store))]
WriterDep = Annotated[BatchingWriter, Depends(_of_app(lambda app: services(app).writer))]
IntakeDep = Annotated[Intake, Depends(_of_app(lambda app: services(app).intake))]
FormatsDep = Annotated[Formats, Depends(_of_app(lambda app: services(app).formats))]
get_media_origin = _of_app(lambda app: services(app).media_origin)
"""Overridden by tests that serve media from elsewhere."""
MediaOriginDep = Annotated[MediaOrigin, Depends(get_media_origin)]
SmartQueryDep = Annotated[SmartQueryService, Depends(_of_app(lambda app: services(app).smartquery))]
AlertRulesDep = Annotated[RuleStore, Depends(_of_app(lambda app: services(app).alert_rules))]
AlertsDep = Annotated[AlertStore, Depends(_of_app(lambda app: services(app).alerts))]
AuthDep = Annotated[AuthService, Depends(_of_app(accounts))]


async def get_principal(
    auth: AuthDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """The caller, from `Authorization: Bearer` (preferred when both are sent) or `X-API-Key`."""
    if bearer is not None:
        return auth.access.principal_for_access_token(bearer.credentials)
    if api_key:
        return auth.access.principal_for_api_key(api_key)
    raise unauthorized("send an access token as `Authorization: Bearer <token>` or an API key as `X-API-Key`")


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_customer_scope(
    request: Request,
    auth: AuthDep,
    principal: CurrentPrincipal,
    customer_id: Annotated[str, Path(alias="customerId", description="The numeric customer id.")],
    planlevel: Annotated[str | None, Query(description="The customer's plan level; checked when given.")] = None,
) -> CustomerContext:
    if not _NUMBER.fullmatch(customer_id):
        raise ApiError(400, "invalid_parameter", "customerId must be a number", "customerId")
    scope = auth.access.customer_scope(principal, int(customer_id))
    values: dict[str, set[str]] = {}
    for name, value in request.query_params.multi_items():
        values.setdefault(name, set()).add(value)
    repeated = next((name for name, given in values.items() if len(given) > 1), None)
    if repeated is not None:
        message = f"{repeated} is given {len(values[repeated])} values; give one (a list is comma-separated)"
        raise ApiError(400, "invalid_parameter", message, repeated)
    if planlevel is not None:
        if not _NUMBER.fullmatch(planlevel.strip()):
            raise ApiError(400, "invalid_parameter", "planlevel must be a number", "planlevel")
        if int(planlevel) != scope.plan_level:
            message = "planlevel does not match the customer's plan level"
            raise ApiError(403, "plan_level_mismatch", message, "planlevel")
    return scope


CustomerScope = Annotated[CustomerContext, Depends(get_customer_scope)]
