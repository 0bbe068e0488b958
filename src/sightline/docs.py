"""Documents generated from the catalog. `sightline docs` writes them; a test fails when they are stale."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from sightline.api.access import route_access
from sightline.app import create_app
from sightline.auth.plans import plans_md
from sightline.catalog import DIMENSIONS, EVENT_FIELDS, EVENT_TYPES
from sightline.catalog.describe import dimensions_md, metrics_md
from sightline.ingest.native import MAX_EVENTS, MAX_TEXT
from sightline.settings import Settings
from sightline.smartquery.describe import smartquery_md

_EXAMPLE = {
    "view_id": "0192f0c4-5e1a-7b3c-9d2e-4f5a6b7c8d9e",
    "dimensions": {
        "assetid": "got-s01e01",
        "assetname": "Winter Is Coming",
        "series": "Game of Thrones",
        "season": 1,
        "episode": 1,
        "genre": "drama",
        "streamtype": "vod",
        "contentduration": 3720,
        "viewerid": "d3b07384-d9a0",
        "subscriberid": "sub-48151623",
        "subscribertype": "premium",
        "device": "desktop",
        "platform": "Windows",
        "osversion": "11",
        "browser": "Chrome",
        "browserversion": "131",
        "player": "hls.js",
        "playerversion": "1.6.2",
        "sdkversion": "sightline.js 0.1.0",
        "streamformat": "hls",
        "drm": "widevine",
        "cdn": "akamai",
        "country": "US",
        "region": "CA",
        "city": "San Diego",
    },
    "events": [
        {"event": "play_request", "ts": 1730271600000, "seq": 0},
        {"event": "first_frame", "ts": 1730271601250, "seq": 1, "started": 1, "startup_ms": 1250},
        {
            "event": "heartbeat",
            "ts": 1730271611250,
            "seq": 2,
            "started": 1,
            "play_ms": 10000,
            "interval_bitrate_kbps": 4500,
            "bytes": 5625000,
        },
    ],
}


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _days(seconds: int) -> str:
    days, hours = seconds / 86_400, seconds / 3600
    if days.is_integer():
        return f"{int(days)} day{'s' if days != 1 else ''}"
    return f"{hours:g} hours" if hours.is_integer() else f"{seconds} seconds"


def beacon_format_md() -> str:
    late = _days(Settings.model_fields["event_max_late_s"].default)
    ahead = _days(Settings.model_fields["event_max_ahead_s"].default)
    dimensions = _table(
        ("key", "group", "type", "meaning"),
        [(f"`{d.name}`", d.group, "integer" if d.kind == "number" else "string", d.description) for d in DIMENSIONS],
    )
    fields = _table(
        ("key", "type", "meaning"),
        [(f"`{f.name}`", f.clickhouse_type, f.description) for f in EVENT_FIELDS],
    )
    return f"""# The native beacon format

<!-- generated from the catalog by `sightline docs`; edit src/sightline/catalog/ instead -->

A player sends the events of one playback **view** as a JSON batch. A view starts at the play request
and ends at `end`, `exit`, a fatal `error`, or after 30 minutes without a beacon. The player mints the
view's id, a **UUIDv7**, when the view starts: its time is the view's start, to which outcome metrics
(attempts, startup time, VSF, EBVS) are attributed.

```json
{json.dumps(_EXAMPLE, indent=2)}
```

## Sending it
`POST /collect` with the batch as JSON (`Content-Encoding: gzip` or `deflate` accepted, deflate
zlib-wrapped as RFC 9110 has it or raw; at most 1 MiB on the wire and 8 MiB inflated) and the customer's
ingest key as `X-Ingest-Key`, or as `?key=` for players that cannot set headers. The answer comes once
the accepted events are durable (fsync'd to the collector's spool, from which they reach the store within
about a second, or after a crash at the next start):

- 200 `{{"accepted": n, "duplicates": d, "refused": [{{"index": i, "reason": "..."}}]}}`: a bad event is
  refused alone, by its index in `events`; an event whose `seq` the view already sent is a duplicate
  (a retry) and is stored once, whenever the retry comes; events numbered after the view's terminal event
  are refused, and so are those numbered before it that arrive after it and would change its outcome (a
  second terminal event, or a first frame of a view that ended before its start);
- 400 when the body (`bad_gzip`, `bad_deflate`: truncated, corrupt or followed by other bytes;
  `bad_json`), `view_id`, `dimensions` or every event is bad, naming what; 401 without a valid
  ingest key; 413 for a body too large; 415 `unsupported_encoding` for another `Content-Encoding` (br,
  zstd, several); 503 with `Retry-After` when the collector is busy or the store
  fails — nothing of that batch was kept, so send it again.

A view that sends nothing for 30 minutes is closed with an `exit` event at its last event's time.

## Batch
- `view_id` (string, required): UUIDv7 of the view.
- `dimensions` (object, or absent or `null` for none): the view's dimensions below, shared by every event
  of the batch; every key is optional (empty or 0 when unknown); unknown keys, or a value that is not an
  object (an array, a string, a number), refuse the batch (400 `bad_dimensions`).
- `events` (array, 1 to {MAX_EVENTS}): the events, in any order; a view may be sent in many batches.

## Event
- `event` (string, required): one of {", ".join(f"`{t}`" for t in EVENT_TYPES)}.
- `ts` (integer, required): milliseconds since the epoch, UTC, as a JSON integer (a string or a fraction
  refuses the event), within the window below.
- `seq` (integer, required): the event's number within its view, from 0 (an event without one is refused:
  taken as 0, it would make the events after it its duplicates).
- the fields below; those that do not apply to the event are left out.

Counters (`play_ms`, `rebuffer_ms`, `ad_ms`, `dropped_frames`, `bytes`) are deltas since the view's
previous event, so that a view's totals are their sums whatever the batching. `interval_bitrate_kbps`
is the bitrate in effect while that `play_ms` was played. `started` is the view's state at the event:
1 once the first frame has rendered. A view has one `play_request`, at most one `first_frame` (with
`startup_ms`) and, once closed, exactly one terminal event: `end` (played to the end), `exit`, or an
`error` with `fatal` = 1.

{fields}

## When events may have happened
Players that were offline send late, and a player's clock may be set wrong, so the window is days wide: an
event is stored when its `ts` is at most {late} before and {ahead} after the time the collector receives it,
and at most {ahead} before and {late} after its view's start (the time in its `view_id`). An event outside
is refused by its index, the reason naming the window; a `view_id` whose time is more than {late} before or
{ahead} after the collector's clock refuses every event of the batch. `SIGHTLINE_EVENT_MAX_LATE_S` and
`SIGHTLINE_EVENT_MAX_AHEAD_S` (at most a day) set the window (in seconds).

## Text
Dimension values and text fields are stored as sent, except control characters other than tab, line feed
and carriage return (NUL, ESC, DEL, and the C1 controls U+0080 to U+009F), each stored as U+FFFD (�). A
lone UTF-16 surrogate (`"\\ud800"`), which no UTF-8 text can hold, refuses the batch in a dimension
(`bad_dimensions`) and the event in an event's field.

## View dimensions
Strings are at most {MAX_TEXT} characters; `country` is an ISO 3166-1 alpha-2 code; `streamtype` is
`live` or `vod`. The collector fills the device, OS, browser, geo and network dimensions a batch leaves
empty from the request's User-Agent and client address, and sets `ipaddress` itself whatever the batch
says (docs/enrichment.md).

{dimensions}
"""


def plans_document() -> str:
    """docs/plans.md, with every route of the app as its route table has them (an app built only to be read:
    its accounts database in memory, its store never opened)."""
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(Settings(data_dir=Path(directory), metadata_url="sqlite://"))
        try:
            return plans_md(route_access(app))
        finally:
            app.state.auth.close()


DOCUMENTS: dict[str, Callable[[], str]] = {
    "beacon-format.md": beacon_format_md,
    "dimensions.md": dimensions_md,
    "metrics.md": metrics_md,
    "plans.md": plans_document,
    "smartquery.md": smartquery_md,
}


def write_documents(directory: Path) -> list[Path]:
    """Write every generated document into `directory`; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, render in DOCUMENTS.items():
        path = directory / name
        path.write_text(render())
        paths.append(path)
    return paths
