"""Beacon bodies recorded from mux-embed 5.19.0 in Debian's Chromium (tests/ingest/fixtures/mux/README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "mux"
RECORDED_ENV_KEY = "test-env-key"
MIN_RECORDED_MS, MAX_RECORDED_MS = 1_700_000_000_000, 1_900_000_000_000
"""Numbers in this range in the recordings are times in epoch milliseconds."""
NAMES = ("mp4_play_to_end", "hls_ads_pause_seek", "hls_stall_fatal_error", "hls_videochange")


@dataclass(frozen=True)
class Recorded:
    """One POST as mux-embed sent it: its Content-Type, the browser's User-Agent and the body text."""

    content_type: str
    user_agent: str
    body: str

    @property
    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = json.loads(self.body)["events"]
        return events

    def with_env_key(self, env_key: str) -> bytes:
        return self.body.replace(f'"ake":"{RECORDED_ENV_KEY}"', f'"ake":"{env_key}"').encode()

    def replayed(self, env_key: str, view: str, shift_ms: int) -> bytes:
        """The body as another player would send it: its env key, every event of view `view`, and every time
        (a number of epoch milliseconds) `shift_ms` later."""
        payload = json.loads(self.with_env_key(env_key))
        for event in payload["events"]:
            event["xid"] = view
            for key, value in event.items():
                if type(value) in (int, float) and MIN_RECORDED_MS <= value <= MAX_RECORDED_MS:
                    event[key] = value + shift_ms
        return json.dumps(payload).encode()


def load(name: str) -> list[Recorded]:
    lines = (FIXTURES / f"{name}.jsonl").read_text().splitlines()
    return [Recorded(**json.loads(line)) for line in lines]


def last(name: str, short_key: str, view: str | None = None) -> Any:
    """The last value mux-embed sent for `short_key` (of `view`, when given): an oracle read from the raw
    events, independent of the decoder."""
    found = None
    for posted in load(name):
        for event in posted.events:
            if short_key in event and view in (None, event["xid"]):
                found = event[short_key]
    return found
