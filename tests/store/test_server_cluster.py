"""A server store with a cluster (`?cluster=NAME`) sends the cluster layout's statements and settings, and one
without a cluster none of them: what the harness received (`/harness/log`). The harness is one chDB engine,
which has no cluster to run them on (no `remote_servers`, no Keeper for the Replicated engines), so these tests
check what is sent; a real cluster runs them with SIGHTLINE_TEST_CLICKHOUSE_CLUSTER (docs/deploy.md)."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace
from typing import Any

import pytest

from sightline.query.printer import PING, print_partition_versions
from sightline.settings import Settings
from sightline.store import StoreError, open_store
from sightline.store.migrations import applied_versions, migrate
from sightline.store.schema import CLUSTER_INSERT_SETTINGS, CLUSTER_READ_SETTINGS, ledger_ddl, render
from sightline.store.server import ServerStore
from sightline.store.url import ServerUrl
from tests.clickhouse_http.fixtures import Server
from tests.store.test_server import batch, server_of

CLUSTER = "sightline_cluster"
CLUSTER_SETTINGS = {*CLUSTER_READ_SETTINGS, *CLUSTER_INSERT_SETTINGS}


@pytest.fixture
def harness(clickhouse_server: Server) -> Server:
    if not clickhouse_server.harness:
        pytest.skip("what a client sent is the harness's record (a real server runs the cluster suite instead)")
    return clickhouse_server


def received(url: ServerUrl) -> list[dict[str, Any]]:
    """The queries the harness received for `url`'s database, with their settings, in order."""
    with urllib.request.urlopen(f"http://{url.host}:{url.port}/harness/log?database={url.database}") as answer:
        logged: list[dict[str, Any]] = json.load(answer)
    return logged


def sent(settings: dict[str, Any]) -> dict[str, str]:
    """`settings` as they travel (HTTP parameters)."""
    return {name: str(value) for name, value in settings.items()}


def use(store: ServerStore) -> None:
    """Every kind of request of the store: reads, Sightline's own reads, an insert, a count of stored rows."""
    store.query(PING)
    store.query_json_rows(PING)
    applied_versions(store)
    events = batch(7, 3)
    store.insert_events(events, dedup_token="segment-1")
    store.insert_events(batch(8, 2))
    assert store.count_stored(events) == 9


def test_a_cluster_store_reads_and_inserts_with_the_cluster_settings(harness: Server, server_url: str) -> None:
    open_store(Settings(store_url=server_url)).close()  # the single-server schema: the harness has no cluster
    url = replace(server_of(server_url), cluster=CLUSTER)
    store = ServerStore(url)
    try:
        before = len(received(url))
        use(store)
    finally:
        store.close()
    queries = received(url)[before:]
    reads = [q for q in queries if q["query"].lstrip().upper().startswith("SELECT")]
    inserts = [q for q in queries if q["query"].lstrip().upper().startswith("INSERT INTO `EVENTS`")]
    assert len(reads) >= 4
    assert len(inserts) == 2
    for read in reads:
        assert sent(CLUSTER_READ_SETTINGS).items() <= read["settings"].items(), read["query"]
    for insert in inserts:
        assert sent(CLUSTER_INSERT_SETTINGS).items() <= insert["settings"].items()
        assert not set(CLUSTER_READ_SETTINGS) & set(insert["settings"])


def test_a_store_without_a_cluster_sends_no_cluster_settings(harness: Server, server_url: str) -> None:
    store = open_store(Settings(store_url=server_url))
    assert isinstance(store, ServerStore)
    try:
        use(store)
        store.partition_versions("events")
    finally:
        store.close()
    queries = received(server_of(server_url))
    assert queries
    for query in queries:
        assert not CLUSTER_SETTINGS & set(query["settings"]), query["query"]
        assert "ON CLUSTER" not in query["query"]
        assert "clusterAllReplicas" not in query["query"]


def test_a_cluster_store_reads_partition_versions_of_every_replica(harness: Server, server_url: str) -> None:
    url = replace(server_of(server_url), cluster=CLUSTER)
    store = ServerStore(url)
    try:
        with pytest.raises(StoreError, match=CLUSTER):  # the harness knows no cluster
            store.partition_versions("events")
    finally:
        store.close()
    expected = print_partition_versions("events_local", CLUSTER)
    [read] = [q for q in received(url) if "system.parts" in q["query"]]
    assert read["query"] == expected.sql
    assert sent(CLUSTER_READ_SETTINGS).items() <= read["settings"].items()


def test_a_cluster_store_is_migrated_on_the_cluster(harness: Server, server_url: str) -> None:
    url = replace(server_of(server_url), cluster=CLUSTER)
    store = ServerStore(url)  # not open_store: it would refuse a cluster the server does not know before migrating
    try:
        with pytest.raises(StoreError, match=CLUSTER):  # the harness knows no cluster: the first DDL is refused
            migrate(store, CLUSTER)
    finally:
        store.close()
    [first] = received(url)[-1:]
    assert first["query"] == render([ledger_ddl()], CLUSTER)[0]
    assert f"ON CLUSTER {CLUSTER} " in first["query"]
