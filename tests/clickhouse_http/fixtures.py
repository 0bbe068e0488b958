"""Fixtures of the server backend's tests: the harness as a process of its own for the session (or, when
`SIGHTLINE_TEST_CLICKHOUSE_URL` names one, a real ClickHouse server instead, and with
`SIGHTLINE_TEST_CLICKHOUSE_CLUSTER` its cluster of that name: docs/deploy.md), and for each test a database of its
own on it (`server_url`, on every node of the cluster), dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client

from sightline.store.url import ServerUrl, parse_store_url
from tests.clickhouse_http.process import running_harness, url_text

REAL_SERVER = "SIGHTLINE_TEST_CLICKHOUSE_URL"
REAL_CLUSTER = "SIGHTLINE_TEST_CLICKHOUSE_CLUSTER"


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


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    real = os.environ.get(REAL_SERVER)
    if real:
        url = parse_store_url(real)
        assert url is not None, f"{REAL_SERVER} must name a clickhouse:// or clickhouses:// server"
        yield Server(replace(url, cluster=os.environ.get(REAL_CLUSTER) or url.cluster), harness=False)
        return
    with running_harness(tmp_path_factory.mktemp("clickhouse-harness")) as url:
        yield Server(url, harness=True)


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
