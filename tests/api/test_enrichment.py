"""Enrichment through `POST /collect` on a real chDB: user agent and geo in the query API, trusted proxies."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.settings import Settings
from tests.ingest.geodb import CITY_NETWORKS, ISP_NETWORKS, write_database
from tests.times import RECENT_HOUR_MS

CUSTOMER = 1001
START_MS = RECENT_HOUR_MS
PERIOD = f"start={START_MS // 1000 - 60},end={START_MS // 1000 + 3600}"
HEADLESS_CHROMIUM = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Mobile/15E148 Safari/604.1"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.165 "
    "Mobile Safari/537.36"
)


@dataclass(frozen=True)
class World:
    client: TestClient
    untrusted: TestClient
    """The same app, reached from a peer outside the trusted proxies."""
    ingest_key: str
    api_headers: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("enrichment")
    settings = Settings(
        data_dir=folder / "data",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        geo_city_database=write_database(folder / "city.mmdb", "GeoLite2-City", CITY_NETWORKS),
        geo_asn_database=write_database(folder / "isp.mmdb", "GeoIP2-ISP", ISP_NETWORKS),
        trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")),
    )
    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        auth = app.state.auth
        auth.accounts.add_customer(CUSTOMER, "Alpha", 6831)
        ingest_key = auth.accounts.create_key(KeyKind.INGEST, CUSTOMER)[1]
        api_key = auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]
        # a second client of the running app (its lifespan is the first client's), from another peer
        untrusted = TestClient(app, client=("192.0.2.200", 40001))
        yield World(client, untrusted, ingest_key, {"X-API-Key": api_key})


def uuid7(n: int) -> str:
    return str(uuid.UUID(int=((START_MS + n) << 80) | (0x7 << 76) | (0b10 << 62) | n))


def play(client: TestClient, world: World, view: int, headers: dict[str, str], **dimensions: Any) -> None:
    t = START_MS + view
    events = [
        {"event": "play_request", "ts": t, "seq": 0},
        {"event": "first_frame", "ts": t + 800, "seq": 1, "started": 1, "startup_ms": 800},
        {"event": "end", "ts": t + 10_800, "seq": 2, "started": 1, "play_ms": 10_000, "interval_bitrate_kbps": 2000},
    ]
    body = {"view_id": uuid7(view), "dimensions": {"cdn": "akamai", **dimensions}, "events": events}
    response = client.post("/collect", json=body, headers={"X-Ingest-Key": world.ingest_key, **headers})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3


def metricquery(world: World, aggby: str, filter_: str | None = None) -> list[dict[str, Any]]:
    params = {"period": PERIOD, "metrics": "attempts,viewercount", "aggby": aggby, "limit": "100"}
    if filter_:
        params["filter"] = filter_
    response = world.client.get(f"/mm-apis/metricquery/{CUSTOMER}", params=params, headers=world.api_headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["response"]
    return sorted(rows, key=lambda row: [str(row[d]) for d in aggby.split(",")])


@pytest.fixture(scope="module")
def played(world: World) -> World:
    """Four views: two behind the trusted proxy (one over IPv6), one reporting its own values, one spoofing."""
    play(world.client, world, 1, {"User-Agent": HEADLESS_CHROMIUM, "X-Forwarded-For": "203.0.113.9"})
    play(world.client, world, 2, {"User-Agent": IPHONE, "X-Forwarded-For": "1.1.1.1, 198.51.100.4"})
    play(
        world.client, world, 3, {"User-Agent": ANDROID, "X-Forwarded-For": "2001:db8:1::77"},
        browser="MyApp", browserversion="3", country="CA", region="Ontario", city="Toronto",
    )  # fmt: skip
    # an untrusted peer claims an address in the US: ignored, its own address is in no database
    play(world.untrusted, world, 4, {"User-Agent": ANDROID, "X-Forwarded-For": "203.0.113.9"}, ipaddress="6.6.6.6")
    services(world.client.app).writer.flush()
    return world


def test_browser_platform_and_device_in_the_query_api(played: World) -> None:
    rows = metricquery(played, "browser,browserversion,platform,osversion,device")
    fields = ("browser", "browserversion", "platform", "osversion", "device", "attempts")
    assert [tuple(r[f] for f in fields) for r in rows] == [
        ("Chrome", "125", "Android", "14", "mobile", 1),
        ("HeadlessChrome", "156", "Linux", "", "desktop", 1),
        ("MyApp", "3", "Android", "14", "mobile", 1),
        ("Safari", "17", "iOS", "17.4", "mobile", 1),
    ]  # fmt: skip


def test_geo_and_network_in_the_query_api(played: World) -> None:
    rows = metricquery(played, "country,region,city,isp,asn")
    fields = ("country", "region", "city", "isp", "asn", "viewercount")
    assert [tuple(r[f] for f in fields) for r in rows] == [
        ("", "", "", "", 0, 1),  # the spoofing peer: no geo
        ("CA", "Ontario", "Toronto", "Example-V6 Inc.", 64502, 1),  # reported place, derived network (IPv6)
        ("DE", "Bavaria", "Munich", "Example-Dsl Inc.", 64501, 1),
        ("US", "California", "Los Angeles", "Example-Cable Inc.", 64500, 1),
    ]


def test_ipaddress_is_the_client_address_truncated(played: World) -> None:
    rows = metricquery(played, "ipaddress,browser")
    assert [(r["ipaddress"], r["browser"]) for r in rows] == [
        ("192.0.2.0", "Chrome"),  # the untrusted peer's own address; the one its beacon claimed is ignored
        ("198.51.100.0", "Safari"),
        ("2001:db8:1::", "MyApp"),
        ("203.0.113.0", "HeadlessChrome"),
    ]


def test_a_filter_on_a_derived_dimension(played: World) -> None:
    rows = metricquery(played, "brand,model", "[platform=iOS][country=DE]")
    assert [(r["brand"], r["model"], r["attempts"]) for r in rows] == [("Apple", "iPhone", 1)]
