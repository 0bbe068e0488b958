"""Through `sightline serve` (uvicorn): a local client's X-Forwarded-For is ignored unless the app trusts the
peer, because the server's own proxy-header handling is off; the user agent still enriches the view."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from sightline.settings import Settings
from sightline.store import open_store
from tests.handwritten import by_hand
from tests.server_process import cli, free_port
from tests.times import RECENT_HOUR_MS

START_MS = RECENT_HOUR_MS
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0"


def test_a_local_client_cannot_claim_an_address_through_the_server(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    cli("customers", "add", "--data-dir", str(data_dir), "--id", "5", "--name", "Local", "--plan-level", "6831")
    key = cli("ingestkeys", "create", "--data-dir", str(data_dir), "--customer", "5")
    server = subprocess.Popen(
        [sys.executable, "-m", "sightline", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "SIGHTLINE_IP_STORAGE": "full", "SIGHTLINE_TRUSTED_PROXIES": ""},
    )
    try:
        view_id = uuid.UUID(int=(START_MS << 80) | (0x7 << 76) | (0b10 << 62) | 1)
        body = {"view_id": str(view_id), "events": [{"event": "play_request", "ts": START_MS, "seq": 0}]}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/collect",
            data=json.dumps(body).encode(),
            headers={"X-Ingest-Key": key, "X-Forwarded-For": "203.0.113.9", "User-Agent": FIREFOX},
            method="POST",
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert json.loads(response.read())["accepted"] == 1
                break
            except urllib.error.HTTPError:
                raise
            except (ConnectionError, urllib.error.URLError):  # not listening yet
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    store = open_store(Settings(data_dir=data_dir))
    try:
        rows = store.query(
            by_hand("SELECT ipaddress, browser, platform, device FROM events WHERE customer_id = 5")
        ).to_pylist()
    finally:
        store.close()
    assert rows == [{"ipaddress": "127.0.0.1", "browser": "Firefox", "platform": "Windows", "device": "desktop"}]
