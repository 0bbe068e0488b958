"""The harness as a process of its own (`python -m tests.clickhouse_http.harness`) over a data directory: what the
tests' fixture and the benchmarks of the server backend start."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sightline.store.url import ServerUrl
from tests.server_process import free_port

ROOT = Path(__file__).resolve().parents[2]
HARNESS_USER, HARNESS_PASSWORD = "sightline", "harness-password"


@contextmanager
def running_harness(data_dir: Path) -> Iterator[ServerUrl]:
    """The harness serving `data_dir` on a free port of 127.0.0.1 until the block ends: its URL (database
    `default`, the embedded store's own, so that a data directory the embedded store wrote is served as it is)."""
    port = free_port()
    command = ["-m", "tests.clickhouse_http.harness", "--data-dir", str(data_dir), "--port", str(port)]
    harness = subprocess.Popen(
        [sys.executable, *command, "--user", HARNESS_USER, "--password", HARNESS_PASSWORD],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert harness.stdout is not None
    if harness.stdout.readline().strip() != b"ready":
        harness.kill()
        raise RuntimeError("the ClickHouse HTTP harness did not start")
    try:
        yield ServerUrl("127.0.0.1", port, "default", HARNESS_USER, HARNESS_PASSWORD)
    finally:
        harness.terminate()
        harness.wait(timeout=30)


def url_text(url: ServerUrl) -> str:
    """`url` as a store URL (with its password: for the tests' settings only)."""
    options = f"?cluster={url.cluster}" if url.cluster else ""
    return f"{url.scheme}://{url.user}:{url.password}@{url.host}:{url.port}/{url.database}{options}"
