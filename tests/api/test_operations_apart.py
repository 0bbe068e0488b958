"""Operations on apps of their own: `GET /metrics` without a metrics token (refused on the app's port, served
on the private one); an exception no handler answers (a 500 in the envelope, with its request id, logged)."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sightline.api.access import access
from sightline.app import create_app
from sightline.auth.plans import PUBLIC
from sightline.settings import Settings


def test_without_a_token_metrics_are_served_on_the_private_port_only(tmp_path: Path) -> None:
    port = _free_port()
    with TestClient(create_app(Settings(data_dir=tmp_path, metrics_port=port))) as client:
        refused = client.get("/metrics", headers={"Authorization": "Bearer "})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "metrics_not_served"
        client.get("/healthz")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        assert 'sightline_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text


def test_an_unhandled_exception_is_a_500_with_its_request_id_and_its_traceback_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/boom", **access(PUBLIC))
    async def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app) as client:
        answer = client.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert answer.status_code == 500
    assert answer.headers["x-request-id"] == "boom-1"
    assert answer.json()["error"] == {
        "code": "internal_error",
        "message": "the server failed; report the requestid",
        "parameter": None,
        "requestid": "boom-1",
    }
    (logged,) = [record for record in caplog.records if record.exc_info and record.name == "sightline.api.observe"]
    assert "a bug" in str(logged.exc_info[1] if logged.exc_info else "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
