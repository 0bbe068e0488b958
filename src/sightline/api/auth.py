"""`POST /generateOAuthToken` (SmartSight's token endpoint), `POST /oauth/token`, `POST /oauth/revoke`.

The body is form-encoded (as the spec shows; multipart too) or JSON, at most 1 MiB (413 past it).
`grant_type=password` needs `username` and `password`; `grant_type=refresh_token` takes the refresh token
in `refresh_token` (RFC 6749) or in `username` (as SmartSight's docs show). Both grants answer 201 with a
new token pair. Failures: 400 `invalid_request`, `unsupported_grant_type` or `invalid_grant` (the same for
an unknown user and a wrong password), 429 with `Retry-After` after too many failed logins of the username
from the client's address, or from that address whatever the username (auth/ratelimit.py). The client's
address is the peer's, or the one `X-Forwarded-For` names behind a trusted proxy (docs/enrichment.md).
Revocation answers 200 `{}` (RFC 7009: whether the token was known is not told).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from sightline.api import whoami
from sightline.api.access import access, request_body
from sightline.api.collect import read_body
from sightline.api.deps import AuthDep
from sightline.api.errors import ApiError
from sightline.auth.clock import Clock, utc_now
from sightline.auth.plans import PUBLIC
from sightline.auth.service import AuthService, open_auth
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


class RevokeResponse(BaseModel):
    """Empty: the answer is the same for any token."""


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    refresh_token: str
    expires_in: int
    scope: str


async def _form(request: Request, body: bytes, content_type: str) -> FormData:
    async def chunks() -> AsyncGenerator[bytes, None]:
        yield body

    if content_type == _FORMS[0]:
        return await FormParser(request.headers, chunks()).parse()
    return await MultiPartParser(request.headers, chunks()).parse()


async def _read_body(request: Request, model: type[M]) -> M:
    """`model` from a form-encoded or JSON body of at most 1 MiB (413 past it); 400 `invalid_request`
    naming the field missing or not text."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (*_FORMS, "application/json"):
        raise ApiError(400, "invalid_request", "send the body as application/x-www-form-urlencoded or JSON")
    body = await read_body(request)
    try:
        if content_type in _FORMS:
            form = await _form(request, body, content_type)
            fields: Any = {k: v for k, v in form.items() if isinstance(v, str)}
        else:
            fields = json.loads(body)
        parsed = model.model_validate(fields)
    except RecursionError:
        raise ApiError(400, "invalid_request", "the body's JSON is nested too deeply") from None
    except MultiPartException as error:
        raise ApiError(400, "invalid_request", f"the multipart form is malformed: {error.message}") from None
    except ValueError as error:  # malformed JSON or form, or a field that is missing or not a string
        location = error.errors()[0]["loc"] if isinstance(error, ValidationError) else ()
        parameter = str(location[0]) if location else None
        message = f"{parameter} is missing or not a string" if parameter else "the body is not a form or a JSON object"
        raise ApiError(400, "invalid_request", message, parameter) from None
    for name, value in parsed.model_dump().items():
        if isinstance(value, str) and not _is_text(value):
            raise ApiError(400, "invalid_request", f"{name} is not text: it holds a lone UTF-16 surrogate", name)
    return parsed


def _is_text(value: str) -> bool:
    """Whether `value` is Unicode text, which UTF-8 can encode (JSON's `\\ud800` alone is not)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _client(request: Request, auth: AuthService) -> IPAddress | None:
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.getlist("x-forwarded-for"), auth.trusted_proxies)


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ApiError(400, "invalid_request", f"{name} is required", name)
    return value


_TOKEN_ANSWERS = access(
    PUBLIC,
    400,
    413,
    429,
    descriptions={429: "Too many failed logins of the username from this address, or from this address."},
    openapi_extra=request_body(TokenRequest.model_json_schema(), _FORMS[0], "application/json"),
)


@router.post(
    "/generateOAuthToken",
    status_code=201,
    response_model=TokenResponse,
    operation_id="generate_oauth_token",
    **_TOKEN_ANSWERS,
)
@router.post(
    "/oauth/token", status_code=201, response_model=TokenResponse, operation_id="oauth_token", **_TOKEN_ANSWERS
)
async def token(request: Request, response: Response, auth: AuthDep) -> TokenResponse:
    """A token pair for a password grant or a refresh grant (the old refresh token is spent)."""
    body = await _read_body(request, TokenRequest)
    pair: TokenPair
    if body.grant_type == "password":
        username, password = _required(body.username, "username"), _required(body.password, "password")
        pair = await run_in_threadpool(auth.tokens.password_grant, username, password, _client(request, auth))
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


@router.post(
    "/oauth/revoke",
    status_code=200,
    response_model=RevokeResponse,
    **access(
        PUBLIC, 400, 413, openapi_extra=request_body(RevokeRequest.model_json_schema(), _FORMS[0], "application/json")
    ),
)
async def revoke(request: Request, auth: AuthDep) -> RevokeResponse:
    """Revoke the login of an access or refresh token (RFC 7009): 200 `{}` even for an unknown token."""
    body = await _read_body(request, RevokeRequest)
    await run_in_threadpool(auth.tokens.revoke, body.token)
    return RevokeResponse()


def include_auth(app: FastAPI, settings: Settings, clock: Clock = utc_now) -> None:
    """Open the accounts service on `app.state.auth` (migrating its database) and add its routes.

    The caller closes it at shutdown: `app.state.auth.close()`.
    """
    app.state.auth = open_auth(settings, clock)
    app.include_router(router)
    app.include_router(whoami.router)
