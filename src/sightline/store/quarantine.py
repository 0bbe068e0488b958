"""Units of spool segments that the store refuses on their own (`store.writer`), kept for an operator.

`<spool>/quarantine/<token>.spool` holds a unit's batches as spool records, and `<token>.json` what it is: its
deduplication token (`store.units`), customers, rows, why it was quarantined (the engine's error, or why it
does not convert to the layout) and when. Both are written and fsync'd before the writer counts the unit as
dealt with. `replay` inserts a unit under its own token, so a unit whose refused insert had partly landed is
completed and never stored twice, and a unit replayed twice is stored once (within the tables'
deduplication window). Files of earlier versions (a whole segment `<segment>.spool`, or `<segment>.bad.spool`:
batches that did not convert) have no `.json`: they are listed and replayed under their name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sightline.store import spool
from sightline.store.base import Store
from sightline.store.spool import Batch
from sightline.store.units import batch_rows, customers_of, segment_table

DIRECTORY = "quarantine"
_NO_REASON = "quarantined by an earlier version, which kept no reason"


@dataclass(frozen=True, slots=True)
class QuarantinedUnit:
    """A unit in quarantine: `name` is its file's stem (its token, or an earlier version's file name)."""

    name: str
    token: str
    customers: tuple[int, ...]
    rows: int
    reason: str
    quarantined_at: str
    """ISO 8601, UTC; empty when an earlier version quarantined it."""


def put(spool_dir: Path, token: str, batches: list[Batch], reason: str) -> None:
    """Keep a unit's `batches` under its `token` with the `reason`; durable on return (OSError if not)."""
    directory = spool_dir / DIRECTORY
    directory.mkdir(exist_ok=True)
    about = {
        "token": token,
        "customers": sorted(set().union(*(customers_of(b) for b in batches))),
        "rows": sum(batch_rows(b) for b in batches),
        "reason": reason,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write(directory / f"{token}.json", json.dumps(about).encode())
    _write(directory / f"{token}{spool.SUFFIX}", b"".join(spool.encode(b) for b in batches))


def _write(path: Path, data: bytes) -> None:
    """`data` as the whole of `path`, atomically: whole or absent after a crash."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def entries(spool_dir: Path) -> list[QuarantinedUnit]:
    """The units in quarantine, oldest segment first."""
    found = []
    for path in spool.segments(spool_dir / DIRECTORY):
        about_path = path.with_suffix(".json")
        if about_path.exists():
            about = json.loads(about_path.read_text())
            token, reason, at = about["token"], about["reason"], about["quarantined_at"]
            customers, rows = tuple(about["customers"]), int(about["rows"])
        else:
            batches = spool.read_segment(path)
            token, reason, at = path.stem, _NO_REASON, ""
            customers = tuple(sorted(set().union(*(customers_of(b) for b in batches))))
            rows = sum(batch_rows(b) for b in batches)
        found.append(QuarantinedUnit(path.stem, token, customers, rows, reason, at))
    return found


def replay(store: Store, spool_dir: Path, names: Sequence[str] = ()) -> list[tuple[QuarantinedUnit, str | None]]:
    """Insert the units named (all when none is), each under its token; a unit stored leaves quarantine. Each
    with None when stored, else why not (the engine's error): it stays. ValueError for an unknown name."""
    units = entries(spool_dir)
    unknown = sorted(set(names) - {unit.name for unit in units})
    if unknown:
        raise ValueError(f"no quarantined unit named {', '.join(unknown)}; see `sightline quarantine list`")
    results: list[tuple[QuarantinedUnit, str | None]] = []
    for unit in units:
        if names and unit.name not in names:
            continue
        path = spool_dir / DIRECTORY / f"{unit.name}{spool.SUFFIX}"
        try:
            store.insert_events(segment_table(spool.read_segment(path)), dedup_token=unit.token)
        except Exception as error:
            results.append((unit, str(error) or type(error).__name__))
            continue
        path.with_suffix(".json").unlink(missing_ok=True)
        path.unlink()
        results.append((unit, None))
    return results
