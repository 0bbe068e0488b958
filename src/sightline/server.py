"""Running the app under uvicorn, over plain HTTP or, with a certificate and key in the settings, TLS.

Invariant: the certificate and key are checked before anything opens (`tls_files`), so that one that
cannot be used is a one-line error rather than a traceback from the server after the store's start.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from sightline.settings import Settings
from sightline.telemetry.logs import configure_logging


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert: Path
    """The certificate chain (PEM), the server's own first."""
    key: Path
    """Its private key (PEM, not encrypted)."""


def _no_passphrase() -> str:
    raise ValueError("the key is encrypted")


def tls_files(settings: Settings) -> TlsFiles | None:
    """The settings' certificate and key, once checked: None for plain HTTP; ValueError (a one-line message)
    for only one of them, a file that cannot be read, or files that are not a certificate chain and its key."""
    cert, key = settings.tls_cert, settings.tls_key
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ValueError("--tls-cert and --tls-key (SIGHTLINE_TLS_CERT, SIGHTLINE_TLS_KEY) go together")
    for what, path in (("certificate", cert), ("key", key)):
        try:
            path.read_bytes()
        except OSError as error:
            raise ValueError(f"cannot read the TLS {what} {path}: {error.strerror}") from None
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=_no_passphrase)
    except (ssl.SSLError, ValueError) as error:
        if getattr(error, "reason", None) == "KEY_VALUES_MISMATCH":
            raise ValueError(f"the TLS key {key} is not the private key of the certificate {cert}") from None
        raise ValueError(
            f"the TLS certificate {cert} and key {key} do not load as a PEM certificate chain and its private key "
            f"({error})"
        ) from None
    return TlsFiles(cert, key)


def base_url(settings: Settings) -> str:
    """Where the app answers: http or https, the host and port of the settings."""
    scheme = "http" if settings.tls_cert is None else "https"
    return f"{scheme}://{settings.host}:{settings.port}"


def serve(app: FastAPI, settings: Settings, tls: TlsFiles | None, *, log_level: str) -> None:
    """Serve `app` on the settings' host and port until stopped; over TLS with `tls` (from `tls_files`). Logs go
    to stderr in the settings' `log_format`; the app writes the access log itself (`api.observe`)."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    configure_logging(settings.log_format, logging.getLevelNamesMapping()[log_level.upper()])
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        log_config=None if settings.log_format == "json" else LOGGING_CONFIG,  # None: uvicorn's lines go to ours
        access_log=False,
        proxy_headers=False,  # the app alone reads X-Forwarded-For, from its trusted proxies (docs/enrichment.md)
        ssl_certfile=None if tls is None else tls.cert,
        ssl_keyfile=None if tls is None else tls.key,
    )
