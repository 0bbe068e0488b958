"""What can go wrong in accounts and access, as exceptions the API maps to HTTP answers.

`AccountError` is a ValueError so that the CLI prints it as one line.
"""

from __future__ import annotations


class AuthError(Exception):
    """Base of the errors of this package."""


class InvalidCredentialsError(AuthError):
    """Unknown user or wrong password: deliberately the same error for both."""


class InvalidGrantError(AuthError):
    """A refresh token that is unknown, expired, revoked or already used."""


class LoginRateLimitedError(AuthError):
    """Too many failed logins of a username from an address, or from an address; retry after `retry_after_s` s."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class InvalidTokenError(AuthError):
    """An access token or API key that is unknown, expired or revoked."""


class CustomerForbiddenError(AuthError):
    """The caller does not belong to the customer (or the customer does not exist: same answer)."""


class FeatureNotInPlanError(AuthError):
    """The customer's plan level does not allow a feature."""


class AccountError(AuthError, ValueError):
    """A bad account operation: a duplicate or unknown customer, user or key, a weak password."""
