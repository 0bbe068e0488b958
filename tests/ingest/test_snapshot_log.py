"""The snapshot log: the latest durable value of each key is read back at the next start, whatever the
crash left (a torn tail, segments not compacted yet), and the log stays about the size of its live values."""

from __future__ import annotations

import zlib
from pathlib import Path

from sightline.ingest.snapshot_log import QUARANTINE, SUFFIX, SnapshotLog


def reopened(directory: Path) -> dict[object, object]:
    log = SnapshotLog(directory)
    log.close()
    return log.recovered


def test_the_latest_value_of_each_key_survives_and_none_forgets(tmp_path: Path) -> None:
    log = SnapshotLog(tmp_path)
    for future in [log.put(("a", 1), {"n": 1}), log.put(("a", 1), {"n": 2}), log.put("b", [3]), log.put("c", 4)]:
        future.result(timeout=10)
    log.put("c", None).result(timeout=10)
    log.close()
    assert reopened(tmp_path) == {("a", 1): {"n": 2}, "b": [3]}
    assert reopened(tmp_path) == {("a", 1): {"n": 2}, "b": [3]}  # a start writes them again, once
    assert len(list(tmp_path.glob(f"*{SUFFIX}"))) == 1


def test_a_torn_tail_is_ignored(tmp_path: Path) -> None:
    log = SnapshotLog(tmp_path)
    log.put("kept", 1).result(timeout=10)
    log.close()
    (segment,) = tmp_path.glob(f"*{SUFFIX}")
    with segment.open("ab") as file:
        file.write(b"\x40\x00\x00\x00\x00\x00\x00\x00partial")  # a record cut short by a crash
    assert reopened(tmp_path) == {"kept": 1}


def test_segments_left_by_a_crash_are_read_in_order(tmp_path: Path) -> None:
    first = SnapshotLog(tmp_path)
    first.put("k", "old").result(timeout=10)
    first.put("gone", 1).result(timeout=10)
    first.close()
    (older,) = tmp_path.glob(f"*{SUFFIX}")
    kept = older.read_bytes()
    second = SnapshotLog(tmp_path)  # compacts `older` into a new segment and deletes it
    second.put("k", "new").result(timeout=10)
    second.put("gone", None).result(timeout=10)
    second.close()
    older.write_bytes(kept)  # as if the crash came before the deletion: the older segment sorts first
    assert reopened(tmp_path) == {"k": "new"}


def test_the_log_is_compacted_as_it_grows(tmp_path: Path) -> None:
    log = SnapshotLog(tmp_path, compact_bytes=4096)
    for n in range(2000):
        log.put(n % 10, "x" * 100 + str(n))
    log.put("last", 0).result(timeout=10)
    log.close()
    assert sum(path.stat().st_size for path in tmp_path.glob(f"*{SUFFIX}")) < 3 * 4096
    expected: dict[object, object] = {n: "x" * 100 + str(1990 + n) for n in range(10)}
    assert reopened(tmp_path) == {**expected, "last": 0}


def test_a_segment_that_cannot_be_read_back_is_quarantined_not_deleted(tmp_path: Path) -> None:
    log = SnapshotLog(tmp_path)
    log.put("k", 1).result(timeout=10)
    log.close()
    (segment,) = tmp_path.glob(f"*{SUFFIX}")
    data = bytearray(segment.read_bytes())
    data[8:] = b"\x00" * (len(data) - 8)  # a valid frame whose payload is no pickle
    data[4:8] = zlib.crc32(bytes(data[8:])).to_bytes(4, "little")
    segment.write_bytes(bytes(data))
    assert reopened(tmp_path) == {}
    assert [path.name for path in (tmp_path / QUARANTINE).iterdir()] == [segment.name]
