"""The client's address: the peer's, or `X-Forwarded-For` behind a trusted proxy; and how much of it is stored.

Invariants:
- `X-Forwarded-For` is read only when the peer is in a trusted network. Each proxy appends the address it
  saw, so the header is walked from the right, past the hops in trusted networks, and the first
  untrusted hop is the client. What a client writes into the header itself sits to the left of that
  hop and is never read, so a client cannot choose its own address.
- An unreadable hop (garbage, `unknown`, an obfuscated name) ends the walk with no address: guessing
  would credit the wrong network.
- IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are their IPv4 address.
- The stored form (`AddressStorage`) is `full`, `truncated` (IPv4 to its /24, IPv6 to its /48, the
  host part zeroed) or `none` (the empty string). Geo lookups use the whole address whatever is stored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
AddressStorage = Literal["full", "truncated", "none"]
TRUNCATED_PREFIX = {4: 24, 6: 48}


def parse_address(text: str) -> IPAddress | None:
    """The address in `text`: bare, `a.b.c.d:port`, `[v6]` or `[v6]:port`; None when it is none."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted_proxies: Sequence[IPNetwork]
) -> IPAddress | None:
    """The client's address, from the peer and the `X-Forwarded-For` header values (in order)."""
    address = parse_address(peer or "")
    if address is None or not _trusted(address, trusted_proxies):
        return address
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        if not hop.strip():
            continue
        address = parse_address(hop)
        if address is None or not _trusted(address, trusted_proxies):
            return address
    return address


def stored_address(address: IPAddress | None, storage: AddressStorage) -> str:
    """What the `ipaddress` dimension keeps of `address` under `storage`."""
    if address is None or storage == "none":
        return ""
    if storage == "full":
        return str(address)
    return str(ipaddress.ip_network(f"{address}/{TRUNCATED_PREFIX[address.version]}", strict=False).network_address)
