"""A real `sightline serve` process for the tests that kill it: a free port, the CLI, the server started in a
session of its own (so that `os.killpg` kills it whole) and waited for until /healthz answers, killed, and the
load of senders it is killed under."""

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
    (AssertionError after 60 s)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "sightline", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
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


@contextmanager
def under_load(send: Callable[[int, threading.Event], None], senders: int, join_s: float = 20) -> Iterator[None]:
    """`senders` threads running `send(first, stop)` (first: 0 to senders − 1) while the block runs; then `stop` is
    set and they are joined."""
    stop = threading.Event()
    threads = [threading.Thread(target=send, args=(first, stop)) for first in range(senders)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(join_s)
