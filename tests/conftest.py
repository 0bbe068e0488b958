"""Shared fixtures: a real embedded chDB store in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sightline.settings import Settings
from sightline.store import EmbeddedStore, open_store

pytest_plugins = ("tests.auth.fixtures",)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    opened = open_store(Settings(data_dir=tmp_path / "data"))
    yield opened
    opened.close()
