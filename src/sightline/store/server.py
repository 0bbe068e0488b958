"""The server backend: a ClickHouse server over HTTP through clickhouse-connect (`store_url=clickhouse://…`).

Invariants:
- the statements are the printer's and the schema's, as in the embedded backend; values are bound by the
  server (`param_…`); results come back as Arrow (ArrowStream), JSON rows with the embedded backend's settings;
- an insert sends its batch as an Arrow stream (lz4 buffers) of the layout's columns and types, except that
  dictionary-encoded text is sent as it is, one dictionary a column: the server reads it as text;
- reads carry the engine-enforced time and memory limits as the server's settings; they run at most
  `connections` at a time (a waiting one can be cancelled), and are sent again on a connection error (they
  change nothing); an insert is sent again only under its deduplication token, which makes a second landing
  change nothing;
- a tagged query runs under a `query_id` of its own; `cancel` stops it with `KILL QUERY` by that id;
- inserts, DDL and Sightline's own reads are serialised (the embedded backend's writer session);
- an unreachable server or refused credentials are a `StoreUnavailableError` of one line, password-free;
- no data-directory lock: any number of processes share a server;
- on a cluster (`url.cluster`), every read carries `CLUSTER_READ_SETTINGS` and every insert
  `CLUSTER_INSERT_SETTINGS` (docs/deploy.md), and partition versions are every replica's (`clusterAllReplicas`
  over the local table); with no cluster, neither is sent.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import clickhouse_connect
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError
from clickhouse_connect.driver.external import ExternalData
from clickhouse_connect.driver.httputil import get_pool_manager

from sightline.query.printer import (
    SqlText,
    Statement,
    print_batch_insert,
    print_batch_stored,
    print_cluster_replicas,
    print_kill_query,
    print_partition_versions,
    require_printed,
)
from sightline.store.base import (
    InsertListener,
    QueryCancelledError,
    QueryMemoryError,
    QueryTimeoutError,
    StoreError,
    StoreUnavailableError,
)
from sightline.store.layout import (
    EVENT_COLUMN_NAMES,
    EVENT_SCHEMA,
    EVENTS_INSERT,
    EVENTS_SENT,
    STORED_KEY,
    arrivals_of,
    check_batch,
    events_stored,
)
from sightline.store.migrations import SchemaStatement
from sightline.store.schema import CLUSTER_INSERT_SETTINGS, CLUSTER_READ_SETTINGS, local_name
from sightline.store.tagged import TaggedQueries
from sightline.store.units import MAX_PARTITIONS_PER_INSERT
from sightline.store.url import ServerUrl

logger = logging.getLogger(__name__)

JSON_OUTPUT: dict[str, int] = {
    "output_format_float_precision": 4,
    "output_format_json_quote_64bit_integers": 0,
    "output_format_json_quote_denormals": 0,
    "output_format_json_validate_utf8": 1,
    "output_format_json_escape_forward_slashes": 0,
}
"""The settings of JSON rows (`Store.query_json_rows`), the embedded backend's."""
_ARROW_OUTPUT: dict[str, int] = {
    "output_format_arrow_string_as_string": 1,
    "output_format_arrow_low_cardinality_as_dictionary": 0,
}
"""Arrow results as the embedded engine gives them: text as strings, LowCardinality as its values."""
_INSERT_SETTINGS: dict[str, int] = {
    "parallel_view_processing": 1,
    "max_partitions_per_insert_block": MAX_PARTITIONS_PER_INSERT,
}
_DEDUPLICATED: dict[str, int] = {
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}
"""The settings of an insert with a deduplication token (`insert_deduplication_token`, added per insert)."""
_INSERT = print_batch_insert(EVENTS_INSERT, {}, EVENTS_SENT)
_SENT_KEYS = "sent_keys"
"""The external table that `count_stored` sends a batch's keys in."""
_KEYS_SENT = tuple((name, kind) for name, kind in EVENTS_SENT if name in STORED_KEY)
_ARROW_IPC = pa.ipc.IpcWriteOptions(compression="lz4")

_TIMEOUT, _MEMORY, _CANCELLED = 159, 241, 394
_REFUSED_CREDENTIALS = {192, 193, 194, 516}  # UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTHENTICATION_FAILED
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")
_RETRY_WAITS_S = (0.2, 1.0)
"""How long to wait before each further attempt of a read whose connection failed."""
_WAIT_POLL_S = 0.1

T = TypeVar("T")


class _UnreachedError(StoreUnavailableError):
    """No answer from the server (refused, reset or timed-out connection): what a read is sent again after."""


class ServerStore:
    """A ClickHouse server's database through one HTTP client with a pool of `connections`. Thread-safe."""

    def __init__(
        self,
        url: ServerUrl,
        *,
        connections: int = 2,
        time_limit_s: float = 200.0,
        memory_limit_bytes: int = 4 * 1024**3,
    ) -> None:
        """Connect to `url`'s server; `StoreUnavailableError` when it cannot be reached or refuses the user."""
        self.url = url
        self._limits: dict[str, Any] = {
            "max_execution_time": float(time_limit_s),
            "max_memory_usage": int(memory_limit_bytes),
        }
        self._cluster_reads: dict[str, Any] = dict(CLUSTER_READ_SETTINGS) if url.cluster else {}
        self._cluster_inserts: dict[str, Any] = dict(CLUSTER_INSERT_SETTINGS) if url.cluster else {}
        self._client = _connect(url, connections, time_limit_s)
        self._reads = threading.BoundedSemaphore(connections)
        self._writer_lock = threading.Lock()
        self._closed = False
        self._tagged = TaggedQueries()
        self._query_id_prefix = f"sightline-{uuid.uuid4().hex[:12]}-"
        """The prefix of this store's query ids: a tagged query's id is it and the tag, unique on the server."""
        self._listeners: list[InsertListener] = []

    def check_cluster(self) -> None:
        """`StoreUnavailableError` in one line unless the server knows the URL's cluster (when it names one)."""
        cluster = self.url.cluster
        if cluster is None:
            return
        answer = self._retried(lambda: self._raw(print_cluster_replicas(cluster), "TabSeparated", {}))
        if int(answer.strip()) == 0:
            raise StoreUnavailableError(
                f"the ClickHouse server {self.url.redacted()} has no cluster {cluster!r} in its remote_servers"
            )

    def query(self, statement: Statement, *, tag: str | None = None) -> pa.Table:
        require_printed(statement, Statement)
        body = self._read(statement, "ArrowStream", {**self._limits, **self._cluster_reads, **_ARROW_OUTPUT}, tag)
        return _arrow(body)

    def query_json_rows(self, statement: Statement) -> list[bytes]:
        require_printed(statement, Statement)
        settings = {**self._limits, **self._cluster_reads, **JSON_OUTPUT}
        rows: list[bytes] = self._read(statement, "JSONEachRow", settings, None).splitlines()
        return rows

    def _read(self, statement: Statement, output: str, settings: dict[str, Any], tag: str | None) -> bytes:
        """The server's answer to `statement` in `output` format, at most `connections` at a time."""
        if tag is None:
            with self._read_slot(None):
                return self._retried(lambda: self._raw(statement, output, settings))
        self._tagged.register(tag)
        try:
            with self._read_slot(tag):
                if not self._tagged.start(tag):
                    raise QueryCancelledError(f"query {tag} was cancelled before it started")
                # a read sent again after a failed connection keeps its id: KILL finds it either way
                query_id = self._query_id_prefix + tag
                return self._retried(lambda: self._raw(statement, output, {**settings, "query_id": query_id}))
        finally:
            self._tagged.finish(tag)

    @contextmanager
    def _read_slot(self, tag: str | None) -> Iterator[None]:
        while not self._reads.acquire(timeout=_WAIT_POLL_S):
            self._check_open()
            if tag is not None and not self._tagged.waiting(tag):
                raise QueryCancelledError(f"query {tag} was cancelled before it started")
        try:
            self._check_open()
            yield
        finally:
            self._reads.release()

    def _raw(self, statement: SqlText, output: str, settings: dict[str, Any], **extra: Any) -> bytes:
        sql, params = statement
        try:
            body: bytes = self._client.raw_query(sql, dict(params), settings=settings, fmt=output, **extra)
        except ClickHouseError as error:
            raise _store_error(error, self.url) from None
        return body

    def _retried(self, read: Callable[[], T]) -> T:
        """`read`, again after each connection error (never after an answer of the server's) until the last wait."""
        for wait_s in _RETRY_WAITS_S:
            try:
                return read()
            except _UnreachedError as error:
                logger.warning("%s; again in %.1f s", error, wait_s)
                time.sleep(wait_s)
                self._check_open()
        return read()

    def cancel(self, tag: str) -> bool:
        return self._tagged.cancel(tag, lambda: self._kill(tag))

    def _kill(self, tag: str) -> bool:
        """Stop the running query tagged `tag`; False when the server does not list it (yet, or any more)."""
        self._check_open()
        return bool(self._raw(print_kill_query(self._query_id_prefix + tag), "TabSeparated", {}).strip())

    def add_insert_listener(self, listener: InsertListener) -> None:
        self._listeners.append(listener)

    def read_internal(self, statement: Statement | SchemaStatement) -> pa.Table:
        require_printed(statement, Statement | SchemaStatement)
        with self._writer_lock:
            self._check_open()
            settings = {**self._cluster_reads, **_ARROW_OUTPUT}
            return _arrow(self._retried(lambda: self._raw(statement, "ArrowStream", settings)))

    def partition_versions(self, table: str) -> dict[str, int]:
        cluster = self.url.cluster
        read = (
            print_partition_versions(table) if cluster is None else print_partition_versions(local_name(table), cluster)
        )
        versions = self.query(read)
        return dict(zip(versions.column("partition").to_pylist(), versions.column("version").to_pylist(), strict=True))

    def execute(self, statement: Statement | SchemaStatement) -> None:
        require_printed(statement, Statement | SchemaStatement)
        sql, params = statement
        with self._writer_lock:
            self._check_open()
            try:
                self._client.command(sql, dict(params))
            except ClickHouseError as error:
                raise _store_error(error, self.url) from None

    def insert_events(self, batch: pa.Table, dedup_token: str | None = None) -> None:
        sent = _ipc(_sent(batch, EVENT_COLUMN_NAMES))
        settings: dict[str, Any] = {**_INSERT_SETTINGS, **self._cluster_inserts, "insert_deduplicate": 0}
        if dedup_token is not None:
            deduplicated = {**_DEDUPLICATED, "insert_deduplication_token": dedup_token}
            settings = {**_INSERT_SETTINGS, **self._cluster_inserts, **deduplicated}

        def insert() -> None:
            try:
                self._client.command(_INSERT.sql, dict(_INSERT.params), data=sent, settings=settings)
            except ClickHouseError as error:
                raise _store_error(error, self.url) from None

        with self._writer_lock:
            self._check_open()
            # sent again only under its token: without one, a lost answer may hide an insert that landed
            self._retried(insert) if dedup_token is not None else insert()
        if self._listeners:
            arrivals = arrivals_of(batch)
            for listener in self._listeners:
                listener(arrivals)

    def count_stored(self, batch: pa.Table) -> int:
        batch = _sent(batch, tuple(name for name, _ in _KEYS_SENT))
        if batch.num_rows == 0:
            return 0
        ts = batch.column("ts")
        customers = sorted(pc.unique(batch.column("customer_id")).to_pylist())
        count = print_batch_stored(events_stored(customers, pc.min(ts).as_py(), pc.max(ts).as_py()), _SENT_KEYS)
        keys = ExternalData(
            file_name=_SENT_KEYS,
            data=_ipc(batch),
            fmt="ArrowStream",
            structure=[f"{name} {kind}" for name, kind in _KEYS_SENT],
        )
        with self._writer_lock:
            self._check_open()
            counted = self._retried(lambda: self._raw(count, "TabSeparated", self._cluster_reads, external_data=keys))
        return int(counted.strip())

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def close(self) -> None:
        """Close the connections. Idempotent; later calls raise StoreError."""
        with self._writer_lock:
            if self._closed:
                return
            self._closed = True
            self._client.close()


def _connect(url: ServerUrl, connections: int, time_limit_s: float) -> Client:
    """A client of `url`'s server, checked by a first request, with a pool of a connection per read slot, one
    for the writer and one for cancelling."""
    pool = get_pool_manager(maxsize=connections + 2, num_pools=1, block=True, verify=url.verify)
    try:
        return clickhouse_connect.get_client(
            interface="https" if url.tls else "http",
            host=url.host,
            port=url.port,
            username=url.user,
            password=url.password,
            database=url.database,
            connect_timeout=url.connect_timeout_s,
            send_receive_timeout=time_limit_s + 30,
            pool_mgr=pool,
            autogenerate_session_id=False,
            query_retries=0,
            show_clickhouse_errors="scrub",
            client_name="sightline",
        )
    except ClickHouseError as error:
        pool.clear()
        raise _store_error(error, url) from None


def _sent(batch: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """Columns `names` of `batch` as the server reads them (`EVENTS_SENT`): of the layout's types (ValueError if
    they cannot be), but text that is dictionary-encoded stays so, with one dictionary a column. Decoding it would
    send each value once a row: for the simulator's batches, a body 5 times larger, and the decoding alone cost
    the client a sixth of the embedded engine's whole insert."""
    check_batch(batch)
    columns = []
    try:
        for name in names:
            column, kind = batch.column(name), EVENT_SCHEMA.field(name).type
            if column.type != kind and not (pa.types.is_dictionary(column.type) and column.type.value_type == kind):
                column = column.cast(kind)
            columns.append(column)
        return pa.table(columns, names=list(names)).unify_dictionaries()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ValueError(f"event batch does not convert to the layout: {error}") from error


def _ipc(table: pa.Table) -> bytes:
    """`table` as an Arrow stream, its buffers compressed (lz4)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_ARROW_IPC) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _arrow(body: bytes) -> pa.Table:
    if not body:  # a query without result columns answers nothing
        return pa.table({})
    return pa.ipc.open_stream(body).read_all()


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and what caused it, in turn (the reason of a failed connection is in the transport's errors)."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _store_error(error: ClickHouseError, url: ServerUrl) -> StoreError:
    """The StoreError of a failed request: its kind by the server's error code, the server's message; one line
    naming the server (never its password) when it was not reached or refused the user."""
    code = getattr(error, "code", None)
    if isinstance(error, OperationalError) and code is None:
        found = _ERRNO.search(" ".join(str(cause) for cause in _causes(error)))
        reason = found.group(1).strip().lower() if found else "no answer"
        return _UnreachedError(f"cannot reach the ClickHouse server {url.redacted()}: {reason}")
    if code in _REFUSED_CREDENTIALS:
        return StoreUnavailableError(
            f"the ClickHouse server {url.redacted()} refused user {url.user!r}: wrong user name or password"
        )
    message = str(error).partition("server response: ")[2] or str(error)
    if code == _TIMEOUT:
        return QueryTimeoutError(message)
    if code == _MEMORY:
        return QueryMemoryError(message)
    if code == _CANCELLED:
        return QueryCancelledError(message)
    return StoreError(message)
