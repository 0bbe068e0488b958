"""The client address: peer, X-Forwarded-For behind trusted proxies only (spoofing attempts), storage forms."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sightline.ingest.clientaddr import AddressStorage, IPNetwork, client_address, parse_address, stored_address

PROXIES: tuple[IPNetwork, ...] = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))
CLIENT = "203.0.113.7"


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # no trusted proxy configured: the peer, whatever the header says
        (CLIENT, [], CLIENT),
        # an untrusted peer cannot choose its address through the header
        (CLIENT, ["198.51.100.1"], CLIENT),
        ("192.0.2.9", ["10.0.0.1, 198.51.100.1"], "192.0.2.9"),
        # a trusted proxy: the right-most untrusted hop
        ("10.0.0.2", [CLIENT], CLIENT),
        ("10.0.0.2", [f"{CLIENT}, 10.1.1.1"], CLIENT),
        ("10.0.0.2", [CLIENT, "10.1.1.1"], CLIENT),  # the header repeated counts as one list, in order
        # spoofing: the client prepends hops of its own; the proxy appends what it saw, which wins
        ("10.0.0.2", [f"1.2.3.4, {CLIENT}"], CLIENT),
        ("10.0.0.2", [f"10.9.9.9, {CLIENT}"], CLIENT),
        ("10.0.0.2", [f"evil, 8.8.8.8, {CLIENT}, 10.0.0.3"], CLIENT),
        # no header, or only trusted hops: the request came from inside; the left-most hop
        ("10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.2", ["10.0.0.5, 10.0.0.3"], "10.0.0.5"),
        ("10.0.0.2", [" , "], "10.0.0.2"),
        # an unreadable hop written by a trusted proxy ends the walk with no address
        ("10.0.0.2", ["unknown"], None),
        ("10.0.0.2", [f"{CLIENT}, _hidden"], None),
        # ports, brackets and IPv6
        ("10.0.0.2", [f"{CLIENT}:51234"], CLIENT),
        ("fd00::1", ["[2001:db8:1::5]:443"], "2001:db8:1::5"),
        ("fd00::1", ["2001:db8:1::5, fd12::3"], "2001:db8:1::5"),
        ("::ffff:10.0.0.2", [CLIENT], CLIENT),  # a v4-mapped peer on a dual-stack socket
        ("10.0.0.2", [f"::ffff:{CLIENT}"], CLIENT),
        # peers that are not addresses (a test client, a unix socket)
        ("testclient", [CLIENT], None),
        (None, [CLIENT], None),
        ("", [], None),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], expected: str | None) -> None:
    found = client_address(peer, forwarded, PROXIES)
    assert (str(found) if found else None) == expected


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert str(client_address("10.0.0.2", [CLIENT], ())) == "10.0.0.2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("203.0.113.7", "203.0.113.7"), ("203.0.113.7:80", "203.0.113.7"), ('"[2001:db8::1]:8080"', "2001:db8::1"),
     ("2001:db8::1", "2001:db8::1"), ("[2001:db8::1", None), ("203.0.113.256", None), ("host.example", None)],
)  # fmt: skip
def test_parse_address(text: str, expected: str | None) -> None:
    found = parse_address(text)
    assert (str(found) if found else None) == expected


@given(
    prefix=st.lists(st.text(max_size=20) | st.ip_addresses().map(str), max_size=5),
    proxies=st.lists(st.integers(0, 2**24 - 1).map(lambda n: str(ipaddress.IPv4Address((10 << 24) + n))), max_size=3),
)
def test_a_client_behind_trusted_proxies_cannot_choose_its_address(prefix: list[str], proxies: list[str]) -> None:
    """Whatever the client writes before the hops the proxies append, the answer is the address they saw."""
    header = ", ".join([*(p.replace(",", " ") for p in prefix), CLIENT, *proxies])
    assert str(client_address("10.0.0.2", [header], PROXIES)) == CLIENT


@pytest.mark.parametrize(
    ("address", "storage", "stored"),
    [
        ("203.0.113.77", "full", "203.0.113.77"),
        ("203.0.113.77", "truncated", "203.0.113.0"),
        ("203.0.113.77", "none", ""),
        ("2001:db8:1234:5678::9", "full", "2001:db8:1234:5678::9"),
        ("2001:db8:1234:5678::9", "truncated", "2001:db8:1234::"),
        ("2001:db8:1234:5678::9", "none", ""),
        (None, "full", ""),
    ],
)
def test_stored_address(address: str | None, storage: AddressStorage, stored: str) -> None:
    parsed = ipaddress.ip_address(address) if address else None
    assert stored_address(parsed, storage) == stored
