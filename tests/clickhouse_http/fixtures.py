"""Fixtures of the server backend's tests: the harness as a process of its own for the session (or, when
`SIGHTLINE_TEST_CLICKHOUSE_URL` names one, a real ClickHouse server instead, and with
`SIGHTLINE_TEST_CLICKHOUSE_CLUSTER` its cluster of that name: docs/deploy.md), and for each test a database of its
own on it (`server_url`, on every node of the cluster), dropped afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client

from sightline.store.url import ServerUrl, parse_store_url
from tests.server_process import free_port

REAL_SERVER = "SIGHTLINE_TEST_CLICKHOUSE_URL"
REAL_CLUSTER = "SIGHTLINE_TEST_CLICKHOUSE_CLUSTER"
HARNESS_USER, HARNESS_PASSWORD = "sightline", "harness-password"


@dataclass(frozen=True)
class Server:
    """A ClickHouse server the tests may use: its URL (database `default`), and whether it is the harness."""

    url: ServerUrl
    harness: bool

    def admin(self) -> Client:
        """A client of the server, to make and drop the tests' databases (and to poke the harness)."""
        return clickhouse_connect.get_client(
            host=self.url.host,
            port=self.url.port,
            username=self.url.user,
            password=self.url.password,
            secure=self.url.tls,
            verify=self.url.verify,
            autogenerate_session_id=False,
        )


def url_text(url: ServerUrl) -> str:
    """`url` as a store URL (with its password: for the tests' settings only)."""
    options = f"?cluster={url.cluster}" if url.cluster else ""
    return f"{url.scheme}://{url.user}:{url.password}@{url.host}:{url.port}/{url.database}{options}"


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    real = os.environ.get(REAL_SERVER)
    if real:
        url = parse_store_url(real)
        assert url is not None, f"{REAL_SERVER} must name a clickhouse:// or clickhouses:// server"
        yield Server(replace(url, cluster=os.environ.get(REAL_CLUSTER) or url.cluster), harness=False)
        return
    port = free_port()
    data_dir = tmp_path_factory.mktemp("clickhouse-harness")
    command = ["-m", "tests.clickhouse_http.harness", "--data-dir", str(data_dir), "--port", str(port)]
    harness = subprocess.Popen(
        [sys.executable, *command, "--user", HARNESS_USER, "--password", HARNESS_PASSWORD],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert harness.stdout is not None
    assert harness.stdout.readline().strip() == b"ready", "the ClickHouse HTTP harness did not start"
    try:
        yield Server(ServerUrl("127.0.0.1", port, "default", HARNESS_USER, HARNESS_PASSWORD), harness=True)
    finally:
        harness.terminate()
        harness.wait(timeout=30)


@pytest.fixture
def server_url(clickhouse_server: Server) -> Iterator[str]:
    """The store URL of a new database on the server, dropped after the test."""
    database = f"sightline_test_{uuid.uuid4().hex[:12]}"
    cluster = clickhouse_server.url.cluster
    on = f" ON CLUSTER {cluster}" if cluster else ""
    admin = clickhouse_server.admin()
    admin.command(f"CREATE DATABASE {database}{on}")
    try:
        yield url_text(replace(clickhouse_server.url, database=database))
    finally:
        admin.command(f"DROP DATABASE IF EXISTS {database}{on} SYNC")
        admin.close()
