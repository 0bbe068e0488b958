"""mux-embed views whose bodies straddle a SIGKILL of the server are stored exactly as if it never happened:
players send their bodies in order, and send a body again until it is answered 200 (as mux-embed does); the
server is killed mid-load and started again; every view then holds exactly the events of decoding its
bodies in one go — none lost, none twice, no counter started again.

The test waits for conditions, never a fixed time (a busy machine runs the senders and the server slowly): for
the load to go, for one player to stop between two bodies of its view (`Pause`), so that a view straddles the
kill however the other senders' requests fall, and, after the restart, for new views to go through. The kill
lands on the other senders' requests in flight."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sightline.ingest.mux import MuxViewState, decode_view, parse_body
from sightline.ingest.pipeline import derived_view_id
from sightline.settings import Settings
from sightline.store import open_store
from tests.handwritten import by_hand
from tests.ingest.mux_fixtures import load
from tests.server_process import FAST_WRITER, cli, free_port, kill, serve, under_load, wait_until

CUSTOMER = 7
SENDERS = 4
RECORDING = load("hls_ads_pause_seek")  # 4 bodies: the viewstart in the first, deltas in the next ones
SHIFT_MS = int(time.time() * 1000) - 600_000 - RECORDING[0].events[0]["uti"]
COMPARED = ("event", "seq", "ts", "started", "startup_ms", "play_ms", "rebuffer_ms", "ad_ms", "bytes")


def bodies(key: str, player: int) -> list[bytes]:
    return [posted.replayed(key, f"player-{player}", SHIFT_MS) for posted in RECORDING]


def decoded(player: int) -> tuple[bytes, list[dict[str, Any]]]:
    """The view id and native events of the player's bodies decoded in one go, with nothing in between."""
    state: MuxViewState | None = None
    events: list[dict[str, Any]] = []
    for body in bodies("key", player):
        beacons, _ = parse_body(json.loads(body))
        decoding = decode_view(state, beacons)
        state = decoding.state
        events += [event for _, event in decoding.events]
    assert state is not None
    view_id = derived_view_id(CUSTOMER, "mux", f"player-{player}", state.view_start_ms)
    return view_id, [{name: event.get(name, 0) for name in COMPARED} for event in events]


@dataclass
class Pause:
    """One player stopped between two bodies of its view while the server is killed: once `wanted` is set, the
    first sender whose view has a body answered at once and a body to go sets `paused` and waits for `go`."""

    wanted: threading.Event = field(default_factory=threading.Event)
    paused: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self, stop: threading.Event) -> None:
        """Wait for `go` (or `stop`: the test ended early) when this sender is the first to come since `wanted`."""
        with self.lock:
            if not self.wanted.is_set() or self.paused.is_set():
                return
            self.paused.set()
        while not (self.go.wait(0.1) or stop.is_set()):
            pass


def send_players(
    port: int, key: str, first: int, sent: dict[int, list[bool]], pause: Pause, stop: threading.Event
) -> None:
    """Players first, first + SENDERS, …, each body sent until answered 200, until `stop`; `sent[player]` says,
    body by body, whether it went through at once."""
    player = first
    while not stop.is_set():
        sent[player] = []
        view = bodies(key, player)
        for index, body in enumerate(view):
            tries = 0
            while True:
                tries += 1
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    connection.request("POST", "/mux", body=body, headers={"Content-Type": "text/plain"})
                    response = connection.getresponse()
                    response.read()
                    if response.status == 200:
                        break
                except (OSError, http.client.HTTPException):  # the server is down: mux-embed sends it again later
                    pass
                time.sleep(0.2)
            sent[player].append(tries == 1)
            if index + 1 < len(view) and all(sent[player]):
                pause.hold(stop)
        player += SENDERS


def test_mux_views_straddling_a_sigkill_are_stored_as_if_nothing_happened(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    cli(
        "customers", "add", "--data-dir", str(data_dir), "--id", str(CUSTOMER), "--name", "Kill", "--plan-level", "6831"
    )
    key = cli("ingestkeys", "create", "--data-dir", str(data_dir), "--customer", str(CUSTOMER))
    server = serve(data_dir, port, FAST_WRITER)
    sent: dict[int, list[bool]] = {}
    pause = Pause()
    with under_load(lambda first, stop: send_players(port, key, first, sent, pause, stop), SENDERS, join_s=60):
        wait_until(lambda: len(sent) > 20, "the load did not get going")
        pause.wanted.set()
        wait_until(pause.paused.is_set, "no player stopped between two bodies of its view")
        kill(server)
        pause.go.set()  # its next body finds no server: sent again until the restarted one answers
        server = serve(data_dir, port, FAST_WRITER)
        after_restart = len(sent)
        wait_until(lambda: len(sent) > after_restart + SENDERS, "the load did not go on after the restart")
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(30)

    straddled = [player for player, through in sent.items() if through and through[0] and not all(through)]
    assert straddled, "no view had bodies on both sides of the kill"
    store = open_store(Settings(data_dir=data_dir))
    try:
        rows = store.query(
            by_hand(
                "SELECT toString(view_id) AS view, toString(event) AS event, seq, toUnixTimestamp64Milli(ts) AS ts, "
                "started, startup_ms, play_ms, rebuffer_ms, ad_ms, bytes FROM events "
                "WHERE customer_id = {c:UInt32} ORDER BY view, seq",
                {"c": CUSTOMER},
            )
        ).to_pylist()
    finally:
        store.close()
    views: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        views.setdefault(row.pop("view"), []).append(row)
    wrong = {}
    for player in sent:
        view_id, expected = decoded(player)
        stored = views.pop(str(uuid.UUID(bytes=view_id)), [])
        if stored != expected:
            wrong[player] = (len(stored), len(expected))
    assert wrong == {}, f"{len(wrong)} of {len(sent)} views (stored, expected events) differ; straddled: {straddled}"
    assert views == {}, "events of views no player sent"
