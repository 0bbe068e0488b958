"""Per-view state of the collector: deduplication, closed views, and the 30-minute sweeper.

The materialized views count outcomes from single event rows (docs/architecture.md), so what reaches
the store must hold these invariants, which this module enforces for every view it has seen:
- an event is stored once: a `seq` already admitted for the view is a duplicate (a client's retry);
- a view closes at its terminal event (`end`, `exit`, or a fatal `error`); later events are refused. An
  event numbered before the terminal one that arrives after it (a player's retry queue emptied at page hide) is
  taken, unless it is terminal too or would start a view stored as closed before its start (its outcome, read
  from the terminal event, must stay the view's one outcome);
- a view with no beacon for `IDLE_CLOSE` is closed by `sweep`, which returns an `exit` event for it.
State is in memory, bounded by `max_views`: past it, the least recently seen views of the customer with the most
are forgotten first (`ingest.customer_lru`: one customer's flood of views costs another's nothing); with a server
store, in the metadata database that every process shares (`ingest.shared_views`, over the same pure steps).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sightline.ingest.customer_lru import CustomerLru
from sightline.ingest.format import Refusal

IDLE_CLOSE_MS = 30 * 60 * 1000
EXIT_SETTLE_MS = 10 * 60 * 1000
"""How long a view the sweeper closed is kept after: its `exit` reaches the store within seconds (or at the next
sweep, when the writer was busy)."""
VIEW_CLOSED = "the view is closed (it ended, failed, or was idle 30 minutes)"
FOREIGN_VIEW = "view_id belongs to another customer"
TERMINAL = frozenset({"end", "exit"})


def swept(state: ViewState) -> bool:
    """Whether the sweeper closed the view (not a terminal event of its own)."""
    return state.closed and state.closed_at is None


def view_start_ms(view_id: bytes) -> int:
    """The view's start, in epoch milliseconds: the time of its UUIDv7 id."""
    return int.from_bytes(view_id[:6])


def is_terminal(event: dict[str, Any]) -> bool:
    return event["event"] in TERMINAL or (event["event"] == "error" and event.get("fatal", 0) == 1)


@dataclass
class ViewState:
    customer_id: int
    dimensions: dict[str, Any]
    seqs: set[int] = field(default_factory=set)
    started: bool = False
    closed: bool = False
    closed_at: int | None = None
    """The `seq` of the terminal event that closed the view (None: open, or closed by the sweeper)."""
    last_ts: int = 0
    last_seen_ms: int = 0


@dataclass(frozen=True, slots=True)
class Admission:
    """What became of a batch's events: kept (in order), refused, duplicates dropped."""

    kept: list[dict[str, Any]]
    refused: list[Refusal]
    duplicates: int


def admit_into(
    state: ViewState, customer_id: int, dimensions: dict[str, Any], events: list[tuple[int, dict[str, Any]]],
    now_ms: int,
) -> Admission:  # fmt: skip
    """`Sessionizer.admit` on one view's `state`, which it updates."""
    kept: list[dict[str, Any]] = []
    refused: list[Refusal] = []
    duplicates = 0
    if state.customer_id != customer_id:
        return Admission([], [Refusal(i, "foreign_view", FOREIGN_VIEW) for i, _ in events], 0)
    for index, event in sorted(events, key=lambda pair: pair[1].get("seq", 0)):
        seq = event.get("seq", 0)
        sent_started = event.get("started", 0)
        starts = event["event"] == "first_frame" or sent_started == 1
        if seq in state.seqs:
            duplicates += 1
        elif state.closed and not _before_closing(state, event, seq, starts):
            refused.append(Refusal(index, "view_closed", VIEW_CLOSED))
        else:
            state.seqs.add(seq)
            state.started |= starts
            if is_terminal(event):
                state.closed, state.closed_at = True, seq
            state.last_ts = max(state.last_ts, event["ts"])
            event["started"] = int(starts)
            kept.append(event)
    state.last_seen_ms = now_ms
    state.dimensions = dimensions or state.dimensions
    return Admission(kept, sorted(refused), duplicates)


def _before_closing(state: ViewState, event: dict[str, Any], seq: int, starts: bool) -> bool:
    """Whether a closed view takes `event`: numbered before its terminal event, not terminal, and not starting a
    view that closed before its start."""
    before = state.closed_at is not None and seq < state.closed_at
    return before and not is_terminal(event) and (state.started or not starts)


def restore_into(state: ViewState, *, seqs: set[int], started: bool, closed_at: int | None, last_ts: int) -> None:
    """`Sessionizer.restore` on one view's `state`."""
    state.seqs |= seqs
    state.started |= started
    if closed_at is not None and not state.closed:
        state.closed, state.closed_at = True, closed_at
    state.last_ts = max(state.last_ts, last_ts)
    state.last_seen_ms = max(state.last_seen_ms, last_ts)


def roll_back(state: ViewState, kept: list[dict[str, Any]]) -> None:
    """`Sessionizer.rollback` on one view's `state`."""
    state.seqs -= {event.get("seq", 0) for event in kept}
    if any(is_terminal(event) for event in kept):
        state.closed, state.closed_at = False, None


def exit_event(state: ViewState, now_ms: int) -> dict[str, Any]:
    """The `exit` event that closes an idle view."""
    return {"event": "exit", "ts": state.last_ts or now_ms, "seq": max(state.seqs, default=-1) + 1,
            "started": int(state.started)}  # fmt: skip


class Sessionizer:
    """Thread-safe per-view state keyed by view id (bytes)."""

    shared: ClassVar[bool] = False
    """Whether other processes admit the same views (`ingest.shared_views`): its calls then do IO, off the loop."""

    def __init__(self, max_views: int = 200_000) -> None:
        self._views: CustomerLru[bytes, ViewState] = CustomerLru()
        self._max_views = max_views
        self._lock = threading.Lock()

    def admit(
        self, customer_id: int, view_id: bytes, dimensions: dict[str, Any], events: list[tuple[int, dict[str, Any]]],
        now_ms: int,
    ) -> Admission:  # fmt: skip
        """Keep the valid `(index, event)`s of one view that are new and arrive while the view is open. The kept
        event dicts are the caller's, given over: `started` is set in them (1 from the view's first frame on)."""
        with self._lock:
            return admit_into(self._state(customer_id, view_id, dimensions), customer_id, dimensions, events, now_ms)

    def knows(self, view_id: bytes) -> bool:
        """Whether the view has a state here (it was seen, or restored, and not forgotten since)."""
        with self._lock:
            return view_id in self._views

    def restore(
        self, customer_id: int, view_id: bytes, dimensions: dict[str, Any], *, seqs: set[int], started: bool,
        closed_at: int | None, last_ts: int,
    ) -> None:  # fmt: skip
        """Recreate a view's state from the store (`ingest.recovery`; `closed_at`: its terminal event's `seq`, None
        when open); its last activity is its last event's time, so the sweeper closes it 30 minutes after that.
        At start, call in order of `last_ts`, before live traffic; later, for a view read back just before its
        batch is admitted."""
        with self._lock:
            restore_into(self._state(customer_id, view_id, dimensions), seqs=seqs, started=started,
                         closed_at=closed_at, last_ts=last_ts)  # fmt: skip

    def rollback(self, view_id: bytes, kept: list[dict[str, Any]]) -> None:
        """Forget events admitted by `admit` that could not be stored, so that the client's retry counts."""
        with self._lock:
            state = self._views.get(view_id)
            if state is not None:
                roll_back(state, kept)

    def _state(self, customer_id: int, view_id: bytes, dimensions: dict[str, Any]) -> ViewState:
        state = self._views.get(view_id)
        if state is not None:
            self._views.touch(view_id)
            return state
        state = ViewState(customer_id, dimensions)
        self._views.put(view_id, customer_id, state)
        while len(self._views) > self._max_views:
            largest = self._views.customers_by_size()[0]
            self._views.pop(next(self._views.items_of(largest))[0])
        return state

    def sweep(self, now_ms: int) -> list[tuple[int, bytes, dict[str, Any], dict[str, Any]]]:
        """Close the views idle for `IDLE_CLOSE_MS`: (customer, view id, dimensions, their `exit` event). A view
        closed by its terminal event is forgotten then; one closed here `EXIT_SETTLE_MS` later, once its `exit` is
        in the store, where a read-back (`ingest.pipeline`) finds it."""
        closed = []
        with self._lock:
            for view_id, state in list(self._views.items()):
                if now_ms - state.last_seen_ms < IDLE_CLOSE_MS:
                    break  # ordered by last activity: the rest are more recent
                if not state.closed:
                    state.closed = True
                    closed.append((state.customer_id, view_id, state.dimensions, exit_event(state, now_ms)))
                elif not swept(state) or now_ms - state.last_seen_ms >= IDLE_CLOSE_MS + EXIT_SETTLE_MS:
                    self._views.pop(view_id)
        return closed
