"""OAuth2 grants: password and refresh_token, with rotation, reuse detection and revocation.

Invariants:
- tokens are random opaque strings, stored only as SHA-256 hashes, each with an expiry;
- a refresh spends the refresh token of its pair and issues a new pair in the same family (the login);
- presenting a spent or revoked refresh token revokes every pair of its family: whoever holds a copy
  of a stolen refresh token loses the login along with the thief;
- wrong passwords and unknown users cost the same Argon2 check and get the same error;
- a password is checked only for an attempt the failed-login limits admit (auth/ratelimit.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from sightline.auth.clock import Clock
from sightline.auth.errors import InvalidCredentialsError, InvalidGrantError
from sightline.auth.hashing import PasswordHasher, new_secret, secret_hash
from sightline.auth.models import OAuthToken, User
from sightline.auth.ratelimit import IPAddress, LoginRateLimiter

ACCESS_PREFIX = "sla_"
REFRESH_PREFIX = "slr_"
SCOPE = "read write"


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    scope: str = SCOPE


def normalise_username(username: str) -> str:
    return username.strip().lower()


def revoke_user_tokens(session: Session, user_id: int, now: datetime) -> None:
    """Revoke every live pair of a user (after a password change)."""
    session.execute(
        update(OAuthToken).where(OAuthToken.user_id == user_id, OAuthToken.revoked_at.is_(None)).values(revoked_at=now)
    )


class Tokens:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        hasher: PasswordHasher,
        limiter: LoginRateLimiter,
        clock: Clock,
        access_ttl_s: int,
        refresh_ttl_s: int,
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher
        self._limiter = limiter
        self._clock = clock
        self._access_ttl = timedelta(seconds=access_ttl_s)
        self._refresh_ttl = timedelta(seconds=refresh_ttl_s)

    def password_grant(self, username: str, password: str, address: IPAddress | None = None) -> TokenPair:
        """A new login from the client `address` (None: unknown); LoginRateLimitedError before any check
        when the username from that address, or that address, has failed too often."""
        name = normalise_username(username)
        attempt = self._limiter.admit(name, address)
        with self._sessions.begin() as session:
            user = session.scalars(select(User).where(User.username == name)).one_or_none()
            valid, updated = self._hasher.verify(password, None if user is None else user.password_hash)
            if user is None or not valid:
                raise InvalidCredentialsError("the username or the password is wrong")
            if updated is not None:
                user.password_hash = updated
            session.execute(delete(OAuthToken).where(OAuthToken.refresh_expires_at <= self._clock()))
            pair = self._issue(session, user.id, family=secrets.token_hex(16))
        self._limiter.succeeded(attempt)
        return pair

    def refresh_grant(self, refresh_token: str) -> TokenPair:
        """A new pair for a live refresh token; reuse of a spent or revoked one ends its whole family."""
        now = self._clock()
        with self._sessions.begin() as session:
            pair = session.scalars(
                select(OAuthToken).where(OAuthToken.refresh_hash == secret_hash(refresh_token))
            ).one_or_none()
            if pair is None or pair.refresh_expires_at <= now:
                raise InvalidGrantError("the refresh token is not valid or has expired")
            spent = session.execute(
                update(OAuthToken)
                .where(OAuthToken.id == pair.id, OAuthToken.refreshed_at.is_(None), OAuthToken.revoked_at.is_(None))
                .values(refreshed_at=now)
                .returning(OAuthToken.id)
            ).first()
            if spent is not None:
                return self._issue(session, pair.user_id, family=pair.family)
            self._revoke_family(session, pair.family)  # spent or revoked already, maybe by a concurrent refresh
        raise InvalidGrantError("the refresh token was already used or revoked; its login is now revoked")

    def revoke(self, token: str) -> bool:
        """Revoke the login (every pair of the family) of an access or refresh token; False if unknown."""
        digest = secret_hash(token)
        with self._sessions.begin() as session:
            either = or_(OAuthToken.access_hash == digest, OAuthToken.refresh_hash == digest)
            family = session.scalars(select(OAuthToken.family).where(either)).one_or_none()
            if family is None:
                return False
            self._revoke_family(session, family)
            return True

    def _revoke_family(self, session: Session, family: str) -> None:
        session.execute(
            update(OAuthToken)
            .where(OAuthToken.family == family, OAuthToken.revoked_at.is_(None))
            .values(revoked_at=self._clock())
        )

    def _issue(self, session: Session, user_id: int, family: str) -> TokenPair:
        now = self._clock()
        access, refresh = new_secret(ACCESS_PREFIX), new_secret(REFRESH_PREFIX)
        session.add(
            OAuthToken(
                family=family,
                user_id=user_id,
                access_hash=secret_hash(access),
                refresh_hash=secret_hash(refresh),
                issued_at=now,
                access_expires_at=now + self._access_ttl,
                refresh_expires_at=now + self._refresh_ttl,
            )
        )
        return TokenPair(access, refresh, int(self._access_ttl.total_seconds()))
