"""Failed-login rate limit: at most `limit` failures per username in a sliding window.

In memory and per process (a deployment with several API processes multiplies the limit by their
number). Invariants: a blocked attempt is answered before any password check and is not itself
recorded, so a username holds at most `limit` failures; usernames whose failures have all left the
window are dropped whenever the table grows past `max_usernames`.
"""

from __future__ import annotations

import math
import threading
from collections import deque

from sightline.auth.clock import Clock


class LoginRateLimiter:
    def __init__(self, clock: Clock, limit: int = 5, window_s: float = 60.0, max_usernames: int = 10_000) -> None:
        self._clock = clock
        self._limit = limit
        self._window_s = window_s
        self._max_usernames = max_usernames
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, username: str) -> int | None:
        """Whole seconds until `username` may try again, or None when it may try now."""
        now = self._clock().timestamp()
        with self._lock:
            failures = self._recent(username, now)
            if len(failures) < self._limit:
                return None
            return max(1, math.ceil(failures[0] + self._window_s - now))

    def record_failure(self, username: str) -> None:
        now = self._clock().timestamp()
        with self._lock:
            self._recent(username, now).append(now)
            if len(self._failures) > self._max_usernames:
                for name in list(self._failures):
                    if not self._recent(name, now):
                        del self._failures[name]

    def _recent(self, username: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(username, deque())
        while failures and failures[0] <= now - self._window_s:
            failures.popleft()
        return failures
