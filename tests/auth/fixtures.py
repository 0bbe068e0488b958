"""Fixtures of the accounts tests, loaded by tests/conftest.py for tests/auth and tests/api alike.

`metadata_url` runs each test on SQLite (a file in tmp_path) and on PostgreSQL when
SIGHTLINE_TEST_POSTGRES_URL is set (a fresh schema per test, dropped afterwards); the PostgreSQL
parameter is skipped only when the variable is not set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from sightline.app import create_app
from sightline.auth.service import AuthService, open_auth
from sightline.settings import Settings

POSTGRES_ENV = "SIGHTLINE_TEST_POSTGRES_URL"


class ManualClock:
    """A clock that stands still until a test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (the default SQLite file in the data directory) or a PostgreSQL URL on a fresh schema."""
    if request.param == "sqlite":
        yield None
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_metadata(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a metadata database that several processes open: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata' / 'metadata.db'}"
        return
    with postgres_schema() as url:
        yield url


@contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of a fresh schema of the PostgreSQL of SIGHTLINE_TEST_POSTGRES_URL, dropped afterwards; the test
    is skipped when the variable is not set."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, metadata_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", metadata_url=metadata_url, argon2_time_cost=1, argon2_memory_kib=1024)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def auth(settings: Settings, clock: ManualClock) -> Iterator[AuthService]:
    service = open_auth(settings, clock)
    yield service
    service.close()


@dataclass(frozen=True)
class RouteInfo:
    path: str
    methods: frozenset[str]
    dependant: Dependant


def api_routes(app: FastAPI) -> list[RouteInfo]:
    """Every API route of `app` with its full path, including those of included routers."""
    return [
        RouteInfo(context.path or "", frozenset(context.methods or ()), context.dependant)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def dependencies(dependant: Dependant) -> Iterator[Dependant]:
    """A route's dependant and every dependency below it, depth first."""
    yield dependant
    for sub in dependant.dependencies:
        yield from dependencies(sub)


def auth_app(settings: Settings, clock: ManualClock) -> FastAPI:
    """The real app, its accounts service reading `clock`. Close `app.state.auth` when done."""
    app = create_app(settings)
    if not any(route.path == "/generateOAuthToken" for route in api_routes(app)):
        from sightline.api.auth import include_auth  # until create_app wires accounts in itself
        from sightline.api.errors import install_error_handlers

        install_error_handlers(app)
        include_auth(app, settings, clock)
    else:
        app.state.auth.close()
        app.state.auth = open_auth(settings, clock)
    return app


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> Iterator[FastAPI]:
    built = auth_app(settings, clock)
    yield built
    built.state.auth.close()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client
