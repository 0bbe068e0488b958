"""Error answers as the README has them: `{"error": {"code", "message", "parameter"}}`.

Every 401 carries `WWW-Authenticate: Bearer` (RFC 6750). Errors of the accounts package map here, in
one table, to their status; request validation failures are 400s naming the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

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
from sightline.query.request import RequestError

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


class ErrorResponse(BaseModel):
    error: ErrorBody


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No credentials, or an unknown, expired or revoked one."},
    403: {"model": ErrorResponse, "description": "Not the caller's customer, or not the customer's plan level."},
}
"""OpenAPI answers of a route guarded by `CustomerScope`."""


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
    body = {"error": {"code": error.code, "message": error.message, "parameter": error.parameter}}
    return JSONResponse(body, status_code=error.status, headers=headers)


def _from_auth_error(error: AuthError) -> ApiError:
    status, code = next(v for k, v in _AUTH_ERRORS.items() if isinstance(error, k))
    if isinstance(error, InvalidTokenError):
        return unauthorized(str(error), code)
    if isinstance(error, LoginRateLimitedError):
        return ApiError(status, code, str(error), "username", {"Retry-After": str(error.retry_after_s)})
    return ApiError(status, code, str(error))


def install_error_handlers(app: FastAPI) -> None:
    """Answer ApiError, the accounts package's errors, validation errors and HTTP errors in the envelope."""

    async def api_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return error_response(error)

    async def auth_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, AuthError)
        return error_response(_from_auth_error(error))

    async def validation_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0]
        parameter = str(first["loc"][-1]) if first.get("loc") else None
        return error_response(ApiError(400, "invalid_parameter", f"{parameter}: {first['msg']}", parameter))

    async def http_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return error_response(ApiError(error.status_code, code, str(error.detail), headers=error.headers))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(AuthError, auth_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
