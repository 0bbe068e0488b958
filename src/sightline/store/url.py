"""The store URL (`Settings.store_url`): which ClickHouse the service stores its data in.

- `chdb://`: the embedded engine in the data directory (`--data-dir`), the default;
- `clickhouse://USER:PASS@HOST:PORT/DB`: a ClickHouse server over HTTP (port 8123 by default, user `default`,
  no password, database `default`); `clickhouses://…` the same over TLS (port 8443 by default);
- options, after `?`: `cluster=NAME` (the server's cluster: docs/deploy.md), `connect_timeout=SECONDS`
  (default 10), `verify=0` (TLS without checking the server's certificate; tests only).

User and password may be percent-encoded. The password never appears in a message, a log line or a repr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

EMBEDDED_URL = "chdb://"
ALLOWED = (
    "chdb:// (the embedded engine, the default), clickhouse://USER:PASS@HOST:PORT/DB (a server over HTTP) or "
    "clickhouses://USER:PASS@HOST:PORT/DB (over TLS), with options ?cluster=NAME&connect_timeout=SECONDS&verify=0|1"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_CLUSTER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
_DEFAULT_PORTS = {"clickhouse": 8123, "clickhouses": 8443}


@dataclass(frozen=True, slots=True)
class ServerUrl:
    """A ClickHouse server (`clickhouse://` or `clickhouses://`): where, as whom, which database."""

    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)
    tls: bool = False
    cluster: str | None = None
    connect_timeout_s: float = 10.0
    verify: bool = True

    @property
    def scheme(self) -> Literal["clickhouse", "clickhouses"]:
        return "clickhouses" if self.tls else "clickhouse"

    def redacted(self) -> str:
        """The URL without its password (for messages and logs)."""
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}/{self.database}"


StoreUrl = ServerUrl | None
"""A parsed store URL: None for the embedded engine (`chdb://`)."""


def parse_store_url(text: str) -> StoreUrl:
    """`text` parsed; ValueError (one line, no password in it) when it is not one of `ALLOWED`."""
    scheme, _, rest = text.partition("://")
    if scheme == "chdb":
        if rest:
            raise ValueError("store_url chdb:// takes nothing after it: the data directory is --data-dir")
        return None
    if scheme not in _DEFAULT_PORTS or not rest:
        shown = scheme if _NAME.match(scheme) else "this"
        raise ValueError(f"store_url of scheme {shown!r} is not allowed; use {ALLOWED}")
    return _server_url(text, scheme == "clickhouses")


def _server_url(text: str, tls: bool) -> ServerUrl:
    try:
        parts = urlsplit(text)
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError(f"store_url has no valid port; use {ALLOWED}") from None
    if not parts.hostname:
        raise ValueError(f"store_url names no host; use {ALLOWED}")
    if parts.fragment:
        raise ValueError("store_url takes no #fragment")
    database = parts.path.strip("/") or "default"
    if not _NAME.match(database):
        raise ValueError(f"store_url database {database!r} is not a name (letters, digits and _)")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - {"cluster", "connect_timeout", "verify"})
    if unknown:
        raise ValueError(f"store_url option {unknown[0]!r} is not known; allowed: cluster, connect_timeout, verify")
    cluster = options.get("cluster")
    if cluster is not None and not _CLUSTER.match(cluster):
        raise ValueError(f"store_url cluster {cluster!r} is not a name (letters, digits, _ and -)")
    return ServerUrl(
        host=parts.hostname,
        port=port,
        database=database,
        user=unquote(parts.username or "") or "default",
        password=unquote(parts.password or ""),
        tls=tls,
        cluster=cluster,
        connect_timeout_s=_timeout(options.get("connect_timeout", "10")),
        verify=_flag(options.get("verify", "1")),
    )


def _timeout(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 300:
        raise ValueError(f"store_url connect_timeout {text!r} is not a number of seconds in (0, 300]")
    return seconds


def _flag(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(f"store_url verify {text!r} is not 0 or 1")
    return text == "1"
