"""OAuth grants: expiry on a controlled clock, rotation, reuse detection, revocation, rate limiting."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from sqlalchemy import func, select, update

from sightline.auth.errors import (
    CustomerForbiddenError,
    FeatureNotInPlanError,
    InvalidCredentialsError,
    InvalidGrantError,
    InvalidTokenError,
    LoginRateLimitedError,
)
from sightline.auth.hashing import PasswordHasher
from sightline.auth.models import OAuthToken, User
from sightline.auth.plans import Feature
from sightline.auth.service import AuthService
from sightline.auth.tokens import TokenPair
from tests.auth.fixtures import ManualClock

HOUR = 3600


@pytest.fixture
def accounts(auth: AuthService) -> AuthService:
    auth.accounts.add_customer(1001, "Alpha", 6831)
    auth.accounts.add_customer(1002, "Beta", 6829)
    auth.accounts.add_user("ann", "password-a", [1001])
    auth.accounts.add_user("bob", "password-b", [1002])
    return auth


def _login(auth: AuthService, username: str = "ann") -> TokenPair:
    return auth.tokens.password_grant(username, f"password-{username[0]}")


def test_a_password_grant_gives_a_pair_that_names_the_users_customers(accounts: AuthService) -> None:
    pair = accounts.tokens.password_grant(" ANN ", "password-a")
    assert (pair.expires_in, pair.scope) == (18_000, "read write")
    assert pair.access_token != pair.refresh_token
    principal = accounts.access.principal_for_access_token(pair.access_token)
    assert (principal.kind, principal.subject, principal.customer_ids) == ("user", "ann", frozenset({1001}))


def test_unknown_users_and_wrong_passwords_fail_alike(accounts: AuthService) -> None:
    with pytest.raises(InvalidCredentialsError) as wrong:
        accounts.tokens.password_grant("ann", "password-b")
    with pytest.raises(InvalidCredentialsError) as unknown:
        accounts.tokens.password_grant("nobody", "password-a")
    assert str(wrong.value) == str(unknown.value)


def test_an_access_token_expires_after_its_lifetime(accounts: AuthService, clock: ManualClock) -> None:
    pair = _login(accounts)
    clock.advance(18_000 - 1)
    accounts.access.principal_for_access_token(pair.access_token)
    clock.advance(1)
    with pytest.raises(InvalidTokenError, match="expired"):
        accounts.access.principal_for_access_token(pair.access_token)
    assert accounts.tokens.refresh_grant(pair.refresh_token).access_token


def test_a_refresh_token_expires_after_its_lifetime(accounts: AuthService, clock: ManualClock) -> None:
    pair = _login(accounts)
    clock.advance(30 * 24 * HOUR)
    with pytest.raises(InvalidGrantError, match="expired"):
        accounts.tokens.refresh_grant(pair.refresh_token)


def test_a_refresh_rotates_the_pair_and_spends_the_old_refresh_token(accounts: AuthService) -> None:
    first = _login(accounts)
    second = accounts.tokens.refresh_grant(first.refresh_token)
    assert {second.access_token, second.refresh_token}.isdisjoint({first.access_token, first.refresh_token})
    assert accounts.access.principal_for_access_token(second.access_token).subject == "ann"
    accounts.access.principal_for_access_token(first.access_token)  # lives on until it expires
    third = accounts.tokens.refresh_grant(second.refresh_token)
    accounts.access.principal_for_access_token(third.access_token)


def test_reusing_a_spent_refresh_token_revokes_the_whole_login(accounts: AuthService) -> None:
    first = _login(accounts)
    other_login = _login(accounts)
    second = accounts.tokens.refresh_grant(first.refresh_token)
    with pytest.raises(InvalidGrantError, match="already used"):
        accounts.tokens.refresh_grant(first.refresh_token)
    for token in (first.access_token, second.access_token):
        with pytest.raises(InvalidTokenError, match="revoked"):
            accounts.access.principal_for_access_token(token)
    with pytest.raises(InvalidGrantError):
        accounts.tokens.refresh_grant(second.refresh_token)
    accounts.access.principal_for_access_token(other_login.access_token)  # another login of the user


def test_concurrent_refreshes_with_one_token_issue_at_most_one_pair(accounts: AuthService) -> None:
    pair = _login(accounts)

    def refresh(_: int) -> bool:
        try:
            accounts.tokens.refresh_grant(pair.refresh_token)
        except InvalidGrantError:
            return False
        return True

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(refresh, range(4)))
    assert outcomes.count(True) <= 1
    assert outcomes.count(False) >= 3


@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
def test_revoking_either_token_ends_the_login(accounts: AuthService, which: str) -> None:
    first = _login(accounts)
    second = accounts.tokens.refresh_grant(first.refresh_token)
    assert accounts.tokens.revoke(getattr(first, which))
    with pytest.raises(InvalidTokenError, match="revoked"):
        accounts.access.principal_for_access_token(second.access_token)
    with pytest.raises(InvalidGrantError):
        accounts.tokens.refresh_grant(second.refresh_token)
    assert not accounts.tokens.revoke("sla_unknown")


def test_five_failed_logins_in_a_minute_block_the_username(accounts: AuthService, clock: ManualClock) -> None:
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError):
            accounts.tokens.password_grant("Ann", "wrong-password")
        clock.advance(5)
    with pytest.raises(LoginRateLimitedError) as blocked:
        accounts.tokens.password_grant("ann", "password-a")  # even the right password waits
    assert blocked.value.retry_after_s == 35
    _login(accounts, "bob")  # other usernames are not blocked
    clock.advance(35)
    _login(accounts)


def test_unknown_usernames_are_rate_limited_too(accounts: AuthService) -> None:
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError):
            accounts.tokens.password_grant("nobody", "password-a")
    with pytest.raises(LoginRateLimitedError):
        accounts.tokens.password_grant("nobody", "password-a")


def test_expired_logins_are_pruned_at_the_next_login(accounts: AuthService, clock: ManualClock) -> None:
    _login(accounts)
    clock.advance(30 * 24 * HOUR)
    _login(accounts)
    with accounts.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(OAuthToken)) == 1


def test_a_login_renews_a_hash_made_with_other_parameters(accounts: AuthService) -> None:
    old = PasswordHasher(time_cost=2, memory_kib=2048).hash("password-c")
    with accounts.engine.begin() as connection:
        connection.execute(update(User).where(User.username == "ann").values(password_hash=old))
    accounts.tokens.password_grant("ann", "password-c")
    with accounts.engine.connect() as connection:
        renewed = connection.scalar(select(User.password_hash).where(User.username == "ann"))
    assert renewed != old
    assert renewed is not None
    assert "m=1024" in renewed
    accounts.tokens.password_grant("ann", "password-c")


def test_a_customer_scope_is_the_callers_customer_with_its_plan(accounts: AuthService) -> None:
    ann = accounts.access.principal_for_access_token(_login(accounts).access_token)
    scope = accounts.access.customer_scope(ann, 1001)
    assert (scope.id, scope.name, scope.plan_level) == (1001, "Alpha", 6831)
    scope.require(Feature.SMART_QUERY)
    for customer_id in (1002, 9999):
        with pytest.raises(CustomerForbiddenError):
            accounts.access.customer_scope(ann, customer_id)
    bob = accounts.access.principal_for_access_token(_login(accounts, "bob").access_token)
    with pytest.raises(FeatureNotInPlanError, match="minute_granularity"):
        accounts.access.customer_scope(bob, 1002).require(Feature.MINUTE_GRANULARITY)


def test_a_customer_scope_of_a_customer_that_does_not_exist_is_forbidden(accounts: AuthService) -> None:
    principal = accounts.access.principal_for_access_token(_login(accounts).access_token)
    ghost = replace(principal, customer_ids=frozenset({4242}))
    with pytest.raises(CustomerForbiddenError):
        accounts.access.customer_scope(ghost, 4242)
