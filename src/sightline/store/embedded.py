"""The embedded backend: the ClickHouse engine in-process through chDB.

Invariants:
- one process owns a data directory: an exclusive `flock` on `<data_dir>/sightline.lock` (`DataDirLock`),
  taken before the engine opens, makes a second process fail with `DataDirectoryLockedError`;
- the data directory is private to the owner's user: made 0700, and the owning process's umask 077, so
  that nothing the engine, the spool or the accounts database create in it can be read by others;
- reads run on a small pool of sessions (one query at a time each, in parallel across sessions,
  without the GIL); inserts run on a session of their own;
- every session carries the engine-enforced time and memory limits;
- a tagged query carries its tag as the engine's `log_comment`; `cancel` stops it with `KILL QUERY` from
  a control session of its own, or before it starts when it still waits for a session;
- after each successful insert, the insert listeners hear which customers and times got new rows.
"""

from __future__ import annotations

import fcntl
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from chdb import session as chdb_session

from sightline.query.printer import (
    Setting,
    Statement,
    print_batch_insert,
    print_batch_stored,
    print_kill_tagged,
    print_partition_versions,
    print_session_setting,
    require_printed,
)
from sightline.store.base import (
    DataDirectoryLockedError,
    InsertListener,
    QueryCancelledError,
    QueryMemoryError,
    QueryParams,
    QueryTimeoutError,
    StoreError,
)
from sightline.store.layout import EVENTS_INSERT, arrivals_of, check_batch, events_stored
from sightline.store.migrations import SchemaStatement
from sightline.store.tagged import TaggedQueries
from sightline.store.units import MAX_PARTITIONS_PER_INSERT

_TIMEOUT_CODE = "Code: 159."
_MEMORY_CODE = "Code: 241."
_CANCELLED_CODE = "Code: 394."
_JSON_OUTPUT: dict[str, int] = {
    "output_format_float_precision": 4,
    "output_format_json_quote_64bit_integers": 0,
    "output_format_json_quote_denormals": 0,
    "output_format_json_validate_utf8": 1,
    "output_format_json_escape_forward_slashes": 0,
}
"""How query sessions write JSON rows (`query_json_rows`); the Arrow results of `query` are not affected."""
_WAIT_POLL_S = 0.1
_INSERT_SETTINGS: dict[str, Setting] = {
    "parallel_view_processing": 1,
    "max_partitions_per_insert_block": MAX_PARTITIONS_PER_INSERT,
}
_INSERT = print_batch_insert(EVENTS_INSERT, {**_INSERT_SETTINGS, "insert_deduplicate": 0})
_DEDUPLICATED: dict[str, Setting] = {
    **_INSERT_SETTINGS,
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}
"""The settings of an insert with a deduplication token (`insert_deduplication_token`, added per insert)."""


LOCK_FILE = "sightline.lock"
PRIVATE_UMASK = 0o077


def _make_private(data_dir: Path) -> None:
    """The data directory private to this process's user (0700, an older one too), and the process's umask
    077 from now on, so that what chDB (in-process), the spool and the accounts database create in it is
    theirs alone: the process that owns a data directory creates nothing others can read."""
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)


class DataDirLock:
    """An exclusive `flock` on `<data_dir>/sightline.lock`, held until released: the process holding it owns
    the data directory. The lock file is never removed while held (a new file would be a new lock)."""

    def __init__(self, data_dir: Path) -> None:
        """Take the lock; `DataDirectoryLockedError` when another process holds it (nothing else is touched
        but the directory's mode)."""
        _make_private(data_dir)
        fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirectoryLockedError(
                f"data directory {data_dir} is in use by another Sightline process (pid {owner}); "
                "stop it or choose another --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd: int | None = fd

    def release(self) -> None:
        """Let the directory go. Idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


ENGINE_DIR = "clickhouse"
"""The engine's own directory under the data directory."""


class EmbeddedStore:
    """chDB in `<data_dir>/clickhouse`. Thread-safe; close it to release the data directory."""

    def __init__(
        self,
        data_dir: Path,
        *,
        query_sessions: int = 2,
        time_limit_s: float = 200.0,
        memory_limit_bytes: int = 4 * 1024**3,
        lock: DataDirLock | None = None,
    ) -> None:
        """Open the engine in `data_dir`, under `lock` (then the store's to release) or a lock it takes."""
        self.data_dir = data_dir
        self._lock = lock or DataDirLock(data_dir)
        self._path = str(data_dir / ENGINE_DIR)
        self._limits = tuple(
            print_session_setting(name, value)
            for name, value in {
                "max_execution_time": float(time_limit_s),
                "max_memory_usage": int(memory_limit_bytes),
                **_JSON_OUTPUT,
            }.items()
        )
        self._writer_session = chdb_session.Session(self._path)
        self._writer_lock = threading.Lock()
        self._sessions: queue.Queue[Any] = queue.Queue()
        self._closed = False
        for _ in range(query_sessions):
            self._sessions.put(self._query_session())
        self._control_session = chdb_session.Session(self._path)
        self._control_lock = threading.Lock()
        self._tagged = TaggedQueries()
        self._listeners: list[InsertListener] = []

    def _query_session(self) -> Any:
        session = chdb_session.Session(self._path)
        for statement in self._limits:
            session.query(statement.sql)
        return session

    def _take_session(self, tag: str | None) -> Any:
        while not self._closed:
            if tag is not None and not self._tagged.waiting(tag):
                raise QueryCancelledError(f"query {tag} was cancelled before it started")
            try:
                return self._sessions.get(timeout=_WAIT_POLL_S)
            except queue.Empty:
                continue
        raise StoreError("the store is closed")

    @contextmanager
    def _session(self, tag: str | None = None) -> Iterator[Any]:
        session = self._take_session(tag)
        try:
            yield session
        except Exception:
            # a failed query can leave its partial result in the session, which would corrupt the next
            # query's answer: the session is replaced, never reused
            session.close()
            session = self._query_session()
            raise
        finally:
            self._sessions.put(session)

    def query(self, statement: Statement, *, tag: str | None = None) -> pa.Table:
        result = self._run(statement, "ArrowTable", tag)
        if not isinstance(result, pa.Table):
            raise StoreError(f"engine returned {type(result).__name__}, not an Arrow table")
        return result

    def query_json_rows(self, statement: Statement) -> list[bytes]:
        rows: list[bytes] = self._run(statement, "JSONEachRow", None).bytes().splitlines()
        return rows

    def _run(self, statement: Statement, output: str, tag: str | None) -> Any:
        """The engine's result of `statement` in `output` format, on a query session (see `query`)."""
        require_printed(statement, Statement)
        if tag is not None:
            statement = statement.with_settings({"log_comment": tag})
            self._tagged.register(tag)
        sql, params = statement
        try:
            with self._session(tag) as session:
                started = tag is None or self._tagged.start(tag)
                if started:
                    try:
                        result = session.query(sql, output, params=_bound(params))
                    except Exception as error:  # chDB raises RuntimeError/ChdbError with the engine's text
                        raise _store_error(error) from error
            if not started:
                raise QueryCancelledError(f"query {tag} was cancelled before it started")
        finally:
            if tag is not None:
                self._tagged.finish(tag)
        return result

    def cancel(self, tag: str) -> bool:
        return self._tagged.cancel(tag, lambda: self._kill(tag))

    def _kill(self, tag: str) -> bool:
        """Stop the running query tagged `tag`; False when the engine does not list it (yet, or any more)."""
        with self._control_lock:
            self._check_open()
            kill = print_kill_tagged(tag)
            killed = self._control_session.query(kill.sql, "CSV", params=_bound(kill.params))
        return bool(str(killed).strip())

    def add_insert_listener(self, listener: InsertListener) -> None:
        self._listeners.append(listener)

    def read_internal(self, statement: Statement | SchemaStatement) -> pa.Table:
        require_printed(statement, Statement | SchemaStatement)
        sql, params = statement
        with self._writer_lock:
            self._check_open()
            try:
                result = self._writer_session.query(sql, "ArrowTable", params=_bound(params))
            except Exception as error:
                raise _store_error(error) from error
        if not isinstance(result, pa.Table):
            raise StoreError(f"engine returned {type(result).__name__}, not an Arrow table")
        return result

    def partition_versions(self, table: str) -> dict[str, int]:
        versions = self.query(print_partition_versions(table))
        return dict(zip(versions.column("partition").to_pylist(), versions.column("version").to_pylist(), strict=True))

    def execute(self, statement: Statement | SchemaStatement) -> None:
        require_printed(statement, Statement | SchemaStatement)
        sql, params = statement
        with self._writer_lock:
            self._check_open()
            try:
                self._writer_session.query(sql, params=_bound(params))
            except Exception as error:
                raise _store_error(error) from error

    def insert_events(self, batch: pa.Table, dedup_token: str | None = None) -> None:
        check_batch(batch)
        with self._writer_lock:
            self._check_open()
            try:
                if dedup_token is None:
                    self._writer_session.query(_INSERT.sql)
                else:
                    insert = print_batch_insert(
                        EVENTS_INSERT, {**_DEDUPLICATED, "insert_deduplication_token": dedup_token}
                    )
                    self._writer_session.query(insert.sql, params=_bound(insert.params))
            except Exception as error:
                raise _store_error(error) from error
        if self._listeners:
            arrivals = arrivals_of(batch)
            for listener in self._listeners:
                listener(arrivals)

    def count_stored(self, batch: pa.Table) -> int:
        check_batch(batch)
        if batch.num_rows == 0:
            return 0
        ts = batch.column("ts")
        customers = sorted(pc.unique(batch.column("customer_id")).to_pylist())
        count = print_batch_stored(events_stored(customers, pc.min(ts).as_py(), pc.max(ts).as_py()))
        with self._writer_lock:
            self._check_open()
            try:
                counted = self._writer_session.query(count.sql, "CSV", params=_bound(count.params))
            except Exception as error:
                raise _store_error(error) from error
        return int(str(counted).strip())

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def close(self) -> None:
        """Release the engine and the data directory. Idempotent; later calls raise StoreError."""
        with self._writer_lock:
            if self._closed:
                return
            self._closed = True
            while not self._sessions.empty():
                self._sessions.get_nowait().close()
            with self._control_lock:
                self._control_session.close()
            self._writer_session.close()
            self._lock.release()


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _bound(params: QueryParams | None) -> dict[str, str | int | float]:
    """Parameter values as the engine parses them: strings in its escaped text format, so that a
    backslash, tab or newline in a value is that character, never an escape sequence."""
    return {
        name: value.translate(_ESCAPES) if isinstance(value, str) else value for name, value in (params or {}).items()
    }


def _store_error(error: Exception) -> StoreError:
    message = str(error)
    if _TIMEOUT_CODE in message:
        return QueryTimeoutError(message)
    if _MEMORY_CODE in message:
        return QueryMemoryError(message)
    if _CANCELLED_CODE in message:
        return QueryCancelledError(message)
    return StoreError(message)
