"""A server store is migrated by one process at a time: two `sightline migrate` or `sightline serve` processes
started together over one server store and one metadata database take the store's migrations lease in turn, so
each migration is applied (and recorded) once, and neither fails."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sightline.auth.db import migrate, open_engine
from sightline.settings import Settings
from sightline.store import open_store
from sightline.store.migrations import MIGRATIONS
from tests.handwritten import by_hand
from tests.server_process import free_port, kill


def migrated_metadata(data_dir: Path) -> str:
    """The metadata database in `data_dir`, migrated, as the service's processes find it (they open it first)."""
    url = Settings(data_dir=data_dir).metadata_database_url()
    engine = open_engine(url)
    migrate(engine)
    engine.dispose()
    return url


def recorded_versions(server_url: str, data_dir: Path) -> list[int]:
    store = open_store(Settings(store_url=server_url, data_dir=data_dir))
    try:
        rows = store.query(by_hand("SELECT version FROM schema_migrations ORDER BY version")).column("version")
    finally:
        store.close()
    return [int(version) for version in rows.to_pylist()]


def test_two_processes_migrating_together_apply_each_migration_once(server_url: str, tmp_path: Path) -> None:
    migrated_metadata(tmp_path)
    command = [sys.executable, "-m", "sightline", "migrate", "--store-url", server_url, "--data-dir", str(tmp_path)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err for _, err in outputs]
    applied = sorted(line for out, _ in outputs for line in out.splitlines() if line.startswith("applied migration"))
    assert len(applied) == len(MIGRATIONS)
    assert recorded_versions(server_url, tmp_path) == [migration.version for migration in MIGRATIONS]


def test_two_services_starting_together_migrate_once_and_both_serve(server_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "SIGHTLINE_STORE_URL": server_url, "SIGHTLINE_METADATA_URL": migrated_metadata(tmp_path)}
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"serve-{port}.log" for port in ports]
    servers = []
    for port, log in zip(ports, logs, strict=True):
        data_dir = tmp_path / f"process-{port}"
        command = [sys.executable, "-m", "sightline", "serve", "--data-dir", str(data_dir), "--port", str(port)]
        with log.open("wb") as output:
            servers.append(subprocess.Popen(command, stdout=output, stderr=output, env=env, start_new_session=True))
    try:
        for port, server in zip(ports, servers, strict=True):
            assert healthy(port, server), f"the service at {port} did not come up: {[log.read_text() for log in logs]}"
    finally:
        for server in servers:
            kill(server)
    said = "".join(log.read_text() for log in logs)
    assert said.count("applied migration 1:") == 1, said
    assert recorded_versions(server_url, tmp_path) == [migration.version for migration in MIGRATIONS]


def healthy(port: int, server: subprocess.Popen[bytes]) -> bool:
    """Whether the service at `port` answers /healthz within 120 s (False at once when its process ended)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False
