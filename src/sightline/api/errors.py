"""Error answers as the README has them: `{"error": {"code", "message", "parameter", "requestid"}}`.

`requestid` is the request's id (`telemetry.logs`), also in the answer's `X-Request-ID`: the line to look for
in the logs when a customer reports the answer.

Every 401 carries `WWW-Authenticate: Bearer` (RFC 6750). Errors of the accounts package map here, in
one table, to their status; request validation failures are 400s naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from sightline.auth.errors import (
    AccountError,
    AuthError,
    CustomerForbiddenError,
    FeatureNotInPlanError,
    InvalidCredentialsError,
    InvalidGrantError,
    InvalidTokenError,
    LoginRateLimitedError,
)
from sightline.query.filters import FilterError
from sightline.query.pipeline import RequestError
from sightline.telemetry.context import current_request_id

_AUTH_ERRORS: dict[type[AuthError], tuple[int, str]] = {
    InvalidCredentialsError: (400, "invalid_grant"),
    InvalidGrantError: (400, "invalid_grant"),
    LoginRateLimitedError: (429, "too_many_requests"),
    InvalidTokenError: (401, "invalid_token"),
    CustomerForbiddenError: (403, "customer_forbidden"),
    FeatureNotInPlanError: (403, "plan_forbidden"),
    AccountError: (400, "invalid_request"),
}


class ErrorBody(BaseModel):
    code: str
    message: str
    parameter: str | None
    requestid: str | None = Field(description="The request's id, as in its `X-Request-ID` answer header.")


class ErrorResponse(BaseModel):
    error: ErrorBody


_DESCRIPTIONS: dict[int, str] = {
    400: "A bad parameter or body: `parameter` names it, the message says what is allowed.",
    401: "No credentials, or an unknown, expired or revoked one.",
    403: "Not the caller's customer, not the customer's plan level, or not allowed to the caller or the plan.",
    404: "Not found.",
    409: "In conflict with the state of the resource.",
    410: "Gone.",
    413: "The body is too large.",
    415: "A Content-Type or Content-Encoding that the route does not take.",
    429: "Too many requests: retry after `Retry-After` seconds.",
    502: "The upstream origin failed.",
    503: "Unavailable for now: retry after `Retry-After` seconds.",
    504: "Ran past its time limit.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "The challenge: `Bearer`, with the error when a token was given."}},
    429: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    503: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
}


def error_responses(*statuses: int, descriptions: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of error answers in the envelope, for a route decorator."""
    described = _DESCRIPTIONS | (descriptions or {})
    return {
        status: {"model": ErrorResponse, "description": described[status]}
        | ({"headers": _HEADERS[status]} if status in _HEADERS else {})
        for status in statuses
    }


class ApiError(Exception):
    """An error answer raised from a route or a dependency."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        parameter: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.parameter = status, code, message, parameter
        self.headers = dict(headers or {})


def unauthorized(message: str, code: str = "unauthorized") -> ApiError:
    """A 401 whose challenge says why, in RFC 6750's words when a token was given but is bad."""
    challenge = "Bearer" if code == "unauthorized" else f'Bearer error="{code}", error_description="{message}"'
    return ApiError(401, code, message, headers={"WWW-Authenticate": challenge})


def invalid_parameter(error: RequestError | FilterError) -> ApiError:
    """The 400 of a query parameter a parser refused: its message and every name the parameter allows
    (a filter's message lists them itself)."""
    allowed = f"; allowed: {', '.join(error.allowed)}" if isinstance(error, RequestError) and error.allowed else ""
    return ApiError(400, "invalid_parameter", error.message + allowed, error.parameter)


def error_response(error: ApiError) -> JSONResponse:
    headers = dict(error.headers)
    if error.status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    body = {
        "error": {
            "code": error.code,
            "message": error.message,
            "parameter": error.parameter,
            "requestid": current_request_id(),
        }
    }
    return JSONResponse(body, status_code=error.status, headers=headers)


def _from_auth_error(error: AuthError) -> ApiError:
    status, code = next(v for k, v in _AUTH_ERRORS.items() if isinstance(error, k))
    if isinstance(error, InvalidTokenError):
        return unauthorized(str(error), code)
    if isinstance(error, LoginRateLimitedError):
        return ApiError(status, code, str(error), "username", {"Retry-After": str(error.retry_after_s)})
    return ApiError(status, code, str(error))


def validation_parameter(location: tuple[str | int, ...], kind: str) -> str | None:
    """The parameter a validation error names: a query or path parameter, or the path of a body's field
    (`recipients[0].level`); `body` for a body that is not JSON or not an object."""
    if not location:
        return None
    source, *path = location
    if kind == "json_invalid" or not path:
        return str(source)
    named = str(path[0])
    for step in path[1:]:
        named += f"[{step}]" if isinstance(step, int) else f".{step}"
    return named


BODY_NOT_PARSED = "There was an error parsing the body"
"""FastAPI's 400 for a body it could not parse (`fastapi.routing`)."""


def install_error_handlers(app: FastAPI) -> None:
    """Answer ApiError, the accounts package's errors, validation errors and HTTP errors in the envelope, and
    have the OpenAPI document say so: FastAPI's 422 answer, never given, is left out of it."""

    async def api_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return error_response(error)

    async def auth_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, AuthError)
        return error_response(_from_auth_error(error))

    async def validation_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0]
        parameter = validation_parameter(tuple(first.get("loc") or ()), str(first.get("type", "")))
        return error_response(ApiError(400, "invalid_parameter", f"{parameter}: {first['msg']}", parameter))

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        headers = dict(error.headers or {})
        if error.status_code == 405:  # the router names the methods of one route of the path; a path has several
            headers["Allow"] = ", ".join(_methods_of_path(app, request))
        if error.detail == BODY_NOT_PARSED:  # a JSON body FastAPI could not parse (its numbers, nesting, bytes)
            message = "the body could not be parsed: send an uncompressed UTF-8 JSON object"
            return error_response(ApiError(400, "invalid_parameter", message, "body"))
        return error_response(ApiError(error.status_code, code, str(error.detail), headers=headers))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(AuthError, auth_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.openapi = _without_validation_answers(app.openapi)  # type: ignore[method-assign]


def _methods_of_path(app: FastAPI, request: Request) -> list[str]:
    """Every method that some route of `app` takes at the request's path."""
    methods = set()
    for route in iter_route_contexts(app.routes):
        if route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def _without_validation_answers(openapi: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """`openapi` (which builds the document once and keeps it) with FastAPI's 422 answers and their schemas
    taken out: a request that fails validation is answered 400, which each route documents."""

    def document() -> dict[str, Any]:
        schema = openapi()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        return schema

    return document
