"""Two real `sightline serve` processes sharing one metadata database (a SQLite file, and PostgreSQL when
SIGHTLINE_TEST_POSTGRES_URL is set; each its own data directory, as the embedded engine lets one process own one):
each lease of once-only work is held by one of them at a time, as their /metrics say, and when its holder is
killed (-9) the other takes it over within the lease's lifetime; one that stops releases its leases at once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.alerts import delivery, scheduler
from sightline.smartquery import stored_days
from tests.auth.fixtures import postgres_schema
from tests.server_process import free_port, serve

LEASES = (scheduler.LEASE, stored_days.LEASE, delivery.LEASE)
TTL_S = 2.0
TOKEN = "metrics-token-of-the-test"


def leases_held(port: int) -> set[str]:
    """The leases the process at `port` says it holds (its /metrics)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    return {
        name
        for name, value in re.findall(r'^sightline_lease_held\{lease="([^"]+)"\} (\S+)$', text, re.M)
        if float(value) == 1.0
    }


def wait_for(condition: object, seconds: float) -> float:
    """Seconds until `condition()` is true (AssertionError after `seconds`)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of the metadata database the processes share."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata' / 'metadata.db'}"
        return
    with postgres_schema() as url:
        yield url


def test_one_process_holds_each_lease_and_the_other_takes_them_over_when_it_is_killed(
    tmp_path: Path, metadata: str
) -> None:
    env = {
        "SIGHTLINE_METADATA_URL": metadata,
        "SIGHTLINE_LEASE_TTL_S": str(TTL_S),
        "SIGHTLINE_METRICS_TOKEN": TOKEN,
    }
    first_port, second_port = free_port(), free_port()
    first = serve(tmp_path / "first", first_port, env)
    servers: list[subprocess.Popen[bytes]] = [first]
    try:
        wait_for(lambda: leases_held(first_port) == set(LEASES), 10)
        second = serve(tmp_path / "second", second_port, env)
        servers.append(second)
        time.sleep(2 * TTL_S)  # the second tried to take each lease at least 3 times
        assert leases_held(second_port) == set()
        assert leases_held(first_port) == set(LEASES)

        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
        took = wait_for(lambda: leases_held(second_port) == set(LEASES), 3 * TTL_S)
        assert took <= TTL_S + TTL_S / 3 + 1.0  # the expiry, then the next attempt (every third), then a scrape
    finally:
        for server in servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(30)


def test_a_process_that_stops_releases_its_leases_to_the_other_at_once(tmp_path: Path, metadata: str) -> None:
    env = {
        "SIGHTLINE_METADATA_URL": metadata,
        "SIGHTLINE_LEASE_TTL_S": "30",
        "SIGHTLINE_METRICS_TOKEN": TOKEN,
    }
    first_port, second_port = free_port(), free_port()
    first = serve(tmp_path / "first", first_port, env)
    servers: list[subprocess.Popen[bytes]] = [first]
    try:
        wait_for(lambda: leases_held(first_port) == set(LEASES), 10)
        second = serve(tmp_path / "second", second_port, env)
        servers.append(second)
        os.killpg(first.pid, signal.SIGTERM)
        assert first.wait(30) in (0, -signal.SIGTERM)  # uvicorn stops cleanly, then dies of the signal it caught
        # released: taken at the second's next attempt (every 10 s), long before the lease would have expired (20 s
        # at least after the first's last renewal)
        wait_for(lambda: leases_held(second_port) == set(LEASES), 15)
    finally:
        for server in servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(30)
