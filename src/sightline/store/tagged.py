"""The tagged queries of a store, so that `Store.cancel(tag)` can stop one whether it waits or runs.

Invariants (thread-safe): a tag is registered by one query at a time (`QUERY_TAG`); it is "waiting" (for a
session or a connection) until `start`, then "running" until `finish`; a waiting query cancelled is marked
"cancelled" and its `start` answers False, so it never runs; a running one is stopped by the backend's `kill`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sightline.store.base import QUERY_TAG

KILL_RETRY_S = 0.01


class TaggedQueries:
    def __init__(self) -> None:
        self._states: dict[str, str] = {}
        self._lock = threading.Lock()

    def register(self, tag: str) -> None:
        """`tag` waiting; ValueError when it is not a query tag, or one already waiting or running."""
        if not QUERY_TAG.match(tag):
            raise ValueError(f"not a query tag: {tag!r}")
        with self._lock:
            if tag in self._states:
                raise ValueError(f"a query tagged {tag!r} is already waiting or running")
            self._states[tag] = "waiting"

    def waiting(self, tag: str) -> bool:
        with self._lock:
            return self._states[tag] == "waiting"

    def start(self, tag: str) -> bool:
        """Mark `tag` running; False when it was cancelled while it waited."""
        with self._lock:
            if self._states[tag] == "cancelled":
                return False
            self._states[tag] = "running"
            return True

    def finish(self, tag: str) -> None:
        with self._lock:
            self._states.pop(tag, None)

    def cancel(self, tag: str, kill: Callable[[], bool]) -> bool:
        """Cancel `tag`: a waiting query at once; a running one by `kill()` (True once the engine stopped it),
        called again until it has stopped or ended, as the engine may not list a query that has just started.
        False when no query of that tag waits or runs."""
        with self._lock:
            state = self._states.get(tag)
            if state is None:
                return False
            if state != "running":
                self._states[tag] = "cancelled"
                return True
        while not kill():
            with self._lock:
                if tag not in self._states:
                    return False
            time.sleep(KILL_RETRY_S)
        return True
