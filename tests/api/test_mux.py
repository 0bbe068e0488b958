"""mux-embed beacons through the app on a real chDB store: the recorded bodies, posted as mux-embed posts
them, come out of the query API as what the raw beacons say; bad bodies are 4xx, never 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.ingest.collect import MAX_BODY_BYTES
from sightline.ingest.native import BATCH, to_event_table
from sightline.settings import Settings
from sightline.store.writer import BatchingWriter
from tests.handwritten import by_hand
from tests.ingest.mux_fixtures import Recorded, last, load
from tests.times import ANY_PAST_S

CUSTOMER = 1001


@dataclass(frozen=True)
class World:
    client: TestClient
    ingest_key: str
    api_headers: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("mux"), event_max_late_s=ANY_PAST_S, argon2_time_cost=1, argon2_memory_kib=1024
    )
    with TestClient(create_app(settings)) as client:
        auth = client.app.state.auth  # type: ignore[attr-defined]
        auth.accounts.add_customer(CUSTOMER, "Alpha", 6831)
        ingest_key = auth.accounts.create_key(KeyKind.INGEST, CUSTOMER)[1]
        api_key = auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]
        yield World(client, ingest_key, {"X-API-Key": api_key})


def post(world: World, posted: Recorded, path: str = "/", env_key: str | None = None) -> httpx.Response:
    headers = {"Content-Type": posted.content_type, "User-Agent": posted.user_agent, "Origin": "http://player.test"}
    body = posted.with_env_key(world.ingest_key if env_key is None else env_key)
    response: httpx.Response = world.client.post(path, content=body, headers=headers)
    return response


def metrics(world: World, name: str, wanted: str, **params: str) -> dict[str, Any]:
    """The query API's one row over the hour around the recording `name`."""
    services(world.client.app).writer.flush()
    start_s = last(name, "xst") // 1000 // 3600 * 3600
    query = {"period": f"start={start_s},end={start_s + 7200}", "metrics": wanted, **params}
    response = world.client.get(f"/mm-apis/metricquery/{CUSTOMER}", params=query, headers=world.api_headers)
    assert response.status_code == 200, response.text
    (row,) = response.json()["response"]
    return dict(row)


def test_a_recorded_mp4_view_is_reported_as_the_beacons_say(world: World) -> None:
    name = "mp4_play_to_end"
    answers = [post(world, posted) for posted in load(name)]
    assert [a.status_code for a in answers] == [200] * len(answers)
    assert {a.headers["access-control-allow-origin"] for a in answers} == {"*"}
    assert sum(a.json()["accepted"] for a in answers) == 5
    assert answers[-1].json()["duplicates"] == 1  # the viewend mux-embed sent twice
    row = metrics(world, name, "viewercount,attempts,latency,playdur,completedplays", filter="assetid=clip-10s")
    assert row["viewercount"] == 1
    assert row["attempts"] == 1
    assert row["completedplays"] == 1
    assert row["latency"] == pytest.approx(last(name, "xtitofifr") / 1000)
    assert row["playdur"] == pytest.approx(last(name, "xctpbti") / 60_000, abs=1e-4)  # answered to 4 decimals
    device = metrics(world, name, "viewercount", filter="assetid=clip-10s", aggby="browser,browserversion,platform")
    assert (device["browser"], device["browserversion"], device["platform"]) == ("HeadlessChrome", "156", "Linux")


def test_ads_stalls_and_errors_reach_their_metrics(world: World) -> None:
    for name in ("hls_ads_pause_seek", "hls_stall_fatal_error"):
        assert {post(world, posted, "/mux").status_code for posted in load(name)} == {200}
    ads = metrics(world, "hls_ads_pause_seek", "adrequests,adimpression,adstarts,adplaydur", filter="assetid=hls-20s")
    assert (ads["adrequests"], ads["adimpression"], ads["adstarts"]) == (1, 1, 1)
    assert ads["adplaydur"] == pytest.approx(last("hls_ads_pause_seek", "dpntimscv") / 60_000, abs=1e-4)
    stall = metrics(world, "hls_stall_fatal_error", "buffcount,errors,viewercount", filter="cdn=edge-1")
    assert (stall["buffcount"], stall["errors"], stall["viewercount"]) == (1, 1, 1)


def test_a_body_sent_again_is_counted_once(world: World) -> None:
    name = "hls_videochange"
    first = [post(world, posted) for posted in load(name)]
    again = [post(world, posted) for posted in load(name)]
    assert sum(a.json()["accepted"] for a in first) > 0
    assert sum(a.json()["accepted"] for a in again) == 0
    assert sum(a.json()["duplicates"] for a in again) == sum(len(p.events) for p in load(name))
    row = metrics(world, name, "viewercount,attempts", filter=f"viewerid={last(name, 'mvrid')}")
    assert (row["viewercount"], row["attempts"]) == (2, 2)


def test_a_busy_collector_answers_503_and_the_retry_decodes_the_same(world: World, tmp_path: Path) -> None:
    app = world.client.app
    pipeline = services(app).pipeline
    original = pipeline.writer
    body = load("mp4_play_to_end")[0].with_env_key(world.ingest_key)
    body = body.replace(b"clip-10s", b"clip-busy").replace(b'"xid":"f9418e83', b'"xid":"0000ab83')
    blocked = BatchingWriter(services(app).store, tmp_path, max_rows=10**9, max_delay_s=3600, max_pending_rows=1)
    filler_view = "01900000-0000-7000-8000-000000000001"
    filler = {"view_id": filler_view, "events": [{"event": "play_request", "ts": 1_780_000_000_000, "seq": 0}]}
    blocked.submit(to_event_table(CUSTOMER, [BATCH.validate_python(filler)]))
    pipeline.writer = blocked
    try:
        refused = world.client.post("/mux", content=body)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["access-control-allow-origin"] == "*"
    finally:
        blocked.close()
        pipeline.writer = original
    retried = world.client.post("/mux", content=body)
    assert retried.json()["accepted"] == 1  # the play request, decoded again from the same state
    assert metrics(world, "mp4_play_to_end", "attempts", filter="assetid=clip-busy")["attempts"] == 1


def test_lone_surrogates_are_stored_as_replacement_characters_and_never_stop_the_writer(world: World) -> None:
    """JSON may escape a lone UTF-16 surrogate (`"\\ud83d"`: a title cut inside an emoji), which UTF-8 cannot hold."""
    t0 = 1_780_000_000_000

    def event(name: str, seq: int, **fields: Any) -> dict[str, Any]:
        return {"e": name, "xid": "lone-\ud800", "xsqno": seq, "uti": t0 + seq, "ake": world.ingest_key, **fields}

    events = [
        event("viewstart", 1, xst=t0, vid="surrogates", vtt="cut \ud83d"),
        event("playing", 2),
        event("error", 3, percd="\udfff", perme="lost \ud800"),
    ]
    response = world.client.post("/mux", content=json.dumps({"metadata": {}, "events": events}))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    bad_key = [{**e, "ake": "\ud800"} for e in events]
    assert world.client.post("/mux", content=json.dumps({"metadata": {}, "events": bad_key})).status_code == 401
    services(world.client.app).writer.flush(timeout_s=10)
    stored = (
        services(world.client.app)
        .store.query(
            by_hand(
                "SELECT assetname, toString(error_code) AS code, error_message FROM events "
                "WHERE customer_id = {c:UInt32} AND assetid = 'surrogates' AND event = 'error'",
                {"c": CUSTOMER},
            )
        )
        .to_pylist()
    )
    assert stored == [{"assetname": "cut \ufffd", "code": "\ufffd", "error_message": "lost \ufffd"}]


@pytest.mark.parametrize("env_key", ["", "sli_nosuchkey"])
def test_an_unknown_env_key_is_401(world: World, env_key: str) -> None:
    response = post(world, load("mp4_play_to_end")[0], "/mux", env_key=env_key)
    assert response.status_code == 401
    assert response.json()["error"]["parameter"] == "env_key"


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{not json", 400, "bad_json"),
        (b'{"events": [' + b"1" * 5000 + b"]}", 400, "bad_json"),
        (b"[" * 200_000 + b"]" * 200_000, 400, "bad_json"),
        (b"[1, 2]", 400, "bad_batch"),
        (b'{"events": "many"}', 400, "bad_batch"),
        (b'{"events": []}', 400, "bad_events"),
        (b'{"events": [1, {"e": "hb"}]}', 400, "no_valid_event"),
        (b"\x1f\x8b\x08garbage", 400, "bad_gzip"),
        (b" " * (MAX_BODY_BYTES + 1), 413, "body_too_large"),
    ],
)
def test_malformed_bodies_are_4xx_naming_the_problem(world: World, raw: bytes, status: int, code: str) -> None:
    for path in ("/", "/mux"):
        response = world.client.post(path, content=raw, headers={"Content-Type": "text/plain"})
        assert response.status_code == status
        assert response.json()["error"]["code"] == code
        assert response.headers["access-control-allow-origin"] == "*"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["\ud800", "a\udc00"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(json_values, st.sampled_from(["e", "xid", "xsqno", "uti", "xst", "xctpbti", "vsobi", "vtt", "ake", None]))
def test_any_body_is_stored_or_refused_never_a_5xx(world: World, value: Any, key: str | None) -> None:
    events = json.loads(load("hls_ads_pause_seek")[0].with_env_key(world.ingest_key))["events"]
    if key is not None:
        events = [{**event, key: value} for event in events]
    for body in ({"metadata": {}, "events": events}, value):
        response = world.client.post("/mux", content=json.dumps(body).encode())
        assert response.status_code in (200, 400, 401, 413), response.text
