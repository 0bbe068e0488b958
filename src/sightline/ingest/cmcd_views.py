"""Sessionisation of CMCD: one session id's records → views in the native event model.

CMCD names a playback session (`sid`), not a view, and reports play states (`sta`) rather than events;
`advance` turns the records of one sid into native events (docs/beacon-format.md) that keep the
invariants of docs/architecture.md, so the metrics come out as for native beacons:
- the play request is the `s` (starting) state, the view's start: its id is `derived_view_id(customer,
  "cmcd", sid, start)` (for the sid's later views, the sid and the view's ordinal), the same for every
  record of the view; before it (`d` preloading) nothing is counted;
- the first frame is the first `p` (playing): `startup_ms` is the player's `msd` when the record
  carries it, else the time from the play request;
- after the first frame, time in `p` is play time and time in `r` is stall time (a `stall_start` on
  entering it), except the `r` that follows a seek (`k`), which is seek recovery; `a`, `k`, `w`, `d`
  count neither; time is taken from the records' `ts`, so it is exact for event mode;
- `e` ends the view (`end`), `q` exits it (`exit`), `f` fails it (a fatal `error`, with the `ec` of
  the error event of the same time, which players send beside it); any other `e` (error) event is a
  non-fatal `error`; `t` (interval) events are heartbeats; a bitrate change
  is a `rendition_change`;
- a new `s` or a new content id after the first frame exits the view and starts the next one;
  records after a view closed are ignored until the next `s`;
- records are applied in the order of their own times (`ts`), not of their arrival: a record arriving
  is held for the reorder window (`window_ms`), and a record is applied once it has been held that long,
  with every held record of an earlier or equal time (equal times in arrival order), so a record that
  arrives up to the window after any record of a later time takes its place; a call with no records (the
  collector's timer) applies what is due. A record older than the newest applied (it came later than
  the window) does not change the play state (it may still add an error or dimensions); an event record
  seen before (same `e`, `ts`, `sn`, `sta`) is a retry and is skipped; `rr` (response received) records
  carry the time their request started, so they never move the play state;
- request-mode data (media requests) has no `ts` in v1 and no `sta`: its time is its arrival and its
  state is inferred — the first request is the play request, `su` (startup) before the first frame
  keeps starting, the first request without it is the first frame, `bs` (starvation) afterwards a
  stall, `su` afterwards a seek; a session that also sends event reports is driven by those alone;
- a view whose first record shows it already playing (the collector restarted, or the view went 30
  minutes without a beacon and came back) is joined in progress: its play and stall time count, but
  it is no new attempt or play (those were counted when it started); when the `s` record of the
  session's first view arrives after all (overtaken in transit by the report of the first frame), the
  joined view gets its play request and first frame (its view id keeps the time it was joined at);
- a view with no record arriving for `IDLE_CLOSE_MS` was closed by the collector's sweeper (with an
  `exit`): the sid's next records start afresh.
`advance` is pure: it returns the sid's next state and the events to store, and leaves its input as
it was, so a caller that could not store the events keeps the old state and the client's retry counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sightline.ingest.cmcd import MIN_TS_MS, CmcdRecord
from sightline.ingest.pipeline import derived_view_id
from sightline.ingest.sessions import IDLE_CLOSE_MS

SOURCE = "cmcd"
REORDER_WINDOW_MS = 5_000
"""How long a record is held for records of earlier times to arrive (`SIGHTLINE_CMCD_REORDER_WINDOW_S`)."""
RECENT_KEYS = 64
"""Event records remembered to recognise a retry (a reporter resends a report it had no answer for, soon);
few, since the state is written to the collector's log at each step (`ingest.session_states`)."""
_UINT32 = 2**32 - 1
_PLAYING_LIKE = frozenset("prakw")
_TERMINAL = {"e": "end", "q": "exit", "f": "error"}
Held = tuple[tuple[int, CmcdRecord], ...]
"""Records held for the reorder window, each with its arrival time (ms)."""


@dataclass(frozen=True, slots=True)
class ViewEvents:
    """Native events of one view, with the view's dimensions (`cmcd_format.CmcdReports` numbers them into a
    `format.ViewBatch`). `events` may be empty: the view is then only touched, so the sweeper sees it alive."""

    view_id: bytes
    dimensions: dict[str, Any]
    events: list[dict[str, Any]]


@dataclass
class _View:
    view_id: bytes
    play_request_ms: int
    next_seq: int = 0
    started: bool = False
    closed: bool = False
    joined_at: int | None = None
    """When a view was joined in progress: the time of the record that showed it playing."""


@dataclass
class SidState:
    """What the collector remembers of one CMCD session between requests."""

    dimensions: dict[str, Any] = field(default_factory=dict)
    state: str | None = None
    since_ms: int = 0
    last_ts: int = 0
    last_touch_ms: int = 0
    view: _View | None = None
    views_opened: int = 0
    idle_closed: bool = False
    event_mode: bool = False
    bitrate_kbps: int = 0
    dropped_total: int | None = None
    play_ms: int = 0
    rebuffer_ms: int = 0
    dropped_frames: int = 0
    in_stall: bool = False
    seek_recovery: bool = False
    recent: tuple[tuple[Any, ...], ...] = ()
    held: Held = ()
    """Records not applied yet, with their arrival times, in order of arrival; each has its `ts`."""


class _Advance:
    """One call of `advance`: a private copy of the state, and the events it emits per view."""

    def __init__(self, state: SidState, customer_id: int, sid: str) -> None:
        self.s = replace(state, dimensions=dict(state.dimensions), view=replace(state.view) if state.view else None)
        self.customer_id, self.sid = customer_id, sid
        self.out: dict[bytes, ViewEvents] = {}
        self.fatal_codes: dict[int, str] = {}
        """Codes of the error events of this call by time: a player reports `sta=f` and the error that
        caused it (with its `ec`) as two records of the same time, in either order."""

    # -- emitting ------------------------------------------------------------------------------------
    def _emit(self, event: str, ts: int, **fields: Any) -> None:
        view = self.s.view
        assert view is not None, "events are emitted into an open view"
        assert not view.closed, "events are emitted into an open view"
        row: dict[str, Any] = {
            "event": event,
            "ts": ts,
            "seq": view.next_seq,
            "started": int(view.started),
            "play_ms": min(self.s.play_ms, _UINT32),
            "rebuffer_ms": min(self.s.rebuffer_ms, _UINT32),
            "dropped_frames": min(self.s.dropped_frames, _UINT32),
            "interval_bitrate_kbps": self.s.bitrate_kbps,
            **fields,
        }
        view.next_seq += 1
        self.s.play_ms = self.s.rebuffer_ms = self.s.dropped_frames = 0
        self._batch(view).events.append(row)
        if event in ("end", "exit") or (event == "error" and fields.get("fatal") == 1):
            view.closed = True
            self.s.in_stall = self.s.seek_recovery = False

    def _batch(self, view: _View) -> ViewEvents:
        if view.view_id not in self.out:
            self.out[view.view_id] = ViewEvents(view.view_id, dict(self.s.dimensions), [])
        batch = self.out[view.view_id]
        batch.dimensions.update(self.s.dimensions)
        return batch

    def _open(self, ts: int, *, joined: bool = False, startup_ms: int = 0) -> _View:
        """Start a view: at `ts − startup_ms` with a play request, or joined in progress at `ts`."""
        start = ts - startup_ms
        external_id = self.sid if not self.s.views_opened else f"{self.sid}\x1f{self.s.views_opened}"
        view = _View(derived_view_id(self.customer_id, SOURCE, external_id, start), start, started=joined)
        view.joined_at = ts if joined else None
        self.s.view, self.s.state = view, "s"
        self.s.views_opened += 1
        self.s.idle_closed = self.s.in_stall = self.s.seek_recovery = False
        self.s.since_ms = ts
        self.s.play_ms = self.s.rebuffer_ms = self.s.dropped_frames = 0
        if not joined:
            self._emit("play_request", start)
        return view

    # -- time ------------------------------------------------------------------------------------------
    def _account(self, ts: int) -> None:
        """Credit the time since the last accounting point to the state the view was in."""
        view = self.s.view
        elapsed = max(0, ts - self.s.since_ms)
        if view is not None and not view.closed and view.started:
            if self.s.state == "p":
                self.s.play_ms += elapsed
            elif self.s.state == "r" and not self.s.seek_recovery:
                self.s.rebuffer_ms += elapsed
        self.s.since_ms = max(self.s.since_ms, ts)

    # -- records -------------------------------------------------------------------------------------
    def apply(self, record: CmcdRecord) -> None:
        if record.event is not None:
            key = (record.event, record.ts, record.sn, record.state)
            if key in self.s.recent:
                return
            self.s.recent = (*self.s.recent[-(RECENT_KEYS - 1) :], key)
            self.s.event_mode = True
        elif self.s.event_mode:
            self._merge_dimensions(record.dimensions)
            return
        ts = _time(record)
        fresh = ts >= self.s.last_ts and record.event != "rr"
        view = self.s.view
        if fresh and self._content_changed(record) and view is not None and view.started and not view.closed:
            self._account(ts)
            self._emit("exit", ts)
            self._merge_dimensions(record.dimensions)
            self._open(ts)
        else:
            self._merge_dimensions(record.dimensions)
        if record.event == "rr":
            return
        if fresh:
            self._account(ts)
            self.s.last_ts = ts
            self._bitrate(record, ts)
            self._dropped(record)
        state = self._state_of(record)
        if not fresh and state == "s" and record.event is not None and self._late_start(ts):
            return
        if record.event == "e" and not (fresh and state == "f"):
            if self._is_open():
                self._emit("error", ts, fatal=0, error_code=_code(record))
            return
        if fresh and state is not None:
            self._transition(state, ts, record)
        if record.event == "t" and self._is_open():
            self._emit("heartbeat", ts, live_latency_ms=record.live_latency_ms or 0)

    def _late_start(self, ts: int) -> bool:
        """A play request overtaken in transit by the report of its first frame: the view that report
        joined becomes an ordinary view, with its play request and first frame."""
        view = self.s.view
        if view is None or view.closed or view.joined_at is None or ts > view.joined_at or self.s.views_opened != 1:
            return False
        self._emit("play_request", ts, started=0)
        self._emit("first_frame", view.joined_at, startup_ms=min(view.joined_at - ts, _UINT32))
        view.joined_at, view.play_request_ms = None, ts
        return True

    def _is_open(self) -> bool:
        return self.s.view is not None and not self.s.view.closed

    def _content_changed(self, record: CmcdRecord) -> bool:
        old, new = self.s.dimensions.get("assetid"), record.dimensions.get("assetid")
        return bool(old) and bool(new) and old != new

    def _merge_dimensions(self, dimensions: Mapping[str, Any]) -> None:
        self.s.dimensions.update(dimensions)

    def _state_of(self, record: CmcdRecord) -> str | None:
        """`sta`, or for request-mode data without it, the state its `su` and `bs` flags imply."""
        if record.state is not None or record.event is not None:
            return record.state
        view = self.s.view
        if view is None or view.closed:
            return "s"
        if not view.started:
            return "s" if record.startup else "p"
        return "r" if record.starvation else "k" if record.startup else "p"

    def _bitrate(self, record: CmcdRecord, ts: int) -> None:
        new = record.bitrate_kbps
        if new is None or new == self.s.bitrate_kbps:
            return
        view = self.s.view
        if view is not None and view.started and not view.closed and self.s.bitrate_kbps:
            self._emit("rendition_change", ts, rendition_bitrate_kbps=min(new, _UINT32))
        self.s.bitrate_kbps = min(new, _UINT32)

    def _dropped(self, record: CmcdRecord) -> None:
        total = record.dropped_frames_total
        if total is None:
            return
        previous = self.s.dropped_total
        self.s.dropped_frames += total - previous if previous is not None and total >= previous else total
        self.s.dropped_total = total

    def _transition(self, new: str, ts: int, record: CmcdRecord) -> None:
        view = self.s.view
        if view is None or view.closed:
            self._start(new, ts, record)
            return
        old = self.s.state
        if new == old:
            return
        if new in _TERMINAL:
            event = _TERMINAL[new]
            code = _code(record) or self.fatal_codes.get(ts, "")
            fields = {"fatal": 1, "error_code": code} if new == "f" else {}
            self._emit(event, ts, **fields)
        elif not view.started:
            if new == "p":
                startup = record.msd if record.msd is not None else ts - view.play_request_ms
                view.started = True
                self._emit("first_frame", ts, startup_ms=min(max(startup, 0), _UINT32))
        elif new == "s":
            self._emit("exit", ts)
            self._open(ts)
        else:
            self._change_while_started(old, new, ts)
        self.s.state = new

    def _start(self, new: str, ts: int, record: CmcdRecord) -> None:
        """A state while no view is open: `s` is a play request; a playing state may join a view."""
        if new == "s":
            self._open(ts)
        elif new == "p" and record.msd is not None and self.s.views_opened == 0:
            startup = min(record.msd, ts - MIN_TS_MS)
            view = self._open(ts, startup_ms=startup)
            view.started = True
            self._emit("first_frame", ts, startup_ms=startup)
        elif new in _PLAYING_LIKE and (self.s.views_opened == 0 or self.s.idle_closed):
            self._open(ts, joined=True)
            if new == "r":
                self._change_while_started("p", "r", ts)
        self.s.state = new

    def _change_while_started(self, old: str | None, new: str, ts: int) -> None:
        recovering = self.s.seek_recovery
        if self.s.in_stall and new != "r":
            self.s.in_stall = False
            self._emit("stall_end", ts)
        if new == "r":
            if old == "k" or recovering:
                self.s.seek_recovery = True
            elif not self.s.in_stall:
                self.s.in_stall = True
                self._emit("stall_start", ts)
            return
        self.s.seek_recovery = False
        if new == "k":
            self._emit("seek_start", ts)
        elif new == "a":
            self._emit("pause", ts)
        elif new == "p" and old == "a":
            self._emit("resume", ts)
        elif new == "p" and (old == "k" or recovering):
            self._emit("seek_end", ts)


def _code(record: CmcdRecord) -> str:
    return record.error_codes[0] if record.error_codes else ""


def _time(record: CmcdRecord) -> int:
    assert record.ts is not None, "a held record has its time"
    return record.ts


def _due(held: Held, now_ms: int, window_ms: int) -> tuple[list[CmcdRecord], Held]:
    """The held records to apply now, in order of time (equal times in order of arrival), and those that stay
    held: each record is held for the window, then goes with every record of an earlier or equal time."""
    due_times = [_time(record) for arrived, record in held if arrived + window_ms <= now_ms]
    if not due_times:
        return [], held
    cutoff = max(due_times)
    ready = sorted((record for _, record in held if _time(record) <= cutoff), key=_time)
    return ready, tuple(pair for pair in held if _time(pair[1]) > cutoff)


def advance(
    state: SidState | None,
    customer_id: int,
    sid: str,
    records: list[CmcdRecord],
    now_ms: int,
    window_ms: int = REORDER_WINDOW_MS,
) -> tuple[SidState, list[ViewEvents]]:
    """Take the records of one sid arriving at `now_ms` (in the order they were sent; none for a call of
    the collector's timer) into its state, and apply the held records that are due: the next state, and
    the events per view to store. The input state is not changed."""
    run = _Advance(state or SidState(), customer_id, sid)
    if records:
        view = run.s.view
        if view is not None and not view.closed and now_ms - run.s.last_touch_ms >= IDLE_CLOSE_MS:
            view.closed, run.s.idle_closed, run.s.state = True, True, None
        arrived = tuple((now_ms, record if record.ts is not None else replace(record, ts=now_ms)) for record in records)
        run.s.held += arrived
        run.s.last_touch_ms = now_ms
    ready, run.s.held = _due(run.s.held, now_ms, window_ms)
    if not ready:
        return run.s, []
    run.fatal_codes = {r.ts: r.error_codes[0] for r in ready if r.event == "e" and r.error_codes and r.ts}
    for record in ready:
        run.apply(record)
    view = run.s.view
    if view is not None and not view.closed:
        run._batch(view)  # the view is touched, so that the sweeper sees it alive
    return run.s, list(run.out.values())
