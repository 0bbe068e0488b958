"""Table choice: which tables answer which stretch of the period, and why the others were rejected.

The checklist (Cube's, made deterministic): a rollup qualifies when it holds every dimension the
query groups or filters by and its grain divides the bucket asked for. Among those that qualify, the
coarsest grain wins, then the fewest dimensions (smallest table), then the name. A rollup of grain g
answers the whole grains inside the period; the stretches at the edges go, by the same rule, to finer
rollups, and to `events` when none qualifies. Every part of a rollup is also computable from `events`,
so the answer does not depend on the choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sightline.catalog import ROLLUPS, RollupSpec
from sightline.catalog.rollups import GRAIN_SECONDS
from sightline.query.period import Period

EVENTS = "events"


@dataclass(frozen=True, slots=True)
class Segment:
    """[start, end) of the period, answered by `table` (a rollup name or `events`)."""

    table: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class TablePlan:
    segments: tuple[Segment, ...]
    rejected: tuple[tuple[str, str], ...]
    """(table, why it was not used at all)."""


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = int(moment.timestamp())
    return moment - timedelta(seconds=epoch % seconds)


def _ceil(moment: datetime, seconds: int) -> datetime:
    floored = _floor(moment, seconds)
    return floored if floored == moment else floored + timedelta(seconds=seconds)


def _preference(rollup: RollupSpec) -> tuple[int, int, str]:
    return (-GRAIN_SECONDS[rollup.grain], len(rollup.dimensions), rollup.name)


def qualifying_rollups(
    dimensions: frozenset[str], bucket_seconds: int | None
) -> tuple[list[RollupSpec], list[tuple[str, str]]]:
    """Rollups that can answer, in order of preference, and the others with the reason."""
    chosen, rejected = [], []
    for rollup in ROLLUPS:
        missing = sorted(dimensions - set(rollup.dimensions))
        grain = GRAIN_SECONDS[rollup.grain]
        if missing:
            rejected.append((rollup.name, f"lacks dimensions {', '.join(missing)}"))
        elif bucket_seconds is not None and bucket_seconds % grain:
            rejected.append((rollup.name, f"its {rollup.grain} grain does not divide {bucket_seconds} s buckets"))
        else:
            chosen.append(rollup)
    return sorted(chosen, key=_preference), rejected


def _segments(start: datetime, end: datetime, rollups: list[RollupSpec]) -> list[Segment]:
    if start >= end:
        return []
    if not rollups:
        return [Segment(EVENTS, start, end)]
    rollup, finer = rollups[0], rollups[1:]
    grain = GRAIN_SECONDS[rollup.grain]
    inner_start, inner_end = _ceil(start, grain), _floor(end, grain)
    if inner_start >= inner_end:
        return _segments(start, end, finer)
    return [
        *_segments(start, inner_start, finer),
        Segment(rollup.name, inner_start, inner_end),
        *_segments(inner_end, end, finer),
    ]


def choose_tables(
    period: Period, dimensions: frozenset[str], bucket_seconds: int | None, events_only: str | None = None
) -> TablePlan:
    """Which tables answer which stretches of `period` for these dimensions and bucket size.

    `events_only` says why no rollup can answer (a qoefilter needs per-view values; concurrency needs
    outcomes by event time): then `events` answers the whole period.
    """
    if events_only is not None:
        return TablePlan((Segment(EVENTS, period.start, period.end),), tuple((r.name, events_only) for r in ROLLUPS))
    rollups, rejected = qualifying_rollups(dimensions, bucket_seconds)
    by_grain: dict[int, RollupSpec] = {}
    for rollup in rollups:  # the preferred rollup of each grain
        by_grain.setdefault(GRAIN_SECONDS[rollup.grain], rollup)
    ladder = [by_grain[g] for g in sorted(by_grain, reverse=True)]
    unused = [(r.name, "another rollup of its grain is smaller") for r in rollups if r not in ladder]
    return TablePlan(tuple(_segments(period.start, period.end, ladder)), tuple(rejected + unused))
