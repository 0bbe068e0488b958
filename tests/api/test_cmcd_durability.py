"""CMCD records acknowledged while held for their reorder window survive SIGKILL and become events once:
sessions reported out of order under load, the server killed mid-load, restarted, and every session whose
reports were all acknowledged is one view with exactly its play request, first frame and end, and no view
has two of any of them."""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from sightline.app import SESSION_STATES
from sightline.ingest.pipeline import derived_view_id
from sightline.ingest.snapshot_log import SnapshotLog
from sightline.settings import Settings
from sightline.store import open_store
from tests.handwritten import by_hand
from tests.server_process import FAST_WRITER, cli, free_port, kill, serve, under_load

CUSTOMER = 5
SENDERS = 3
START_MS = (int(time.time()) - 86_400) * 1000
"""A day ago: within the window of times the service stores (docs/beacon-format.md)."""
SERVER_ENV = {**FAST_WRITER, "SIGHTLINE_CMCD_REORDER_WINDOW_S": "0.5"}
REPORTS = (("r", 263), ("p", 509), ("s", 0), ("e", 10_509))
"""One session's reports in the order they are sent: the starting one overtaken by the next two."""


def session_start(n: int) -> int:
    return START_MS + n * 20_000


def send_sessions(port: int, key: str, first: int, acknowledged: Counter[int], stop: threading.Event) -> None:
    """Sessions first, first + SENDERS, …, one report a request, until the server is gone; counts each
    session's acknowledged reports."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    n = first
    while not stop.is_set():
        for sta, at in REPORTS:
            body = f'e=ps,sta={sta},sid="k-{n}",ts={session_start(n) + at},v=2'
            try:
                connection.request("POST", f"/cmcd/{key}", body=body, headers={"Content-Type": "application/cmcd"})
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):  # an answer cut short by the kill acknowledges nothing
                return
            if response.status == 204:
                acknowledged[n] += 1
        n += SENDERS


def test_held_records_survive_sigkill_and_become_events_once(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    cli(
        "customers", "add", "--data-dir", str(data_dir), "--id", str(CUSTOMER), "--name", "Kill", "--plan-level", "6831"
    )
    key = cli("ingestkeys", "create", "--data-dir", str(data_dir), "--customer", str(CUSTOMER))
    server = serve(data_dir, port, SERVER_ENV)
    acknowledged: Counter[int] = Counter()
    with under_load(lambda first, stop: send_sessions(port, key, first, acknowledged, stop), SENDERS):
        time.sleep(4)
        kill(server)
    complete = [n for n, count in acknowledged.items() if count == len(REPORTS)]
    assert len(complete) > 20, "the load did not get going"
    log = SnapshotLog(data_dir / SESSION_STATES)  # reads what the kill left, as the restart will
    log.close()
    assert any(snapshot.state.held for snapshot in log.recovered.values()), "nothing was held at the kill"

    restarted = serve(data_dir, port, SERVER_ENV)  # takes the held records back
    os.killpg(restarted.pid, signal.SIGTERM)  # and applies them all before it stops
    restarted.wait(30)
    store = open_store(Settings(data_dir=data_dir))
    try:
        rows = store.query(
            by_hand(
                "SELECT toString(view_id) AS view, toString(event) AS event, startup_ms FROM events "
                "WHERE customer_id = {c:UInt32} ORDER BY view, seq",
                {"c": CUSTOMER},
            ),
        ).to_pylist()
    finally:
        store.close()
    views: dict[str, list[tuple[str, int]]] = {}
    for row in rows:
        views.setdefault(row["view"], []).append((row["event"], row["startup_ms"]))
    doubled = {view: events for view, events in views.items() if max(Counter(e for e, _ in events).values()) > 1}
    assert doubled == {}, f"{len(doubled)} views hold an event twice, e.g. {next(iter(doubled.items()))}"
    expected = [("play_request", 0), ("first_frame", 509), ("end", 0)]
    wrong = {
        n: views.get(str(uuid.UUID(bytes=derived_view_id(CUSTOMER, "cmcd", f"k-{n}", session_start(n)))))
        for n in complete
    }
    wrong = {n: events for n, events in wrong.items() if events != expected}
    assert wrong == {}, f"{len(wrong)} of {len(complete)} acknowledged sessions are not their view, e.g. {wrong}"
