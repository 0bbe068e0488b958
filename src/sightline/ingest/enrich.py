"""Enrichment: the view dimensions a player did not send, derived from its User-Agent and client address.

Every beacon format (native `/collect`, mux-embed, CMCD) decodes its dimensions, then the intake calls
`Enricher.enrich` with the request's origin before `IngestPipeline.accept` (`ingest.intake`).

Invariant — player-sent values win, group by group: each group of `DERIVED_GROUPS` is filled from the
request only when the player set none of its dimensions (a dimension is unset when it is "" or 0), so
one view never mixes a reported value with a derived one (a reported `browser` is never paired with
a derived `browserversion`, a reported `country` never with a derived `city`). The exception is
`ipaddress`: always the collector's (`stored_address` under `SIGHTLINE_IP_STORAGE`), never the beacon's,
so that `none` stores no address whatever a player sends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from sightline.ingest.clientaddr import AddressStorage, IPNetwork, client_address, stored_address
from sightline.ingest.geo import GeoDatabases
from sightline.ingest.useragent import load_rules, parse_user_agent
from sightline.settings import Settings

MAX_USER_AGENT = 1024
"""Longer user agents are cut before parsing: it bounds the parse time and the cache's memory."""
REQUEST_CACHE_SIZE = 8192

DERIVED_GROUPS: tuple[tuple[str, ...], ...] = (
    ("device",),
    ("brand", "model"),
    ("platform", "osversion"),
    ("browser", "browserversion"),
    ("country", "region", "city"),
    ("isp", "asn"),
)


class RequestOrigin(NamedTuple):
    """What enrichment reads of a request: its User-Agent, its peer's address and X-Forwarded-For headers."""

    user_agent: str
    peer: str | None
    forwarded_for: tuple[str, ...]


def _unset(value: Any) -> bool:
    return value is None or value == "" or value == 0


def fill_unset(reported: Mapping[str, Any], derived: Mapping[str, Any]) -> dict[str, Any]:
    """`reported` with each group of `DERIVED_GROUPS` that it leaves wholly unset taken from `derived`."""
    filled = dict(reported)
    for group in DERIVED_GROUPS:
        if all(_unset(reported.get(name)) for name in group):
            filled.update({name: derived[name] for name in group if name in derived})
    return filled


@dataclass
class Enricher:
    """The enrichment of one app: its geo databases (None: no geo), trusted proxies and address storage.
    What a request's User-Agent, peer and X-Forwarded-For give is remembered for the last
    `REQUEST_CACHE_SIZE` distinct ones (a player sends many beacons from one address and browser)."""

    geo: GeoDatabases | None
    trusted_proxies: tuple[IPNetwork, ...]
    address_storage: AddressStorage
    _derived: Callable[[str, str | None, tuple[str, ...]], tuple[Mapping[str, Any], str]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._derived = lru_cache(maxsize=REQUEST_CACHE_SIZE)(self._derive)

    @classmethod
    def from_settings(cls, settings: Settings) -> Enricher:
        """Opens the configured geo databases (`GeoDatabaseError` when one is missing or of the wrong kind)
        and loads the user agent rules."""
        load_rules()
        geo = GeoDatabases(settings.geo_city_database, settings.geo_asn_database)
        return cls(geo if geo.configured else None, tuple(settings.trusted_proxies), settings.ip_storage)

    def enrich(
        self, dimensions: Mapping[str, Any], user_agent: str, peer: str | None, forwarded_for: Iterable[str]
    ) -> dict[str, Any]:
        """`dimensions` completed from the request: its User-Agent, its peer and X-Forwarded-For headers."""
        derived, stored = self._derived(user_agent[:MAX_USER_AGENT], peer, tuple(forwarded_for))
        return fill_unset(dimensions, derived) | {"ipaddress": stored}

    def _derive(self, user_agent: str, peer: str | None, forwarded_for: tuple[str, ...]) -> tuple[dict[str, Any], str]:
        """The dimensions a request's headers and peer give, and the `ipaddress` to store; never mutated."""
        derived: dict[str, Any] = parse_user_agent(user_agent).as_dimensions()
        address = client_address(peer, forwarded_for, self.trusted_proxies)
        if address is not None and self.geo is not None:
            derived |= self.geo.lookup(address).as_dimensions()
        return derived, stored_address(address, self.address_storage)

    def close(self) -> None:
        if self.geo is not None:
            self.geo.close()
