"""`POST /generateOAuthToken` (SmartSight's token endpoint), `POST /oauth/token`, `POST /oauth/revoke`.

The body is form-encoded (as the spec shows) or JSON. `grant_type=password` needs `username` and
`password`; `grant_type=refresh_token` takes the refresh token in `refresh_token` (RFC 6749) or in
`username` (as SmartSight's docs show). Both grants answer 201 with a new token pair. Failures: 400
`invalid_request`, `unsupported_grant_type` or `invalid_grant` (the same for an unknown user and a
wrong password), 429 with `Retry-After` after too many failed logins of the username from the client's
address, or from that address whatever the username (auth/ratelimit.py). The client's address is the
peer's, or the one `X-Forwarded-For` names behind a trusted proxy (docs/enrichment.md).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError

from sightline.api import whoami
from sightline.api.deps import AuthDep
from sightline.api.errors import ApiError
from sightline.auth.clock import Clock, utc_now
from sightline.auth.service import open_auth
from sightline.auth.tokens import TokenPair
from sightline.ingest.clientaddr import IPAddress, client_address
from sightline.settings import Settings

router = APIRouter(tags=["authentication"])

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
M = TypeVar("M", bound=BaseModel)


class TokenRequest(BaseModel):
    grant_type: str
    username: str | None = None
    password: str | None = None
    refresh_token: str | None = None
    scope: str | None = None


class RevokeRequest(BaseModel):
    token: str
    token_type_hint: str | None = None


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    refresh_token: str
    expires_in: int
    scope: str


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = {"schema": model.model_json_schema()}
    return {"requestBody": {"required": True, "content": dict.fromkeys((_FORMS[0], "application/json"), schema)}}


async def _read_body(request: Request, model: type[M]) -> M:
    """`model` from a form-encoded or JSON body; 400 `invalid_request` naming the missing field."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in _FORMS:
            form = await request.form()
            fields: Any = {k: v for k, v in form.items() if isinstance(v, str)}
        elif content_type == "application/json":
            fields = json.loads(await request.body())
        else:
            raise ApiError(400, "invalid_request", "send the body as application/x-www-form-urlencoded or JSON")
        return model.model_validate(fields)
    except ValueError as error:  # malformed JSON or a field that is missing or not a string
        location = error.errors()[0]["loc"] if isinstance(error, ValidationError) else ()
        parameter = str(location[0]) if location else None
        message = f"{parameter} is missing or not a string" if parameter else "the body is not a form or a JSON object"
        raise ApiError(400, "invalid_request", message, parameter) from None


def _client(request: Request) -> IPAddress | None:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"), request.app.state.trusted_proxies)


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ApiError(400, "invalid_request", f"{name} is required", name)
    return value


@router.post(
    "/generateOAuthToken",
    status_code=201,
    response_model=TokenResponse,
    openapi_extra=_body_schema(TokenRequest),
    operation_id="generate_oauth_token",
)
@router.post(
    "/oauth/token",
    status_code=201,
    response_model=TokenResponse,
    openapi_extra=_body_schema(TokenRequest),
    operation_id="oauth_token",
)
async def token(request: Request, response: Response, auth: AuthDep) -> TokenResponse:
    """A token pair for a password grant or a refresh grant (the old refresh token is spent)."""
    body = await _read_body(request, TokenRequest)
    pair: TokenPair
    if body.grant_type == "password":
        username, password = _required(body.username, "username"), _required(body.password, "password")
        pair = await run_in_threadpool(auth.tokens.password_grant, username, password, _client(request))
    elif body.grant_type == "refresh_token":
        refresh = _required(body.refresh_token or body.username, "refresh_token")
        pair = await run_in_threadpool(auth.tokens.refresh_grant, refresh)
    else:
        raise ApiError(400, "unsupported_grant_type", "grant_type must be password or refresh_token", "grant_type")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenResponse(
        access_token=pair.access_token,
        token_type="bearer",
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        scope=pair.scope,
    )


@router.post("/oauth/revoke", status_code=200, openapi_extra=_body_schema(RevokeRequest))
async def revoke(request: Request, auth: AuthDep) -> Response:
    """Revoke the login of an access or refresh token (RFC 7009): 200 even for an unknown token."""
    body = await _read_body(request, RevokeRequest)
    await run_in_threadpool(auth.tokens.revoke, body.token)
    return Response(status_code=200)


def include_auth(app: FastAPI, settings: Settings, clock: Clock = utc_now) -> None:
    """Open the accounts service on `app.state.auth` (migrating its database) and add its routes.

    The caller closes it at shutdown: `app.state.auth.close()`.
    """
    app.state.auth = open_auth(settings, clock)
    app.state.trusted_proxies = tuple(settings.trusted_proxies)
    app.include_router(router)
    app.include_router(whoami.router)
