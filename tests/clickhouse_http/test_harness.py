"""The harness answers clickhouse-connect as a server does in what the server backend does not use itself:
compressed insert bodies and answers (lz4, zstd, gzip) in Native, and the X-ClickHouse-User/Key headers."""

from __future__ import annotations

import clickhouse_connect
import pytest

from tests.clickhouse_http.fixtures import Server


@pytest.mark.parametrize("compression", ["lz4", "zstd", "gzip"])
def test_compressed_native_inserts_and_answers(clickhouse_server: Server, server_url: str, compression: str) -> None:
    url = clickhouse_server.url
    database = server_url.rsplit("/", 1)[1]
    client = clickhouse_connect.get_client(
        host=url.host, port=url.port, username=url.user, password=url.password, database=database,
        compress=compression, autogenerate_session_id=False,
    )  # fmt: skip
    try:
        client.command("CREATE TABLE t (n UInt32, s String) ENGINE = MergeTree ORDER BY n")
        rows = [[n, f"row {n} " * 20] for n in range(2000)]
        client.insert("t", rows, column_names=["n", "s"])
        answer = client.query("SELECT n, s FROM t ORDER BY n")
        assert [list(row) for row in answer.result_rows] == rows
    finally:
        client.close()


def test_users_named_by_headers(clickhouse_server: Server) -> None:
    url = clickhouse_server.url
    headers = {"X-ClickHouse-User": url.user, "X-ClickHouse-Key": url.password}
    client = clickhouse_connect.get_client(host=url.host, port=url.port, headers=headers, username="", password="")
    try:
        assert client.command("SELECT 41 + 1") == 42
    finally:
        client.close()


def test_each_query_starts_from_the_servers_defaults(clickhouse_server: Server, server_url: str) -> None:
    """A query's settings, and a SET or USE sent as a query of its own, last for that query only: a server keeps
    nothing of a request without a session once it has answered (the harness's pooled sessions neither)."""
    url = clickhouse_server.url
    database = server_url.rsplit("/", 1)[1]
    client = clickhouse_connect.get_client(
        host=url.host, port=url.port, username=url.user, password=url.password, database=database,
        autogenerate_session_id=False,
    )  # fmt: skip
    rounds = 10  # more than the harness's sessions: every one of them is asked
    try:
        for _ in range(rounds):
            assert client.command("SELECT getSetting('max_result_rows')", settings={"max_result_rows": 7}) == 7
            client.command("SET max_result_rows = 9")
            client.command("USE system")
        for _ in range(rounds):
            assert client.command("SELECT getSetting('max_result_rows')") == 0
            assert client.command("SELECT currentDatabase()") == database
    finally:
        client.close()
