"""Two real `sightline serve` processes sharing one metadata database (a SQLite file, and PostgreSQL when
SIGHTLINE_TEST_POSTGRES_URL is set; each its own data directory, as the embedded engine lets one process own one):
each lease of once-only work is held by one of them at a time, as their /metrics say, and when its holder is
killed (-9) the other takes it over within the lease's lifetime; one that stops releases its leases at once. Over
one server store (the ClickHouse HTTP test harness) as well, a CMCD session and a mux view whose requests alternate
between the two are stored exactly as the same requests sent to one of them, and CMCD records held by one that is
killed are applied by the other."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from sightline.alerts import delivery, scheduler
from sightline.auth.db import open_engine
from sightline.auth.kinds import KeyKind
from sightline.auth.service import open_auth
from sightline.ingest.shared_states import SessionRow
from sightline.settings import Settings
from sightline.smartquery import stored_days
from sightline.store import Store, open_store
from tests.api.test_collect import START_MS, uuid7
from tests.clickhouse_http.process import running_harness, url_text
from tests.handwritten import by_hand
from tests.ingest.mux_fixtures import load
from tests.server_process import FAST_WRITER, free_port, serve

LEASES = (scheduler.LEASE, stored_days.LEASE, delivery.LEASE)
TTL_S = 2.0
TOKEN = "metrics-token-of-the-test"


def leases_held(port: int) -> set[str]:
    """The leases the process at `port` says it holds (its /metrics)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    return {
        name
        for name, value in re.findall(r'^sightline_lease_held\{lease="([^"]+)"\} (\S+)$', text, re.M)
        if float(value) == 1.0
    }


def wait_for(condition: object, seconds: float) -> float:
    """Seconds until `condition()` is true (AssertionError after `seconds`)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def test_one_process_holds_each_lease_and_the_other_takes_them_over_when_it_is_killed(
    tmp_path: Path, shared_metadata: str
) -> None:
    env = {
        "SIGHTLINE_METADATA_URL": shared_metadata,
        "SIGHTLINE_LEASE_TTL_S": str(TTL_S),
        "SIGHTLINE_METRICS_TOKEN": TOKEN,
    }
    first_port, second_port = free_port(), free_port()
    first = serve(tmp_path / "first", first_port, env)
    servers: list[subprocess.Popen[bytes]] = [first]
    try:
        wait_for(lambda: leases_held(first_port) == set(LEASES), 10)
        second = serve(tmp_path / "second", second_port, env)
        servers.append(second)
        time.sleep(2 * TTL_S)  # the second tried to take each lease at least 3 times
        assert leases_held(second_port) == set()
        assert leases_held(first_port) == set(LEASES)

        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
        took = wait_for(lambda: leases_held(second_port) == set(LEASES), 3 * TTL_S)
        assert took <= TTL_S + TTL_S / 3 + 1.0  # the expiry, then the next attempt (every third), then a scrape
    finally:
        for server in servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(30)


def test_a_process_that_stops_releases_its_leases_to_the_other_at_once(tmp_path: Path, shared_metadata: str) -> None:
    env = {
        "SIGHTLINE_METADATA_URL": shared_metadata,
        "SIGHTLINE_LEASE_TTL_S": "30",
        "SIGHTLINE_METRICS_TOKEN": TOKEN,
    }
    first_port, second_port = free_port(), free_port()
    first = serve(tmp_path / "first", first_port, env)
    servers: list[subprocess.Popen[bytes]] = [first]
    try:
        wait_for(lambda: leases_held(first_port) == set(LEASES), 10)
        second = serve(tmp_path / "second", second_port, env)
        servers.append(second)
        os.killpg(first.pid, signal.SIGTERM)
        assert first.wait(30) in (0, -signal.SIGTERM)  # uvicorn stops cleanly, then dies of the signal it caught
        # released: taken at the second's next attempt (every 10 s), long before the lease would have expired (20 s
        # at least after the first's last renewal)
        wait_for(lambda: leases_held(second_port) == set(LEASES), 15)
    finally:
        for server in servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(30)


CMCD_SESSION = [  # a clean 10 s play as dash.js reports it, one record per report, in the order they arrive
    ("r", 263, 1, {}),
    ("p", 509, 2, {}),
    ("s", 0, 0, {"cid": '"clip"', "sf": "d", "st": "v"}),  # overtaken in transit: held, then applied in order
    ("e", 10_509, 3, {}),
]
MUX_RECORDING = load("hls_ads_pause_seek")  # 4 bodies of one view: its viewstart in the first, deltas in the next
STORED = (
    "SELECT toString(view_id) AS view, toString(event) AS event, seq, toUnixTimestamp64Milli(ts) AS ts, started, "
    "startup_ms, play_ms, rebuffer_ms, bytes FROM events WHERE customer_id = {c:UInt32} ORDER BY view, seq"
)


def views_stored(store: Store, customer_id: int) -> list[list[dict[str, Any]]]:
    """The events of each view of the customer (view ids aside), views in order of their events."""
    views: dict[str, list[dict[str, Any]]] = {}
    for row in store.query(by_hand(STORED, {"c": customer_id})).to_pylist():
        views.setdefault(row.pop("view"), []).append(row)
    return sorted(views.values(), key=lambda events: [sorted(event.items()) for event in events])


def post(port: int, path: str, body: bytes, content_type: str, **headers: str) -> tuple[int, Any]:
    """The answer's status and JSON (its request id left out; None: no body)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, headers={"Content-Type": content_type, **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    answer = json.loads(text) if text else None
    if isinstance(answer, dict) and "error" in answer:
        answer["error"].pop("requestid", None)
    return status, answer


def native_view() -> list[list[dict[str, Any]]]:
    """A native view's batches as a player sends them: the second sends the first's last event again (a retry), the
    fourth comes after the view ended."""
    t = START_MS
    play, first_frame = {"event": "play_request", "ts": t, "seq": 0}, {"event": "first_frame", "ts": t + 900, "seq": 1}
    heartbeat = {"event": "heartbeat", "ts": t + 10_900, "seq": 2, "play_ms": 10_000}
    end = {"event": "end", "ts": t + 11_000, "seq": 3, "play_ms": 100}
    late = {"event": "heartbeat", "ts": t + 12_000, "seq": 4, "play_ms": 1_000}
    return [[play, first_frame], [first_frame, heartbeat], [end], [late]]


def settled(metadata: str) -> bool:
    """Whether no session of the metadata database holds a record or an outbox."""
    engine = open_engine(metadata)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).where(SessionRow.due_ms.is_not(None))).scalar_one() == 0
    finally:
        engine.dispose()


def test_sessions_whose_requests_alternate_between_two_processes_are_stored_as_by_one(
    tmp_path: Path, shared_metadata: str
) -> None:
    alternating, single = 7001, 7002
    now_ms = int(time.time() * 1000)
    shift_ms = now_ms - 600_000 - MUX_RECORDING[0].events[0]["uti"]
    with running_harness(tmp_path / "harness") as url:
        settings = Settings(data_dir=tmp_path / "accounts", metadata_url=shared_metadata, store_url=url_text(url))
        auth = open_auth(settings)
        keys = {}
        for customer in (alternating, single):
            auth.accounts.add_customer(customer, f"Customer {customer}", 6831)
            keys[customer] = auth.accounts.create_key(KeyKind.INGEST, customer)[1]
        auth.close()
        env = {
            "SIGHTLINE_METADATA_URL": shared_metadata,
            "SIGHTLINE_STORE_URL": settings.store_url,
            "SIGHTLINE_CMCD_REORDER_WINDOW_S": "1",
            **FAST_WRITER,
        }
        ports = [free_port(), free_port()]
        servers = [serve(tmp_path / f"process-{n}", port, env) for n, port in enumerate(ports)]
        answers: dict[int, list[tuple[int, Any]]] = {alternating: [], single: []}
        try:
            for n, (sta, at_ms, sn, extra) in enumerate(CMCD_SESSION):
                keys_ = "".join(f",{name}={value}" for name, value in extra.items())
                record = f'e=ps,sid="shared",ts={now_ms - 60_000 + at_ms},sn={sn},v=2,sta={sta}{keys_}'.encode()
                for customer, port in ((alternating, ports[n % 2]), (single, ports[0])):
                    answers[customer].append(post(port, f"/cmcd/{keys[customer]}", record, "application/cmcd"))
            for n, posted in enumerate([*MUX_RECORDING, MUX_RECORDING[1]]):  # the second body sent again
                for customer, port in ((alternating, ports[n % 2]), (single, ports[0])):
                    body = posted.replayed(keys[customer], "player", shift_ms)
                    answers[customer].append(post(port, "/mux", body, "text/plain"))
            for customer, view in ((alternating, 1), (single, 2)):
                for n, events in enumerate(native_view()):
                    batch = json.dumps({"view_id": uuid7(view), "dimensions": {"cdn": "edge"}, "events": events})
                    port = ports[n % 2] if customer == alternating else ports[0]
                    answers[customer].append(post(port, "/collect", batch.encode(), "application/json", **{
                        "X-Ingest-Key": keys[customer]
                    }))  # fmt: skip
            wait_for(lambda: settled(shared_metadata), 30)
        finally:
            for server in servers:
                os.killpg(server.pid, signal.SIGTERM)  # the writers store what they hold
                server.wait(30)
        store = open_store(settings)
        try:
            stored = {customer: views_stored(store, customer) for customer in keys}
        finally:
            store.close()
    cmcd, native, mux = sorted(stored[single], key=len)
    assert [event["event"] for event in cmcd] == ["play_request", "first_frame", "end"]
    assert [event["event"] for event in native] == ["play_request", "first_frame", "heartbeat", "end"]
    assert len(mux) > 10
    assert [status for status, _ in answers[single][-4:]] == [200, 200, 200, 400]  # the late event: view closed
    assert answers[alternating] == answers[single]
    assert stored[alternating] == stored[single]


def test_records_held_by_a_process_killed_are_applied_by_the_other(tmp_path: Path, shared_metadata: str) -> None:
    customer, now_ms = 7003, int(time.time() * 1000)
    with running_harness(tmp_path / "harness") as url:
        settings = Settings(data_dir=tmp_path / "accounts", metadata_url=shared_metadata, store_url=url_text(url))
        auth = open_auth(settings)
        auth.accounts.add_customer(customer, "Killed", 6831)
        key = auth.accounts.create_key(KeyKind.INGEST, customer)[1]
        auth.close()
        env = {
            "SIGHTLINE_METADATA_URL": shared_metadata,
            "SIGHTLINE_STORE_URL": settings.store_url,
            "SIGHTLINE_CMCD_REORDER_WINDOW_S": "3",
        }
        ports = [free_port(), free_port()]
        killed, other = (serve(tmp_path / f"process-{n}", port, env) for n, port in enumerate(ports))
        try:
            lines = [
                f'e=ps,sid="held",ts={now_ms - 60_000 + at_ms},sn={sn},v=2,sta={sta}'
                + "".join(f",{name}={value}" for name, value in extra.items())
                for sta, at_ms, sn, extra in CMCD_SESSION
            ]
            assert post(ports[0], f"/cmcd/{key}", "\n".join(lines).encode(), "application/cmcd")[0] == 204
            os.killpg(killed.pid, signal.SIGKILL)  # within the reorder window: its records are all held
            killed.wait(30)
            wait_for(lambda: settled(shared_metadata), 30)
        finally:
            for server in (killed, other):
                if server.poll() is None:
                    os.killpg(server.pid, signal.SIGTERM)
                    server.wait(30)
        store = open_store(settings)
        try:
            (view,) = views_stored(store, customer)
        finally:
            store.close()
    assert [event["event"] for event in view] == ["play_request", "first_frame", "end"]
