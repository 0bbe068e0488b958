"""Fixtures of the ingest tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sightline.auth.db import migrate, open_engine


@pytest.fixture
def engine(tmp_path: Path, metadata_url: str | None) -> Iterator[Engine]:
    """A migrated metadata database: an SQLite file, or a fresh PostgreSQL schema (`metadata_url`)."""
    opened = open_engine(metadata_url or f"sqlite:///{tmp_path / 'metadata.db'}")
    migrate(opened)
    yield opened
    opened.dispose()
