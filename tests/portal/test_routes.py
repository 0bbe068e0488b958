"""The portal's routes over a bundle made by the test: the page with its security headers, the built files
by name only (gzip when accepted, cached for good), 304s, a clear 503 when the portal is not built, and
`GET /` beside mux's `POST /` in the real app."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from sightline.api.errors import install_error_handlers
from sightline.app import create_app
from sightline.portal.assets import load_bundle
from sightline.portal.routes import portal_router
from sightline.settings import Settings

SCRIPT = b"console.log('portal');" * 50


def _client(directory: Path) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(portal_router(load_bundle(directory)))
    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    (tmp_path / "index.html").write_text("<!doctype html><title>Sightline</title>")
    (tmp_path / "main-ABC123.js").write_bytes(SCRIPT)
    (tmp_path / "main-ABC123.js.gz").write_bytes(gzip.compress(SCRIPT))
    (tmp_path / "main-DEF456.css").write_text("body{}")
    (tmp_path / "notes.md").write_text("not served")
    return _client(tmp_path)


def test_the_page_is_served_with_a_policy_that_allows_only_this_origin(client: TestClient) -> None:
    response = client.get("/?p=kpis&range=7d")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Sightline</title>" in response.text
    policy = response.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
        assert directive in policy
    assert response.headers["cache-control"] == "no-cache"
    again = client.get("/", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert client.head("/").status_code == 200


def test_a_built_file_is_served_gzipped_to_who_accepts_it_and_cached_for_good(client: TestClient) -> None:
    zipped = client.get("/portal/main-ABC123.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(SCRIPT)
    assert zipped.content == SCRIPT  # httpx decodes it
    assert zipped.headers["content-type"].startswith("text/javascript")
    assert "immutable" in zipped.headers["cache-control"]
    plain = client.get("/portal/main-ABC123.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == SCRIPT
    assert client.get("/portal/main-DEF456.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("name", ["index.html", "notes.md", "main-ABC123.js.gz", "missing.js", "..%2Fassets.py"])
def test_anything_but_a_built_file_is_a_404_in_json(client: TestClient, name: str) -> None:
    response = client.get(f"/portal/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_portal_not_built_says_how_to_build_it(tmp_path: Path) -> None:
    response = _client(tmp_path / "nothing").get("/")
    assert response.status_code == 503
    assert "make portal" in response.text


def test_the_app_answers_get_with_the_portal_and_post_with_the_mux_collector(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    try:
        routes = {
            (method, context.original_route.endpoint.__name__)
            for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute) and context.path == "/"
            for method in context.original_route.methods or ()
        }
        assert routes == {("GET", "portal_page"), ("HEAD", "portal_page"), ("POST", "mux_beacons")}
    finally:
        app.state.auth.close()
