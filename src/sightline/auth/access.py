"""Who is calling, and which customer they may see: principals from tokens and keys, customer scopes.

Invariants: an unknown, expired or revoked credential is `InvalidTokenError`, never a principal; a
customer that the caller does not belong to and a customer that does not exist are the same
`CustomerForbiddenError`, so that ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sightline.auth.clock import Clock
from sightline.auth.errors import CustomerForbiddenError, FeatureNotInPlanError, InvalidTokenError
from sightline.auth.hashing import secret_hash
from sightline.auth.kinds import KeyKind, Role
from sightline.auth.models import AccessKey, Customer, OAuthToken, User
from sightline.auth.plans import Feature, plan_for
from sightline.auth.recent import RecentLookups


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user (by access token) or one customer's API key. `subject` is shown (a
    username or a key's prefix); `identity` tells callers apart (`user:<username>`, `api_key:<key id>`)."""

    kind: Literal["user", "api_key"]
    subject: str
    role: Role
    customer_ids: frozenset[int]
    identity: str


@dataclass(frozen=True, slots=True)
class CustomerContext:
    """The customer a request is scoped to, with what its plan level allows."""

    id: int
    name: str
    plan_level: int
    features: frozenset[Feature]

    def require(self, feature: Feature) -> None:
        """FeatureNotInPlanError unless the customer's plan allows `feature`."""
        if feature not in self.features:
            raise FeatureNotInPlanError(f"the customer's plan level does not include {feature.value}")


@dataclass(frozen=True, slots=True)
class LiveKey:
    """A key that was found unrevoked: its id, whose it is, and its public prefix."""

    id: int
    customer_id: int
    prefix: str


class Access:
    """Lookups of keys and customers are remembered for a few seconds (`RecentLookups`); access tokens are
    checked on every request (they are revoked through this process, and expire)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, remember_for: timedelta) -> None:
        self._sessions = sessions
        self._clock = clock
        self._keys: RecentLookups[tuple[KeyKind, str], LiveKey] = RecentLookups(remember_for, clock)
        self._customers: RecentLookups[int, CustomerContext] = RecentLookups(remember_for, clock)

    def forget(self) -> None:
        """Forget every remembered lookup (after a change to the accounts)."""
        self._keys.forget()
        self._customers.forget()

    def principal_for_access_token(self, token: str) -> Principal:
        with self._sessions() as session:
            row = session.execute(
                select(OAuthToken, User)
                .join(User, OAuthToken.user_id == User.id)
                .where(OAuthToken.access_hash == secret_hash(token))
            ).one_or_none()
            if row is None:
                raise InvalidTokenError("the access token is not valid")
            pair, user = row
            if pair.revoked_at is not None:
                raise InvalidTokenError("the access token has been revoked")
            if pair.access_expires_at <= self._clock():
                raise InvalidTokenError("the access token has expired")
            return Principal("user", user.username, Role(user.role), user.customer_ids, f"user:{user.username}")

    def principal_for_api_key(self, key: str) -> Principal:
        found = self._live_key(KeyKind.API, key)
        if found is None:
            raise InvalidTokenError("the API key is not valid or has been revoked")
        return Principal("api_key", found.prefix, Role.VIEWER, frozenset({found.customer_id}), f"api_key:{found.id}")

    def customer_for_ingest_key(self, key: str) -> int | None:
        """The customer whose beacons `key` may write, or None for an unknown or revoked key."""
        found = self._live_key(KeyKind.INGEST, key)
        return None if found is None else found.customer_id

    def customer_scope(self, principal: Principal, customer_id: int) -> CustomerContext:
        if customer_id not in principal.customer_ids:
            raise CustomerForbiddenError(f"customer {customer_id} is not one of the caller's customers")
        recent = self._customers.get(customer_id)
        if recent is not None:
            return recent
        with self._sessions() as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                raise CustomerForbiddenError(f"customer {customer_id} is not one of the caller's customers")
            plan = plan_for(customer.plan_level)
            context = CustomerContext(customer.id, customer.name, plan.level, plan.features)
        self._customers.put(customer_id, context)
        return context

    def _live_key(self, kind: KeyKind, key: str) -> LiveKey | None:
        key_hash = secret_hash(key)
        recent = self._keys.get((kind, key_hash))
        if recent is not None:
            return recent
        with self._sessions() as session:
            row = session.scalars(
                select(AccessKey).where(
                    AccessKey.key_hash == key_hash, AccessKey.kind == kind.value, AccessKey.revoked_at.is_(None)
                )
            ).one_or_none()
            if row is None:
                return None
            found = LiveKey(row.id, row.customer_id, row.prefix)
        self._keys.put((kind, key_hash), found)
        return found
