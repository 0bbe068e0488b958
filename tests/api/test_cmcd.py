"""`POST /cmcd` through the app over a real chDB store: scripted CMCD sessions give the numbers the query
API answers; the specification's answers (204, 410, 429) and the 4xx of malformed reports."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.ingest.native import BATCH, to_event_table
from sightline.ingest.pipeline import derived_view_id
from sightline.ingest.sessions import IDLE_CLOSE_MS
from sightline.settings import Settings
from sightline.store.writer import BatchingWriter
from tests.handwritten import by_hand
from tests.times import RECENT_HOUR_MS

CUSTOMER = 1001
PLAN_LEVEL = 6831
T0 = RECENT_HOUR_MS
CMCD = {"Content-Type": "application/cmcd"}
CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


@dataclass(frozen=True)
class World:
    client: TestClient
    key: str
    api_headers: dict[str, str]
    revoked_key: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(  # no reorder window: a report's records are stored before its answer (see test_cmcd_reorder)
        data_dir=tmp_path_factory.mktemp("cmcd"), argon2_time_cost=1, argon2_memory_kib=1024, cmcd_reorder_window_s=0
    )
    with TestClient(create_app(settings)) as client:
        auth = client.app.state.auth  # type: ignore[attr-defined]
        auth.accounts.add_customer(CUSTOMER, "Alpha", PLAN_LEVEL)
        revoked, revoked_secret = auth.accounts.create_key(KeyKind.INGEST, CUSTOMER)
        auth.accounts.revoke_key(KeyKind.INGEST, revoked.id)
        yield World(
            client,
            auth.accounts.create_key(KeyKind.INGEST, CUSTOMER)[1],
            {"X-API-Key": auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]},
            revoked_secret,
        )


def line(sid: str, e: str, at: int, sn: int, **keys: Any) -> str:
    extra = "".join(f",{k}={v}" for k, v in keys.items())
    return f'e={e},sid="{sid}",ts={T0 + at},sn={sn},v=2{extra}'


def report(world: World, *lines: str, **headers: str) -> Any:
    return world.client.post(f"/cmcd/{world.key}", content="\n".join(lines) + "\n", headers={**CMCD, **headers})


def metrics(world: World, names: str, **params: str) -> dict[str, Any]:
    services(world.client.app).writer.flush()  # acknowledged = spooled; now stored
    period = f"start={T0 // 1000 - 3600},end={T0 // 1000 + 7200}"
    response = world.client.get(
        f"/mm-apis/qbrData/vod/{CUSTOMER}",
        params={"planlevel": str(PLAN_LEVEL), "period": period, "metrics": names, **params},
        headers=world.api_headers,
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["response"]
    return rows[0] if len(rows) == 1 else {"rows": rows}


def test_scripted_sessions_give_the_numbers_the_query_api_answers(world: World) -> None:
    dims = {"sf": "h", "st": "v", "cid": '"clip-a"', "cdn": '"akamai"'}
    view_a = [
        line("view-a", "ps", 0, 0, sta="d", **dims),
        line("view-a", "ps", 100, 1, sta="s", **dims),
        line("view-a", "bc", 150, 2, sta="s", br="(2000;v)", **dims),
        line("view-a", "ps", 1_350, 3, sta="p", br="(2000;v)", **dims),
        line("view-a", "t", 31_350, 4, sta="p", br="(2000;v)", **dims),
        line("view-a", "ps", 40_000, 5, sta="r", br="(2000;v)", **dims),
        line("view-a", "ps", 42_500, 6, sta="p", br="(2000;v)", **dims),
        line("view-a", "bc", 50_000, 7, sta="p", br="(4000;v)", **dims),
        line("view-a", "ps", 61_350, 8, sta="e", br="(4000;v)", **dims),
    ]
    for number, record in enumerate(view_a):  # one report per record, as hls.js sends them
        assert report(world, record, **{"User-Agent": CHROME_LINUX}).status_code == 204
        if number == 5:
            assert report(world, record).status_code == 204  # a retry is counted once
    failed_and_quit = [
        line("view-b", "ps", 0, 0, sta="s", cid='"clip-b"'),
        line("view-c", "ps", 0, 0, sta="s", cid='"clip-a"'),
        line("view-b", "e", 3_000, 1, sta="f", ec='("manifestLoadError")'),
        line("view-b", "ps", 3_000, 2, sta="f"),
        line("view-c", "ps", 800, 1, sta="p"),
        line("view-c", "ps", 10_800, 2, sta="q"),
    ]
    assert report(world, *failed_and_quit).status_code == 204
    play_ms, rebuffer_ms = (40_000 - 1_350) + (61_350 - 42_500) + 10_000, 2_500
    bitrate_play = 2_000 * ((40_000 - 1_350) + (50_000 - 42_500)) + 4_000 * (61_350 - 50_000) + 0 * 10_000
    got = metrics(world, "attempts,viewercount,latency,playdur,bufferingratio,buffcount,vsf,completedplays,avgbitrate")
    assert got["attempts"] == 3
    assert got["viewercount"] == 2
    assert got["latency"] == pytest.approx((1_250 + 800) / 2 / 1000, abs=1e-4)
    assert got["playdur"] == pytest.approx(play_ms / 60_000, abs=1e-4)
    assert got["bufferingratio"] == pytest.approx(100 * rebuffer_ms / (play_ms + rebuffer_ms), abs=1e-3)
    assert got["buffcount"] == 1
    assert got["vsf"] == pytest.approx(100 / 3, abs=1e-3)
    assert got["completedplays"] == 1
    assert got["avgbitrate"] == pytest.approx(bitrate_play / play_ms, abs=1e-2)
    by_asset = metrics(world, "attempts,playdur", aggby="assetid")["rows"]
    assert {row["assetid"]: row["attempts"] for row in by_asset} == {"clip-a": 2, "clip-b": 1}
    by_browser = metrics(world, "attempts", aggby="browser,platform")["rows"]
    assert {(row["browser"], row["platform"]): row["attempts"] for row in by_browser}[("Chrome", "Linux")] == 1
    store = services(world.client.app).store
    codes = store.query(
        by_hand("SELECT error_code FROM events WHERE event = 'error' AND customer_id = 1001")
    ).to_pylist()
    assert codes == [{"error_code": "manifestLoadError"}]


def test_the_key_may_come_as_a_header_and_the_acceptance_example_is_204(world: World) -> None:
    body = f'e=ps,sta=s,sid="check-1",cid="check-content",ts={T0},v=2\ne=ps,sta=p,sid="check-1",ts={T0 + 900},v=2'
    response = world.client.post("/cmcd", content=body, headers={**CMCD, "X-Ingest-Key": world.key})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert (
        world.client.post(f"/cmcd?key={world.key}", content=body, headers={"Content-Type": "text/cmcd"}).status_code
        == 204
    )


def test_a_preflight_is_answered(world: World) -> None:
    response = world.client.options(
        f"/cmcd/{world.key}",
        headers={"Origin": "https://player.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"},
    )  # fmt: skip
    assert response.status_code == 204
    assert "content-type" in response.headers["access-control-allow-headers"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (f'e=ps,sta=p,sid="x",ts={T0},v=3', CMCD, 400, "unsupported_version"),
        ("not cmcd", CMCD, 400, "no_valid_record"),
        (f'e=ps,sid="x",ts={T0},v=2', CMCD, 400, "no_valid_record"),
        (f'e=ps,sta=zz,sid="x",ts={T0},v=2', CMCD, 400, "no_valid_record"),
        ("\n\n", CMCD, 400, "empty_report"),
        (f'e=ps,sta=p,sid="x",ts={T0},v=2', {"Content-Type": "application/json"}, 415, "unsupported_media_type"),
        (f'e=ps,sta=p,sid="x",ts={T0},v=2', {**CMCD, "Content-Encoding": "gzip"}, 415, "unsupported_media_type"),
        (f'e=t,sid="x",ts={T0}\n' * 1001, CMCD, 413, "too_many_records"),
        ("a" * (1024 * 1024 + 1), CMCD, 413, "body_too_large"),
    ],
)
def test_malformed_reports_are_the_documented_4xx(
    world: World, body: str, headers: dict[str, str], status: int, code: str
) -> None:
    response = world.client.post(f"/cmcd/{world.key}", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_non_utf8_is_400(world: World) -> None:
    response = world.client.post(f"/cmcd/{world.key}", content=b"e=t,sid=\xff", headers=CMCD)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_encoding")


def test_parsing_a_large_report_does_not_hold_up_other_requests(world: World) -> None:
    """Parsing a report of ~1 MiB of inner-list items costs seconds of CPU; meanwhile the app answers others."""
    items = " ".join(["1"] * 7000)
    heavy = [f'e=t,sid="heavy",ts={T0},br=({items})'] * 70
    took: list[float] = []

    def post_heavy() -> None:
        started = time.monotonic()
        assert report(world, *heavy).status_code == 204
        took.append(time.monotonic() - started)

    thread = threading.Thread(target=post_heavy)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert world.client.get("/sdk/sightline.js").status_code == 200
    light = time.monotonic() - started
    thread.join()
    assert took[0] > 0.5, "the report should be slow to parse, or this test shows nothing"
    assert light < took[0] / 4


def test_a_missing_key_is_401_and_an_unknown_or_revoked_one_is_410(world: World) -> None:
    body = f'e=ps,sta=s,sid="k",ts={T0},v=2'
    assert world.client.post("/cmcd", content=body, headers=CMCD).status_code == 401
    for key in ("sli_nosuchkey", world.revoked_key):
        response = world.client.post(f"/cmcd/{key}", content=body, headers=CMCD)
        assert response.status_code == 410
        assert response.json()["error"]["code"] == "unknown_ingest_key"


def test_a_refusing_store_delays_the_events_and_the_next_report_is_429_until_they_are_stored(
    world: World, tmp_path: Path
) -> None:
    """The records of a report are durable in the collector's log before the store takes their events: the
    report is acknowledged, the events are stored once the store takes them again, and meanwhile the
    session's next report is refused whole (429) and counts once when sent again."""
    app = world.client.app
    pipeline = services(app).pipeline
    original = pipeline.writer
    blocked = BatchingWriter(services(app).store, tmp_path, max_rows=10**9, max_delay_s=3600, max_pending_rows=2)
    filler = BATCH.validate_python(
        {
            "view_id": "01980000-0000-7000-8000-000000000001",
            "events": [{"event": "play_request", "ts": T0, "seq": 0}, {"event": "exit", "ts": T0, "seq": 1}],
        }
    )
    pipeline.writer = blocked
    try:
        blocked.submit(to_event_table(CUSTOMER, [filler]))
        assert report(world, line("busy", "ps", 0, 0, sta="s")).status_code == 204
        refused = report(world, line("busy", "ps", 500, 1, sta="p"))
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "1"
    finally:
        blocked.close()
        pipeline.writer = original
    store = services(app).store
    view_id = str(uuid.UUID(bytes=derived_view_id(CUSTOMER, "cmcd", "busy", T0)))

    def stored() -> list[dict[str, Any]]:
        services(app).writer.flush()
        rows: list[dict[str, Any]] = store.query(
            by_hand(
                "SELECT toString(event) AS event, startup_ms FROM events WHERE view_id = toUUID({v:String}) "
                "ORDER BY seq",
                {"v": view_id},
            ),
        ).to_pylist()
        return rows

    deadline = time.monotonic() + 10
    while not stored():  # the collector's timer offers the held events again, with no report to prompt it
        assert time.monotonic() < deadline, "the acknowledged events were never stored"
        time.sleep(0.2)
    assert report(world, line("busy", "ps", 500, 1, sta="p")).status_code == 204
    assert report(world, line("busy", "ps", 500, 1, sta="p")).status_code == 204  # a retry: counted once
    assert stored() == [{"event": "play_request", "startup_ms": 0}, {"event": "first_frame", "startup_ms": 500}]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet='e=ps,ta"id01289;()v\n ', max_size=60), max_size=4))
def test_any_report_is_stored_or_refused_never_a_5xx(world: World, lines: list[str]) -> None:
    response = report(world, *lines, f'e=t,sid="fuzz",ts={T0},v=2,sta=p')
    assert response.status_code in (204, 400), response.text
    response = report(world, *lines)
    assert response.status_code in (204, 400, 413), response.text


sf_items = st.one_of(
    st.integers(-(10**16), 10**16).map(str),
    st.decimals(-(10**12), 10**12, places=3, allow_nan=False).map(str),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=12).map(
        lambda text: '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    ),
    st.sampled_from(["p", "s", "f", "q", "e", "t", "ps", "v", "av", "?1", "?0", ":AAE=:", "*x", "é"]),
)
sf_values = sf_items | st.lists(sf_items, max_size=4).map(lambda items: "(" + " ".join(items) + ")")
sf_keys = st.sampled_from(["v", "e", "ts", "sid", "sn", "sta", "msd", "br", "pb", "ec", "cid", "sl-season", "bs", "su"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.dictionaries(sf_keys, sf_values, max_size=8), min_size=1, max_size=5))
def test_any_structured_report_is_stored_or_refused_and_the_writer_keeps_storing(
    world: World, records: list[dict[str, str]]
) -> None:
    lines = [",".join(f"{key}={value}" for key, value in record.items()) for record in records]
    response = report(world, *lines, f'e=ps,sta=p,sid="fuzz-sf",ts={T0},v=2')
    assert response.status_code == 204, response.text
    services(world.client.app).writer.flush(timeout_s=30)


def test_a_session_silent_for_30_minutes_is_closed_by_the_sweeper_as_an_exit(world: World) -> None:
    """(Last in the module: the sweep closes every view the collector holds.)"""
    assert report(world, line("idle", "ps", 0, 0, sta="s"), line("idle", "ps", 700, 1, sta="p")).status_code == 204
    pipeline = services(world.client.app).pipeline
    exits = pipeline.sweep(int(time.time() * 1000) + IDLE_CLOSE_MS)
    view_id = derived_view_id(CUSTOMER, "cmcd", "idle", T0)
    assert [event for _, view, _, event in exits if view == view_id] == [
        {"event": "exit", "ts": T0 + 700, "seq": 2, "started": 1}
    ]
