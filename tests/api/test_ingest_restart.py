"""A view whose beacons straddle a restart of the service is stored exactly as one uninterrupted view: the
format's session state (mux's decoding state, CMCD's play state) is kept across the restart, so no event is
lost or counted twice and no counter starts again. Each test sends one view across a restart and a twin view
without one, and compares what the store holds of the two."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from sightline.store import open_store
from tests.handwritten import by_hand
from tests.ingest.mux_fixtures import load

CUSTOMER = 1001
COMPARED = "toString(event) AS event, seq, started, startup_ms, play_ms, rebuffer_ms, ad_ms, bytes, dropped_frames"
"""The columns of a view's events that must be the same (times too: `ts` relative to the view's first event)."""


def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, argon2_time_cost=1, argon2_memory_kib=1024, cmcd_reorder_window_s=0)


@contextmanager
def service(data_dir: Path) -> Iterator[tuple[TestClient, str]]:
    """The service over `data_dir` (the customer and its ingest key made at its first start), until stopped."""
    app = create_app(settings(data_dir))
    accounts = app.state.auth.accounts
    if not accounts.list_customers():
        accounts.add_customer(CUSTOMER, "Alpha", 6831)
        (data_dir / "key").write_text(accounts.create_key(KeyKind.INGEST, CUSTOMER)[1])
    with TestClient(app) as client:
        yield client, (data_dir / "key").read_text()


def stored_views(data_dir: Path, asset_column: str) -> dict[str, list[dict[str, Any]]]:
    """The events of each view by its asset (`asset_column`), in order, with times from the view's first event."""
    store = open_store(settings(data_dir))
    try:
        rows = store.query(
            by_hand(
                f"SELECT {asset_column} AS asset, toUnixTimestamp64Milli(ts) AS at, {COMPARED} FROM events "
                "WHERE customer_id = {c:UInt32} ORDER BY asset, seq",
                {"c": CUSTOMER},
            )
        ).to_pylist()
    finally:
        store.close()
    views: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        views.setdefault(row.pop("asset"), []).append(row)
    for events in views.values():
        first = events[0]["at"]
        for event in events:
            event["at"] -= first
    return views


def straddle(tmp_path: Path, send: Callable[[TestClient, str, str, slice], None], parts: int, cut: int) -> None:
    """`send(client, key, view, parts)` for the view "through" whole, and for the view "across" with a restart
    after its first `cut` parts."""
    with service(tmp_path) as (client, key):
        send(client, key, "through", slice(0, parts))
        send(client, key, "across", slice(0, cut))
    with service(tmp_path) as (client, key):
        send(client, key, "across", slice(cut, parts))


def test_a_mux_view_whose_bodies_straddle_a_restart_is_stored_as_one_view(tmp_path: Path) -> None:
    recording = load("hls_ads_pause_seek")  # the viewstart in the first body, deltas in the next ones
    shift_ms = int(time.time() * 1000) - 600_000 - recording[0].events[0]["uti"]

    def send(client: TestClient, key: str, view: str, parts: slice) -> None:
        for posted in recording[parts]:
            response = client.post(
                "/mux", content=posted.replayed(key, view, shift_ms).replace(b"hls-20s", view.encode())
            )
            assert response.status_code == 200, response.text

    straddle(tmp_path, send, len(recording), 1)
    views = stored_views(tmp_path, "assetid")
    events = [event["event"] for event in views["through"]]
    assert (events[0], events[-1], events.count("first_frame"), len(events)) == ("play_request", "end", 1, 16)
    assert views["across"] == views["through"]


def test_a_cmcd_session_whose_reports_straddle_a_restart_is_stored_as_one_view(tmp_path: Path) -> None:
    t0 = int(time.time() * 1000) - 600_000
    reports = [("s", 0), ("p", 500), ("r", 20_500), ("p", 22_500), ("e", 40_500)]

    def send(client: TestClient, key: str, sid: str, parts: slice) -> None:
        for sn, (sta, at) in list(enumerate(reports))[parts]:
            body = f'e=ps,sta={sta},sid="{sid}",cid="{sid}",ts={t0 + at},sn={sn},v=2'
            response = client.post(f"/cmcd/{key}", content=body, headers={"Content-Type": "application/cmcd"})
            assert response.status_code == 204, response.text

    straddle(tmp_path, send, len(reports), 3)
    views = stored_views(tmp_path, "assetid")
    assert [event["event"] for event in views["through"]] == [
        "play_request", "first_frame", "stall_start", "stall_end", "end"
    ]  # fmt: skip
    assert views["across"] == views["through"]
