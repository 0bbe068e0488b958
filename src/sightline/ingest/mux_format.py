"""The mux-embed format (`POST /mux`, `POST /`): a body's beacons by mux view, each view decoded against
its state (`ingest.mux`), which `SessionStates` keeps across requests and restarts.

mux-embed posts one player's events, each carrying the env key (`ake`): the body's key is the one most of
its events carry (the customer's ingest key), and events with another are refused. A view is named by a
UUIDv7 derived from mux's view id and the view's start (`pipeline.derived_view_id`). mux-embed has one body
in flight per player (except at page unload), and the intake steps a view's bodies one at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sightline.ingest.collect import decode_json
from sightline.ingest.format import CollectError, Decoded, IngestFormat, Message, Refusal, Step, ViewBatch
from sightline.ingest.mux import MuxBeacon, MuxViewState, decode_view, parse_body
from sightline.ingest.pipeline import derived_view_id

SOURCE = "mux"


class MuxFormat(IngestFormat[MuxBeacon, MuxViewState]):
    name = SOURCE

    def decode(self, message: Message) -> Decoded[MuxBeacon]:
        beacons, refused = parse_body(decode_json(message.body))
        env_keys = Counter(beacon.env_key for beacon in beacons if beacon.env_key)
        if not env_keys and refused:
            detail = "; ".join(f"event {refusal.index}: {refusal.reason}" for refusal in refused[:5])
            raise CollectError(400, "no_valid_event", f"no event of the body is a mux-embed event: {detail}", "events")
        env_key = env_keys.most_common(1)[0][0] if env_keys else ""
        views: dict[str, list[MuxBeacon]] = {}
        for beacon in beacons:
            if beacon.env_key == env_key:
                views.setdefault(beacon.view, []).append(beacon)
            else:
                refused.append(
                    Refusal(beacon.index, "env_key_mismatch", "env_key differs from the body's other events")
                )
        return Decoded(views, refused, env_key)

    def advance(
        self, state: MuxViewState | None, customer_id: int, session: str, units: Sequence[MuxBeacon], now_ms: int
    ) -> Step[MuxViewState]:
        decoding = decode_view(state, list(units))
        views = []
        if decoding.state is not None and decoding.events:
            view_id = derived_view_id(customer_id, SOURCE, session, decoding.state.view_start_ms)
            views.append(ViewBatch(view_id, decoding.dimensions, decoding.events))
        return Step(decoding.state, views, decoding.refused, decoding.ignored, decoding.duplicates)
