"""`POST /collect` through the app over a real chDB store: stored once, refused precisely, never a 5xx."""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sightline.api.collect import read_body
from sightline.api.errors import ApiError
from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.ingest.collect import MAX_BODY_BYTES, MAX_DECODED_BYTES
from sightline.ingest.native import BATCH, to_event_table
from sightline.settings import Settings
from sightline.store.writer import BatchingWriter
from tests.handwritten import by_hand
from tests.times import RECENT_HOUR_MS

START_MS = RECENT_HOUR_MS


@dataclass(frozen=True)
class World:
    client: TestClient
    key: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("collect"), argon2_time_cost=1, argon2_memory_kib=1024)
    with TestClient(create_app(settings)) as client:
        auth = client.app.state.auth  # type: ignore[attr-defined]
        auth.accounts.add_customer(1001, "Alpha", 6831)
        yield World(client, auth.accounts.create_key(KeyKind.INGEST, 1001)[1])


def uuid7(n: int) -> str:
    return str(uuid.UUID(int=((START_MS + n) << 80) | (0x7 << 76) | (0b10 << 62) | n))


def batch(view: int, events: list[dict[str, Any]], **dimensions: Any) -> dict[str, Any]:
    return {"view_id": uuid7(view), "dimensions": {"cdn": "akamai", **dimensions}, "events": events}


def view_events(view: int) -> list[dict[str, Any]]:
    t = START_MS + view
    return [
        {"event": "play_request", "ts": t, "seq": 0},
        {"event": "first_frame", "ts": t + 900, "seq": 1, "started": 1, "startup_ms": 900},
        {
            "event": "heartbeat",
            "ts": t + 10_900,
            "seq": 2,
            "started": 1,
            "play_ms": 10_000,
            "interval_bitrate_kbps": 3000,
        },
        {"event": "end", "ts": t + 11_000, "seq": 3, "started": 1, "play_ms": 100, "interval_bitrate_kbps": 3000},
    ]


def post(world: World, body: Any, *, key: str | None = None, raw: bytes | None = None, **headers: str) -> Any:
    content = raw if raw is not None else json.dumps(body).encode()
    return world.client.post("/collect", content=content, headers={"X-Ingest-Key": key or world.key, **headers})


def stored(world: World, view: int) -> list[dict[str, Any]]:
    services(world.client.app).writer.flush()
    store = services(world.client.app).store
    table = store.query(
        by_hand(
            "SELECT seq, toString(event) AS event, started, play_ms FROM events WHERE view_id = toUUID({v:String}) "
            "ORDER BY seq",
            {"v": uuid7(view)},
        ),
    )
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def test_a_batch_is_stored_and_its_retry_counted_once(world: World) -> None:
    response = post(world, batch(1, view_events(1)))
    assert response.status_code == 200
    assert response.json() == {"accepted": 4, "duplicates": 0, "refused": []}
    again = post(world, batch(1, view_events(1)))
    assert again.json() == {"accepted": 0, "duplicates": 4, "refused": []}
    assert [r["seq"] for r in stored(world, 1)] == [0, 1, 2, 3]
    store = services(world.client.app).store
    view = store.query(
        by_hand(
            "SELECT sum(play_ms) AS play, max(completed) AS completed, max(cdn) AS cdn FROM views "
            "WHERE view_id = toUUID({v:String})",
            {"v": uuid7(1)},
        ),
    ).to_pylist()
    assert view == [{"play": 10_100, "completed": 1, "cdn": "akamai"}]


def test_the_key_may_come_in_the_query_and_gzip_is_accepted(world: World) -> None:
    body = gzip.compress(json.dumps(batch(2, view_events(2)[:2])).encode())
    response = world.client.post(f"/collect?key={world.key}", content=body, headers={"Content-Encoding": "gzip"})
    assert response.json()["accepted"] == 2


def deflate(data: bytes, *, raw: bool = False) -> bytes:
    """`data` deflated: zlib-wrapped (RFC 1950, what RFC 9110 calls deflate), or `raw` (RFC 1951)."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize("raw", [False, True], ids=["zlib", "raw"])
def test_deflate_is_accepted_zlib_wrapped_or_raw(world: World, raw: bool) -> None:
    view = 20 + raw
    body = deflate(json.dumps(batch(view, view_events(view))).encode(), raw=raw)
    response = post(world, None, raw=body, **{"Content-Encoding": "Deflate"})
    assert response.json() == {"accepted": 4, "duplicates": 0, "refused": []}
    assert [r["seq"] for r in stored(world, view)] == [0, 1, 2, 3]


VALID_JSON = json.dumps(batch(22, view_events(22))).encode()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(deflate(VALID_JSON)[:-4], 400, "bad_deflate", id="zlib-truncated-checksum"),
        pytest.param(deflate(VALID_JSON)[:40], 400, "bad_deflate", id="zlib-truncated"),
        pytest.param(deflate(VALID_JSON, raw=True)[:40], 400, "bad_deflate", id="raw-truncated"),
        pytest.param(deflate(VALID_JSON)[:-1] + b"\x00", 400, "bad_deflate", id="zlib-bad-checksum"),
        pytest.param(deflate(VALID_JSON) + b"{}", 400, "bad_deflate", id="zlib-trailing-bytes"),
        pytest.param(deflate(VALID_JSON, raw=True) + b"{}", 400, "bad_deflate", id="raw-trailing-bytes"),
        pytest.param(b"\x78\x9c\xff\xff\xff\xff", 400, "bad_deflate", id="zlib-corrupt"),
        pytest.param(b"\xff" * 64, 400, "bad_deflate", id="raw-corrupt"),
        pytest.param(b"", 400, "bad_deflate", id="empty"),
        pytest.param(VALID_JSON, 400, "bad_deflate", id="not-compressed"),
        pytest.param(deflate(b" " * (MAX_DECODED_BYTES + 1)), 413, "body_too_large", id="zlib-inflates-too-far"),
        pytest.param(deflate(b" " * (MAX_DECODED_BYTES + 1), raw=True), 413, "body_too_large", id="raw-too-far"),
        pytest.param(deflate(b" " * MAX_DECODED_BYTES), 400, "bad_json", id="zlib-inflates-to-the-limit"),
        pytest.param(zlib.compress(bytes(range(256)) * 5000, 0), 413, "body_too_large", id="larger-than-a-body"),
    ],
)
def test_a_bad_deflate_body_is_a_4xx_naming_the_problem(world: World, body: bytes, status: int, code: str) -> None:
    """The limits of gzip: 1 MiB on the wire, 8 MiB inflated; what cannot be inflated whole is a 400."""
    response = post(world, None, raw=body, **{"Content-Encoding": "deflate"})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["gzip", "deflate-zlib", "deflate-raw"]),
    st.integers(0, 400),
    st.one_of(st.none(), st.tuples(st.integers(0, 400), st.integers(1, 255))),
)
def test_a_damaged_compressed_body_is_stored_or_refused_never_a_5xx(
    world: World, encoding: str, cut: int, flip: tuple[int, int] | None
) -> None:
    """A compressed batch cut short and/or with a byte changed: raw deflate has no checksum, so some damage
    still inflates (to JSON or not); never a 5xx."""
    plain = json.dumps(batch(23, view_events(23))).encode()
    body = bytearray(gzip.compress(plain) if encoding == "gzip" else deflate(plain, raw=encoding == "deflate-raw"))
    if flip is not None and flip[0] < len(body):
        body[flip[0]] ^= flip[1]
    response = post(world, None, raw=bytes(body[: len(body) - cut]), **{"Content-Encoding": encoding.split("-")[0]})
    assert response.status_code in (200, 400, 413), response.text


def test_an_event_without_its_seq_is_refused_naming_it(world: World) -> None:
    """Taken as seq 0 before: the events after the first were dropped as its duplicates, acknowledged."""
    events = view_events(777)
    events[2] = {k: v for k, v in events[2].items() if k != "seq"}
    response = post(world, batch(777, events))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["index"] for r in body["refused"]] == [2]
    assert "seq" in body["refused"][0]["reason"]
    assert [r["seq"] for r in stored(world, 777)] == [e["seq"] for e in events if "seq" in e]


def test_bad_events_are_refused_by_index_and_the_good_ones_kept(world: World) -> None:
    events = view_events(3)
    events[1] = {**events[1], "event": "teleport"}
    events[2] = {**events[2], "play_ms": -5}
    response = post(world, batch(3, events))
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["refused"]] == [1, 2]
    assert "event" in body["refused"][0]["reason"]
    assert "play_ms" in body["refused"][1]["reason"]
    assert [r["seq"] for r in stored(world, 3)] == [0, 3]


def test_a_ts_that_is_not_a_json_integer_is_refused_by_index(world: World) -> None:
    events = view_events(5)
    events[1] = {**events[1], "ts": str(events[1]["ts"])}
    events[2] = {**events[2], "ts": events[2]["ts"] + 0.5}
    body = post(world, batch(5, events)).json()
    assert body["accepted"] == 2
    assert [(r["index"], r["reason"].split(":")[0]) for r in body["refused"]] == [(1, "ts"), (2, "ts")]
    assert [r["seq"] for r in stored(world, 5)] == [0, 3]


def test_events_outside_the_window_of_times_are_refused_by_index_naming_it(world: World) -> None:
    events = view_events(6)
    events[2] = {**events[2], "ts": START_MS - 9 * 86_400_000}  # more than 7 days before it is received
    events[3] = {**events[3], "ts": START_MS + 9 * 86_400_000}  # more than 7 days after the view's start
    body = post(world, batch(6, events)).json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["refused"]] == [2, 3]
    assert "7 days before to 1 day after the time it is received" in body["refused"][0]["reason"]
    assert [r["seq"] for r in stored(world, 6)] == [0, 1]
    years_ago = START_MS - 20 * 365 * 86_400_000
    view_id = str(uuid.UUID(int=(years_ago << 80) | (0x7 << 76) | (0b10 << 62) | 6))
    old_view = post(world, {"view_id": view_id, "events": [{"event": "play_request", "ts": START_MS, "seq": 0}]})
    assert old_view.status_code == 400
    assert "view_id's time, the view's start (2006-" in old_view.json()["error"]["message"]


def test_control_characters_are_stored_as_replacement_characters_tab_and_newlines_as_sent(world: World) -> None:
    events = view_events(7)
    events[2] = {**events[2], "event": "error", "error_message": "red \x1b[31m alert\r\n"}
    sent = "NUL\x00 ESC\x1b[2J DEL\x7f C1\x85 tab\t LF\n é"
    assert post(world, batch(7, events, assetname=sent)).json()["accepted"] == 4
    running = services(world.client.app)
    running.writer.flush()
    rows = running.store.query(
        by_hand(
            "SELECT assetname, error_message FROM events WHERE view_id = toUUID({v:String}) AND seq = 2",
            {"v": uuid7(7)},
        )
    ).to_pylist()
    assert rows == [{"assetname": "NUL\ufffd ESC\ufffd[2J DEL\ufffd C1\ufffd tab\t LF\n é",
                     "error_message": "red \ufffd[31m alert\r\n"}]  # fmt: skip


def test_events_after_the_view_ended_are_refused(world: World) -> None:
    post(world, batch(4, view_events(4)))
    late = post(world, batch(4, [{"event": "heartbeat", "ts": START_MS + 99_000, "seq": 9, "started": 1}]))
    assert late.status_code == 400
    assert "closed" in late.json()["error"]["message"]


def test_a_batch_that_arrives_after_the_view_ended_is_stored_when_numbered_before_its_end(world: World) -> None:
    *played, end = view_events(14)  # a player's queue emptied at page hide: its last batch arrived first
    assert post(world, batch(14, [end])).json() == {"accepted": 1, "duplicates": 0, "refused": []}
    assert post(world, batch(14, played)).json() == {"accepted": 3, "duplicates": 0, "refused": []}
    assert [r["seq"] for r in stored(world, 14)] == [0, 1, 2, 3]
    view = services(world.client.app).store.query(
        by_hand(
            "SELECT sum(play_ms) AS play, max(started) AS started, max(completed) AS completed, max(ebvs) AS ebvs "
            "FROM views WHERE view_id = toUUID({v:String})",
            {"v": uuid7(14)},
        ),
    )
    assert view.to_pylist() == [{"play": 10_100, "started": 1, "completed": 1, "ebvs": 0}]


def test_a_views_timeline_holds_its_events_before_its_start_and_days_after_it(world: World) -> None:
    start = START_MS - 3 * 86_400_000  # the collector stores events up to a day before and 7 days after the start
    view = str(uuid.UUID(int=(start << 80) | (0x7 << 76) | (0b10 << 62) | 15))
    events = [
        {"event": "play_request", "ts": start - 100_000, "seq": 0},
        {"event": "first_frame", "ts": start + 900, "seq": 1, "started": 1, "startup_ms": 900},
        {"event": "heartbeat", "ts": start + 2 * 86_400_000, "seq": 2, "started": 1, "play_ms": 10_000},
        {"event": "end", "ts": start + 2 * 86_400_000 + 1_000, "seq": 3, "started": 1},
    ]
    assert post(world, {"view_id": view, "events": events}).json()["accepted"] == 4
    services(world.client.app).writer.flush()
    api_key = world.client.app.state.auth.accounts.create_key(KeyKind.API, 1001)[1]  # type: ignore[attr-defined]
    timeline = world.client.get(
        "/mm-apis/listsessions/1001", params={"planlevel": "6831", "sessionid": view}, headers={"X-API-Key": api_key}
    ).json()
    assert [(e["seq"], e["offset"]) for e in timeline["response"]] == [
        (0, -100.0), (1, 0.9), (2, 172_800.0), (3, 172_801.0)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code"),
    [
        (b"{not json", {}, 400, "bad_json"),
        (b'{"events": [' + b"1" * 5000 + b"]}", {}, 400, "bad_json"),
        (b'{"events": 5}', {}, 400, "bad_view_id"),
        (b"[1, 2]", {}, 400, "bad_batch"),
        (b"\x1f\x8b\x08garbage", {}, 400, "bad_gzip"),
        (gzip.compress(b'{"view_id": "x"}', mtime=0)[:-8], {}, 400, "bad_gzip"),
        (gzip.compress(b" " * (9 * 1024 * 1024), mtime=0), {}, 413, "body_too_large"),
        (b" " * (MAX_BODY_BYTES + 1), {}, 413, "body_too_large"),
        (json.dumps(batch(5, [])).encode(), {}, 400, "bad_events"),
        (json.dumps({**batch(5, view_events(5)), "view_id": str(uuid.uuid4())}).encode(), {}, 400, "bad_view_id"),
        (json.dumps(batch(5, view_events(5), country="USA")).encode(), {}, 400, "bad_dimensions"),
        (json.dumps({**batch(5, view_events(5)), "extra": 1}).encode(), {}, 400, "bad_batch"),
        (json.dumps(batch(5, view_events(5))).encode(), {"Content-Encoding": "br"}, 415, "unsupported_encoding"),
        (gzip.compress(b"{}", mtime=0), {"Content-Encoding": "gzip, br"}, 415, "unsupported_encoding"),
    ],
)
def test_malformed_bodies_are_4xx_naming_the_problem(
    world: World, raw: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    response = post(world, None, raw=raw, **headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("dimensions", "kind"),
    [([], "an array"), ([{"cdn": "akamai"}], "an array"), ("", "a string"), ("cdn=akamai", "a string"),
     (0, "a number"), (1.5, "a number"), (False, "a boolean"), (True, "a boolean")],
)  # fmt: skip
def test_dimensions_that_are_not_an_object_refuse_the_batch(world: World, dimensions: Any, kind: str) -> None:
    """The dimensions are the view's, shared by every event: a batch whose dimensions are not an object
    is refused whole (never stored as a view without dimensions), whether or not the value is falsy."""
    response = post(world, {**batch(10, view_events(10)), "dimensions": dimensions})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "bad_dimensions",
        "message": f"dimensions must be a JSON object, not {kind}",
        "parameter": "dimensions",
        "requestid": response.headers["x-request-id"],
    }
    assert stored(world, 10) == []


@pytest.mark.parametrize(("view", "dimensions"), [(11, {"dimensions": None}), (12, {})], ids=["null", "absent"])
def test_null_or_absent_dimensions_mean_none(world: World, view: int, dimensions: dict[str, Any]) -> None:
    response = post(world, {"view_id": uuid7(view), "events": view_events(view)[:2], **dimensions})
    assert response.json() == {"accepted": 2, "duplicates": 0, "refused": []}
    assert [r["seq"] for r in stored(world, view)] == [0, 1]


def test_the_collector_is_documented_and_refuses_other_methods_in_the_envelope(world: World) -> None:
    documented = world.client.get("/openapi.json").json()["paths"]["/collect"]
    assert set(documented) == {"post"}
    assert {p["name"] for p in documented["post"]["parameters"]} == {"X-Ingest-Key", "key"}
    response = world.client.get("/collect", headers={"X-Ingest-Key": world.key})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("key", ["", "sli_nosuchkey", "slk_not-an-ingest-key"])
def test_a_missing_or_unknown_key_is_401(world: World, key: str) -> None:
    response = world.client.post(
        "/collect", content=json.dumps(batch(6, view_events(6))), headers={"X-Ingest-Key": key}
    )
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_an_overloaded_writer_answers_503_and_the_retry_counts(world: World, tmp_path: Path) -> None:
    app = world.client.app
    pipeline = services(app).pipeline
    original = pipeline.writer
    blocked = BatchingWriter(services(app).store, tmp_path, max_rows=10**9, max_delay_s=3600, max_pending_rows=2)
    pipeline.writer = blocked
    try:
        blocked.submit(to_event_table(1001, [BATCH.validate_python(batch(8, view_events(8)[:2]))]))
        refused = post(world, batch(9, view_events(9)[:1]))
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
    finally:
        blocked.close()  # writes the pending batch
        pipeline.writer = original
    retried = post(world, batch(9, view_events(9)[:1]))
    assert retried.json() == {"accepted": 1, "duplicates": 0, "refused": []}
    assert [r["seq"] for r in stored(world, 9)] == [0]
    assert [r["seq"] for r in stored(world, 8)] == [0, 1]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
        max_leaves=20,
    ),
    st.sampled_from(
        ["event", "ts", "seq", "play_ms", "started", "fatal", "rendition_fps", "cdn", "view_id", "dimensions"]
    ),
)
def test_any_body_is_stored_or_refused_never_a_5xx(world: World, value: Any, field: str) -> None:
    events = view_events(100)
    if field == "view_id":
        body: Any = {**batch(100, events), "view_id": value}
    elif field == "dimensions":
        body = {**batch(100, events), "dimensions": value}
    elif field == "cdn":
        body = batch(100, events, cdn=value)
    else:
        events[2] = {**events[2], field: value}
        body = batch(100, events)
    for content in (json.dumps(body).encode(), json.dumps(value).encode()):
        response = post(world, None, raw=content)
        assert response.status_code < 500, response.text
        assert response.status_code in (200, 400, 413), response.text


def test_a_stored_title_comes_back_from_the_query_api_character_for_character(world: World) -> None:
    title = 'Quotes " and \\ back/slash, tab\t, "ünïcödé" 🎬 and </script>'
    assert post(world, batch(40, view_events(40), assetname=title)).status_code == 200
    services(world.client.app).writer.flush()
    auth = world.client.app.state.auth  # type: ignore[attr-defined]
    api_key = auth.accounts.create_key(KeyKind.API, 1001)[1]
    hour = START_MS // 3_600_000 * 3600
    response = world.client.get(
        "/mm-apis/metricquery/1001",
        params={"metrics": "viewercount,playdur", "aggby": "assetname", "period": f"start={hour},end={hour + 3600}"},
        headers={"X-API-Key": api_key},
    )
    assert response.status_code == 200
    rows = {row["assetname"]: row for row in response.json()["response"]}
    assert rows[title]["viewercount"] == 1
    assert rows[title]["totalpages"] == 1


def test_a_client_that_hangs_up_mid_body_is_a_400_not_a_server_error() -> None:
    """A Content-Length larger than the body, then the connection closed: was an ERROR with a traceback, a 500."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"events": [', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    request = Request({"type": "http", "method": "POST", "headers": [(b"content-length", b"1000")]}, receive)
    with pytest.raises(ApiError) as refused:
        asyncio.run(read_body(request))
    assert (refused.value.status, refused.value.code) == (400, "body_incomplete")
