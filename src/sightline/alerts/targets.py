"""Where webhooks and Slack messages go: their URLs read once, and shown without what may be secret (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class WebTarget:
    """An http(s) URL's scheme, host (an IPv6 address without its brackets) and port (None: the scheme's)."""

    scheme: str
    host: str
    port: int | None


def parse_web_target(url: str) -> WebTarget | None:
    """`url` when it is an http(s) URL with a host and a valid port, and no space; else None."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        return None
    return WebTarget(parts.scheme, parts.hostname, port)


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
