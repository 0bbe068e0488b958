"""`/healthz`, `/readyz` and `/docs` through the real app over a real chDB store."""

from __future__ import annotations

import re
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from sightline.store import open_store
from sightline.store.migrations import MIGRATIONS
from sightline.store.writer import BatchingWriter
from tests.api.test_collect import batch, view_events
from tests.handwritten import by_hand


def _settings(data_dir: Path, **more: Any) -> Settings:
    return Settings(data_dir=data_dir, argon2_time_cost=1, argon2_memory_kib=1024, **more)


def test_healthz_answers_from_the_store(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
        assert response.json()["schema_version"] == MIGRATIONS[-1].version
        assert client.get("/openapi.json").json()["info"]["title"] == "Sightline"
        assert client.get("/docs").status_code == 200


def test_readiness_follows_the_store_and_the_spool(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        state = client.app.state  # type: ignore[attr-defined]
        assert client.get("/readyz").json() == {"status": "ready"}
        services(client.app).store.close()
        closed = client.get("/readyz")
        assert closed.status_code == 503
        assert closed.json()["status"] == "unavailable"
        assert "store" in closed.json()["reason"]
        assert client.get("/healthz").status_code == 200  # live: restarting it would not bring the store back
        state.services = replace(services(client.app), store=open_store(settings))
        assert client.get("/readyz").status_code == 200
        spool = services(client.app).writer.spool_dir
        shutil.rmtree(spool)
        gone = client.get("/readyz")
        assert gone.status_code == 503
        assert "spool" in gone.json()["reason"]
        spool.mkdir()
        assert client.get("/readyz").status_code == 200
        services(client.app).store.close()


def test_readiness_waits_for_the_store_no_longer_than_its_timeout(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ready_timeout_s=0.3, query_sessions=1)
    with TestClient(create_app(settings)) as client:
        busy = threading.Thread(target=services(client.app).store.query, args=(by_hand("SELECT sleep(3)"),))
        busy.start()  # holds the store's one query session for 3 s (ClickHouse's longest sleep)
        time.sleep(0.1)
        started = time.monotonic()
        answer = client.get("/readyz")
        waited = time.monotonic() - started
        busy.join()
        assert answer.status_code == 503
        assert answer.json()["reason"] == "the store did not answer within 0.3 s"
        assert waited < 2.5  # well before the busy query ends, with room for a loaded machine (1.51 s seen)
        assert client.get("/readyz").status_code == 200


ASSET_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",), ".png": ("image/png",)}


def test_the_documentation_page_needs_nothing_but_the_app(tmp_path: Path) -> None:
    """Without internet /docs still works: it names no other host, and every script, style sheet and icon it
    loads is served by the app itself, with its content type. There is no ReDoc page (it loads its logo from
    a CDN)."""
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        assert client.get("/redoc").status_code == 404
        response = client.get("/docs")
        assert response.status_code == 200
        html = response.text
        assert not re.findall(r"(?:https?:)?//[\w.-]+", html), html
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert {Path(asset).suffix for asset in assets} >= {".js", ".css"}, html
        for asset in assets:
            served = client.get(asset)
            assert served.status_code == 200, asset
            assert served.headers["content-type"].split(";")[0] in ASSET_TYPES[Path(asset).suffix], asset
            assert len(served.content) > 1000, asset


def test_readiness_is_503_while_the_writer_is_at_its_limit(tmp_path: Path) -> None:
    """A writer holding its limit of pending rows makes ingest answer 503: the process is not ready."""
    settings = _settings(tmp_path)
    store = open_store(settings)
    writer = BatchingWriter(store, tmp_path / "spool", max_delay_s=60, max_pending_rows=4)  # holds rows for 60 s
    try:
        with TestClient(create_app(settings, store, writer)) as client:
            auth = client.app.state.auth  # type: ignore[attr-defined]
            auth.accounts.add_customer(1001, "Alpha", 6831)
            key = auth.accounts.create_key(KeyKind.INGEST, 1001)[1]
            assert client.get("/readyz").status_code == 200
            posted = client.post("/collect", json=batch(1, view_events(1)), headers={"X-Ingest-Key": key})
            assert posted.json()["accepted"] == 4
            full = client.get("/readyz")
            assert full.status_code == 503
            assert full.json()["reason"] == "the writer holds 4 rows, its limit; ingest answers 503"
            writer.flush()
            assert client.get("/readyz").status_code == 200
    finally:
        writer.close()
        store.close()
