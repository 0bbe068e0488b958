"""The formats' session states shared by every process of a service over a server store: the metadata database
is their home (docs/architecture.md, Many processes).

A session — `(format name, customer, session id)` — is a row of `session_states`: its `Snapshot` (pickled, as the
embedded log keeps it), a version, the units it holds (`IngestFormat.held`), when it comes due and when it was
last written. Invariants:
- a step reads the row (`refresh`), runs the format's pure `advance` and writes with `UPDATE … WHERE version =
  read` (`put`): of two processes stepping one session at once, one writes and the other gets
  `SessionConflictError`, reads again and advances again (the intake does);
- a row comes due (`due_ms`) when its held units do, or `OUTBOX_GRACE_MS` after a snapshot with an outbox was
  written: its writer stores the outbox at once and writes the snapshot without it, and until then another
  process's step waits (`refresh` says so), as a step waits for the session's lock in one process; an outbox its
  writer left (it died, or the store refused) is stored by the process that claims the row;
- `claim_due` claims a due row for one process by moving its due time `CLAIM_MS` on (`UPDATE … WHERE due_ms =
  read`: two processes never both claim it); a claim whose step never happens comes due again;
- rows holding nothing that nobody wrote for `ttl_ms` are deleted (`expire`), as the embedded states forget;
- what is in memory (`Entry`) is a cache and this process's lock of the session's steps, never the truth.
Pickles are read only from the service's own metadata database (the same trust as its data directory); a row that
does not unpickle (another version's) is logged and its session starts afresh.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Engine, Integer, LargeBinary, String, Text, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from sightline.auth.models import Base
from sightline.ingest.format import IngestFormat
from sightline.ingest.session_states import TTL_MS, Entry, SessionStates, Snapshot, StateKey

logger = logging.getLogger(__name__)
OUTBOX_GRACE_MS = 10_000
"""How long the process that wrote an outbox has to store it before another process may."""
CLAIM_MS = 10_000
"""How long a claimed row stays with its claimer before it comes due again."""
EXPIRE_EVERY_MS = 60_000
"""How often a process deletes the idle rows past their time."""
HELD_FOR_S = 1.0
"""How long a customer's count of held units is reused before it is read again."""


class SessionConflictError(Exception):
    """Another process wrote the session since it was read: read it again and advance again."""


class SessionRow(Base):
    __tablename__ = "session_states"

    format: Mapped[str] = mapped_column(String(50), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    session: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    snapshot: Mapped[bytes] = mapped_column(LargeBinary)
    held: Mapped[int] = mapped_column(Integer)
    due_ms: Mapped[int | None] = mapped_column(BigInteger, index=True)
    written_ms: Mapped[int] = mapped_column(BigInteger, index=True)


def _where(key: StateKey) -> tuple[Any, ...]:
    return SessionRow.format == key[0], SessionRow.customer_id == key[1], SessionRow.session == key[2]


def _loads(key: StateKey, data: bytes) -> Snapshot | None:
    try:
        snapshot = pickle.loads(data)
    except Exception:
        logger.exception("the %s session of customer %d does not read back: it starts afresh", key[0], key[1])
        return None
    return snapshot if isinstance(snapshot, Snapshot) else None


def read(engine: Engine, key: StateKey) -> tuple[int, Snapshot | None, int | None]:
    """The session's version, snapshot and due time ((0, None, None): no row)."""
    columns = (SessionRow.version, SessionRow.snapshot, SessionRow.due_ms)
    with engine.connect() as connection:
        row = connection.execute(select(*columns).where(*_where(key))).first()
    return (0, None, None) if row is None else (row.version, _loads(key, row.snapshot), row.due_ms)


def write(engine: Engine, key: StateKey, version: int, snapshot: Snapshot | None, held: int, now_ms: int) -> int | None:
    """Make `snapshot` the session's (None: delete its row) if its version is still `version` (0: no row); the new
    version, or None when another process wrote it since."""
    if snapshot is None:
        if version == 0:
            return 0
        with engine.begin() as connection:
            deleted = connection.execute(delete(SessionRow).where(*_where(key), SessionRow.version == version))
        return 0 if deleted.rowcount == 1 else None
    due = now_ms + OUTBOX_GRACE_MS if snapshot.outbox else snapshot.due_ms
    values = {"snapshot": pickle.dumps(snapshot, protocol=5), "held": held, "due_ms": due, "written_ms": now_ms}
    if version == 0:
        row = {"format": key[0], "customer_id": key[1], "session": key[2], "version": 1, **values}
        try:
            with engine.begin() as connection:
                connection.execute(insert(SessionRow).values(**row))
        except IntegrityError:  # another process inserted it first
            return None
        return 1
    with engine.begin() as connection:
        changed = connection.execute(
            update(SessionRow).where(*_where(key), SessionRow.version == version).values(version=version + 1, **values)
        )
    return version + 1 if changed.rowcount == 1 else None


def claim_due(engine: Engine, now_ms: int, limit: int = 100) -> list[StateKey]:
    """The sessions due at `now_ms` (earliest first, up to `limit`) that this caller claimed: each claimed by one
    caller, its due time moved `CLAIM_MS` on."""
    due = (
        select(SessionRow.format, SessionRow.customer_id, SessionRow.session, SessionRow.due_ms)
        .where(SessionRow.due_ms <= now_ms)
        .order_by(SessionRow.due_ms)
        .limit(limit)
    )
    claimed: list[StateKey] = []
    with engine.begin() as connection:
        for row in connection.execute(due).all():
            key = (row.format, row.customer_id, row.session)
            taken = update(SessionRow).where(*_where(key), SessionRow.due_ms == row.due_ms)
            if connection.execute(taken.values(due_ms=now_ms + CLAIM_MS)).rowcount == 1:
                claimed.append(key)
    return claimed


def expire(engine: Engine, now_ms: int, ttl_ms: int) -> int:
    """Delete the rows that hold nothing (not due) and were not written for `ttl_ms`; how many (-1: the database
    failed, logged)."""
    idle = delete(SessionRow).where(SessionRow.due_ms.is_(None), SessionRow.written_ms <= now_ms - ttl_ms)
    try:
        with engine.begin() as connection:
            deleted: int = connection.execute(idle).rowcount
    except SQLAlchemyError:
        logger.exception("deleting the idle session states failed; tried again later")
        return -1
    return deleted


def held_units(engine: Engine, customer_id: int | None = None) -> int:
    """The units the sessions of `customer_id` (None: of everyone) hold."""
    total = select(func.coalesce(func.sum(SessionRow.held), 0))
    if customer_id is not None:
        total = total.where(SessionRow.customer_id == customer_id)
    with engine.connect() as connection:
        return int(connection.execute(total).scalar_one())


class SharedSessionStates(SessionStates):
    """`SessionStates` whose home is the metadata database of `engine`: every step reads its session there first
    (`refresh`) and writes it back only over the version it read (`put`)."""

    shared = True

    def __init__(
        self,
        engine: Engine,
        formats: Sequence[IngestFormat[Any, Any]],
        now_ms: int,
        *,
        max_sessions: int = 100_000,
        ttl_ms: int = TTL_MS,
    ) -> None:
        self._engine = engine
        self._formats = {fmt.name: fmt for fmt in formats if fmt.keeps_state}
        self._init_entries({}, now_ms, max_sessions, ttl_ms)
        self._expired_ms = now_ms
        self._expiring: asyncio.Future[int] | None = None
        self._held: dict[int, tuple[float, int]] = {}
        """Customer → (when read, units held): `held` reuses a count for `HELD_FOR_S`."""

    async def refresh(self, key: StateKey, entry: Entry) -> bool:
        """Read the session's snapshot and version into `entry` (under its lock, before a step); whether a process
        is storing its outbox (until its grace is over, or a claim of it expires: then whoever claims it does).
        Raises the database's errors as `OSError`."""
        try:
            entry.version, entry.snapshot, due_ms = await asyncio.to_thread(read, self._engine, key)
        except SQLAlchemyError as error:
            raise OSError(f"the metadata database did not give the session: {error}") from error
        return bool(entry.snapshot and entry.snapshot.outbox and due_ms is not None and due_ms > _now_ms())

    async def put(self, key: StateKey, entry: Entry, snapshot: Snapshot | None) -> None:
        """Write `snapshot` over the version read; raises `SessionConflictError` when another process wrote the
        session since (the entry then holds nothing known), or the database's error as `OSError`."""
        version = await self._write(key, entry, snapshot)
        if version is None:
            entry.version, entry.snapshot = 0, None
            raise SessionConflictError(key)
        entry.version, entry.snapshot = version, snapshot

    async def put_soon(self, key: StateKey, entry: Entry, snapshot: Snapshot | None) -> None:
        """Write `snapshot` (its outbox stored) before returning, so that no other process stores it again; when
        another process wrote the session since, leave it to that one's. When the database fails, the row keeps the
        outbox, whose events are then offered again when it comes due (duplicates: `ingest.shared_views`)."""
        try:
            version = await self._write(key, entry, snapshot)
        except OSError:
            logger.exception("a %s session of customer %d keeps its stored outbox until it comes due", key[0], key[1])
            version = None
        entry.version, entry.snapshot = (0, None) if version is None else (version, snapshot)

    def adopt(self, key: StateKey, snapshot: Snapshot, now_ms: int) -> None:
        """Make `snapshot` the session's (at start: a legacy log's), whatever it was."""
        held = self._held_in(key, snapshot)
        written = None
        while written is None:  # another process wrote the row between our read and write: read it again
            written = write(self._engine, key, read(self._engine, key)[0], snapshot, held, now_ms)

    async def due(self, now_ms: int) -> list[StateKey]:
        """The sessions due now that this process claimed (their held units came due, or an outbox was left)."""
        return await asyncio.to_thread(claim_due, self._engine, now_ms)

    async def held(self, customer_id: int) -> int:
        """The units the customer's sessions hold, in every process (read at most every `HELD_FOR_S`); raises the
        database's errors as `OSError`."""
        read_at, units = self._held.get(customer_id, (0.0, 0))
        if time.monotonic() - read_at > HELD_FOR_S:
            try:
                units = await asyncio.to_thread(held_units, self._engine, customer_id)
            except SQLAlchemyError as error:
                raise OSError(f"the metadata database did not count the held units: {error}") from error
            self._held[customer_id] = (time.monotonic(), units)
        return units

    def held_total(self) -> int:
        """The units every session holds, in every process."""
        return held_units(self._engine)

    def expire(self, now_ms: int) -> None:
        """Forget the sessions untouched for `ttl_ms` here, and (every `EXPIRE_EVERY_MS`, on a thread) delete the
        rows that hold nothing and were not written for as long."""
        super().expire(now_ms)
        if now_ms - self._expired_ms >= EXPIRE_EVERY_MS and (self._expiring is None or self._expiring.done()):
            self._expired_ms = now_ms
            self._expiring = asyncio.ensure_future(asyncio.to_thread(expire, self._engine, now_ms, self._ttl_ms))

    def close(self) -> None:
        """Nothing to write: every put was written before it returned."""

    def _idle(self, entry: Entry) -> bool:
        return not entry.lock.locked()  # what it holds is in the database

    def _forget(self, key: StateKey, entry: Entry) -> None:
        self._entries.pop(key)

    def _held_in(self, key: StateKey, snapshot: Snapshot) -> int:
        fmt = self._formats.get(key[0])
        return fmt.held(snapshot.state) if fmt is not None and snapshot.state is not None else 0

    async def _write(self, key: StateKey, entry: Entry, snapshot: Snapshot | None) -> int | None:
        held = self._held_in(key, snapshot) if snapshot is not None else 0
        try:
            return await asyncio.to_thread(write, self._engine, key, entry.version, snapshot, held, _now_ms())
        except SQLAlchemyError as error:
            raise OSError(f"the metadata database did not take the session: {error}") from error


def _now_ms() -> int:
    return int(time.time() * 1000)
