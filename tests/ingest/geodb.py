"""Small MaxMind-format databases for tests, written with mmdb-writer over documentation address ranges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MmdbU32, MMDBWriter
from netaddr import IPSet


def _place(country: str, region: str, city: str) -> dict[str, Any]:
    return {
        "country": {"iso_code": country, "names": {"en": country}},
        "subdivisions": [{"names": {"en": region, "de": f"{region} (de)"}}],
        "city": {"names": {"en": city}},
    }


CITY_NETWORKS: dict[str, dict[str, Any]] = {
    "203.0.113.0/24": _place("US", "California", "Los Angeles"),
    "198.51.100.0/24": _place("DE", "Bavaria", "Munich"),
    "2001:db8:1::/48": _place("JP", "Tokyo", "Tokyo"),
    # a country-only record (as in a Country database) and a city named in German only
    "192.0.2.0/25": {"country": {"iso_code": "FR"}, "city": {"names": {"de": "Paris (de)"}}},
}
ASN_NETWORKS: dict[str, dict[str, Any]] = {
    "203.0.113.0/24": {"autonomous_system_number": MmdbU32(64500), "autonomous_system_organization": "EXAMPLE-CABLE"},
    "198.51.100.0/24": {"autonomous_system_number": MmdbU32(64501), "autonomous_system_organization": "EXAMPLE-DSL"},
    "2001:db8:1::/48": {"autonomous_system_number": MmdbU32(64502), "autonomous_system_organization": "EXAMPLE-V6"},
}
ISP_NETWORKS: dict[str, dict[str, Any]] = {
    network: {**record, "isp": f"{record['autonomous_system_organization'].title()} Inc."}
    for network, record in ASN_NETWORKS.items()
}


def write_database(path: Path, database_type: str, networks: dict[str, dict[str, Any]]) -> Path:
    """An IPv6 database (IPv4 reachable) of `database_type` holding `networks`."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type, languages=["en"])
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path
