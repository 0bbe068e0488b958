"""The browser SDK is served with caching headers, and a page of another origin can post to the collector:
CORS on the ingest paths (preflight included), none on the query API."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

import pytest
from fastapi.testclient import TestClient

from sightline.api.cors import CrossOriginIngest
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from tests.times import RECENT_HOUR_MS

PAGE = "http://player.example"
START_MS = RECENT_HOUR_MS


@dataclass(frozen=True)
class World:
    client: TestClient
    ingest_key: str
    api_key: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("sdk"), argon2_time_cost=1, argon2_memory_kib=1024)
    with TestClient(create_app(settings)) as client:
        auth = client.app.state.auth  # type: ignore[attr-defined]
        auth.accounts.add_customer(1001, "Alpha", 6831)
        ingest_key = auth.accounts.create_key(KeyKind.INGEST, 1001)[1]
        yield World(client, ingest_key, auth.accounts.create_key(KeyKind.API, 1001)[1])


def test_the_sdk_is_javascript_with_an_etag_and_a_cache_lifetime(world: World) -> None:
    response = world.client.get("/sdk/sightline.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.content == (resources.files("sightline") / "sdk" / "sightline.js").read_bytes()
    assert response.headers["cache-control"] == "public, max-age=300"
    etag = response.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert b"Sightline.monitor" in response.content


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [("{etag}", 304), ("W/{etag}", 304), ('"other", {etag}', 304), ("*", 304), ('"other"', 200)],
)
def test_a_client_holding_the_current_copy_gets_304(world: World, if_none_match: str, status: int) -> None:
    etag = world.client.get("/sdk/sightline.js").headers["etag"]
    response = world.client.get("/sdk/sightline.js", headers={"If-None-Match": if_none_match.format(etag=etag)})
    assert response.status_code == status
    assert response.headers["etag"] == etag
    assert (response.content == b"") == (status == 304)


def test_head_answers_the_headers_without_the_body(world: World) -> None:
    response = world.client.head("/sdk/sightline.js")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"].startswith("text/javascript")


def test_a_preflight_to_the_collector_allows_any_origin_and_only_the_ingest_headers(world: World) -> None:
    response = world.client.options(
        "/collect",
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, X-Ingest-Key, X-Something-Else",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "content-type, x-ingest-key"
    assert int(response.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in response.headers


def _view() -> str:
    return str(uuid.UUID(int=(START_MS << 80) | (0x7 << 76) | (0b10 << 62) | 1))


def test_a_text_plain_beacon_from_another_origin_is_stored_and_its_answer_readable(world: World) -> None:
    """What the SDK's fetch and sendBeacon send: text/plain (no preflight), the key in the URL."""
    body = {"view_id": _view(), "events": [{"event": "play_request", "ts": START_MS, "seq": 0}]}
    response = world.client.post(
        f"/collect?key={world.ingest_key}",
        content=json.dumps(body),
        headers={"Origin": PAGE, "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-expose-headers"] == "Retry-After"


def test_error_answers_of_the_collector_are_readable_cross_origin(world: World) -> None:
    response = world.client.post("/collect?key=sli_nosuchkey", content=b"{}", headers={"Origin": PAGE})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "*"


def test_the_query_api_stays_same_origin(world: World) -> None:
    preflight = world.client.options(
        "/mm-apis/catalog", headers={"Origin": PAGE, "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    answer = world.client.get("/mm-apis/catalog", headers={"Origin": PAGE, "X-API-Key": world.api_key})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize(
    ("path", "covered"),
    [("/collect", True), ("/collect/", True), ("/collect/cmcd", True), ("/collector", False), ("/", False),
     ("/sdk/sightline.js", True), ("/mm-apis/metricquery/1", False)],
)  # fmt: skip
def test_cors_covers_the_prefixes_and_what_is_below_them(path: str, covered: bool) -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    assert CrossOriginIngest(app, prefixes=("/collect/", "/sdk")).covers(path) is covered
