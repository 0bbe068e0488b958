"""The data directory and everything in it are private to the service's user: the directory 0700, the
accounts database 0600, and what chDB and the spool create in it without group or other permissions,
whatever the umask the process was started with."""

from __future__ import annotations

import os
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.auth.service import open_auth
from sightline.settings import Settings
from tests.handwritten import by_hand

OPEN = stat.S_IRWXG | stat.S_IRWXO


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most systems start a service with, restored afterwards."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def _open_to_others(directory: Path) -> list[str]:
    found = [directory, *directory.rglob("*")]
    return [f"{oct(p.lstat().st_mode & 0o777)} {p}" for p in found if p.lstat().st_mode & OPEN and not p.is_symlink()]


def test_the_service_creates_nothing_that_others_can_read(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, argon2_time_cost=1, argon2_memory_kib=1024, writer_max_delay_s=0.2)
    app = create_app(settings)
    app.state.auth.accounts.add_customer(1001, "Alpha", 6831)
    key = app.state.auth.accounts.create_key(KeyKind.INGEST, 1001)[1]
    now_ms = int(time.time() * 1000)
    view_id = uuid.UUID(int=(now_ms << 80) | (0x7 << 76) | (0b10 << 62) | 1)
    batch = {"view_id": str(view_id), "events": [{"event": "play_request", "ts": now_ms, "seq": 0}]}
    with TestClient(app) as client:
        assert client.post("/collect", json=batch, headers={"X-Ingest-Key": key}).status_code == 200
        deadline = time.monotonic() + 30
        while not services(app).store.query(by_hand("SELECT count() AS n FROM events")).column("n")[0].as_py():
            assert time.monotonic() < deadline, "the batch never reached the store"
            time.sleep(0.1)
    app.state.auth.close()
    assert {"metadata.db", "clickhouse", "spool"} <= {p.name for p in data_dir.iterdir()}
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "metadata.db").stat().st_mode) == 0o600
    assert _open_to_others(data_dir) == []


def test_an_older_data_directory_is_made_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    (data_dir / "metadata.db").touch(mode=0o644)
    settings = Settings(data_dir=data_dir, argon2_time_cost=1, argon2_memory_kib=1024)
    open_auth(settings).close()
    assert stat.S_IMODE((data_dir / "metadata.db").stat().st_mode) == 0o600
    app = create_app(settings)
    with TestClient(app):
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    app.state.auth.close()


def test_the_accounts_cli_alone_creates_a_private_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    open_auth(Settings(data_dir=data_dir, argon2_time_cost=1, argon2_memory_kib=1024)).close()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert _open_to_others(data_dir) == []
