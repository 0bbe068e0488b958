"""Account administration: customers, users, API keys and ingest keys (what the CLI and the demo do).

Invariants: a key's secret is returned once, by `create_key`, and stored only hashed; a revoked key
stays listed with its revocation time; changing a password revokes the user's tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sightline.auth.clock import Clock
from sightline.auth.errors import AccountError
from sightline.auth.hashing import PasswordHasher, new_secret, secret_hash
from sightline.auth.kinds import KeyKind, Role
from sightline.auth.models import AccessKey, Customer, Membership, User
from sightline.auth.plans import plan_for
from sightline.auth.tokens import normalise_username, revoke_user_tokens

KEY_PREFIXES = {KeyKind.API: "slk_", KeyKind.INGEST: "sli_"}
_SHOWN = 10  # characters of a key kept for display


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    id: int
    name: str
    plan_level: int


@dataclass(frozen=True, slots=True)
class UserInfo:
    username: str
    role: Role
    customer_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    kind: KeyKind
    customer_id: int
    prefix: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


class Accounts:
    """`forget` is called after a change that lookups remembered by `Access` may not outlive (a revoked key)."""

    def __init__(
        self, sessions: sessionmaker[Session], hasher: PasswordHasher, clock: Clock, forget: Callable[[], None]
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher
        self._clock = clock
        self._forget = forget

    def add_customer(self, customer_id: int, name: str, plan_level: int) -> CustomerInfo:
        plan_for(plan_level)
        if customer_id <= 0:
            raise AccountError("a customer id is a positive integer")
        with self._sessions.begin() as session:
            if session.get(Customer, customer_id) is not None:
                raise AccountError(f"customer {customer_id} exists already")
            session.add(Customer(id=customer_id, name=name, plan_level=plan_level, created_at=self._clock()))
        return CustomerInfo(customer_id, name, plan_level)

    def list_customers(self) -> list[CustomerInfo]:
        with self._sessions() as session:
            rows = session.scalars(select(Customer).order_by(Customer.id))
            return [CustomerInfo(c.id, c.name, c.plan_level) for c in rows]

    def add_user(self, username: str, password: str, customer_ids: list[int], role: Role = Role.VIEWER) -> UserInfo:
        """A user of one or more existing customers."""
        name = normalise_username(username)
        if not name or not customer_ids:
            raise AccountError("a user needs a username and at least one customer")
        password_hash = self._hash(password)
        with self._sessions.begin() as session:
            self._check_customers(session, customer_ids)
            if session.scalars(select(User.id).where(User.username == name)).first() is not None:
                raise AccountError(f"user {name} exists already")
            memberships = [Membership(customer_id=c) for c in sorted(set(customer_ids))]
            session.add(
                User(
                    username=name,
                    password_hash=password_hash,
                    role=role.value,
                    created_at=self._clock(),
                    memberships=memberships,
                )
            )
        return UserInfo(name, role, tuple(sorted(set(customer_ids))))

    def list_users(self) -> list[UserInfo]:
        with self._sessions() as session:
            users = session.scalars(select(User).order_by(User.username))
            return [UserInfo(u.username, Role(u.role), tuple(sorted(u.customer_ids))) for u in users]

    def set_password(self, username: str, password: str) -> None:
        """Change a user's password and revoke every token of the user."""
        password_hash = self._hash(password)
        with self._sessions.begin() as session:
            user = session.scalars(select(User).where(User.username == normalise_username(username))).one_or_none()
            if user is None:
                raise AccountError(f"no user {normalise_username(username)}")
            user.password_hash = password_hash
            revoke_user_tokens(session, user.id, self._clock())

    def create_key(self, kind: KeyKind, customer_id: int, label: str = "") -> tuple[KeyInfo, str]:
        """A new key of `customer_id`: its record and its secret, which is never shown again."""
        secret = new_secret(KEY_PREFIXES[kind])
        with self._sessions.begin() as session:
            self._check_customers(session, [customer_id])
            key = AccessKey(
                kind=kind.value,
                customer_id=customer_id,
                key_hash=secret_hash(secret),
                prefix=secret[:_SHOWN],
                label=label,
                created_at=self._clock(),
            )
            session.add(key)
            session.flush()
            return _key_info(key), secret

    def revoke_key(self, kind: KeyKind, key_id: int) -> KeyInfo:
        with self._sessions.begin() as session:
            key = session.get(AccessKey, key_id)
            if key is None or key.kind != kind.value:
                raise AccountError(f"no {kind.value} key {key_id}")
            if key.revoked_at is None:
                key.revoked_at = self._clock()
            info = _key_info(key)
        self._forget()
        return info

    def list_keys(self, kind: KeyKind, customer_id: int | None = None) -> list[KeyInfo]:
        query = select(AccessKey).where(AccessKey.kind == kind.value).order_by(AccessKey.id)
        if customer_id is not None:
            query = query.where(AccessKey.customer_id == customer_id)
        with self._sessions() as session:
            return [_key_info(k) for k in session.scalars(query)]

    def _hash(self, password: str) -> str:
        try:
            return self._hasher.hash(password)
        except ValueError as error:
            raise AccountError(str(error)) from None

    @staticmethod
    def _check_customers(session: Session, customer_ids: list[int]) -> None:
        missing = sorted(c for c in set(customer_ids) if session.get(Customer, c) is None)
        if missing:
            raise AccountError(f"no customer {', '.join(map(str, missing))}; add it with `sightline customers add`")


def _key_info(key: AccessKey) -> KeyInfo:
    return KeyInfo(key.id, KeyKind(key.kind), key.customer_id, key.prefix, key.label, key.created_at, key.revoked_at)
