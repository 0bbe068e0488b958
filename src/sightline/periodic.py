"""A step run every so often on a thread of its own: the loop of the service's background work."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    """Runs `step` every `every_s` on a daemon thread named `name`, from `start` until `stop`, which waits for
    the step under way. The first step runs at once with `at_start`, else after `every_s`. `stopping` is set from
    the moment `stop` is called: a long step asks it to end early."""

    def __init__(self, name: str, every_s: float, step: Callable[[], object], *, at_start: bool = False) -> None:
        self.every_s = every_s
        self.stopping = threading.Event()
        self._step = step
        self._at_start = at_start
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        if self._at_start:
            self._step()
        while not self.stopping.wait(self.every_s):
            self._step()
