"""What the server backend has of its own, against the ClickHouse HTTP test harness (or a real server): one clear
line when the server is unreachable or refuses the user, the engine's limits as the same error kinds as the
embedded backend's, a replayed insert token that changes nothing, reads sent again after a lost connection and
inserts without a token never, `sightline migrate --store-url`."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from sightline.ingest.native import BATCH, to_event_table
from sightline.settings import Settings
from sightline.store import (
    QueryMemoryError,
    QueryTimeoutError,
    StoreUnavailableError,
    open_store,
)
from sightline.store.migrations import MIGRATIONS
from sightline.store.opening import open_server
from sightline.store.server import ServerStore
from sightline.store.url import ServerUrl, parse_store_url
from tests.clickhouse_http.fixtures import Server
from tests.clickhouse_http.process import url_text
from tests.handwritten import by_hand
from tests.server_process import free_port
from tests.store.test_cancel import LONG_QUERY

START_MS = 1_780_000_000_000


def server_of(url: str) -> ServerUrl:
    parsed = parse_store_url(url)
    assert parsed is not None
    return parsed


@pytest.fixture
def server(server_url: str) -> Iterator[ServerStore]:
    store = open_store(Settings(store_url=server_url))
    assert isinstance(store, ServerStore)
    yield store
    store.close()


def batch(customer_id: int, views: int) -> pa.Table:
    runs = []
    for i in range(views):
        view_id = uuid.UUID(int=((START_MS + i) << 80) | (0x7 << 76) | (0b10 << 62) | i)
        rows = [{"event": "heartbeat", "ts": START_MS + i + k, "seq": k, "play_ms": 1000} for k in range(3)]
        runs.append(BATCH.validate_python({"view_id": str(view_id), "events": rows}))
    return to_event_table(customer_id, runs)


def totals(store: ServerStore) -> tuple[int, int, int]:
    """Events, views and the hourly rollup's play time."""
    events = store.query(by_hand("SELECT count() AS n FROM events")).column("n")[0].as_py()
    views = store.query(by_hand("SELECT count() AS n FROM (SELECT view_id FROM views GROUP BY view_id)"))
    play = store.query(by_hand("SELECT sum(play_ms) AS p FROM rollup_1h")).column("p")[0].as_py()
    return int(events), int(views.column("n")[0].as_py()), int(play or 0)


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    url = ServerUrl("127.0.0.1", free_port(), "default", "ana", "secret", connect_timeout_s=2)
    with pytest.raises(StoreUnavailableError) as refused:
        ServerStore(url)
    assert str(refused.value) == (
        f"cannot reach the ClickHouse server clickhouse://ana@127.0.0.1:{url.port}/default: connection refused"
    )


def test_wrong_credentials_are_one_line_without_the_password(clickhouse_server: Server) -> None:
    url = replace(clickhouse_server.url, password="not-the-password")
    with pytest.raises(StoreUnavailableError) as refused:
        ServerStore(url)
    assert str(refused.value) == (
        f"the ClickHouse server {url.redacted()} refused user {url.user!r}: wrong user name or password"
    )


def test_a_cluster_the_server_does_not_know_is_one_line(clickhouse_server: Server) -> None:
    url = replace(clickhouse_server.url, cluster="no_such_cluster")
    with pytest.raises(StoreUnavailableError) as refused:
        open_server(Settings(), url)
    assert str(refused.value) == (
        f"the ClickHouse server {url.redacted()} has no cluster 'no_such_cluster' in its remote_servers"
    )


@pytest.mark.parametrize("command", ["migrate", "serve"])
@pytest.mark.parametrize("wrong", ["password", "cluster"])
def test_the_cli_says_it_in_one_line_and_exits_non_zero(clickhouse_server: Server, command: str, wrong: str) -> None:
    bad = (
        replace(clickhouse_server.url, password="not-the-password")
        if wrong == "password"
        else replace(clickhouse_server.url, cluster="no_such_cluster")
    )
    url = url_text(bad)
    port = ["--port", str(free_port())] if command == "serve" else []
    result = subprocess.run(
        [sys.executable, "-m", "sightline", command, "--store-url", url, *port],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"sightline: the ClickHouse server {bad.redacted()} refused user {bad.user!r}: wrong user name or password"
        if wrong == "password"
        else f"sightline: the ClickHouse server {bad.redacted()} has no cluster 'no_such_cluster' in its remote_servers"
    ]


def test_migrate_creates_the_schema_on_a_server_and_a_rerun_applies_nothing(server_url: str, tmp_path: Path) -> None:
    def migrate() -> list[str]:
        command = [sys.executable, "-m", "sightline", "migrate", "--store-url", server_url, "--data-dir", str(tmp_path)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
        return result.stdout.splitlines()

    redacted = server_of(server_url).redacted()
    first = migrate()
    assert first[0].startswith("applied migration 1:")
    assert first[-1] == f"schema at version {MIGRATIONS[-1].version} in {redacted}"
    assert migrate() == [f"schema at version {MIGRATIONS[-1].version} in {redacted}"]
    assert not (tmp_path / "sightline.lock").exists()  # the data directory's lock is the embedded engine's alone


def test_the_time_limit_is_a_timeout(server_url: str) -> None:
    store = open_store(Settings(store_url=server_url, query_time_limit_s=0.5))
    try:
        with pytest.raises(QueryTimeoutError, match="TIMEOUT_EXCEEDED"):
            store.query(by_hand(LONG_QUERY))
    finally:
        store.close()


def test_the_memory_limit_is_a_memory_error(server_url: str) -> None:
    store = open_store(Settings(store_url=server_url, query_memory_limit_bytes=20_000_000))
    try:
        with pytest.raises(QueryMemoryError, match="MEMORY_LIMIT_EXCEEDED"):
            store.query(by_hand("SELECT groupArray(number) AS a FROM numbers(50000000)"))
    finally:
        store.close()


def test_a_replayed_insert_token_changes_nothing(server: ServerStore) -> None:
    server.insert_events(batch(7, 5), dedup_token="segment-1")
    stored = totals(server)
    assert stored == (15, 5, 15_000)
    server.insert_events(batch(7, 5), dedup_token="segment-1")
    assert totals(server) == stored
    server.insert_events(batch(7, 5), dedup_token="segment-2")  # another token is another insert
    assert totals(server)[0] == 30
    assert server.count_stored(batch(7, 5)) == 30


def harness_drops(server: Server, count: int | None = None) -> int:
    """Make the harness close the next `count` queries' connections unanswered; how many are left to close."""
    url = f"http://{server.url.host}:{server.url.port}/harness/drop"
    if count is not None:
        url = f"{url}?count={count}"
    request = urllib.request.Request(url, method="GET" if count is None else "POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(answer.read())


def test_reads_are_sent_again_after_a_lost_connection_and_inserts_without_a_token_never(
    server: ServerStore, clickhouse_server: Server
) -> None:
    if not clickhouse_server.harness:
        pytest.skip("connections are dropped by the harness only")  # a real server runs the rest of the suite
    harness_drops(clickhouse_server, 3)  # the client's own second attempt, then ours
    assert server.query(by_hand("SELECT 42 AS x")).column("x").to_pylist() == [42]
    assert harness_drops(clickhouse_server) == 0
    harness_drops(clickhouse_server, 1)
    with pytest.raises(StoreUnavailableError, match="cannot reach the ClickHouse server"):
        server.insert_events(batch(7, 1))
    assert harness_drops(clickhouse_server) == 0
    assert totals(server)[0] == 0
    harness_drops(clickhouse_server, 1)
    server.insert_events(batch(7, 1), dedup_token="segment-1")  # under its token: sent again
    assert totals(server)[0] == 3


def text_batch(rows_per_dictionary: int, values: int, length: int) -> tuple[pa.Table, int]:
    """A batch of customer 7 whose `assetname` is dictionary-encoded, in two chunks of different dictionaries
    of `values` random texts of `length` characters each; and the size of that text decoded (a value a row)."""
    draw = random.Random(7)
    chunks, text_bytes = [], 0
    for chunk in range(2):
        words = [f"{chunk}-" + "".join(draw.choices(string.ascii_letters, k=length)) for _ in range(values)]
        indices = pa.array([draw.randrange(values) for _ in range(rows_per_dictionary)], pa.int32())
        chunks.append(pa.DictionaryArray.from_arrays(indices, pa.array(words)))
        text_bytes += sum(len(words[i]) for i in indices.to_pylist())
    events = batch(7, 2 * rows_per_dictionary // 3)
    column = pa.chunked_array(chunks)
    return events.set_column(events.schema.get_field_index("assetname"), "assetname", column), text_bytes


def test_an_insert_sends_dictionary_encoded_text_as_it_is(server: ServerStore, clickhouse_server: Server) -> None:
    """Text a batch holds dictionary-encoded is sent so, each value once (not once a row): the simulator's and
    `sightline copy`'s batches are a fifth of the size so, and the client spends nothing decoding them."""
    if not clickhouse_server.harness:
        pytest.skip("the size of what a client sent is the harness's record")
    events, text_bytes = text_batch(rows_per_dictionary=6000, values=500, length=500)
    server.insert_events(events)
    with urllib.request.urlopen(
        f"http://{server.url.host}:{server.url.port}/harness/log?database={server.url.database}"
    ) as answer:
        inserts = [entry for entry in json.load(answer) if entry["data_bytes"]]
    assert len(inserts) == 1
    assert inserts[0]["data_bytes"] < text_bytes / 4
