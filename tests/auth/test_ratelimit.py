"""The failed-login limits on the metadata database (SQLite, and PostgreSQL when configured), on an
injected clock: sliding windows per (username, address) and per address, concurrent attempts, pruning."""

from __future__ import annotations

import ipaddress
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from sightline.auth.errors import InvalidCredentialsError, LoginRateLimitedError
from sightline.auth.models import LoginFailure
from sightline.auth.ratelimit import LoginRateLimiter, address_key
from sightline.auth.service import AuthService
from tests.auth.fixtures import ManualClock

HOME, AWAY = ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.2")


@pytest.fixture
def sessions(auth: AuthService) -> sessionmaker[Session]:
    return sessionmaker(auth.engine)


def _fail(limiter: LoginRateLimiter, username: str) -> None:
    limiter.admit(username, HOME)  # admitted and never forgiven: a failure


def _records(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(LoginFailure)) or 0


def test_the_fifth_failure_blocks_until_the_oldest_leaves_the_window(
    sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    limiter = LoginRateLimiter(sessions, clock, per_pair=5, per_address=100)
    for _ in range(4):
        _fail(limiter, "alice")
        clock.advance(10)
    _fail(limiter, "alice")  # failures at 0, 10, 20, 30, 40; now 40
    with pytest.raises(LoginRateLimitedError) as blocked:
        limiter.admit("alice", HOME)
    assert blocked.value.retry_after_s == 20
    clock.advance(19.5)
    with pytest.raises(LoginRateLimitedError) as blocked:
        limiter.admit("alice", HOME)
    assert blocked.value.retry_after_s == 1
    clock.advance(0.5)
    limiter.admit("alice", HOME)


def test_a_pair_is_a_username_from_an_address(sessions: sessionmaker[Session], clock: ManualClock) -> None:
    limiter = LoginRateLimiter(sessions, clock, per_pair=2, per_address=100)
    _fail(limiter, "alice")
    _fail(limiter, "alice")
    with pytest.raises(LoginRateLimitedError):
        limiter.admit("alice", HOME)
    limiter.admit("alice", AWAY)
    limiter.admit("bob", HOME)


def test_an_address_is_limited_across_usernames(sessions: sessionmaker[Session], clock: ManualClock) -> None:
    limiter = LoginRateLimiter(sessions, clock, per_pair=5, per_address=3)
    for name in ("a", "b", "c"):
        _fail(limiter, name)
    with pytest.raises(LoginRateLimitedError) as blocked:
        limiter.admit("d", HOME)
    assert blocked.value.retry_after_s == 60
    limiter.admit("d", AWAY)


def test_a_success_forgives_its_pair_but_not_its_address(sessions: sessionmaker[Session], clock: ManualClock) -> None:
    limiter = LoginRateLimiter(sessions, clock, per_pair=2, per_address=3)
    _fail(limiter, "mallory")
    _fail(limiter, "alice")
    limiter.succeeded(limiter.admit("alice", HOME))
    _fail(limiter, "alice")  # the pair's earlier failure was forgiven: one failure of alice now
    with pytest.raises(LoginRateLimitedError):  # but mallory, alice, alice: the address is at its limit
        limiter.admit("alice", HOME)


def test_an_ipv6_client_is_limited_by_its_64(sessions: sessionmaker[Session], clock: ManualClock) -> None:
    limiter = LoginRateLimiter(sessions, clock, per_pair=2, per_address=100)
    limiter.admit("alice", ipaddress.ip_address("2001:db8:1:2::1"))
    limiter.admit("alice", ipaddress.ip_address("2001:db8:1:2:ffff::9"))
    with pytest.raises(LoginRateLimitedError):
        limiter.admit("alice", ipaddress.ip_address("2001:db8:1:2:abcd::1"))
    limiter.admit("alice", ipaddress.ip_address("2001:db8:1:3::1"))
    assert address_key(ipaddress.ip_address("2001:db8:1:2:abcd::1")) == "2001:db8:1:2::/64"
    assert address_key(None) == "unknown"


def test_concurrent_attempts_never_pass_the_limit(sessions: sessionmaker[Session], clock: ManualClock) -> None:
    limiter = LoginRateLimiter(sessions, clock, per_pair=5, per_address=100)
    start = threading.Barrier(20)

    def attempt(_: int) -> bool:
        start.wait()
        try:
            limiter.admit("alice", HOME)
        except LoginRateLimitedError:
            return False
        return True

    with ThreadPoolExecutor(20) as pool:
        admitted = sum(pool.map(attempt, range(20)))
    assert 1 <= admitted <= 5
    for _ in range(5 - admitted):  # a refused attempt leaves nothing: what is left of the limit is there
        limiter.admit("alice", HOME)
    with pytest.raises(LoginRateLimitedError):
        limiter.admit("alice", HOME)


def test_refused_and_old_attempts_leave_no_record(sessions: sessionmaker[Session], clock: ManualClock) -> None:
    limiter = LoginRateLimiter(sessions, clock, per_pair=1, per_address=100)
    _fail(limiter, "alice")
    assert _records(sessions) == 2  # its pair and its address
    with pytest.raises(LoginRateLimitedError):
        limiter.admit("alice", HOME)
    assert _records(sessions) == 2
    clock.advance(60)
    _fail(limiter, "bob")
    assert _records(sessions) == 2
    with sessions() as session:
        subjects = session.scalars(select(LoginFailure.subject)).all()
    assert all(len(subject) == 64 and "bob" not in subject for subject in subjects)


def test_password_grants_are_limited_by_username_and_address(auth: AuthService) -> None:
    auth.accounts.add_customer(1001, "Alpha", 6831)
    auth.accounts.add_user("ann", "password-a", [1001])
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError):
            auth.tokens.password_grant("ann", "wrong-password", HOME)
    with pytest.raises(LoginRateLimitedError):
        auth.tokens.password_grant("ann", "password-a", HOME)
    assert auth.tokens.password_grant("ann", "password-a", AWAY).access_token
