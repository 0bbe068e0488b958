"""Leases in the metadata database: background work that must run in one process at a time (the alert rounds,
the stored days, the notifications' delivery) runs only while its process holds the work's lease.

A lease is a row (name, holder, expires_at); a holder names one process (`holder_id`: host, pid and a random
token, so that a restarted process with the same pid is another holder). Invariants:
- `acquire` is one statement, an INSERT that updates on conflict only when the lease is free (expired) or already
  the caller's: on SQLite and PostgreSQL alike two callers racing for a lease never both get it;
- `renew` and `release` change a lease only while its holder is the caller;
- a `LeaseKeeper` renews each lease it holds every third of the TTL and tries to take the others as often; it counts
  a lease held (`holds`) only while its renewal succeeds, and at most two thirds of the TTL after the last one
  began, so a process that cannot reach the database stops its work before another may take the lease over (at
  its expiry), with a third of the TTL left for the clocks of the hosts to differ and for work under way to end;
- `holding` is the same for one piece of work that every process does once, one at a time (the store's
  migrations at start): it waits for the lease, renews it while the work runs, and releases it after.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, String, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from sightline.auth.clock import Clock, utc_now
from sightline.auth.models import Base, UtcDateTime
from sightline.periodic import Periodic

logger = logging.getLogger(__name__)


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


def holder_id() -> str:
    """A new holder's name: this host, this process and a random token."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(8)}"


def acquire(engine: Engine, name: str, holder: str, ttl: timedelta, clock: Clock = utc_now) -> bool:
    """Take the lease `name` for `holder` until `ttl` from now, when it is free, expired or already `holder`'s."""
    now = clock()
    values = {"holder": holder, "expires_at": now + ttl}
    dialect = engine.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise ValueError(f"leases need PostgreSQL or SQLite, not {dialect}")
    insert: postgresql.Insert | sqlite.Insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Lease)
    taken = insert.values(name=name, **values).on_conflict_do_update(
        index_elements=[Lease.name], set_=values, where=or_(Lease.holder == holder, Lease.expires_at <= now)
    )
    with engine.begin() as connection:  # a row returned: inserted or updated (psycopg counts no rows of an upsert)
        return connection.execute(taken.returning(Lease.name)).first() is not None


def renew(engine: Engine, name: str, holder: str, ttl: timedelta, clock: Clock = utc_now) -> bool:
    """Extend `holder`'s lease `name` until `ttl` from now; False when it is not `holder`'s (any more)."""
    extended = update(Lease).where(Lease.name == name, Lease.holder == holder).values(expires_at=clock() + ttl)
    with engine.begin() as connection:
        return connection.execute(extended).rowcount == 1


def release(engine: Engine, name: str, holder: str) -> bool:
    """Give up `holder`'s lease `name`, so that another process may take it at once; False when not `holder`'s."""
    with engine.begin() as connection:
        return connection.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder)).rowcount == 1


def holder_of(engine: Engine, name: str) -> str | None:
    """Who holds the lease `name` (or held it last, when it expired), if anyone."""
    with engine.connect() as connection:
        holder: str | None = connection.execute(select(Lease.holder).where(Lease.name == name)).scalar()
    return holder


@contextmanager
def holding(engine: Engine, name: str, ttl: timedelta, clock: Clock = utc_now) -> Iterator[None]:
    """Run the block while this process holds the lease `name`: wait until it is free (a log line says who holds
    it), renew it on a thread every third of `ttl` while the block runs (an error is logged if it is lost), and
    release it after."""
    holder = holder_id()
    if not acquire(engine, name, holder, ttl, clock):
        logger.info(
            "waiting for the lease %s: %s holds it, until it is released or expires", name, holder_of(engine, name)
        )
        while not acquire(engine, name, holder, ttl, clock):
            time.sleep(min(1.0, ttl.total_seconds() / 10))
    logger.info("took the lease %s (holder %s)", name, holder)
    done = threading.Event()

    def renewing() -> None:
        while not done.wait(ttl.total_seconds() / 3):
            try:
                kept = renew(engine, name, holder, ttl, clock)
            except Exception:
                logger.exception("renewing the lease %s failed", name)
                kept = False
            if not kept:
                logger.error("lost the lease %s while its work ran: another process may do it too", name)

    renewer = threading.Thread(target=renewing, name=f"sightline-lease-{name}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join()
        release(engine, name, holder)


class LeaseKeeper:
    """Holds the leases `names` for this process whenever it can, on a thread of its own, until `stop` (which
    releases them: stop the work they guard first)."""

    def __init__(
        self, engine: Engine, names: Iterable[str], ttl: timedelta, clock: Clock = utc_now, holder: str | None = None
    ) -> None:
        self.engine = engine
        self.names = tuple(names)
        self.ttl = ttl
        self.holder = holder or holder_id()
        self._clock = clock
        self._held_until: dict[str, float] = {}
        """Name → the monotonic time until which this process may work under it."""
        self._lock = threading.Lock()
        self._loop = Periodic("sightline-leases", ttl.total_seconds() / 3, self.keep, at_start=True)

    def holds(self, name: str) -> bool:
        """Whether this process holds the lease `name` and may do its work now."""
        with self._lock:
            return time.monotonic() < self._held_until.get(name, 0.0)

    def held(self) -> dict[str, bool]:
        """Each lease's `holds`."""
        return {name: self.holds(name) for name in self.names}

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
        for name in self.names:
            with self._lock:
                was_held = self._held_until.pop(name, None) is not None
            if was_held:
                try:
                    release(self.engine, name, self.holder)
                except Exception:
                    logger.exception("releasing the lease %s failed; it expires in %s", name, self.ttl)

    def keep(self) -> None:
        """Renew the leases held and try to take the others, once."""
        for name in self.names:
            began = time.monotonic()
            with self._lock:
                ours = name in self._held_until
            try:
                kept = (renew if ours else acquire)(self.engine, name, self.holder, self.ttl, self._clock)
            except Exception:
                logger.exception("keeping the lease %s failed: its work stops until it is held again", name)
                kept = False
            with self._lock:
                if kept:
                    self._held_until[name] = began + self.ttl.total_seconds() * 2 / 3
                else:
                    self._held_until.pop(name, None)
            if kept != ours:
                logger.info("%s the lease %s (holder %s)", "took" if kept else "lost", name, self.holder)
