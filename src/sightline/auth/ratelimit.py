"""Failed-login limits, kept in the metadata database so that every process sharing it counts alike.

Two limits over a sliding window (a minute): the failures of one username from one client address
(`per_pair`), so that guessing a user's password from one address stops there while the user still logs
in from anywhere else; and the failures from one client address whatever the username (`per_address`),
so that trying many usernames meets a limit too. An IPv6 client is limited by its /64 (one subscriber's
network, whose addresses it can choose freely); requests whose address is unknown share one limit.

Invariants:
- an attempt counts its subjects' failures and, unless either is at its limit, records itself as a failure
  of both before its password is checked, in one transaction that holds its subjects meanwhile (PostgreSQL:
  an advisory lock a subject; SQLite: the database's write lock, which its first statement takes); an attempt
  that finds a subject at its limit is refused (`LoginRateLimitedError`, before any password check) and
  records nothing. So concurrent attempts, in one process or many, are admitted one after the other: no more
  than `limit` password checks of a subject can fail within a window, and attempts under the limit pass;
- a successful attempt removes its own records and the earlier failures of its pair, never those of its
  address (a login to one's own account must not clear the address's failures on other usernames);
- records older than the window are deleted by the next attempt;
- subjects are stored as SHA-256 hashes: no username or address is kept.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from sightline.auth.clock import Clock
from sightline.auth.errors import LoginRateLimitedError
from sightline.auth.models import LoginFailure

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPV6_PREFIX = 64


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """An admitted attempt: its pair's subject and the ids of its records."""

    pair: str
    record_ids: tuple[int, ...]


def address_key(address: IPAddress | None) -> str:
    """What an address is limited as: an IPv4 address itself, an IPv6 address's /64, or `unknown`."""
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


def _subject(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _lock_key(subject: str) -> int:
    """The PostgreSQL advisory lock key (a signed 64-bit integer) of a subject."""
    return int.from_bytes(bytes.fromhex(subject)[:8], "big", signed=True)


class LoginRateLimiter:
    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, per_pair: int, per_address: int, window_s: float = 60.0
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._per_pair = per_pair
        self._per_address = per_address
        self._window = timedelta(seconds=window_s)

    def admit(self, username: str, address: IPAddress | None) -> LoginAttempt:
        """Record an attempt of `username` from `address` as a failure, then count: the attempt, or
        LoginRateLimitedError (with nothing recorded) when its pair or its address is at its limit."""
        now = self._clock()
        where = address_key(address)
        pair = _subject("pair", username, where)
        limits = {pair: self._per_pair, _subject("address", where): self._per_address}
        with self._sessions.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                for subject in sorted(limits):  # in one order: two attempts never wait for each other's second
                    session.execute(select(func.pg_advisory_xact_lock(_lock_key(subject))))
            session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - self._window))
            waits = [self._wait_s(session, subject, limit, now) for subject, limit in limits.items()]
            blocked = [wait for wait in waits if wait is not None]
            if blocked:
                raise LoginRateLimitedError(max(blocked))  # the transaction is rolled back: nothing recorded
            records = [LoginFailure(subject=subject, failed_at=now) for subject in limits]
            session.add_all(records)
            session.flush()
            return LoginAttempt(pair, tuple(record.id for record in records))

    def succeeded(self, attempt: LoginAttempt) -> None:
        """The attempt's password was right: forget it, and the earlier failures of its pair."""
        self._delete(or_(LoginFailure.id.in_(attempt.record_ids), LoginFailure.subject == attempt.pair))

    def _wait_s(self, session: Session, subject: str, limit: int, now: datetime) -> int | None:
        """Whole seconds until `subject` holds fewer than `limit` failures in the window; None if it does."""
        times = session.scalars(
            select(LoginFailure.failed_at)
            .where(LoginFailure.subject == subject, LoginFailure.failed_at > now - self._window)
            .order_by(LoginFailure.failed_at)
        ).all()
        if len(times) < limit:
            return None
        frees_at = times[len(times) - limit] + self._window
        return max(1, math.ceil((frees_at - now).total_seconds()))

    def _delete(self, condition: ColumnElement[bool]) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(LoginFailure).where(condition))
