"""Times for tests that post events through the collector, which stores an event only within days of when
it receives it (`SIGHTLINE_EVENT_MAX_LATE_S`, docs/beacon-format.md)."""

from __future__ import annotations

import time

RECENT_HOUR_MS = (int(time.time()) // 3600 - 24) * 3_600_000
"""A whole hour, a day before the tests started: the start of scripted views."""
ANY_PAST_S = 30 * 365 * 86_400
"""An `event_max_late_s` that stores events of any time since 2000: for tests that post recorded beacons, or
views of a simulated past, as the collector received them then."""
