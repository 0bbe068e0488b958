"""The CMCD formats: v2 event reports (`POST /cmcd`, `CmcdReports`) and the request-mode data of media requests
(`GET /media`, v1 or v2, `CmcdRequests`), decoded into records by `ingest.cmcd` and sessionised per `sid` by
`ingest.cmcd_views`; both modes share a `sid`'s state (`SidState`), which `SessionStates` keeps.

Players' reports overtake each other in transit, so a session's state holds each record for the reorder window
(`window_ms`) before applying it (`cmcd_views.advance`): records are acknowledged once durable in the session
log (`acknowledged_when_logged`), and the collector's timer applies them as they come due. A report answers
415 for a content type other than `REPORT_MEDIA_TYPES` or any content encoding, 400 when it is not UTF-8 or
when no record of it can be used (`unsupported_version` when they all carry a `v` above 2), 413 past
`MAX_RECORDS` records. Request-mode data that is malformed or of a version above 2 is dropped (media requests
never fail because of their analytics).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from sightline.ingest.cmcd import CmcdError, CmcdRecord, parse_event_report, parse_request_data
from sightline.ingest.cmcd_views import REORDER_WINDOW_MS, SidState, advance
from sightline.ingest.format import CollectError, Decoded, IngestFormat, Message, Step, ViewBatch
from sightline.ingest.session_states import SessionStates, Snapshot
from sightline.ingest.snapshot_log import SnapshotLog

SOURCE = "cmcd"
REPORT_MEDIA_TYPES = frozenset({"application/cmcd", "text/cmcd", "text/plain"})


def _by_sid(records: Sequence[CmcdRecord]) -> dict[str, list[CmcdRecord]]:
    sessions: dict[str, list[CmcdRecord]] = {}
    for record in records:
        if record.sid is not None:
            sessions.setdefault(record.sid, []).append(record)
    return sessions


class CmcdReports(IngestFormat[CmcdRecord, SidState]):
    """CMCD v2 event reports: one data set a line."""

    name = SOURCE
    acknowledged_when_logged = True

    def __init__(self, window_ms: int = REORDER_WINDOW_MS) -> None:
        self.window_ms = window_ms

    def decode(self, message: Message) -> Decoded[CmcdRecord]:
        """Up to 1 MiB of pure-Python parsing: seconds of CPU, to run off the event loop."""
        media_type = message.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in REPORT_MEDIA_TYPES:
            allowed = ", ".join(sorted(REPORT_MEDIA_TYPES))
            raise CollectError(415, "unsupported_media_type", f"Content-Type must be one of {allowed}", "Content-Type")
        if message.headers.get("content-encoding", "identity").strip().lower() != "identity":
            raise CollectError(415, "unsupported_media_type", "CMCD reports are sent without a content encoding")
        try:
            text = message.body.decode("utf-8")
        except UnicodeDecodeError:
            raise CollectError(400, "bad_encoding", "the body is not UTF-8 text") from None
        try:
            report = parse_event_report(text)
        except CmcdError as error:
            raise CollectError(413, "too_many_records", error.reason) from None
        if not report.records:
            if report.unsupported and not report.refused:
                message_ = "no record is of a CMCD version this collector reads (1, 2)"
                raise CollectError(400, "unsupported_version", message_, "v")
            if not report.refused:
                raise CollectError(400, "empty_report", "the report holds no record")
            detail = "; ".join(f"record {refusal.index}: {refusal.reason}" for refusal in report.refused[:5])
            raise CollectError(400, "no_valid_record", f"no record of the report can be used: {detail}")
        return Decoded(_by_sid([record for _, record in report.records]), report.refused)

    def advance(
        self, state: SidState | None, customer_id: int, session: str, units: Sequence[CmcdRecord], now_ms: int
    ) -> Step[SidState]:
        after, views = advance(state, customer_id, session, list(units), now_ms, self.window_ms)
        if not units and not views and state is not None and after.held == state.held:
            return Step(state, [])  # nothing came due
        return Step(after, [ViewBatch(view.view_id, view.dimensions, list(enumerate(view.events))) for view in views])

    def held(self, state: SidState) -> int:
        return len(state.held)

    def due_ms(self, state: SidState) -> int | None:
        return min(arrived for arrived, _ in state.held) + self.window_ms if state.held else None


class CmcdRequests(CmcdReports):
    """The CMCD data set of a media request: its `CMCD` query parameter, or its `CMCD-*` headers."""

    def decode(self, message: Message) -> Decoded[CmcdRecord]:
        try:
            record = parse_request_data(message.query.get("CMCD"), message.headers)
        except CmcdError:
            return Decoded({})
        return Decoded(_by_sid([record] if record is not None else []))


def adopt_legacy_log(directory: Path, states: SessionStates, fmt: CmcdReports, now_ms: int) -> int:
    """Take the sessions of the CMCD log of earlier versions (`<data-dir>/cmcd/`: `(customer, sid)` →
    `(SidState, outbox, origin)`) into `states`, durably, then delete it; how many. At start, before the
    intake recovers."""
    if not directory.is_dir():
        return 0
    log = SnapshotLog(directory)
    log.close()
    for (customer_id, sid), (state, outbox, origin) in log.recovered.items():
        views = tuple(ViewBatch(view.view_id, view.dimensions, list(enumerate(view.events))) for view in outbox)
        states.adopt((SOURCE, customer_id, sid), Snapshot(state, views, origin, fmt.due_ms(state)), now_ms)
    shutil.rmtree(directory)
    return len(log.recovered)
