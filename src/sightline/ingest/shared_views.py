"""The sessionizer's view state shared by every process of a service over a server store, in the metadata database
(docs/architecture.md, Many processes): a view whose beacons reach two processes is counted once, stays closed once
closed, and gets one `exit` from the sweepers.

A view is a row of `session_views`: its `SharedView` (pickled: the `ViewState` — the `seq`s stored, started,
closed, the last event's time, the dimensions — and the `seq`s admitted and not yet durable), a version and when it
was last seen. Invariants:
- `admit`, `confirm`, `restore` and `rollback` read the row, apply the same pure steps as the one-process
  `Sessionizer` (`sessions.admit_into`, …) and write over the version read; a lost race reads again and steps again
  (the steps are pure but for the `started` they set in the kept events, which is the same on every try);
- a `seq` admitted is pending until the pipeline has made it durable (`confirm`: then it is stored, and a
  terminal event closes the view) or gave it up (`rollback`), for at most `PENDING_MS`: meanwhile the same `seq`
  is neither admitted again nor a duplicate (`ViewBusyError`: the client retries), and a pending terminal event
  refuses later ones. So a process killed between admitting and storing loses nothing another process is sent
  again: its pending `seq`s lapse, and the retry is admitted (a one-process collector forgets them by dying);
- the sweepers of every process look for the views not seen for `IDLE_CLOSE_MS` and close each open one over the
  version they read: the one whose write succeeds emits its `exit`; another that read the same row writes nothing
  and emits nothing. A view seen meanwhile has another version: it stays. A closed view is deleted the same way,
  a swept one `EXIT_SETTLE_MS` later (once its `exit` is in the store, where a read-back finds it);
- every method does IO: the pipeline calls them off the event loop (`shared`); the database's errors are raised as
  `OSError` (the pipeline answers 503), and a sweep that fails is logged and done again at the next round.
Pickles are read only from the service's own metadata database (the same trust as its data directory).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import BigInteger, Engine, LargeBinary, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from sightline.auth.models import Base
from sightline.ingest.sessions import (
    EXIT_SETTLE_MS,
    IDLE_CLOSE_MS,
    Admission,
    Sessionizer,
    ViewState,
    admit_into,
    exit_event,
    is_terminal,
    restore_into,
)

logger = logging.getLogger(__name__)
Result = TypeVar("Result")
SWEEP_LIMIT = 1_000
"""Views a sweep looks at, least recently seen first (the next sweep takes the rest)."""
PENDING_MS = 30_000
"""How long a `seq` admitted stays the admitting process's before it is confirmed or rolled back."""


class ViewBusyError(Exception):
    """Events of the batch were admitted by another process that is storing them now: retry."""


@dataclass
class SharedView:
    """What a row keeps of a view: its state as one process's sessionizer keeps it, of the events stored; and the
    `seq`s admitted but not yet durable: seq → (until when it is the admitting process's, whether terminal)."""

    state: ViewState
    pending: dict[int, tuple[int, bool]] = field(default_factory=dict)


class ViewRow(Base):
    __tablename__ = "session_views"

    view_id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    last_seen_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class SharedSessionizer(Sessionizer):
    """A `Sessionizer` whose views are rows of the metadata database of `engine`."""

    shared = True

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine

    def admit(
        self, customer_id: int, view_id: bytes, dimensions: dict[str, Any], events: list[tuple[int, dict[str, Any]]],
        now_ms: int,
    ) -> Admission:  # fmt: skip
        """As `Sessionizer.admit`; raises `ViewBusyError` when an event's `seq` is another process's to store now."""

        def step(view: SharedView) -> Admission:
            pending = {seq: lapse for seq, lapse in view.pending.items() if lapse[0] > now_ms}
            if any(event.get("seq", 0) in pending for _, event in events):
                raise ViewBusyError(view_id)
            seen = replace(view.state, seqs=set(view.state.seqs))
            closing = [seq for seq, (_, terminal) in pending.items() if terminal]
            if closing and not seen.closed:
                seen.closed, seen.closed_at = True, min(closing)
            admission = admit_into(seen, customer_id, dimensions, events, now_ms)
            pending |= {event.get("seq", 0): (now_ms + PENDING_MS, is_terminal(event)) for event in admission.kept}
            stored = view.state  # what is stored, and when seen
            view.state = replace(seen, seqs=stored.seqs, closed=stored.closed, closed_at=stored.closed_at)
            view.pending = pending
            return admission

        admission = self._change(view_id, lambda: SharedView(ViewState(customer_id, dimensions)), step)
        assert admission is not None  # a view without a row gets a new state
        return admission

    def confirm(self, view_id: bytes, kept: list[dict[str, Any]]) -> None:
        """The events `admit` kept are durable: their `seq`s are stored ones, and a terminal one closes the view."""

        def step(view: SharedView) -> None:
            for event in kept:
                view.pending.pop(event.get("seq", 0), None)
                view.state.seqs.add(event.get("seq", 0))
                if is_terminal(event) and not view.state.closed:
                    view.state.closed, view.state.closed_at = True, event.get("seq", 0)

        self._change(view_id, None, step)

    def knows(self, view_id: bytes) -> bool:
        try:
            with self._engine.connect() as connection:
                found = connection.execute(select(ViewRow.version).where(ViewRow.view_id == view_id)).first()
        except SQLAlchemyError as error:
            raise OSError(f"the metadata database did not answer: {error}") from error
        return found is not None

    def restore(
        self, customer_id: int, view_id: bytes, dimensions: dict[str, Any], *, seqs: set[int], started: bool,
        closed_at: int | None, last_ts: int,
    ) -> None:  # fmt: skip
        def step(view: SharedView) -> None:
            restore_into(view.state, seqs=seqs, started=started, closed_at=closed_at, last_ts=last_ts)

        self._change(view_id, lambda: SharedView(ViewState(customer_id, dimensions)), step)

    def rollback(self, view_id: bytes, kept: list[dict[str, Any]]) -> None:
        def step(view: SharedView) -> None:
            for event in kept:
                view.pending.pop(event.get("seq", 0), None)

        self._change(view_id, None, step)

    def sweep(self, now_ms: int) -> list[tuple[int, bytes, dict[str, Any], dict[str, Any]]]:
        try:
            return self._sweep(now_ms)
        except SQLAlchemyError:
            logger.exception("sweeping the idle views failed; done again at the next round")
            return []

    def _sweep(self, now_ms: int) -> list[tuple[int, bytes, dict[str, Any], dict[str, Any]]]:
        idle = (
            select(ViewRow.view_id, ViewRow.version, ViewRow.state)
            .where(ViewRow.last_seen_ms <= now_ms - IDLE_CLOSE_MS)
            .order_by(ViewRow.last_seen_ms)
            .limit(SWEEP_LIMIT)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(idle).all()
        closed = []
        for row in rows:
            view: SharedView = pickle.loads(row.state)
            state, current = view.state, (ViewRow.view_id == row.view_id, ViewRow.version == row.version)
            if state.closed:  # by its terminal event, or swept `EXIT_SETTLE_MS` ago: forgotten
                change: Any = delete(ViewRow).where(*current)
            else:  # kept until its exit is surely in the store, where a read-back finds it
                state.closed = True
                settled = now_ms - IDLE_CLOSE_MS + EXIT_SETTLE_MS
                values = {"state": pickle.dumps(view, protocol=5), "last_seen_ms": settled}
                change = update(ViewRow).where(*current).values(version=row.version + 1, **values)
            with self._engine.begin() as connection:
                if connection.execute(change).rowcount != 1:
                    continue  # seen again, or another process swept it
            if change.is_update:
                closed.append((state.customer_id, row.view_id, state.dimensions, exit_event(state, now_ms)))
        return closed

    def _change(
        self, view_id: bytes, new: Callable[[], SharedView] | None, step: Callable[[SharedView], Result]
    ) -> Result | None:
        """Apply `step` to the view's state (a `new()` one when it has none; nothing when `new` is None) and write it
        over the version read, again until no other process wrote it meanwhile; what `step` gave. Raises the
        database's errors as `OSError`."""
        try:
            return self._change_once(view_id, new, step)
        except SQLAlchemyError as error:
            raise OSError(f"the metadata database did not take the view: {error}") from error

    def _change_once(
        self, view_id: bytes, new: Callable[[], SharedView] | None, step: Callable[[SharedView], Result]
    ) -> Result | None:
        while True:
            with self._engine.connect() as connection:
                row = connection.execute(
                    select(ViewRow.version, ViewRow.state).where(ViewRow.view_id == view_id)
                ).first()
            if row is not None:
                view: SharedView = pickle.loads(row.state)
            elif new is not None:
                view = new()
            else:
                return None
            result = step(view)
            values = {"state": pickle.dumps(view, protocol=5), "last_seen_ms": view.state.last_seen_ms}
            try:
                with self._engine.begin() as connection:
                    if row is None:
                        connection.execute(
                            insert(ViewRow).values(
                                view_id=view_id, customer_id=view.state.customer_id, version=1, **values
                            )
                        )
                        return result
                    changed = connection.execute(
                        update(ViewRow)
                        .where(ViewRow.view_id == view_id, ViewRow.version == row.version)
                        .values(version=row.version + 1, **values)
                    )
                    if changed.rowcount == 1:
                        return result
            except IntegrityError:  # another process inserted it first: read it and try again
                continue
