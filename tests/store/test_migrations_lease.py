"""A server store is migrated by one process at a time: two `sightline migrate` processes started together over
one server store and one metadata database take the store's migrations lease in turn, so each migration is
applied (and recorded) once, and neither fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sightline.auth.db import migrate, open_engine
from sightline.settings import Settings
from sightline.store import open_store
from sightline.store.migrations import MIGRATIONS
from tests.handwritten import by_hand


def test_two_processes_migrating_together_apply_each_migration_once(server_url: str, tmp_path: Path) -> None:
    engine = open_engine(Settings(data_dir=tmp_path).metadata_database_url())
    migrate(engine)  # the metadata database as the service's processes find it (they open it first)
    engine.dispose()
    command = [sys.executable, "-m", "sightline", "migrate", "--store-url", server_url, "--data-dir", str(tmp_path)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err for _, err in outputs]
    applied = sorted(line for out, _ in outputs for line in out.splitlines() if line.startswith("applied migration"))
    assert len(applied) == len(MIGRATIONS)
    store = open_store(Settings(store_url=server_url, data_dir=tmp_path))
    try:
        rows = store.query(by_hand("SELECT version FROM schema_migrations ORDER BY version")).column("version")
    finally:
        store.close()
    assert rows.to_pylist() == [migration.version for migration in MIGRATIONS]
