"""`/healthz` and `/docs` through the real app over a real chDB store."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from sightline.api.services import services
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
        services(client.app).store.close()
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"


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
