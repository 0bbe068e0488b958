"""Where webhooks and Slack messages go: their URLs read once, and shown without what may be secret (pure)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class WebTarget:
    """An http(s) URL's scheme, host (an IPv6 address without its brackets) and port (None: the scheme's)."""

    scheme: str
    host: str
    port: int | None


def parse_web_target(url: str) -> WebTarget | None:
    """`url` when it is an http(s) URL with a host (a name, an IPv4 address, or an IPv6 address in brackets) and a
    port (1 to 65535), and no space; else None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unclosed bracket, a port that is not a number or out of range
        return None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        return None
    if ":" in host:
        if not _is_address(ipaddress.IPv6Address, host.split("%")[0]):
            return None
        written = f"[{host}]"
    elif all(c.isdigit() or c == "." for c in host):
        if not _is_address(ipaddress.IPv4Address, host):
            return None  # 256.0.0.1, 01.02.03.04: no client sends to them
        written = host
    elif _is_name(host):
        written = host
    else:
        return None
    hostport = parts.netloc.rpartition("@")[2].lower()
    if port == 0 or not re.fullmatch(rf"{re.escape(written)}(:\d*)?", hostport):
        return None  # port 0, or more than a host and a port: `[::1]]`, `a]`
    return WebTarget(parts.scheme, host, port)


def _is_address(kind: type[ipaddress.IPv4Address | ipaddress.IPv6Address], text: str) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def _is_name(host: str) -> bool:
    """Whether `host` is a DNS name: labels of letters, digits, `-` and `_` once written as IDNA (`भारत.भारत`)."""
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return all(c.isalnum() or c in "-._" for c in ascii_host)


def shown_target(kind: str, target: str) -> str:
    """A target as the log shows it: an e-mail address as it is; of a URL, only its scheme, host and port (a
    webhook's path or query may hold a token, as Slack's do; user and password are left out)."""
    if kind == "email":
        return target
    web = parse_web_target(target)
    if web is None:
        return "(not an http(s) URL)"
    host = f"[{web.host}]" if ":" in web.host else web.host
    port = "" if web.port is None else f":{web.port}"
    parts = urlsplit(target)
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{web.scheme}://{host}{port}{rest}"
