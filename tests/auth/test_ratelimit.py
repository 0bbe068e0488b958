"""The failed-login limiter: a sliding minute per username, on an injected clock."""

from __future__ import annotations

from sightline.auth.ratelimit import LoginRateLimiter
from tests.auth.fixtures import ManualClock


def test_the_fifth_failure_blocks_until_the_oldest_leaves_the_window() -> None:
    clock = ManualClock()
    limiter = LoginRateLimiter(clock, limit=5, window_s=60)
    for _ in range(4):
        limiter.record_failure("alice")
        clock.advance(10)
        assert limiter.retry_after("alice") is None
    limiter.record_failure("alice")  # failures at 0, 10, 20, 30, 40; now 40
    assert limiter.retry_after("alice") == 20
    clock.advance(19.5)
    assert limiter.retry_after("alice") == 1
    clock.advance(0.5)
    assert limiter.retry_after("alice") is None


def test_usernames_are_limited_apart() -> None:
    clock = ManualClock()
    limiter = LoginRateLimiter(clock, limit=2)
    limiter.record_failure("alice")
    limiter.record_failure("alice")
    assert limiter.retry_after("alice") == 60
    assert limiter.retry_after("bob") is None


def test_memory_drops_usernames_whose_failures_expired() -> None:
    clock = ManualClock()
    limiter = LoginRateLimiter(clock, limit=5, max_usernames=10)
    for i in range(10):
        limiter.record_failure(f"user{i}")
    clock.advance(61)
    limiter.record_failure("late")
    assert limiter._failures.keys() == {"late"}
