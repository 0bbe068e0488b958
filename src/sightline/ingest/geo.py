"""IP → country, region, city, ISP and ASN from MaxMind-format (MMDB) databases.

Two kinds of database, each optional:
- a *City* (or *Country*) database (GeoIP2/GeoLite2 City or Country, DB-IP City Lite, …) gives
  `country` (ISO 3166-1 alpha-2 of `country`), `region` (the English name of the first, largest
  subdivision) and `city` (its English name);
- an *ASN* (or *ISP*) database (GeoLite2-ASN, GeoIP2-ISP, DB-IP ASN Lite, …) gives `asn`
  (`autonomous_system_number`) and `isp` (`isp` where the database has it, else
  `autonomous_system_organization`).
Invariants: a database is opened once per app and its kind checked then (`GeoDatabaseError` names the
file and what it holds); a lookup never raises for an address the database does not hold (the fields
stay empty) and returns only values the catalog accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import maxminddb

from sightline.ingest.clientaddr import IPAddress

MAX_TEXT = 512
MAX_ASN = 2**32 - 1
_COUNTRY_CODE = re.compile(r"[A-Z]{2}")
_CITY_KINDS = ("city", "country", "enterprise")
_ASN_KINDS = ("asn", "isp", "enterprise")


class GeoDatabaseError(ValueError):
    """A configured database cannot be opened or is not of the kind its setting asks for."""


@dataclass(frozen=True, slots=True)
class GeoInfo:
    """Where an address is and whose network it belongs to; "" and 0 where unknown."""

    country: str = ""
    region: str = ""
    city: str = ""
    isp: str = ""
    asn: int = 0

    def as_dimensions(self) -> dict[str, Any]:
        return asdict(self)


def _name(record: Any) -> str:
    """The English name of a MaxMind place record (any name when it has no English one)."""
    names = record.get("names") if isinstance(record, Mapping) else None
    if not isinstance(names, Mapping) or not names:
        return ""
    name = names.get("en") or next(iter(names.values()))
    return name[:MAX_TEXT] if isinstance(name, str) else ""


def place_of(record: Mapping[str, Any]) -> dict[str, str]:
    """`country`, `region` and `city` of a City or Country database record."""
    country = record.get("country")
    code = country.get("iso_code") if isinstance(country, Mapping) else None
    subdivisions = record.get("subdivisions")
    first = subdivisions[0] if isinstance(subdivisions, list) and subdivisions else None
    return {
        "country": code if isinstance(code, str) and _COUNTRY_CODE.fullmatch(code) else "",
        "region": _name(first),
        "city": _name(record.get("city")),
    }


def network_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """`asn` and `isp` of an ASN or ISP database record."""
    number = record.get("autonomous_system_number")
    isp = record.get("isp") or record.get("autonomous_system_organization") or ""
    return {
        "asn": number if isinstance(number, int) and 0 <= number <= MAX_ASN else 0,
        "isp": isp[:MAX_TEXT] if isinstance(isp, str) else "",
    }


def _open(path: Path, kinds: tuple[str, ...], setting: str) -> maxminddb.Reader:
    try:
        reader = maxminddb.open_database(str(path))
    except (OSError, maxminddb.InvalidDatabaseError) as error:
        raise GeoDatabaseError(f"{setting}: cannot open {path} as a MaxMind database: {error}") from error
    kind = reader.metadata().database_type
    if not any(k in kind.lower() for k in kinds):
        reader.close()
        raise GeoDatabaseError(
            f"{setting}: {path} is a {kind!r} database; expected one whose type names {' or '.join(kinds)}"
        )
    return reader


class GeoDatabases:
    """The geo databases of one app: opened at start, closed at shutdown; lookups are thread-safe."""

    def __init__(self, city_path: Path | None, asn_path: Path | None) -> None:
        self._city: maxminddb.Reader | None = None
        self._asn: maxminddb.Reader | None = None
        try:
            self._city = _open(city_path, _CITY_KINDS, "geo_city_database") if city_path else None
            self._asn = _open(asn_path, _ASN_KINDS, "geo_asn_database") if asn_path else None
        except GeoDatabaseError:
            self.close()
            raise

    @property
    def configured(self) -> bool:
        return self._city is not None or self._asn is not None

    def lookup(self, address: IPAddress) -> GeoInfo:
        """What the databases know of `address`."""
        fields: dict[str, Any] = {}
        for reader, read in ((self._city, place_of), (self._asn, network_of)):
            record = reader.get(address) if reader is not None else None
            if isinstance(record, Mapping):
                fields |= read(record)
        return GeoInfo(**fields)

    def close(self) -> None:
        for reader in (self._city, self._asn):
            if reader is not None:
                reader.close()
        self._city = self._asn = None
