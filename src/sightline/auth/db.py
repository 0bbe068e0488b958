"""The metadata engine and its migrations (Alembic, with the revisions shipped in `migrations/`).

SQLite gets write-ahead logging, a busy timeout and foreign keys, so that the CLI can change accounts
while the service runs; its file is private to the user (0600, and so its -wal and -shm files, which
SQLite creates with the database's mode), in a directory created 0700. Migrating is idempotent: it brings
the database to the newest revision; processes starting at once migrate one at a time (a PostgreSQL advisory
lock held by the migration's transaction; a file lock beside an SQLite file), so the first upgrades and the
others find it done.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url

MIGRATIONS = "sightline.auth:migrations"
MIGRATION_LOCK_KEY = 0x5167_6874_6C69_6E65
"""The key of the PostgreSQL advisory lock that the metadata database's migrations take."""


def open_engine(url: str) -> Engine:
    """An engine for `url`: psycopg (3) for a PostgreSQL URL that names no driver; for SQLite, its file
    made private (created 0600, in a directory created 0700, or made 0600 if it was not)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        database = Path(parsed.database)
        database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
        database.chmod(0o600)
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Upgrade the metadata database of `engine` to the newest revision, one process at a time."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with _sqlite_file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock on a file beside the SQLite database file of `engine`, held meanwhile; none for other
    databases."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    descriptor = os.open(f"{database}.migrating", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock
