"""A short-lived memory of credential and customer lookups, so that a request does not read the accounts
database for what it read a moment ago.

Invariant: an entry is served for at most `ttl` after it was read from the database, so a key
revoked or a customer changed by another process (the CLI) is seen within `ttl`; a change made through
this process's `Accounts` forgets everything at once. Only what was found is remembered: an unknown
credential is looked up every time, and a new key works at once. At most `max_entries` entries.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sightline.auth.clock import Clock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentLookups(Generic[K, V]):
    def __init__(self, ttl: timedelta, clock: Clock, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[K, tuple[datetime, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The value remembered for `key`, or None when absent or older than `ttl`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            read_at, value = entry
            if self._clock() - read_at >= self._ttl:
                del self._entries[key]
                return None
            return value

    def put(self, key: K, value: V) -> None:
        if self._ttl <= timedelta(0):
            return
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = (self._clock(), value)

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()
