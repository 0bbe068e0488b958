"""Several processes of the service start at once over one metadata database: each migrates it at start
(`auth.db.migrate`), and none may fail for the others' doing; the database ends at the newest revision once.
Real processes (Alembic's context is one per process), released together by a barrier."""

from __future__ import annotations

import multiprocessing
from threading import Barrier

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from sightline.auth.db import MIGRATIONS, migrate, open_engine

STARTING = 4


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _start(url: str, at_once: Barrier) -> str | None:
    """Migrate `url` once the others are ready too; the failure's text, if any."""
    engine = open_engine(url)
    try:
        at_once.wait()
        migrate(engine)
    except Exception as failure:
        return f"{type(failure).__name__}: {failure}"
    finally:
        engine.dispose()
    return None


def test_processes_starting_at_once_migrate_a_shared_metadata_once_and_all_start(shared_metadata: str) -> None:
    processes = multiprocessing.get_context("spawn")
    with processes.Manager() as manager, processes.Pool(STARTING) as pool:
        at_once = manager.Barrier(STARTING)
        failures = pool.starmap(_start, [(shared_metadata, at_once)] * STARTING)
    assert failures == [None] * STARTING
    engine = open_engine(shared_metadata)
    try:
        with engine.connect() as connection:
            versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    assert versions == [_head()]
