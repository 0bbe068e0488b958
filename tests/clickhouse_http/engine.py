"""The harness's engine: chDB sessions that run a request's query as a ClickHouse server would run it (see
`harness.py` for the HTTP side): its settings, its database, its bound parameters, an insert's data, external
tables, and KILL QUERY by query id (the id is the query's `log_comment`).

Each query starts from the server's defaults, as on a server: a session runs it with exactly the request's
settings and database, set by one SET of what differs from the session's previous query (a server applies them
in its query's context, not by statements of its own; three statements a query, SET, USE and reset, were a
third of a small query's time in the harness). A query that is itself a SET or USE leaves its session to be
replaced, as a server forgets it once the request is answered.
"""

from __future__ import annotations

import json
import queue
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chdb import session as chdb_session

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
STRUCTURE = re.compile(r"^[A-Za-z0-9_ ,()]+$")
_INPUT = re.compile(r"\binput\('([^']*)'\)")
_KILL = re.compile(r"^\s*KILL\s+QUERY\s+WHERE\s+query_id\s*=\s*\{([A-Za-z0-9_]+):String\}(\s+SYNC)?\s*$", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)\.")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_SESSION_STATEMENT = re.compile(r"^\s*(SET|USE)\b", re.IGNORECASE)


class HarnessError(Exception):
    """An answer with the server's error `code` and `message`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Query:
    """One request as the engine will run it."""

    sql: str
    database: str = "default"
    query_id: str = ""
    output: str = "TabSeparated"
    params: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None
    input_format: str = ""
    external: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)
    """Name → (structure, format, data) of each external table."""


@dataclass
class _Session:
    """A chDB session and what it was left with: the database and the settings (away from the defaults) of its
    last query; `stale` when a query of its own may have changed them."""

    chdb: Any
    database: str = "default"
    settings: dict[str, str] = field(default_factory=dict)
    stale: bool = False


class Engine:
    """chDB sessions on one data directory: a pool for the queries (the last one used first), one for KILL."""

    def __init__(self, path: str, sessions: int) -> None:
        self._path = path
        self._pool: queue.LifoQueue[_Session] = queue.LifoQueue()
        for _ in range(sessions):
            self._pool.put(_Session(chdb_session.Session(path)))
        self._control = chdb_session.Session(path)
        self._control_lock = threading.Lock()
        defaults = self._control.query("SELECT name, value FROM system.settings", "JSONEachRow")
        self.defaults = {row["name"]: row["value"] for row in map(json.loads, defaults.bytes().splitlines())}

    @contextmanager
    def _session(self) -> Iterator[_Session]:
        session = self._pool.get()
        try:
            yield session
        except Exception:
            session.stale = True  # a failed query can leave state behind, as the embedded store knows
            raise
        finally:
            if session.stale:
                session.chdb.close()
                session = _Session(chdb_session.Session(self._path))
            self._pool.put(session)

    def run(self, query: Query) -> tuple[bytes, str]:
        """The result of `query` and its format."""
        killed = _KILL.match(query.sql)
        if killed:
            return self._kill(query, query.params.get(killed.group(1), "")), query.output
        with self._session() as session:
            self._prepare(session, query.database, {**query.settings, "log_comment": query.query_id})
            session.stale = bool(_SESSION_STATEMENT.match(query.sql))
            run = session.chdb.query
            for name, (structure, fmt, data) in query.external.items():
                _engine(run, f"CREATE TEMPORARY TABLE `{name}` ({structure})")
                self._insert(session.chdb, f"INSERT INTO `{name}`", fmt, data)
            try:
                if query.data is not None:
                    self._insert(session.chdb, query.sql, query.input_format, query.data)
                    return b"", query.output
                result = _engine(run, query.sql, query.output, params=query.params or None)
                return result.bytes() if result is not None else b"", query.output
            finally:
                for name in query.external:
                    _engine(run, f"DROP TEMPORARY TABLE IF EXISTS `{name}`")

    def _prepare(self, session: _Session, database: str, settings: dict[str, str]) -> None:
        """`session` with exactly `settings` away from the defaults, on `database`."""
        for name in settings:
            if not NAME.match(name):
                raise HarnessError(115, f"Unknown setting {name!r}")
        changed = {name: value for name, value in settings.items() if session.settings.get(name) != value}
        changed |= {name: self.defaults.get(name, "") for name in session.settings if name not in settings}
        if changed:
            assignments = ", ".join(f"{name} = {_literal(value)}" for name, value in changed.items())
            _engine(session.chdb.query, f"SET {assignments}")
        session.settings = settings
        if session.database != database:
            _engine(session.chdb.query, f"USE `{database}`")
            session.database = database

    @staticmethod
    def _insert(session: Any, sql: str, fmt: str, data: bytes) -> None:
        """`sql` (an INSERT) with `data` in `fmt`: sent to the engine as it comes; read from a file of its own
        when the INSERT selects from `input(…)` (which the engine's streaming insert does not take)."""
        read = _INPUT.search(sql)
        if read is not None:
            if not STRUCTURE.match(read.group(1)) or not NAME.match(fmt):
                raise HarnessError(1001, "the harness reads input() of columns and types only, in a named format")
            with tempfile.NamedTemporaryFile(prefix="harness-input-", suffix=".data") as file:
                file.write(data)
                file.flush()
                source = f"file('{file.name}', '{fmt}', '{read.group(1)}')"
                _engine(session.query, sql[: read.start()] + source + sql[read.end() :])
            return
        try:
            with session.send_insert(sql, fmt) as inserting:
                inserting.append(data)
                inserting.finish()
        except Exception as error:
            raise _engine_error(error) from None

    def _kill(self, query: Query, query_id: str) -> bytes:
        with self._control_lock:
            result = _engine(
                self._control.query,
                "KILL QUERY WHERE Settings['log_comment'] = {id:String} SYNC",
                query.output,
                params={"id": query_id},
            )
        return result.bytes() if result is not None else b""


def _literal(value: str) -> str:
    if _NUMBER.match(value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _engine(run: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return run(*args, **kwargs)
    except Exception as error:
        raise _engine_error(error) from None


def _engine_error(error: Exception) -> HarnessError:
    message = str(error)
    found = _CODE.search(message)
    return HarnessError(int(found.group(1)) if found else 1001, message[found.start() :] if found else message)
