"""The store contract suite runs on every backend: `store` is the embedded engine, then the server backend over
the ClickHouse HTTP test harness (`tests/clickhouse_http`; a real server when SIGHTLINE_TEST_CLICKHOUSE_URL is
set). A test of what one backend alone has (the data directory's lock) asks for `embedded_store`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sightline.settings import Settings
from sightline.store import EmbeddedStore, Store, open_store

BACKENDS = ("embedded", "server")

OpenStore = Callable[..., Store]
"""Opens a store of the test's backend, with settings overridden by keyword (`query_sessions=1`, …)."""


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def open_backend(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[OpenStore]:
    opened: list[Store] = []

    def open_one(**settings: Any) -> Store:
        if backend == "server":
            settings["store_url"] = request.getfixturevalue("server_url")
        store = open_store(Settings(data_dir=tmp_path / "data", **settings))
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_backend: OpenStore) -> Store:
    return open_backend()


@pytest.fixture
def embedded_store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    opened = open_store(Settings(data_dir=tmp_path / "data"))
    assert isinstance(opened, EmbeddedStore)
    yield opened
    opened.close()
