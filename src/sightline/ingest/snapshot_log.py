"""A durable map of small values by key: the latest value of each key survives a crash.

The collector keeps its formats' session states here (`ingest.session_states`: what decoding a view needs
to remember, and the CMCD records held for their reorder window, acknowledged but not yet stored).
`put(key, value)` appends the pair to the current segment of `<directory>/` and its future completes once
the pair is written and fsync'd (one fsync serves every pair waiting for it); `put(key, None)` forgets the
key. At start the segments are read back, oldest first, the latest value of each key wins, and the values
(`recovered`) are written to a new segment before the old ones are deleted; the same compaction runs while
the log grows, so the log holds little more than the live values. Segment format: records `[payload length:
u32][crc32 of payload: u32][payload]`, the payload a pickle of `(key, value)` (the log reads only its own
files). Invariants:
- a value whose `put` completed is `recovered` by the next start until a later `put` of its key completed;
- a record whose header or checksum does not hold ends what is read of its segment: it is a torn write
  of a crash, whose `put` never completed;
- a segment none of whose records can be read back whole (another version's pickles) is moved to
  `<directory>/quarantine/` with an error in the log, never deleted.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
import uuid
from collections.abc import Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sightline.store.spool import frame, fsync_directory, read_frames

logger = logging.getLogger(__name__)
SUFFIX = ".log"
QUARANTINE = "quarantine"
COMPACT_BYTES = 64 * 1024 * 1024
"""A segment past this size (and past twice the live values) is compacted into a new one."""


def _frame(key: Hashable, value: Any) -> bytes:
    return frame(pickle.dumps((key, value), protocol=5))


def _read(path: Path) -> list[tuple[Hashable, Any]]:
    """The intact pairs of a segment, in order; a torn tail is ignored. Raises when a pair does not unpickle."""
    return [pickle.loads(payload) for payload in read_frames(path)]


@dataclass
class _Put:
    key: Hashable
    record: bytes
    live: bool
    future: Future[None]


class _Segment:
    """A segment open for appending, owned by the log's thread."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}{SUFFIX}"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fsync_directory(directory)
        self.size = 0

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)
        self.size += len(data)

    def close(self) -> None:
        os.close(self._fd)


class SnapshotLog:
    """One per directory; `put` is thread-safe."""

    def __init__(self, directory: Path, compact_bytes: int = COMPACT_BYTES) -> None:
        self._dir = directory
        self._compact_bytes = compact_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self.recovered: dict[Any, Any] = self._recover(sorted(directory.glob(f"*{SUFFIX}")))
        self._live = {key: _frame(key, value) for key, value in self.recovered.items()}
        """The record of each key's latest value: what a compaction writes."""
        self._live_bytes = sum(len(record) for record in self._live.values())
        self._written: list[Path] = sorted(directory.glob(f"*{SUFFIX}"))
        """Segments holding records, oldest first; the current one, if any, last."""
        self._current: _Segment | None = None
        self._compact()
        self._condition = threading.Condition()
        self._queue: list[_Put] = []
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="sightline-snapshot-log", daemon=True)
        self._thread.start()

    def put(self, key: Hashable, value: Any) -> Future[None]:
        """Make `value` the latest of `key` (None: forget the key); the future completes once it is durable,
        or fails with the disk's error."""
        future: Future[None] = Future()
        record = _frame(key, value)
        with self._condition:
            if self._closed:
                future.set_exception(OSError("the snapshot log is closed"))
                return future
            self._queue.append(_Put(key, record, value is not None, future))
            self._condition.notify_all()
        return future

    def close(self) -> None:
        """Write what was put, then stop. Idempotent."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join()

    def _recover(self, segments: list[Path]) -> dict[Any, Any]:
        values: dict[Any, Any] = {}
        for path in segments:
            try:
                pairs = _read(path)
            except Exception:
                logger.exception("snapshot log segment %s cannot be read back: moved to %s/", path.name, QUARANTINE)
                (self._dir / QUARANTINE).mkdir(exist_ok=True)
                path.rename(self._dir / QUARANTINE / path.name)
                continue
            for key, value in pairs:
                if value is None:
                    values.pop(key, None)
                else:
                    values[key] = value
        return values

    def _compact(self) -> None:
        """Write the live values to a new segment, then delete every older one (raises OSError: then nothing
        is deleted)."""
        segment = _Segment(self._dir)
        try:
            segment.append(b"".join(self._live.values()))
        except OSError:
            segment.close()
            raise
        if self._current is not None:
            self._current.close()
        for path in self._written:
            path.unlink(missing_ok=True)
        fsync_directory(self._dir)
        self._current, self._written = segment, [segment.path]

    def _loop(self) -> None:
        while True:
            with self._condition:
                while not (self._queue or self._closed):
                    self._condition.wait()
                taken, self._queue = self._queue, []
                closing = self._closed
            if taken:
                self._write(taken)
            elif closing:
                if self._current is not None:
                    self._current.close()
                return

    def _write(self, taken: list[_Put]) -> None:
        try:
            if self._current is None:
                self._current = _Segment(self._dir)
                self._written.append(self._current.path)
            self._current.append(b"".join(put.record for put in taken))
        except OSError as error:
            if self._current is not None:  # what follows a failed write would not be read back: a new segment
                self._current.close()
                self._current = None
            for put in taken:
                put.future.set_exception(error)
            return
        for put in taken:
            self._live_bytes -= len(self._live.pop(put.key, b""))
            if put.live:
                self._live[put.key] = put.record
                self._live_bytes += len(put.record)
            put.future.set_result(None)
        if self._current.size > max(self._compact_bytes, 2 * self._live_bytes):
            try:
                self._compact()
            except OSError:
                logger.exception("compacting the snapshot log failed; it is tried again as the log grows")
