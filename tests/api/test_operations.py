"""What an operator on call sees, through real HTTP on the app over a real chDB store: `/metrics` moves as
requests, ingest and queries happen, with bounded labels; the request id goes round; log lines are JSON that
carry it; `/readyz` tells the truth about the store and the spool (docs/operations.md)."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.ingest.format import REFUSAL_CODES
from sightline.settings import Settings
from sightline.telemetry.logs import JsonFormatter
from tests.api.test_collect import batch, view_events
from tests.ingest.mux_fixtures import MAX_RECORDED_MS, MIN_RECORDED_MS, load
from tests.times import ANY_PAST_S, RECENT_HOUR_MS

CUSTOMER = 1001
OTHER_CUSTOMER = 1002
TOKEN = "metrics-token-for-tests"
PERIOD = f"start={RECENT_HOUR_MS // 1000 - 3600},end={RECENT_HOUR_MS // 1000 + 3600}"


@dataclass(frozen=True)
class World:
    client: TestClient
    settings: Settings
    ingest_key: str
    api_key: str
    other_ingest_key: str


def _settings(data_dir: Path, **more: Any) -> Settings:
    return Settings(data_dir=data_dir, argon2_time_cost=1, argon2_memory_kib=1024, **more)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("operations")
    settings = _settings(
        data_dir, metrics_token=TOKEN, access_log=True, event_max_late_s=ANY_PAST_S, cmcd_reorder_window_s=0.2
    )
    with TestClient(create_app(settings)) as client:
        accounts = client.app.state.auth.accounts  # type: ignore[attr-defined]
        accounts.add_customer(CUSTOMER, "Alpha", 6831)
        accounts.add_customer(OTHER_CUSTOMER, "Beta", 6831)
        ingest_key = accounts.create_key(KeyKind.INGEST, CUSTOMER)[1]
        other_key = accounts.create_key(KeyKind.INGEST, OTHER_CUSTOMER)[1]
        yield World(client, settings, ingest_key, accounts.create_key(KeyKind.API, CUSTOMER)[1], other_key)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(world: World) -> Samples:
    response = world.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_ingest_counts_accepted_and_refused_events_by_format_and_reason(world: World) -> None:
    before = scrape(world)
    events = view_events(1)[:3]
    events[1] = {**events[1], "startup_ms": "not a number"}
    response = world.client.post("/collect", json=batch(1, events), headers={"X-Ingest-Key": world.ingest_key})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    late = batch(2, [*view_events(2)[:1], {"event": "heartbeat", "ts": RECENT_HOUR_MS + 9 * 86_400_000, "seq": 1}])
    assert world.client.post("/collect", json=late, headers={"X-Ingest-Key": world.ingest_key}).status_code == 200
    after = scrape(world)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("sightline_ingest_events_accepted_total", format="native") == 3
    assert moved("sightline_ingest_events_refused_total", format="native", reason="invalid") == 1
    assert moved("sightline_ingest_events_refused_total", format="native", reason="outside_window") == 1
    assert moved("sightline_http_requests_total", method="POST", route="/collect", status="200") == 2


def test_mux_events_count_as_mux_as_each_answer_says(world: World) -> None:
    before = scrape(world)
    answers = []
    for posted in load("mp4_play_to_end"):
        headers = {"Content-Type": posted.content_type, "User-Agent": posted.user_agent}
        response = world.client.post("/mux", content=posted.with_env_key(world.ingest_key), headers=headers)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    after = scrape(world)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    accepted = sum(answer["accepted"] for answer in answers)
    refused = sum(len(answer["refused"]) for answer in answers)
    assert accepted > 0
    assert moved("sightline_ingest_events_accepted_total", format="mux") == accepted
    refused_moved = sum(
        moved("sightline_ingest_events_refused_total", format="mux", reason=reason) for reason in REFUSAL_CODES
    )
    assert refused_moved == refused
    assert moved("sightline_ingest_events_accepted_total", format="native") == 0


def test_cmcd_records_count_as_cmcd(world: World) -> None:
    before = scrape(world)
    at = RECENT_HOUR_MS
    good = f'e=ps,sta=s,sid="ops-cmcd",ts={at},sn=0,v=2'
    bad = f'e=ps,sid="ops-cmcd",ts={at + 100},sn=1,v=2'  # a play state record without its state
    response = world.client.post(
        f"/cmcd/{world.ingest_key}", content=f"{good}\n{bad}\n", headers={"Content-Type": "text/cmcd"}
    )
    assert response.status_code == 204, response.text
    after = scrape(world)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("sightline_ingest_events_accepted_total", format="cmcd") == 1
    assert moved("sightline_ingest_events_refused_total", format="cmcd", reason="invalid") == 1


NINE_DAYS_AHEAD_MS = int(time.time() * 1000) + 9 * 86_400_000
"""A time past the window of times the collector stores (1 day ahead by default)."""


def _collect(world: World, body: dict[str, Any], key: str | None = None) -> int:
    """Post a native batch; how many events the answer refuses."""
    response = world.client.post("/collect", json=body, headers={"X-Ingest-Key": key or world.ingest_key})
    assert response.status_code in (200, 400), response.text
    return len(response.json()["refused"]) if response.status_code == 200 else 1


def _native_invalid(world: World) -> int:
    events = view_events(11)
    events[1] = {**events[1], "startup_ms": "not a number"}
    return _collect(world, batch(11, events))


def _native_outside_window(world: World) -> int:
    late = {"event": "heartbeat", "ts": NINE_DAYS_AHEAD_MS, "seq": 1}
    return _collect(world, batch(12, [view_events(12)[0], late]))


def _native_view_closed(world: World) -> int:
    events = view_events(13)
    assert _collect(world, batch(13, events)) == 0
    return _collect(world, batch(13, [{**events[2], "seq": 9}]))


def _native_foreign_view(world: World) -> int:
    events = view_events(14)
    assert _collect(world, batch(14, events[:1])) == 0
    return _collect(world, batch(14, events[1:2]), key=world.other_ingest_key)


def _mux(world: World, events: Callable[[list[Any]], list[Any]], shift_ms: int = 0) -> int:
    """Post the first body of a recorded view, as a view of its own, its events changed by `events`; how many
    events the answer refuses."""
    first = load("mp4_play_to_end")[0]
    payload = json.loads(first.replayed(world.ingest_key, f"ops-{uuid.uuid4()}", shift_ms))
    payload["events"] = events(payload["events"])
    headers = {"Content-Type": first.content_type, "User-Agent": first.user_agent}
    response = world.client.post("/mux", content=json.dumps(payload), headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["refused"])


def _mux_outside_window(world: World) -> int:
    times = [
        value
        for event in load("mp4_play_to_end")[0].events
        for value in event.values()
        if type(value) is int and MIN_RECORDED_MS <= value <= MAX_RECORDED_MS
    ]
    return _mux(world, lambda events: events, NINE_DAYS_AHEAD_MS - min(times))


def _cmcd(world: World, *lines: str) -> int:
    body = "".join(f"{line}\n" for line in lines)
    response = world.client.post(f"/cmcd/{world.ingest_key}", content=body, headers={"Content-Type": "text/cmcd"})
    assert response.status_code == 204, response.text
    return 1


def _cmcd_invalid(world: World) -> int:
    sid = uuid.uuid4()
    return _cmcd(
        world, f'e=ps,sta=s,sid="{sid}",ts={RECENT_HOUR_MS},sn=0,v=2', f'e=ps,sid="{sid}",ts={RECENT_HOUR_MS},sn=1,v=2'
    )


REFUSE: dict[tuple[str, str], Callable[[World], int]] = {
    ("native", "invalid"): _native_invalid,
    ("native", "outside_window"): _native_outside_window,
    ("native", "view_closed"): _native_view_closed,
    ("native", "foreign_view"): _native_foreign_view,
    ("mux", "invalid"): lambda world: _mux(world, lambda events: [*events, 42]),
    ("mux", "env_key_mismatch"): lambda world: _mux(world, lambda events: [*events, {**events[0], "ake": "another"}]),
    ("mux", "outside_window"): _mux_outside_window,
    ("cmcd", "invalid"): _cmcd_invalid,
    ("cmcd", "outside_window"): lambda world: _cmcd(
        world, f'e=ps,sta=s,sid="{uuid.uuid4()}",ts={NINE_DAYS_AHEAD_MS},sn=0,v=2'
    ),
}
"""For each format and code: what makes the collector refuse events with that code (and no other), and how
many the client is told of (CMCD: one, never answered, refused when its record comes due)."""


@pytest.mark.parametrize(("format_name", "code"), sorted(REFUSE))
def test_each_refusal_counts_once_under_its_code(world: World, format_name: str, code: str) -> None:
    before = scrape(world)
    refused = REFUSE[format_name, code](world)
    assert refused >= 1

    def moved() -> dict[str, float]:
        after = scrape(world)
        name = "sightline_ingest_events_refused_total"
        return {
            reason: value(after, name, format=format_name, reason=reason)
            - value(before, name, format=format_name, reason=reason)
            for reason in REFUSAL_CODES
        }

    deadline = time.monotonic() + 5  # CMCD: refused when the collector's timer applies the record
    while sum(moved().values()) < refused and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # and nothing more comes
    assert moved() == {reason: refused if reason == code else 0 for reason in REFUSAL_CODES}


def test_queries_are_timed_by_route_template_and_table_and_labels_name_no_customer(world: World) -> None:
    before = scrape(world)
    response = world.client.get(
        f"/mm-apis/metricquery/{CUSTOMER}",
        params={"period": PERIOD, "metrics": "viewercount", "granularity": "hour"},
        headers={"X-API-Key": world.api_key},
    )
    assert response.status_code == 200, response.text
    assert world.client.get(f"/no/such/{CUSTOMER}/path?secret=hunter2").status_code == 404
    assert world.client.request("HUNTER2", "/healthz").status_code == 405
    after = scrape(world)
    api = "/mm-apis/metricquery/{customerId}"
    timed = [
        dict(labels)
        for (name, labels), count in after.items()
        if name == "sightline_query_duration_seconds_count" and dict(labels)["api"] == api
        if count > value(before, name, **dict(labels))
    ]
    assert len(timed) == 1, timed
    assert timed[0]["table"] in {"rollup", "views", "events", "events+rollup"}, timed
    assert value(after, "sightline_http_requests_total", method="GET", route=api, status="200") >= 1
    assert value(after, "sightline_http_requests_total", method="GET", route="unmatched", status="404") >= 1
    assert value(after, "sightline_http_requests_total", method="other", route="/healthz", status="405") >= 1
    label_values = {v for _, labels in after for _, v in labels}
    assert not any(str(CUSTOMER) in v or "secret" in v or "hunter2" in v or "/no/" in v for v in label_values)


def _settle(world: World) -> None:
    """Wait until nothing taken is held (CMCD's reorder window), unstored or pending, and the writer stored it all:
    no rows arrive after, to take a cached answer away (the refusal tests before leave records coming due)."""
    found = services(world.client.app)
    deadline = time.monotonic() + 30
    while (found.intake.held or found.intake.unstored or found.intake.pending) and time.monotonic() < deadline:
        time.sleep(0.05)
    found.writer.flush()


def test_named_queries_count_cache_hits_and_misses(world: World) -> None:
    _settle(world)
    before = scrape(world)
    params = {"queryname": "topcontent", "period": PERIOD}
    for _ in range(2):
        response = world.client.get(
            f"/mm-apis/smartQuery/{CUSTOMER}", params=params, headers={"X-API-Key": world.api_key}
        )
        assert response.status_code == 200, response.text
    after = scrape(world)
    assert value(after, "sightline_query_cache_misses_total") - value(before, "sightline_query_cache_misses_total") == 1
    assert value(after, "sightline_query_cache_hits_total") - value(before, "sightline_query_cache_hits_total") == 1
    assert value(after, "sightline_query_cache_entries") >= 1
    timed = {"api": "/mm-apis/smartQuery/{customerId}", "table": "views"}  # computed once, on a worker thread
    count = "sightline_query_duration_seconds_count"
    assert value(after, count, **timed) - value(before, count, **timed) == 1


def test_the_writer_and_spool_are_read_at_each_scrape(world: World) -> None:
    before = scrape(world)
    events = view_events(3)
    response = world.client.post("/collect", json=batch(3, events), headers={"X-Ingest-Key": world.ingest_key})
    assert response.status_code == 200, response.text
    services(world.client.app).writer.flush()
    after = scrape(world)
    stored = value(after, "sightline_writer_rows_stored_total") - value(before, "sightline_writer_rows_stored_total")
    assert stored >= len(events)
    assert value(after, "sightline_writer_inserts_total") > value(before, "sightline_writer_inserts_total")
    assert value(after, "sightline_writer_insert_seconds_sum") > value(before, "sightline_writer_insert_seconds_sum")
    assert value(after, "sightline_spool_rows") == 0
    assert value(after, "sightline_spool_segments") == 0
    assert value(after, "sightline_spool_rows_limit") > 0


def test_metrics_answer_only_the_token(world: World) -> None:
    assert world.client.get("/metrics").status_code == 401
    wrong = world.client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    api_key = world.client.get("/metrics", headers={"X-API-Key": world.api_key})
    assert api_key.status_code == 401


def test_the_request_id_goes_round(world: World) -> None:
    given = "req-2026.12.06:abc_1"
    answer = world.client.get("/healthz", headers={"X-Request-ID": given})
    assert answer.headers["x-request-id"] == given
    error = world.client.get(f"/mm-apis/metricquery/{CUSTOMER}", headers={"X-Request-ID": given})
    assert error.status_code == 401
    assert error.headers["x-request-id"] == given
    assert error.json()["error"]["requestid"] == given
    for insane in ("has spaces", "x" * 129, "semi;colon", ""):
        made = world.client.get("/no-such-route", headers={"X-Request-ID": insane})
        assert made.headers["x-request-id"] != insane
        assert len(made.headers["x-request-id"]) == 32
        assert made.json()["error"]["requestid"] == made.headers["x-request-id"]
    first, second = (world.client.get("/healthz").headers["x-request-id"] for _ in range(2))
    assert first != second


def test_log_lines_are_json_and_carry_the_request(world: World) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("sightline.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        response = world.client.get(
            f"/mm-apis/metricquery/{CUSTOMER}",
            params={"period": PERIOD, "metrics": "nosuchmetric"},
            headers={"X-API-Key": world.api_key, "X-Request-ID": "log-line-1"},
        )
    finally:
        access.removeHandler(handler)
    assert response.status_code == 400
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    (line,) = [line for line in lines if line.get("request_id") == "log-line-1"]
    assert line["level"] == "INFO"
    assert line["logger"] == "sightline.access"
    assert line["route"] == "/mm-apis/metricquery/{customerId}"
    assert line["status"] == 400
    assert line["customer_id"] == CUSTOMER
    assert line["duration_ms"] > 0
    assert line["time"].endswith("+00:00")
    assert "nosuchmetric" not in line["message"]  # the path, not its query string


def _leases_held(world: World) -> set[str]:
    samples = scrape(world)
    return {
        dict(labels)["lease"] for (name, labels), held in samples.items() if name == "sightline_lease_held" and held
    }


def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_process_without_alert_rounds_takes_the_other_leases_and_leaves_the_rounds_to_another(
    world: World, tmp_path: Path
) -> None:
    assert _within(10, lambda: _leases_held(world) == {"alert-rounds", "stored-days", "notifications"})
    settings = _settings(tmp_path, metrics_token=TOKEN, alert_rounds=False)
    with TestClient(create_app(settings, store=services(world.client.app).store)) as client:  # one engine a process
        serving = World(client, settings, "", "", "")
        assert _within(10, lambda: _leases_held(serving) == {"stored-days", "notifications"})
        assert "alert-rounds" not in {dict(labels).get("lease") for (name, labels) in scrape(serving)}
