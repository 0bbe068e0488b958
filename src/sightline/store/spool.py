"""An append-only, crash-safe log of event batches: what is acknowledged before the store has it.

A spool is a directory of segment files `<name>.spool`; names sort in creation order and are never
reused, so a segment's name is also the deduplication token of its insert into the store. A segment
is a sequence of records `[payload length: u32][crc32 of payload: u32][payload]`, the payload a kind byte
then either an Arrow IPC stream (`A`: a batch in the layout) or a pickle of view runs (`P`: what the
collector admitted, as (customer, view id, dimensions, events) tuples; the spool only reads its own files).
Invariants:
- `SegmentFile.append` returns once its records are written and fsync'd: they survive a crash;
- a record whose header or checksum does not hold ends what is read of its segment: it is a torn
  write of a crash, whose append never returned (never acknowledged);
- a segment is deleted only after the store confirmed its insert (`delete`), so a crash at any moment
  leaves every acknowledged batch in a segment that `read_segment` returns at the next start;
- a segment's `Journal` (`<name>.journal`) records, before they take effect, the writer's decisions about
  its units (`store.units`): split, quarantined. It is deleted with the segment.
"""

from __future__ import annotations

import os
import pickle
import struct
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

import pyarrow as pa

from sightline.store.layout import ViewEvents

SUFFIX = ".spool"
JOURNAL_SUFFIX = ".journal"
_HEADER = struct.Struct("<II")
Batch: TypeAlias = pa.Table | list[ViewEvents]
"""What a record holds: an Arrow batch in the layout, or view runs (converted to one when inserted)."""


def frame(payload: bytes) -> bytes:
    """`payload` as a record of a segment: its length and CRC-32, then itself."""
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_frames(path: Path) -> list[bytes]:
    """The payloads of the intact records of a segment (`frame`), in order; a torn tail is ignored."""
    data = path.read_bytes()
    payloads: list[bytes] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, checksum = _HEADER.unpack_from(data, offset)
        payload = data[offset + _HEADER.size : offset + _HEADER.size + length]
        if len(payload) != length or zlib.crc32(payload) != checksum:
            break
        payloads.append(payload)
        offset += _HEADER.size + length
    return payloads


def encode(batch: Batch) -> bytes:
    """`batch` as one record: header and payload."""
    if isinstance(batch, pa.Table):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as stream:
            stream.write_table(batch)
        payload: bytes = b"A" + sink.getvalue().to_pybytes()
    else:
        runs = [(r.customer_id, r.view_id, r.dimensions, r.events) for r in batch]
        payload = b"P" + pickle.dumps(runs, protocol=5)
    return frame(payload)


def _decode(payload: bytes) -> Batch:
    if payload[:1] == b"A":
        table: pa.Table = pa.ipc.open_stream(payload[1:]).read_all()
        return table
    return [ViewEvents(*run) for run in pickle.loads(payload[1:])]


def read_segment(path: Path) -> list[Batch]:
    """The intact records of a segment, in order; a torn tail is ignored."""
    return [_decode(payload) for payload in read_frames(path)]


def segments(directory: Path) -> list[Path]:
    """The segments present in `directory`, oldest first."""
    return sorted(directory.glob(f"*{SUFFIX}"))


@dataclass(frozen=True, slots=True)
class Depth:
    """The segments of a spool directory not yet stored: how many, their bytes, and when the oldest was opened
    (epoch seconds, from its name; None when there is none)."""

    segments: int
    bytes: int
    oldest_opened_s: float | None


def depth(directory: Path) -> Depth:
    """The `Depth` of the spool in `directory` now (segments deleted meanwhile are left out)."""
    count, size, oldest = 0, 0, None
    for path in segments(directory):
        try:
            size += path.stat().st_size
        except FileNotFoundError:
            continue
        count += 1
        if oldest is None:
            oldest = int(path.name[:20]) / 1e9
    return Depth(count, size, oldest)


def new_segment_name() -> str:
    """A name that sorts after every earlier one of this clock and is unique across restarts."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"


class SegmentFile:
    """A segment open for appending. Not thread-safe: one appender owns it."""

    def __init__(self, directory: Path) -> None:
        self.name = new_segment_name()
        self.path = directory / f"{self.name}{SUFFIX}"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fsync_directory(directory)
        self.rows = 0
        self.opened_at = time.monotonic()

    def append(self, records: list[bytes], rows: int) -> None:
        """Write encoded records and fsync them: durable on return."""
        data = b"".join(records)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)
        self.rows += rows

    def close(self) -> None:
        os.close(self._fd)


Decision = Literal["split", "quarantined"]


@dataclass
class Journal:
    """The writer's decisions about the units of segment `segment`, one line each (`<decision> <token>`),
    fsync'd before they take effect, so that a replay after a crash takes the same ones: a unit split is
    never inserted whole again (only its parts), a unit quarantined is not inserted again. A torn last
    line (a crash mid-write) was never acted on and is ignored."""

    segment: Path
    split: set[str] = field(default_factory=set)
    quarantined: set[str] = field(default_factory=set)

    @property
    def path(self) -> Path:
        return self.segment.with_suffix(JOURNAL_SUFFIX)

    @classmethod
    def of(cls, segment: Path) -> Journal:
        journal = cls(segment)
        try:
            text = journal.path.read_text()
        except FileNotFoundError:
            return journal
        for line in text.split("\n")[:-1]:  # the last piece is empty, or a torn line
            decision, _, token = line.partition(" ")
            if decision == "split":
                journal.split.add(token)
            elif decision == "quarantined":
                journal.quarantined.add(token)
        return journal

    def record(self, decision: Decision, token: str) -> None:
        """Append `decision` about unit `token`; durable on return (OSError when it cannot be written)."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, f"{decision} {token}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_directory(self.path.parent)  # the journal's own entry, when this line created it
        (self.split if decision == "split" else self.quarantined).add(token)


def delete(path: Path) -> None:
    """Remove an inserted segment and its journal (idempotent)."""
    path.unlink(missing_ok=True)
    path.with_suffix(JOURNAL_SUFFIX).unlink(missing_ok=True)
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make the entries of `directory` (files created, renamed or deleted) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
