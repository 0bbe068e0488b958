"""The ingest format contract: what every beacon format (native, mux-embed, CMCD) is to the collector.

A format turns what a player sends into the native event model (docs/beacon-format.md) in two pure steps:
- `decode`: a request's body, headers and query → the units it carries (events, beacons, records), grouped by
  the format's own session (a native view, a mux view, a CMCD `sid`), and the parts refused (`Refusal`);
- `advance`: a session's state and its new units → its next state and the native events they give, per view
  (`ViewBatch`). The input state is left as it was: a caller that cannot store the events keeps the old state.
`ingest.intake.Intake` runs them for every format alike: it keeps each session's state in the one durable
`ingest.session_states.SessionStates` (so it survives a restart of the service), enriches the views'
dimensions from the request and hands the events to `IngestPipeline.accept`.
A new format is a subclass here, a route that resolves the customer and calls `Intake.take`, and its
documentation (docs/architecture.md: Ingest).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar, get_args

Unit = TypeVar("Unit")
"""What a request carries for a session: a native batch, a mux beacon, a CMCD record."""
State = TypeVar("State")
"""What a format remembers of a session between requests (None: nothing yet)."""
RefusalCode = Literal["invalid", "outside_window", "view_closed", "env_key_mismatch", "foreign_view"]
"""Why an event (CMCD: a record) is refused alone, decided where it is refused: it fails validation; its time is
outside the stored window (`ingest.window`); its view is closed (`ingest.sessions`); (mux) its env_key is not its
body's; its view id is another customer's."""
REFUSAL_CODES: tuple[RefusalCode, ...] = get_args(RefusalCode)


@dataclass(frozen=True, slots=True, order=True)
class Refusal:
    """An event (CMCD: a record) refused alone: its index in what was sent, why as a code (`RefusalCode`, what
    the operator counts) and as a message for the client."""

    index: int
    code: RefusalCode
    reason: str


class CollectError(ValueError):
    """A request refused whole: the HTTP status, a code and a message naming what is wrong."""

    def __init__(self, status: int, code: str, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.parameter = status, code, message, parameter


@dataclass(frozen=True, slots=True)
class Message:
    """What a format decodes of a request: its body (decompressed), headers and query parameters."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decoded(Generic[Unit]):
    """A decoded request: its units by the format's session id (in the order sent), the parts refused, and the
    ingest key when the format carries it in the body (mux's `env_key`)."""

    sessions: dict[str, list[Unit]]
    refused: list[Refusal] = field(default_factory=list)
    key: str | None = None

    @property
    def units(self) -> int:
        return sum(len(units) for units in self.sessions.values())


@dataclass(frozen=True, slots=True)
class ViewBatch:
    """Native events of one view, each with its index in the request, and the view's dimensions (not yet
    enriched): ready for `IngestPipeline.accept`. No events: the view is only touched (the sweeper sees it
    alive)."""

    view_id: bytes
    dimensions: dict[str, Any]
    events: list[tuple[int, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Step(Generic[State]):
    """What `advance` gives: the session's next state (None: nothing to keep), the views' events to store,
    and the units refused, ignored (no native event, or not placeable) and duplicated."""

    state: State | None
    views: list[ViewBatch]
    refused: list[Refusal] = field(default_factory=list)
    ignored: int = 0
    duplicates: int = 0


class IngestFormat(ABC, Generic[Unit, State]):
    """One beacon format. `name` names its sessions' states in `SessionStates` (formats of one name share
    them: CMCD's event reports and request mode). With `keeps_state` False the format has no state of its own
    (native beacons: the sessionizer's view state is all they need) and `advance` is given None.
    `acknowledged_when_logged`: a request is answered once its units are durable in the session log, and
    events the store refuses wait there for the collector's timer (CMCD: records held for the reorder window
    are acknowledged before they become events); otherwise a request is answered once its events are stored,
    and nothing of a request the store refuses is kept (the client sends it again)."""

    name: ClassVar[str]
    keeps_state: ClassVar[bool] = True
    acknowledged_when_logged: ClassVar[bool] = False

    @abstractmethod
    def decode(self, message: Message) -> Decoded[Unit]:
        """The units of a request by session; raises `CollectError` when the request is refused whole."""

    @abstractmethod
    def advance(
        self, state: State | None, customer_id: int, session: str, units: Sequence[Unit], now_ms: int
    ) -> Step[State]:
        """The session's next state and events after `units` (none: a timer's call; the step then returns the
        very state it was given when nothing came due). Pure."""

    def held(self, state: State) -> int:
        """Units the state holds that are not events yet (bounded per customer by the intake)."""
        return 0

    def due_ms(self, state: State) -> int | None:
        """When `advance` with no units has work to do (held units come due); None: never."""
        return None
