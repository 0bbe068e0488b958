"""The collector's view state survives a restart: rebuilt from the store (real chDB, through the app)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.ingest.recovery import LOOKBACK_MS, STALE_LOOKBACK_MS
from sightline.ingest.sessions import EXIT_SETTLE_MS, IDLE_CLOSE_MS
from sightline.settings import Settings
from tests.handwritten import by_hand
from tests.times import ANY_PAST_S


def uuid7(start_ms: int, n: int) -> str:
    return str(uuid.UUID(int=(start_ms << 80) | (0x7 << 76) | (0b10 << 62) | n))


def events(start_ms: int, *, ended: bool) -> list[dict[str, Any]]:
    played = [
        {"event": "play_request", "ts": start_ms, "seq": 0},
        {"event": "first_frame", "ts": start_ms + 800, "seq": 1, "started": 1, "startup_ms": 800},
        {"event": "heartbeat", "ts": start_ms + 10_800, "seq": 2, "started": 1, "play_ms": 10_000},
    ]
    return [*played, {"event": "end", "ts": start_ms + 11_000, "seq": 3, "started": 1}] if ended else played


def post(client: TestClient, key: str, view_id: str, batch: list[dict[str, Any]]) -> Any:
    body = {"view_id": view_id, "dimensions": {"cdn": "fastly", "country": "DE"}, "events": batch}
    return client.post("/collect", content=json.dumps(body), headers={"X-Ingest-Key": key})


def settings_of(data_dir: Path) -> Settings:
    """Views of the past month posted now, as the collector received them then."""
    return Settings(data_dir=data_dir, event_max_late_s=ANY_PAST_S, argon2_time_cost=1, argon2_memory_kib=1024)


@contextmanager
def first_start(settings: Settings) -> Iterator[tuple[TestClient, str]]:
    """The collector's first start, with customer 1001 and its ingest key."""
    with TestClient(create_app(settings)) as client:
        auth = client.app.state.auth  # type: ignore[attr-defined]
        auth.accounts.add_customer(1001, "Alpha", 6831)
        yield client, auth.accounts.create_key(KeyKind.INGEST, 1001)[1]


def assert_closed(client: TestClient, key: str, view_id: str, ts: int, seq: int) -> None:
    late = post(client, key, view_id, [{"event": "heartbeat", "ts": ts, "seq": seq}])
    assert late.status_code == 400
    assert "closed" in late.json()["error"]["message"]


def test_a_restart_keeps_duplicates_out_closed_views_closed_and_open_views_to_be_swept(tmp_path: Path) -> None:
    settings = settings_of(tmp_path)
    now_ms = int(time.time() * 1000)  # at the test's start, not at the suite's: the 30 minutes of idle count
    starts = {"retried": now_ms - 60_000, "silent": now_ms - 90_000, "ended": now_ms - 120_000,
              "old": now_ms - LOOKBACK_MS - 3_600_000, "old_ended": now_ms - LOOKBACK_MS - 7_200_000,
              "ancient": now_ms - STALE_LOOKBACK_MS - 86_400_000}  # fmt: skip
    views = {name: uuid7(start, n) for n, (name, start) in enumerate(starts.items())}
    with first_start(settings) as (client, key):
        for name, start in starts.items():
            ended = name.endswith("ended")
            assert post(client, key, views[name], events(start, ended=ended)).json()["accepted"] == 3 + ended

    with TestClient(create_app(settings)) as client:
        retried = post(client, key, views["retried"], events(starts["retried"], ended=False)).json()
        assert (retried["accepted"], retried["duplicates"]) == (0, 3)
        assert_closed(client, key, views["ended"], starts["ended"] + 20_000, 4)
        # idle for 30 minutes since its last event (not since the restart): closed at that event's time
        exits = services(client.app).pipeline.sweep(starts["silent"] + 10_800 + IDLE_CLOSE_MS)

    closed = [(str(uuid.UUID(bytes=view_id)), event["event"], event["seq"], event["started"], event["ts"])
              for _, view_id, _, event in exits]  # fmt: skip
    # the retried view was active just now; the ended ones are not closed twice; the one silent since before
    # the lookback is closed too, at its last event's time; the one started before the stale lookback is not
    assert closed == [
        (views["old"], "exit", 3, 1, starts["old"] + 10_800),
        (views["silent"], "exit", 3, 1, starts["silent"] + 10_800),
    ]
    assert [(exit[2]["cdn"], exit[2]["country"]) for exit in exits] == [("fastly", "DE"), ("fastly", "DE")]


def stored_seqs(client: TestClient, view_id: str) -> list[int]:
    services(client.app).writer.flush()
    statement = by_hand(
        "SELECT seq FROM events WHERE customer_id = 1001 AND view_id = toUUID({v:String}) ORDER BY seq", {"v": view_id}
    )
    return [row["seq"] for row in services(client.app).store.query(statement).to_pylist()]


def test_a_view_forgotten_after_30_minutes_or_before_a_restart_is_read_back_when_it_sends_again(
    tmp_path: Path,
) -> None:
    settings = settings_of(tmp_path)
    now_ms = int(time.time() * 1000)
    starts = {"quiet": now_ms - 3 * 3_600_000, "ended": now_ms - 2 * 3_600_000, "new": now_ms - IDLE_CLOSE_MS - 60_000,
              "reordered": now_ms - 4 * 3_600_000}  # fmt: skip
    views = {name: uuid7(start, n) for n, (name, start) in enumerate(starts.items())}
    with first_start(settings) as (client, key):
        assert post(client, key, views["quiet"], events(starts["quiet"], ended=False)).json()["accepted"] == 3
        assert post(client, key, views["ended"], events(starts["ended"], ended=True)).json()["accepted"] == 4
        # a player's queue emptied at page hide: the end arrives first, and the restart comes before the rest
        *played, end = events(starts["reordered"], ended=True)
        assert post(client, key, views["reordered"], [end]).json()["accepted"] == 1
        stored_seqs(client, views["quiet"])  # stored, as they are 30 minutes after
        pipeline = services(client.app).pipeline
        assert len(pipeline.sweep(now_ms + IDLE_CLOSE_MS + 60_000)) == 1  # 30 minutes of quiet: the open one closed
        assert pipeline.sessions.knows(uuid.UUID(views["quiet"]).bytes)  # until its exit is surely stored
        pipeline.sweep(now_ms + IDLE_CLOSE_MS + EXIT_SETTLE_MS + 60_000)  # every view forgotten (the exit was not sent)
        assert not pipeline.sessions.knows(uuid.UUID(views["quiet"]).bytes)
        # without a restart: the late retry is duplicates, the next event is taken
        retried = post(client, key, views["quiet"], events(starts["quiet"], ended=False)).json()
        assert (retried["accepted"], retried["duplicates"]) == (0, 3)
        following = {"event": "heartbeat", "ts": starts["quiet"] + 20_000, "seq": 3, "started": 1, "play_ms": 9_000}
        assert post(client, key, views["quiet"], [following]).json()["accepted"] == 1
        # a view of an older time the store does not hold is new
        assert post(client, key, views["new"], events(starts["new"], ended=False)).json()["accepted"] == 3
        assert stored_seqs(client, views["quiet"]) == [0, 1, 2, 3]

    # the ended view was neither open nor active in the 30 minutes before the restart: not restored at start
    with TestClient(create_app(settings)) as client:
        retried = post(client, key, views["ended"], events(starts["ended"], ended=True)).json()
        assert (retried["accepted"], retried["duplicates"]) == (0, 4)
        assert_closed(client, key, views["ended"], starts["ended"] + 20_000, 4)
        assert stored_seqs(client, views["ended"]) == [0, 1, 2, 3]
        assert stored_seqs(client, views["new"]) == [0, 1, 2]
        assert post(client, key, views["reordered"], played).json()["accepted"] == 3
        assert_closed(client, key, views["reordered"], end["ts"], 5)
        assert stored_seqs(client, views["reordered"]) == [0, 1, 2, 3]


def test_a_view_whose_id_time_is_recent_or_ahead_is_read_back_or_restored_whatever_its_events_times(
    tmp_path: Path,
) -> None:
    settings = settings_of(tmp_path)
    now_ms = int(time.time() * 1000)
    # a player whose clock is 6 hours ahead; one whose view id is of now and its events of 2 hours ago
    starts = {"ahead": now_ms + 6 * 3_600_000, "fresh_id": now_ms - 5 * 60_000}
    views = {name: uuid7(start, n) for n, (name, start) in enumerate(starts.items())}
    with first_start(settings) as (client, key):
        assert post(client, key, views["ahead"], events(starts["ahead"], ended=True)).json()["accepted"] == 4
        old = now_ms - 2 * 3_600_000
        assert post(client, key, views["fresh_id"], events(old, ended=True)).json()["accepted"] == 4
        stored_seqs(client, views["ahead"])
        pipeline = services(client.app).pipeline
        pipeline.sweep(now_ms + IDLE_CLOSE_MS + 60_000)  # 30 minutes of quiet by the collector's clock: forgotten
        retried = post(client, key, views["ahead"], events(starts["ahead"], ended=True)).json()
        assert (retried["accepted"], retried["duplicates"]) == (0, 4)

    with TestClient(create_app(settings)) as client:  # the restart restores the view of a recent id
        retried = post(client, key, views["fresh_id"], events(old, ended=True)).json()
        assert (retried["accepted"], retried["duplicates"]) == (0, 4)
        assert stored_seqs(client, views["ahead"]) == stored_seqs(client, views["fresh_id"]) == [0, 1, 2, 3]
