"""The accounts-and-access service of one metadata database: what the API, the CLI and the demo open."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from sightline.auth.access import Access
from sightline.auth.accounts import Accounts
from sightline.auth.clock import Clock, utc_now
from sightline.auth.db import migrate, open_engine
from sightline.auth.hashing import PasswordHasher
from sightline.auth.ratelimit import LoginRateLimiter
from sightline.auth.tokens import Tokens
from sightline.settings import Settings


class AuthService:
    """Accounts, token grants and access checks over one engine, all reading one clock."""

    def __init__(self, engine: Engine, settings: Settings, clock: Clock = utc_now) -> None:
        self.engine = engine
        sessions = sessionmaker(engine, expire_on_commit=False)
        hasher = PasswordHasher(settings.argon2_time_cost, settings.argon2_memory_kib)
        limiter = LoginRateLimiter(
            sessions, clock, settings.login_failures_per_minute, settings.login_failures_per_address_per_minute
        )
        self.access = Access(sessions, clock, timedelta(seconds=settings.access_cache_ttl_s))
        self.accounts = Accounts(sessions, hasher, clock, self.access.forget)
        self.tokens = Tokens(
            sessions, hasher, limiter, clock, settings.access_token_ttl_s, settings.refresh_token_ttl_s
        )
        self.trusted_proxies = tuple(settings.trusted_proxies)
        """Proxies whose `X-Forwarded-For` names the client: the address the login limits count."""

    def close(self) -> None:
        self.engine.dispose()


def open_auth(settings: Settings, clock: Clock = utc_now) -> AuthService:
    """The service over `settings.metadata_database_url()`, migrated to the newest revision."""
    engine = open_engine(settings.metadata_database_url())
    try:
        migrate(engine)
    except Exception:
        engine.dispose()
        raise
    return AuthService(engine, settings, clock)
