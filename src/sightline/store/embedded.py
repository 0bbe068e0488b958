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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from chdb import session as chdb_session

from sightline.settings import Settings
from sightline.store.base import (
    QUERY_TAG,
    DataDirectoryLockedError,
    InsertListener,
    QueryCancelledError,
    QueryMemoryError,
    QueryParams,
    QueryTimeoutError,
    StoreError,
)
from sightline.store.layout import arrivals_of, check_batch, insert_select_sql
from sightline.store.units import MAX_PARTITIONS_PER_INSERT

_TIMEOUT_CODE = "Code: 159."
_MEMORY_CODE = "Code: 241."
_CANCELLED_CODE = "Code: 394."
_TAG_PARAM = "sightline_query_tag"
_JSON_OUTPUT = (
    "SET output_format_float_precision = 4",
    "SET output_format_json_quote_64bit_integers = 0",
    "SET output_format_json_quote_denormals = 0",
    "SET output_format_json_validate_utf8 = 1",
    "SET output_format_json_escape_forward_slashes = 0",
)
"""How query sessions write JSON rows (`query_json_rows`); the Arrow results of `query` are not affected."""
_TAGGED = f" SETTINGS log_comment = {{{_TAG_PARAM}:String}}"
_KILL_SQL = f"KILL QUERY WHERE Settings['log_comment'] = {{{_TAG_PARAM}:String}} SYNC"
_KILL_RETRY_S = 0.01
_WAIT_POLL_S = 0.1
_INSERT_SETTINGS = (
    f" SETTINGS parallel_view_processing = 1, max_partitions_per_insert_block = {MAX_PARTITIONS_PER_INSERT}"
)
_INSERT_SQL = insert_select_sql("Python(batch)") + _INSERT_SETTINGS + ", insert_deduplicate = 0"
_PARTITION_VERSIONS_SQL = (
    "SELECT partition, max(max_block_number) AS version FROM system.parts "
    "WHERE database = currentDatabase() AND table = {table:String} AND active GROUP BY partition"
)
_DEDUPLICATED_INSERT_SQL = (
    insert_select_sql("Python(batch)") + _INSERT_SETTINGS + ", insert_deduplicate = 1,"
    " insert_deduplication_token = {dedup_token:String}, deduplicate_blocks_in_dependent_materialized_views = 1"
)
_COUNT_STORED_SQL = (
    "SELECT count() AS n FROM events WHERE customer_id IN {customers:Array(UInt32)}"
    " AND ts BETWEEN fromUnixTimestamp64Milli({low:Int64}, 'UTC') AND fromUnixTimestamp64Milli({high:Int64}, 'UTC')"
    " AND (customer_id, view_id, seq, ts) IN (SELECT customer_id, toUUID(UUIDNumToString(view_id)), seq,"
    " fromUnixTimestamp64Milli(ts, 'UTC') FROM Python(batch))"
)


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
        self._path = str(data_dir / "clickhouse")
        self._limits = (
            f"SET max_execution_time = {float(time_limit_s)}",
            f"SET max_memory_usage = {int(memory_limit_bytes)}",
            *_JSON_OUTPUT,
        )
        self._writer_session = chdb_session.Session(self._path)
        self._writer_lock = threading.Lock()
        self._sessions: queue.Queue[Any] = queue.Queue()
        self._closed = False
        for _ in range(query_sessions):
            self._sessions.put(self._query_session())
        self._control_session = chdb_session.Session(self._path)
        self._control_lock = threading.Lock()
        self._tags: dict[str, str] = {}
        """Tag → "waiting" (for a session), "running" or "cancelled" (before it ran)."""
        self._tags_lock = threading.Lock()
        self._listeners: list[InsertListener] = []

    def _query_session(self) -> Any:
        session = chdb_session.Session(self._path)
        for statement in self._limits:
            session.query(statement)
        return session

    def _take_session(self, tag: str | None) -> Any:
        while not self._closed:
            if tag is not None and not self._waiting(tag):
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

    def query(self, sql: str, params: QueryParams | None = None, *, tag: str | None = None) -> pa.Table:
        result = self._run(sql, params, "ArrowTable", tag)
        if not isinstance(result, pa.Table):
            raise StoreError(f"engine returned {type(result).__name__}, not an Arrow table")
        return result

    def query_json_rows(self, sql: str, params: QueryParams | None = None) -> list[bytes]:
        rows: list[bytes] = self._run(sql, params, "JSONEachRow", None).bytes().splitlines()
        return rows

    def _run(self, sql: str, params: QueryParams | None, output: str, tag: str | None) -> Any:
        """The engine's result of `sql` in `output` format, on a query session (see `query`)."""
        if tag is not None:
            sql, params = sql + _TAGGED, {**(params or {}), _TAG_PARAM: tag}
            self._register(tag)
        try:
            with self._session(tag) as session:
                started = tag is None or self._start(tag)
                if started:
                    try:
                        result = session.query(sql, output, params=_bound(params))
                    except Exception as error:  # chDB raises RuntimeError/ChdbError with the engine's text
                        raise _store_error(error) from error
            if not started:
                raise QueryCancelledError(f"query {tag} was cancelled before it started")
        finally:
            if tag is not None:
                with self._tags_lock:
                    self._tags.pop(tag, None)
        return result

    def _register(self, tag: str) -> None:
        if not QUERY_TAG.match(tag):
            raise ValueError(f"not a query tag: {tag!r}")
        with self._tags_lock:
            if tag in self._tags:
                raise ValueError(f"a query tagged {tag!r} is already waiting or running")
            self._tags[tag] = "waiting"

    def _waiting(self, tag: str) -> bool:
        with self._tags_lock:
            return self._tags[tag] == "waiting"

    def _start(self, tag: str) -> bool:
        """Mark `tag` running; False when it was cancelled while it waited."""
        with self._tags_lock:
            if self._tags[tag] == "cancelled":
                return False
            self._tags[tag] = "running"
            return True

    def cancel(self, tag: str) -> bool:
        with self._tags_lock:
            state = self._tags.get(tag)
            if state is None:
                return False
            if state != "running":
                self._tags[tag] = "cancelled"
                return True
        # running: the engine may not list it yet, so KILL until it is killed or has ended
        while True:
            with self._control_lock:
                self._check_open()
                killed = self._control_session.query(_KILL_SQL, "CSV", params={_TAG_PARAM: tag})
            if str(killed).strip():
                return True
            with self._tags_lock:
                if tag not in self._tags:
                    return False
            time.sleep(_KILL_RETRY_S)

    def add_insert_listener(self, listener: InsertListener) -> None:
        self._listeners.append(listener)

    def read_internal(self, sql: str, params: QueryParams | None = None) -> pa.Table:
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
        versions = self.query(_PARTITION_VERSIONS_SQL, {"table": table})
        return dict(zip(versions.column("partition").to_pylist(), versions.column("version").to_pylist(), strict=True))

    def execute(self, sql: str, params: QueryParams | None = None) -> None:
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
                    self._writer_session.query(_INSERT_SQL)
                else:
                    self._writer_session.query(_DEDUPLICATED_INSERT_SQL, params=_bound({"dedup_token": dedup_token}))
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
        params = {
            "customers": f"[{','.join(str(c) for c in pc.unique(batch.column('customer_id')).to_pylist())}]",
            "low": pc.min(ts).as_py(),
            "high": pc.max(ts).as_py(),
        }
        with self._writer_lock:
            self._check_open()
            try:
                counted = self._writer_session.query(_COUNT_STORED_SQL, "CSV", params=_bound(params))
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


def open_store(settings: Settings, lock: DataDirLock | None = None) -> EmbeddedStore:
    """The store that `settings.store_url` names, with its schema migrated to the newest version; opened
    under `lock` when the caller took the data directory's lock already."""
    from sightline.store.migrations import apply_migrations

    if settings.store_url != "chdb://":
        raise StoreError(f"unsupported store URL {settings.store_url!r}; this build supports chdb://")
    store = EmbeddedStore(
        settings.data_dir,
        query_sessions=settings.query_sessions,
        time_limit_s=settings.query_time_limit_s,
        memory_limit_bytes=settings.query_memory_limit_bytes,
        lock=lock,
    )
    try:
        apply_migrations(store)
    except Exception:
        store.close()
        raise
    return store
