"""Nothing acknowledged is lost: a load of batches, SIGKILL of the server mid-load, a restart, and every
event the server acknowledged is in the store."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from sightline.settings import Settings
from sightline.store import open_store
from tests.handwritten import by_hand
from tests.server_process import FAST_WRITER, cli, free_port, kill, serve, under_load
from tests.times import RECENT_HOUR_MS

EVENTS_PER_BATCH = 50
SENDERS = 4
START_MS = RECENT_HOUR_MS


def batch(n: int) -> bytes:
    view_id = uuid.UUID(int=((START_MS + n) << 80) | (0x7 << 76) | (0b10 << 62) | n)
    events = [
        {"event": "heartbeat", "ts": START_MS + n + k, "seq": k, "play_ms": 1000} for k in range(EVENTS_PER_BATCH)
    ]
    return json.dumps({"view_id": str(view_id), "events": events}).encode()


def send_until_refused(url: str, key: str, first: int, acknowledged: list[int], stop: threading.Event) -> None:
    n = first
    while not stop.is_set():
        request = urllib.request.Request(url, data=batch(n), headers={"X-Ingest-Key": key}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status == 200 and json.loads(response.read())["accepted"] == EVENTS_PER_BATCH:
                    acknowledged.append(n)
        except (OSError, http.client.HTTPException):  # an answer cut short by the kill acknowledges nothing
            return  # the server is gone: what was acknowledged so far is what must survive
        n += SENDERS


def test_acknowledged_events_survive_sigkill(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    cli("customers", "add", "--data-dir", str(data_dir), "--id", "5", "--name", "Kill", "--plan-level", "6831")
    key = cli("ingestkeys", "create", "--data-dir", str(data_dir), "--customer", "5")
    server = serve(data_dir, port, FAST_WRITER)
    acknowledged: list[int] = []
    url = f"http://127.0.0.1:{port}/collect"
    with under_load(lambda first, stop: send_until_refused(url, key, first, acknowledged, stop), 2):
        time.sleep(4)
        kill(server)
    assert len(acknowledged) > 10, "the load did not get going"

    restarted = serve(data_dir, port, FAST_WRITER)  # recovers by itself
    os.killpg(restarted.pid, signal.SIGTERM)
    restarted.wait(30)
    store = open_store(Settings(data_dir=data_dir))
    try:
        counts = store.query(
            by_hand(
                "SELECT toString(view_id) AS view, count() AS events FROM events WHERE customer_id = 5 GROUP BY view"
            )
        ).to_pylist()
    finally:
        store.close()
    found = {uuid.UUID(row["view"]).int & 0xFFFF: row["events"] for row in counts}
    lost = [n for n in acknowledged if found.get(n) != EVENTS_PER_BATCH]
    assert lost == [], f"{len(lost)} acknowledged batches are missing or partial, e.g. {lost[:5]}"
