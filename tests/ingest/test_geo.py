"""Geo lookups in MaxMind-format databases built by the tests: City, ASN and ISP kinds; kinds checked at open."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sightline.ingest.geo import GeoDatabaseError, GeoDatabases, GeoInfo, network_of, place_of
from tests.ingest.geodb import ASN_NETWORKS, CITY_NETWORKS, ISP_NETWORKS, write_database


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("geo")
    return {
        "city": write_database(folder / "city.mmdb", "GeoLite2-City", CITY_NETWORKS),
        "asn": write_database(folder / "asn.mmdb", "GeoLite2-ASN", ASN_NETWORKS),
        "isp": write_database(folder / "isp.mmdb", "GeoIP2-ISP", ISP_NETWORKS),
    }


@pytest.fixture(scope="module")
def geo(files: dict[str, Path]) -> Iterator[GeoDatabases]:
    databases = GeoDatabases(files["city"], files["asn"])
    yield databases
    databases.close()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("203.0.113.9", GeoInfo("US", "California", "Los Angeles", "EXAMPLE-CABLE", 64500)),
        ("198.51.100.200", GeoInfo("DE", "Bavaria", "Munich", "EXAMPLE-DSL", 64501)),
        ("2001:db8:1:ffff::1", GeoInfo("JP", "Tokyo", "Tokyo", "EXAMPLE-V6", 64502)),
        ("192.0.2.1", GeoInfo("FR", "", "Paris (de)", "", 0)),  # no region; a city without an English name
        ("192.0.2.200", GeoInfo()),  # in no network of the databases
        ("127.0.0.1", GeoInfo()),
    ],
)
def test_lookup(geo: GeoDatabases, address: str, expected: GeoInfo) -> None:
    assert geo.lookup(ipaddress.ip_address(address)) == expected


def test_an_isp_database_names_the_isp(files: dict[str, Path]) -> None:
    databases = GeoDatabases(None, files["isp"])
    try:
        found = databases.lookup(ipaddress.ip_address("203.0.113.9"))
    finally:
        databases.close()
    assert found == GeoInfo(isp="Example-Cable Inc.", asn=64500)


def test_no_database_configured(files: dict[str, Path]) -> None:
    assert not GeoDatabases(None, None).configured
    assert GeoDatabases(None, files["asn"]).configured


def test_a_database_of_the_wrong_kind_is_refused_at_open(files: dict[str, Path]) -> None:
    with pytest.raises(GeoDatabaseError, match=r"geo_city_database: .*'GeoLite2-ASN' database"):
        GeoDatabases(files["asn"], None)
    with pytest.raises(GeoDatabaseError, match=r"geo_asn_database: .*'GeoLite2-City' database"):
        GeoDatabases(files["city"], files["city"])


def test_a_missing_or_broken_file_is_refused_at_open(tmp_path: Path) -> None:
    with pytest.raises(GeoDatabaseError, match="geo_city_database: cannot open"):
        GeoDatabases(tmp_path / "absent.mmdb", None)
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database" * 100)
    with pytest.raises(GeoDatabaseError, match="geo_asn_database: cannot open"):
        GeoDatabases(None, broken)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"country": {"iso_code": "usa"}}, {"country": "", "region": "", "city": ""}),
        ({"country": "US", "subdivisions": "CA", "city": []}, {"country": "", "region": "", "city": ""}),
        ({"subdivisions": [], "city": {"names": {}}}, {"country": "", "region": "", "city": ""}),
        ({"city": {"names": {"en": "L" * 600}}}, {"country": "", "region": "", "city": "L" * 512}),
    ],
)
def test_odd_place_records_give_only_values_the_catalog_accepts(record: dict[str, Any], expected: Any) -> None:
    assert place_of(record) == expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"autonomous_system_number": 2**33, "autonomous_system_organization": "BIG"}, {"asn": 0, "isp": "BIG"}),
        ({"autonomous_system_number": "64500", "isp": 7}, {"asn": 0, "isp": ""}),
        ({"isp": "Fibre Co", "autonomous_system_organization": "FIBRE-AS"}, {"asn": 0, "isp": "Fibre Co"}),
    ],
)
def test_odd_network_records(record: dict[str, Any], expected: Any) -> None:
    assert network_of(record) == expected
