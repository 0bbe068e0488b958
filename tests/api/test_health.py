"""`/healthz` and `/docs` through the real app over a real chDB store."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sightline.app import create_app
from sightline.settings import Settings
from sightline.store.migrations import MIGRATIONS


def test_healthz_answers_from_the_store(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
        assert response.json()["schema_version"] == MIGRATIONS[-1].version
        assert client.get("/openapi.json").json()["info"]["title"] == "Sightline"
        assert client.get("/docs").status_code == 200


def test_healthz_is_503_when_the_store_is_gone(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        client.app.state.store.close()  # type: ignore[attr-defined]
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
