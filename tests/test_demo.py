"""The demo's data directory handling and credentials file; and two demo processes on one directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sightline.app import create_app
from sightline.auth.plans import Feature, plan_for
from sightline.demo import DEMO_CUSTOMERS, claim_data_dir, demo_customers, provision, seed, write_demo_json
from sightline.demo import _insert as demo_insert
from sightline.settings import Settings
from sightline.simulate.incidents import plan_incidents, to_ms
from sightline.simulate.live import LiveTraffic
from sightline.simulate.traffic import SimulationConfig
from sightline.store import open_store
from sightline.store.writer import BatchingWriter

SMALL_DEMO = ("--days", "0.05", "--scale", "0.05")
"""A demo that seeds within seconds."""


def test_claim_data_dir_refuses_a_directory_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="holds no earlier demo"):
        claim_data_dir(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["precious.txt"]


def test_claim_data_dir_replaces_an_earlier_demo_and_marks_the_directory_at_once(tmp_path: Path) -> None:
    (tmp_path / "demo.json").write_text("{}")
    (tmp_path / "old-data").mkdir()
    lock = claim_data_dir(tmp_path)
    try:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.json", "sightline.lock"]
        assert json.loads((tmp_path / "demo.json").read_text()) == {"customers": []}
    finally:
        lock.release()


def test_demo_json_lists_provisioned_customers_whose_plans_allow_alerts(tmp_path: Path) -> None:
    """Each demo customer has injected incidents, which its plan must let it list as alerts."""
    path = write_demo_json(tmp_path, provision(Settings(data_dir=tmp_path), demo_customers()))
    customers = json.loads(path.read_text())["customers"]
    assert [c["id"] for c in customers] == [c for c, _ in DEMO_CUSTOMERS]
    ids = tuple(c["id"] for c in customers)
    week = (datetime(2024, 5, 5, tzinfo=UTC), datetime(2024, 5, 12, tzinfo=UTC))
    assert {incident.customer_id for incident in plan_incidents(ids, *week)} == set(ids)
    assert all(Feature.ALERTS in plan_for(c["plan_level"]).features for c in customers)
    for customer in customers:
        assert {"id", "name", "plan_level", "username", "password", "api_key", "ingest_key"} <= customer.keys()
        assert len(customer["password"]) >= 12
    assert path.stat().st_mode & 0o077 == 0


# --- demo processes ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _demo(data_dir: Path, *options: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`sightline demo` over `data_dir` on a free port, in a process of its own; stopped at the end."""
    port = _free_port()
    command = [sys.executable, "-m", "sightline", "demo", "--data-dir", str(data_dir), "--port", str(port), *options]
    # SIGINT as a terminal gives it, even when the suite runs in the background (where the shell ignores it)
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def _get(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_healthy(process: subprocess.Popen[bytes], port: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stderr is not None
            raise AssertionError(f"the demo exited with {process.returncode}: {process.stderr.read()!r}")
        try:
            if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the demo on port {port} did not come up in {timeout_s} s")


def _login(port: int, data_dir: Path) -> int:
    """The status of a password login of the demo's first user, with the credentials of demo.json."""
    first = json.loads((data_dir / "demo.json").read_text())["customers"][0]
    form = f"grant_type=password&username={first['username']}&password={first['password']}".encode()
    return _get(f"http://127.0.0.1:{port}/generateOAuthToken", form)[0]


def test_a_second_demo_on_a_running_demos_directory_is_refused_and_touches_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with _demo(data_dir, *SMALL_DEMO) as (first, port):
        _wait_healthy(first, port)
        credentials = (data_dir / "demo.json").read_bytes()
        with _demo(data_dir, *SMALL_DEMO) as (second, _):
            try:
                second.wait(60)
            except subprocess.TimeoutExpired:
                pytest.fail("the second demo did not stop: it took over the running demo's directory")
            assert second.stderr is not None
            error = second.stderr.read().decode()
        assert second.returncode == 2, error
        assert error.count("\n") == 1, error
        assert error.startswith("sightline: data directory"), error
        assert "in use by another Sightline process" in error
        assert (data_dir / "demo.json").read_bytes() == credentials
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        assert _login(port, data_dir) == 201


def test_a_demo_interrupted_while_simulating_is_replaced_by_the_next(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with _demo(data_dir, "--days", "7", "--scale", "0.3") as (interrupted, _):
        assert interrupted.stderr is not None
        os.set_blocking(interrupted.stderr.fileno(), False)
        seen, deadline = b"", time.monotonic() + 60
        while b"simulating" not in seen and time.monotonic() < deadline:
            seen += interrupted.stderr.read() or b""
            assert interrupted.poll() is None, seen
            time.sleep(0.05)
        assert b"simulating" in seen, seen
        interrupted.send_signal(signal.SIGINT)
        assert interrupted.wait(60) == 130
    with _demo(data_dir, *SMALL_DEMO) as (next_demo, port):
        _wait_healthy(next_demo, port)
        assert _login(port, data_dir) == 201


def test_make_demo_passes_its_args_to_the_demo() -> None:
    """`make demo ARGS="--port 8001"`, as the README says where it lists the flags."""
    root = Path(__file__).resolve().parents[1]
    planned = subprocess.run(
        ["make", "--dry-run", "--always-make", "demo", "ARGS=--port 8001 --days 2"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ".venv/bin/sightline demo --port 8001 --days 2\n" in planned, planned


def test_the_demos_subscriber_cohorts_read_as_a_customers_would(tmp_path: Path) -> None:
    """The cohorts of the last 7 days look 28 days further back: the demo's seeding reaches there, so that its
    subscribers are mostly known ones, as a customer's would be, not 84 % `new` and a handful returning."""
    settings = Settings(data_dir=tmp_path / "data")
    store = open_store(settings, claim_data_dir(settings.data_dir))
    writer = BatchingWriter.for_settings(store, settings)
    try:
        customers = demo_customers()
        config = SimulationConfig.last_days(7, customer_ids=tuple(c.id for c in customers), scale=0.1, seed=7)
        seed(store, config, LiveTraffic(writer, config))
        first = provision(settings, customers)[0]
        end = to_ms(config.end) // 1000
        params = {
            "planlevel": str(first.plan_level),
            "queryname": "subscribercohorts",
            "period": f"start={end - 7 * 86_400},end={end}",
        }
        with TestClient(create_app(settings, store, writer, restore_views=False)) as client:
            answer = client.get(
                f"/mm-apis/smartQuery/{first.customer_id}", params=params, headers={"X-API-Key": first.api_key}
            )
    finally:
        writer.close()
        store.close()
    assert answer.status_code == 200, answer.text
    cohorts = {row["cohort"]: row for row in answer.json()["response"]}
    subscribers = sum(row["subscribers"] for row in cohorts.values())
    assert subscribers > 200, cohorts
    assert {"new", "returning"} <= set(cohorts), cohorts
    assert cohorts["new"]["share"] < 35, cohorts
    assert cohorts["returning"]["share"] > 10, cohorts
    assert cohorts["returning"]["subscribers"] > 20, cohorts


def test_seeding_whose_last_chunk_filled_a_batch_inserts_nothing_more(tmp_path: Path) -> None:
    """The seed inserts a batch as soon as it holds `chunk_events` rows; when the last chunk filled one, nothing
    is left to insert (the demo exited 2 with pyarrow's "Must pass at least one table" at such times of day)."""
    store = open_store(Settings(data_dir=tmp_path))
    try:
        assert demo_insert(store, []) == 0
    finally:
        store.close()
