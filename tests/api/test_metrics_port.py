"""`GET /metrics` without a metrics token: refused on the app's port, served on the private one."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

from fastapi.testclient import TestClient

from sightline.app import create_app
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
