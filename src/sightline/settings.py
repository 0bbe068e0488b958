"""Settings read from the environment (`SIGHTLINE_*`) or passed by the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration. `store_url` "chdb://" means the embedded engine in `data_dir`."""

    model_config = SettingsConfigDict(env_prefix="SIGHTLINE_", frozen=True, hide_input_in_errors=True)
    """Inputs are left out of validation errors: a store URL's password must never be shown."""

    data_dir: Path = Path("./sightline-data")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    store_url: str = Field(
        default="chdb://", description="The embedded engine (chdb://) or a ClickHouse server (store/url.py)."
    )
    query_sessions: int = Field(
        default=2, ge=1, le=16, description="Parallel query sessions of the store (a server's: HTTP connections)."
    )
    query_time_limit_s: float = Field(default=200.0, gt=0, description="Engine-enforced limit per query.")
    query_memory_limit_bytes: int = Field(default=4 * 1024**3, gt=0, description="Engine-enforced limit per query.")
    writer_max_rows: int = Field(default=100_000, ge=1, description="Rows that make the writer flush at once.")
    access_log: bool = Field(
        default=False, description="A log line per request (off: a collector answers thousands of beacons a second)."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as text, or one JSON object a line (docs/operations.md)."
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token that reads GET /metrics (unset: /metrics answers no one)."
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Serve the metrics to anyone on this port of `metrics_host`."
    )
    metrics_host: str = Field(default="127.0.0.1", description="Address of `metrics_port`: a private one.")
    ready_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="How long GET /readyz waits for the store's answer."
    )
    writer_max_delay_s: float = Field(default=1.0, gt=0, description="Longest a row waits in the writer.")
    event_max_late_s: int = Field(
        default=7 * 86_400,
        ge=1,
        description="How much older than the collector's clock an event may be (offline players send late), and "
        "how long after its view's start (docs/beacon-format.md).",
    )
    event_max_ahead_s: int = Field(
        default=86_400,
        ge=0,
        le=86_400,
        description="How much newer than the collector's clock an event may be (a player's clock set wrong), and "
        "how long before its view's start; at most a day (a view's events are read from a day before its start).",
    )
    stored_days_every_s: float = Field(
        default=60.0, gt=0, description="How often past days' viewing sessions are stored for contentpaths."
    )
    metadata_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the accounts database; default SQLite <data_dir>/metadata.db."
    )
    access_token_ttl_s: int = Field(default=18_000, ge=1, description="Lifetime of an OAuth access token.")
    refresh_token_ttl_s: int = Field(default=30 * 86_400, ge=1, description="Lifetime of an OAuth refresh token.")
    access_cache_ttl_s: float = Field(
        default=5.0,
        ge=0,
        description="Seconds an API key, ingest key or customer found in the accounts database is remembered; "
        "a key revoked by the CLI stops working within this time (0: read every time).",
    )
    login_failures_per_minute: int = Field(
        default=5, ge=1, description="Failed logins of one username from one client address in a minute before 429."
    )
    login_failures_per_address_per_minute: int = Field(
        default=10, ge=1, description="Failed logins from one client address, any usernames, in a minute before 429."
    )
    argon2_time_cost: int = Field(default=3, ge=1, description="Argon2 passes; lower only in tests.")
    argon2_memory_kib: int = Field(default=65_536, ge=64, description="Argon2 memory; lower only in tests.")
    geo_city_database: Path | None = Field(
        default=None, description="MaxMind-format City or Country database: country, region, city (docs/enrichment.md)."
    )
    geo_asn_database: Path | None = Field(
        default=None, description="MaxMind-format ASN or ISP database: asn, isp (docs/enrichment.md)."
    )
    trusted_proxies: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        default=(), description="Networks (CIDR, comma-separated) whose X-Forwarded-For names the client."
    )
    media_origin_dir: Path | None = Field(
        default=None,
        description="Directory served by GET /media/{ingestKey}/… (CMCD request mode, docs/ingest-cmcd.md).",
    )
    media_origin_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="HTTP origin GET /media/… forwards to, when no directory is set.",
    )
    cmcd_reorder_window_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="Seconds a CMCD record is held so that records of earlier times, overtaken in transit, "
        "are applied before it (docs/ingest-cmcd.md).",
    )
    tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate chain: serve HTTPS, with `tls_key` (mux-embed posts to https:// for any host "
        "but localhost; docs/ingest-mux.md).",
    )
    tls_key: Path | None = Field(default=None, description="PEM private key (not encrypted) of `tls_cert`.")
    ip_storage: Literal["full", "truncated", "none"] = Field(
        default="truncated", description="What `ipaddress` keeps: the address, its /24 or /48, or nothing."
    )
    smtp_host: str | None = Field(default=None, description="SMTP server of alert e-mails (none: e-mail is off).")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 TLS, 25 none).")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="STARTTLS after connecting, TLS from the start, or neither (a local relay)."
    )
    smtp_user: str | None = Field(default=None, description="SMTP login, when the server asks for one.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password of `smtp_user`.")
    smtp_from: str | None = Field(default=None, description="The From address of alert e-mails.")
    smtp_ca_file: Path | None = Field(
        default=None, description="PEM CA certificates to verify the SMTP server with, instead of the system's."
    )
    notify_workers: int = Field(
        default=4, ge=1, le=64, description="Notifications sent at once (one at a time per target)."
    )
    notify_timeout_s: float = Field(default=10.0, gt=0, le=300, description="Time limit of one notification.")
    notify_max_attempts: int = Field(
        default=10, ge=1, le=100, description="Attempts at a notification before it is `failed`."
    )
    notify_retry_base_s: float = Field(
        default=10.0, gt=0, description="Wait before the second attempt; doubled at each attempt, with jitter."
    )
    notify_retry_cap_s: float = Field(default=3600.0, gt=0, description="Longest wait between two attempts.")
    notify_poll_s: float = Field(default=1.0, gt=0, le=60, description="How often due notifications are looked for.")
    alerts_every_s: float = Field(
        default=60.0, gt=0, description="How often the alert rules' due detection rounds are looked for and run."
    )
    alert_rounds: bool = Field(
        default=True,
        description="Run the alert rules' detection rounds in this process (while it holds their lease). Off: a "
        "process that only serves requests (a benchmark, one of several API processes); another process runs them.",
    )
    lease_ttl_s: float = Field(
        default=30.0,
        ge=0.3,
        le=3600,
        description="Lifetime of a lease of once-only background work (alert rounds, stored days, notifications): "
        "renewed every third of it; a dead process's work is taken over by another within it.",
    )
    notify_private_targets: bool = Field(
        default=False,
        description="Let webhooks reach loopback, private and link-local addresses (refused by default: a rule's "
        "URL must not reach the service's own network).",
    )

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: str) -> str:
        from sightline.store.url import parse_store_url  # here: the store package imports this module

        parse_store_url(value)
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str) else value

    def metadata_database_url(self) -> str:
        """`metadata_url`, or the SQLite file `metadata.db` in `data_dir`."""
        return self.metadata_url or f"sqlite:///{self.data_dir.resolve() / 'metadata.db'}"


def existing_data_dir(
    data_dir: Path | None, *, metadata: bool = False, store: bool = False, spool: bool = False
) -> Settings:
    """The settings of `data_dir` (None: the default) for a command that reads what is there: ValueError when what
    it opens (the metadata database, the embedded store, the spool) would be in a data directory that does not
    exist, since opening it would create it, empty, and the command would answer nothing, as if all was well."""
    from sightline.store.url import parse_store_url

    settings = Settings() if data_dir is None else Settings(data_dir=data_dir)
    embedded = parse_store_url(settings.store_url) is None
    in_data_dir = (metadata and settings.metadata_url is None) or (store and embedded) or spool
    if in_data_dir and not settings.data_dir.is_dir():
        raise ValueError(f"--data-dir {settings.data_dir}: no such directory; give an existing data directory")
    return settings
