"""A real `sightline serve` process for the tests that kill it: a free port, the CLI, the server started in a
session of its own (so that `os.killpg` kills it whole) and waited for until /healthz answers, killed, the
load of senders it is killed under, and waiting for what the senders did (a busy machine runs them slowly: a
test waits for what it needs rather than sleeping a fixed time)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

FAST_WRITER = {"SIGHTLINE_WRITER_MAX_DELAY_S": "0.2"}
"""The writer seals a segment every 0.2 s: acknowledgements come sooner, more batches are in flight at a kill."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cli(*args: str) -> str:
    """The output of `sightline ARGS` (CalledProcessError when it fails)."""
    result = subprocess.run([sys.executable, "-m", "sightline", *args], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def serve(data_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`sightline serve` on `data_dir` at `port` with `env` added to the environment, once /healthz answers
    (AssertionError after 120 s: a busy machine starts it slowly, a process exiting ends the wait at once)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "sightline", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited with {server.returncode} before /healthz answered")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError("the server did not come up")


def kill(server: subprocess.Popen[bytes]) -> None:
    """kill -9 the server's process group, and wait for it."""
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(10)


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
    """Return once `condition()` holds; AssertionError `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (waited {seconds:g} s)")
        time.sleep(0.02)


@contextmanager
def under_load(send: Callable[[int, threading.Event], None], senders: int, join_s: float = 20) -> Iterator[None]:
    """`senders` threads running `send(first, stop)` (first: 0 to senders − 1) while the block runs; then `stop` is
    set and they are joined (AssertionError when one is still running `join_s` later: what it sent is not
    settled)."""
    stop = threading.Event()
    threads = [threading.Thread(target=send, args=(first, stop), daemon=True) for first in range(senders)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(join_s)
    running = sum(thread.is_alive() for thread in threads)
    assert not running, f"{running} of {senders} senders still running {join_s:g} s after they were stopped"
