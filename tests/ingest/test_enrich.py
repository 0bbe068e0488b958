"""Enrichment: derived values fill only the groups the player left unset; geo only for a known address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sightline.ingest.clientaddr import AddressStorage
from sightline.ingest.enrich import DERIVED_GROUPS, Enricher, fill_unset
from sightline.ingest.native import VIEW_DIMENSIONS
from sightline.settings import Settings
from tests.ingest.geodb import ASN_NETWORKS, CITY_NETWORKS, write_database

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Mobile/15E148 Safari/604.1"
)
EMPTY: dict[str, Any] = VIEW_DIMENSIONS.validate_python({})


@pytest.fixture(scope="module")
def enricher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Enricher]:
    folder = tmp_path_factory.mktemp("enrich")
    settings = Settings(
        data_dir=folder,
        geo_city_database=write_database(folder / "city.mmdb", "GeoIP2-City", CITY_NETWORKS),
        geo_asn_database=write_database(folder / "asn.mmdb", "GeoLite2-ASN", ASN_NETWORKS),
        trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),),
    )
    opened = Enricher.from_settings(settings)
    yield opened
    opened.close()


def test_everything_unset_is_derived(enricher: Enricher) -> None:
    found = enricher.enrich({**EMPTY, "cdn": "akamai"}, IPHONE, "203.0.113.9", [])
    derived = {name: found[name] for group in DERIVED_GROUPS for name in group}
    assert derived == {
        "device": "mobile", "brand": "Apple", "model": "iPhone", "platform": "iOS", "osversion": "17.4",
        "browser": "Safari", "browserversion": "17", "country": "US", "region": "California", "city": "Los Angeles",
        "isp": "EXAMPLE-CABLE", "asn": 64500,
    }  # fmt: skip
    assert (found["cdn"], found["ipaddress"]) == ("akamai", "203.0.113.0")  # truncated by default


def test_player_values_win_group_by_group(enricher: Enricher) -> None:
    reported = {**EMPTY, "browser": "MyApp WebView", "country": "CA", "device": "tv", "asn": 7}
    found = enricher.enrich(reported, IPHONE, "203.0.113.9", [])
    assert (found["browser"], found["browserversion"]) == ("MyApp WebView", "")  # never a mixed pair
    assert (found["country"], found["region"], found["city"]) == ("CA", "", "")
    assert found["device"] == "tv"
    assert (found["isp"], found["asn"]) == ("", 7)
    assert (found["platform"], found["osversion"], found["brand"]) == ("iOS", "17.4", "Apple")  # groups left unset


def test_a_repeated_request_is_enriched_the_same_and_each_answer_is_its_own(enricher: Enricher) -> None:
    first = enricher.enrich({**EMPTY}, IPHONE, "203.0.113.9", [])
    first["city"], first["browser"] = "changed by a caller", "changed"
    again = enricher.enrich({**EMPTY}, IPHONE, "203.0.113.9", [])
    assert (again["city"], again["browser"], again["ipaddress"]) == ("Los Angeles", "Safari", "203.0.113.0")
    elsewhere = enricher.enrich({**EMPTY}, IPHONE, "198.51.100.7", [])
    assert elsewhere["ipaddress"] == "198.51.100.0"
    assert elsewhere["browser"] == "Safari"


def test_geo_follows_the_trusted_proxy_rule(enricher: Enricher) -> None:
    behind_proxy = enricher.enrich(EMPTY, "", "10.0.0.2", ["198.51.100.4"])
    assert (behind_proxy["country"], behind_proxy["asn"]) == ("DE", 64501)
    spoofed = enricher.enrich(EMPTY, "", "192.0.2.200", ["198.51.100.4"])
    assert (spoofed["country"], spoofed["asn"]) == ("", 0)  # the header of an untrusted peer is ignored


def test_no_address_and_no_user_agent_change_nothing(enricher: Enricher) -> None:
    assert enricher.enrich(EMPTY, "", "testclient", []) == EMPTY


def test_without_databases_there_is_no_geo(tmp_path: Path) -> None:
    enricher = Enricher.from_settings(Settings(data_dir=tmp_path))
    assert enricher.geo is None
    found = enricher.enrich(EMPTY, IPHONE, "203.0.113.9", [])
    assert (found["country"], found["device"]) == ("", "mobile")


@pytest.mark.parametrize(
    ("storage", "peer", "stored"),
    [("full", "203.0.113.9", "203.0.113.9"), ("truncated", "203.0.113.9", "203.0.113.0"), ("none", "203.0.113.9", ""),
     ("truncated", "2001:db8:1:2::3", "2001:db8:1::"), ("full", "testclient", "")],
)  # fmt: skip
def test_ipaddress_is_the_collectors_under_the_storage_setting(
    tmp_path: Path, storage: AddressStorage, peer: str, stored: str
) -> None:
    enricher = Enricher.from_settings(Settings(data_dir=tmp_path, ip_storage=storage))
    assert enricher.enrich({**EMPTY, "ipaddress": "6.6.6.6"}, "", peer, [])["ipaddress"] == stored


def test_fill_unset_keeps_keys_it_does_not_know() -> None:
    assert fill_unset({"player": "hls.js"}, {"device": "desktop", "extra": 1}) == {
        "player": "hls.js",
        "device": "desktop",
    }
