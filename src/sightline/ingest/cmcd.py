"""Decoding CMCD (CTA-5004, v1, and CTA-5004-B, v2) data sets into typed records.

A data set is a structured field dictionary (`ingest.structured_fields`): one line of a v2 event
report (`POST /cmcd`), or the `?CMCD=` value or `CMCD-Object/-Request/-Session/-Status` headers of a
media request (request mode, v1 or v2). The rules, as the specification asks of a receiver:
- a key we do not know is ignored (custom keys, keys of later revisions, keys we have no use for);
- `v` absent means version 1; a data set whose `v` is above 2 is not ours to read and is dropped
  whole (`UnsupportedVersionError`); `v` below 1 or not an integer is malformed;
- the keys that place and order a record — `v`, `e`, `ts`, `sid`, `sn`, `sta`, `msd` — must have their
  specified type and range, or the record is refused (`CmcdError`, naming the key);
- descriptive keys (`cid`, `sf`, `st`, `cdn`, `h`, `br`, `pb`, `ltc`, `dfa`, `ec`, `su`, `bs`, and our
  custom `sl-<dimension>` keys) are read when well formed and ignored otherwise: a bad title never
  costs a view its play state.
The decoder is pure and total: any input gives a `CmcdRecord` or one of the two typed errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sightline.catalog import DIMENSIONS
from sightline.ingest.format import Refusal
from sightline.ingest.structured_fields import InnerList, Item, Member, StructuredFieldError, Token, parse_dictionary

SUPPORTED_VERSIONS = (1, 2)
PLAYER_STATES = frozenset("spkrawefqd")
"""`sta`: starting, playing, seeking, rebuffering, paused, waiting, ended, fatal error, quit, preloading."""
HEADER_SHARDS = ("cmcd-object", "cmcd-request", "cmcd-session", "cmcd-status")
MAX_SID = 128
MAX_RECORDS = 1000
MAX_TEXT = 512
MIN_TS_MS = 946_684_800_000  # 2000-01-01
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
_UINT32 = 2**32 - 1
_CUSTOM_PREFIX = "sl-"
_STREAM_FORMATS = {"d": "dash", "h": "hls", "s": "smooth"}
_STREAM_TYPES = {"v": "vod", "l": "live", "ll": "live"}
_VIDEO_TYPES = ("v", "av")
_DIMENSIONS = {spec.name: spec for spec in DIMENSIONS}
_PATTERNS = {spec.name: re.compile(spec.pattern) for spec in DIMENSIONS if spec.pattern}


class CmcdError(ValueError):
    """A data set we cannot use; `reason` says why, naming the key when one is at fault."""

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.key = reason, key


class UnsupportedVersionError(CmcdError):
    """A data set of a CMCD version above the ones we read (its `v`); the specification says drop it."""

    def __init__(self, version: int) -> None:
        super().__init__(f"v={version} is not understood; this collector reads CMCD v1 and v2", "v")
        self.version = version


@dataclass(frozen=True, slots=True)
class CmcdRecord:
    """What one data set tells us. `None` and empty values mean the key was absent (or ignored)."""

    version: int
    sid: str | None = None
    event: str | None = None
    ts: int | None = None
    sn: int | None = None
    state: str | None = None
    msd: int | None = None
    bitrate_kbps: int | None = None
    live_latency_ms: int | None = None
    dropped_frames_total: int | None = None
    error_codes: tuple[str, ...] = ()
    startup: bool = False
    starvation: bool = False
    dimensions: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventReport:
    """An event-mode body: its usable records, the lines refused, and how many lines
    were dropped for an unsupported version."""

    records: list[tuple[int, CmcdRecord]]
    refused: list[Refusal]
    unsupported: int


def _scalar(member: Member) -> Any:
    return member.value if isinstance(member, Item) else None


def _integer(members: Mapping[str, Member], key: str, low: int, high: int) -> int | None:
    if key not in members:
        return None
    value = _scalar(members[key])
    if type(value) is not int or not low <= value <= high:
        raise CmcdError(f"{key} must be an integer from {low} to {high}", key)
    return value


def _token(members: Mapping[str, Member], key: str) -> str | None:
    if key not in members:
        return None
    value = _scalar(members[key])
    if not isinstance(value, Token):
        raise CmcdError(f"{key} must be a token", key)
    return str(value)


def _string(members: Mapping[str, Member], key: str, limit: int) -> str | None:
    value = _scalar(members[key]) if key in members else None
    if isinstance(value, str) and not isinstance(value, Token) and len(value) <= limit:
        return value
    return None


def _number_list(member: Member | None) -> list[tuple[float, set[str]]]:
    """The numbers of a v2 inner list (each with its object-type parameters) or of a v1 scalar."""
    items = member.items if isinstance(member, InnerList) else (member,) if isinstance(member, Item) else ()
    numbers = [(i.value, i.params) for i in items if isinstance(i.value, int | float) and not isinstance(i.value, bool)]
    return [(float(value), set(params)) for value, params in numbers if 0 <= value <= _UINT32]


def _bitrate(members: Mapping[str, Member]) -> int | None:
    """The bitrate shown to the viewer: `pb` (playhead bitrate) when sent, else `br`; of a list, the video
    item when one is marked `v` or `av`, else the first."""
    for key in ("pb", "br"):
        values = _number_list(members.get(key))
        if values:
            video = [value for value, types in values if types & set(_VIDEO_TYPES)]
            return round(video[0] if video else values[0][0])
    return None


def _nonnegative(members: Mapping[str, Member], key: str) -> int | None:
    value = _scalar(members[key]) if key in members else None
    return value if type(value) is int and 0 <= value <= _UINT32 else None


def _flag(members: Mapping[str, Member], key: str) -> bool:
    return key in members and _scalar(members[key]) is True


def _error_codes(member: Member | None) -> tuple[str, ...]:
    items = member.items if isinstance(member, InnerList) else (member,) if isinstance(member, Item) else ()
    return tuple(item.value[:MAX_TEXT] for item in items if isinstance(item.value, str))


def _dimension_value(name: str, value: Any) -> str | int | None:
    spec = _DIMENSIONS[name]
    if spec.kind == "number":
        return value if type(value) is int and 0 <= value <= _UINT32 else None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        return None
    pattern = _PATTERNS.get(name)
    return value if pattern is None or pattern.fullmatch(value) else None


def _dimensions(members: Mapping[str, Member], version: int) -> dict[str, str | int]:
    found: dict[str, Any] = {"sdkversion": f"CMCD v{version}"}
    found["assetid"] = _string(members, "cid", MAX_TEXT)
    found["cdn"] = _string(members, "cdn", MAX_TEXT)
    found["host"] = _string(members, "h", MAX_TEXT)
    found["streamformat"] = _STREAM_FORMATS.get(str(_scalar(members["sf"]))) if "sf" in members else None
    found["streamtype"] = _STREAM_TYPES.get(str(_scalar(members["st"]))) if "st" in members else None
    for key, member in members.items():
        name = key.removeprefix(_CUSTOM_PREFIX)
        if key.startswith(_CUSTOM_PREFIX) and name in _DIMENSIONS:
            found[name] = _dimension_value(name, _scalar(member))
    return {name: value for name, value in found.items() if value is not None and value != ""}


def decode_record(members: Mapping[str, Member]) -> CmcdRecord:
    """The record of one parsed data set (see the module's rules)."""
    version = _integer(members, "v", 1, 2**31) or 1
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersionError(version)
    sid = None
    if "sid" in members:
        sid = _scalar(members["sid"])
        if not isinstance(sid, str) or isinstance(sid, Token) or not 0 < len(sid) <= MAX_SID:
            raise CmcdError(f"sid must be a string of 1 to {MAX_SID} characters", "sid")
    state = _token(members, "sta")
    if state is not None and state not in PLAYER_STATES:
        raise CmcdError(f"sta must be one of {', '.join(sorted(PLAYER_STATES))}", "sta")
    return CmcdRecord(
        version=version,
        sid=sid,
        event=_token(members, "e"),
        ts=_integer(members, "ts", MIN_TS_MS, MAX_TS_MS),
        sn=_integer(members, "sn", 0, 2**53),
        state=state,
        msd=_integer(members, "msd", 0, _UINT32),
        bitrate_kbps=_bitrate(members),
        live_latency_ms=_nonnegative(members, "ltc"),
        dropped_frames_total=_nonnegative(members, "dfa"),
        error_codes=_error_codes(members.get("ec")),
        startup=_flag(members, "su"),
        starvation=_flag(members, "bs"),
        dimensions=_dimensions(members, version),
    )


def parse_record(text: str) -> CmcdRecord:
    """Parse and decode one data set."""
    try:
        members = parse_dictionary(text)
    except StructuredFieldError as error:
        raise CmcdError(f"not a CMCD data set: {error}") from None
    return decode_record(members)


def parse_event_report(body: str) -> EventReport:
    """The records of an event-mode body: one data set per line (LF or CRLF; blank lines skipped).
    Each record must name its event (`e`), time (`ts`) and session (`sid`); a `ps` event its `sta`."""
    lines = [line.strip() for line in body.split("\n")]
    numbered = [(index, line) for index, line in enumerate(line for line in lines if line)]
    if len(numbered) > MAX_RECORDS:
        raise CmcdError(f"a report holds at most {MAX_RECORDS} records")
    records: list[tuple[int, CmcdRecord]] = []
    refused: list[Refusal] = []
    unsupported = 0
    for index, line in numbered:
        try:
            record = parse_record(line)
        except UnsupportedVersionError:
            unsupported += 1
            continue
        except CmcdError as error:
            refused.append(Refusal(index, "invalid", error.reason))
            continue
        missing = [key for key, value in (("e", record.event), ("ts", record.ts), ("sid", record.sid)) if not value]
        if record.event == "ps" and record.state is None:
            missing.append("sta")
        if missing:
            refused.append(Refusal(index, "invalid", f"an event record needs {', '.join(missing)}"))
        else:
            records.append((index, record))
    return EventReport(records, refused, unsupported)


def parse_request_data(query_value: str | None, headers: Mapping[str, str]) -> CmcdRecord | None:
    """The data set a media request carries in `?CMCD=` or, failing that, in its `CMCD-*` header shards
    (merged into one dictionary); `None` when it carries none."""
    if query_value is not None:
        return parse_record(query_value)
    shards = [headers[name] for name in HEADER_SHARDS if name in headers]
    if not shards:
        return None
    members: dict[str, Member] = {}
    for shard in shards:
        try:
            members |= parse_dictionary(shard)
        except StructuredFieldError as error:
            raise CmcdError(f"a CMCD header is not a CMCD data set: {error}") from None
    return decode_record(members)
