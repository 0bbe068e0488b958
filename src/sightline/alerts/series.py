"""The series a detection round reads: the summed parts of every cohort at every interval, from one query.

A round needs, for each cohort of its rules (the whole, each value of each dimension in scope, each pair), the
parts of its metrics at each interval of the history the detector reads. One `MetricQuery` of those parts, grouped
by every dimension in scope at the interval's granularity, answers the leaves (every combination of their values);
`CohortSeries.add` folds the leaves into the cohorts of each grouping with numpy (a cohort's sum is the sum of its
leaves: parts are additive). Distinct viewers are not: a cohort's `viewers` is the sum of its leaves' distinct
viewers per interval, an upper bound that counts a viewer once per leaf (a viewer rarely has views in two leaves of
one interval). The planner chooses the table: the minute rollup for the whole and CDN, `events` for other
dimensions at intervals under an hour (no rollup holds them at a finer grain).

`SeriesCache` keeps each customer's series between rounds: a round reads only the intervals after the last one it
has that had settled (no new outcomes arrive for them), and what came since; the first round reads the history.
Memory: parts × cohorts × intervals float32 values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sightline.alerts.rules import Cohort
from sightline.catalog import DIMENSIONS
from sightline.catalog.formula import Part
from sightline.catalog.metrics import MetricSpec
from sightline.query.compile import TIMESTAMP, MetricQuery, compile_metrics
from sightline.query.period import Granularity, Period
from sightline.query.pipeline import Engine, fetch_rows

Array = npt.NDArray[np.float64]
DAY_S = 86_400
_ORDER = {d.name: n for n, d in enumerate(DIMENSIONS)}


def catalog_order(names: Iterable[str]) -> tuple[str, ...]:
    """Dimension names in the catalog's order (the order of a cohort's conditions)."""
    return tuple(sorted(set(names), key=_ORDER.__getitem__))


def as_cohort(conditions: Iterable[tuple[str, str]]) -> Cohort:
    """Conditions as a cohort: distinct, in the catalog's order of their dimensions."""
    return tuple(sorted(set(conditions), key=lambda condition: (_ORDER[condition[0]], condition[1])))


def part_metric(part: str) -> MetricSpec:
    """A metric that answers one additive part as it is, summed (or merged) over a group."""
    return MetricSpec(part, part, "count", Part(part), f"The part {part}.", ())


def leaves_query(
    customer_id: int,
    dimensions: Sequence[str],
    parts: Sequence[str],
    period: Period,
    granularity: Granularity,
) -> MetricQuery:
    """The query of `parts` of every leaf (combination of `dimensions`) at each bucket of `granularity`."""
    return MetricQuery(
        customer_id=customer_id,
        period=period,
        granularity=granularity,
        filter=None,
        metrics=tuple(part_metric(p) for p in parts),
        dimensions=tuple(dimensions),
        series=True,
        limit=None,
        order_by=None,
    )


def fetch(engine: Engine, query: MetricQuery) -> pa.Table:
    """The rows of `query`, as an Arrow table (columns: dimensions, `timestamp` in epoch s, parts)."""
    table: pa.Table = fetch_rows(engine, compile_metrics(query))
    return table


@dataclass
class CohortSeries:
    """Summed parts of the cohorts of `groupings` at the intervals [start + k·step) for 0 ≤ k < length.

    `values[p][c, k]` is part `parts[p]` of cohort `cohorts[c]` at interval k (0 where it had none). Cohorts are
    added as they appear; columns are kept for `keep` intervals back from the newest."""

    dimensions: tuple[str, ...]
    groupings: tuple[tuple[str, ...], ...]
    parts: tuple[str, ...]
    step: int
    start: int
    keep: int
    length: int = 0
    cohorts: list[Cohort] = field(default_factory=list)
    index: dict[Cohort, int] = field(default_factory=dict)
    values: npt.NDArray[np.float32] = field(init=False)

    def __post_init__(self) -> None:
        self.values = np.zeros((len(self.parts), 0, 0), dtype=np.float32)

    @property
    def end(self) -> int:
        """The end of the newest interval held (epoch s)."""
        return self.start + self.length * self.step

    def column(self, moment: int) -> int:
        return (moment - self.start) // self.step

    def part(self, name: str) -> npt.NDArray[np.float32]:
        """(cohorts, length) values of part `name`."""
        return self.values[self.parts.index(name), : len(self.cohorts), : self.length]

    def add(self, leaves: pa.Table, begin: int, end: int) -> None:
        """Replace the intervals [begin, end) (epoch s, on the step) by the sums of `leaves` (rows of
        `leaves_query`: those of other intervals are ignored)."""
        self._extend(end)
        first, last = self.column(max(begin, self.start)), self.column(end)
        self.values[:, :, first:last] = 0.0
        if leaves.num_rows == 0 or last <= first:
            return
        column = np.asarray(leaves.column(TIMESTAMP).to_numpy(zero_copy_only=False), dtype=np.int64) - self.start
        column //= self.step
        inside = (column >= first) & (column < last)
        codes = {d: _codes(leaves.column(d)) for d in self.dimensions}
        amounts = [np.nan_to_num(np.asarray(leaves.column(p).to_numpy(zero_copy_only=False), dtype=np.float64))
                   for p in self.parts]  # fmt: skip
        width = last - first
        for grouping in self.groupings:
            cohort_of = self._cohorts_of(grouping, codes, leaves.num_rows)
            flat = (cohort_of * width + column - first)[inside]
            size = len(self.cohorts) * width
            for p, amount in enumerate(amounts):
                summed = np.bincount(flat, weights=amount[inside], minlength=size)
                self.values[p, : len(self.cohorts), first:last] += summed.reshape(-1, width).astype(np.float32)

    def _cohorts_of(
        self, grouping: tuple[str, ...], codes: dict[str, tuple[npt.NDArray[np.int64], list[str]]], rows: int
    ) -> npt.NDArray[np.int64]:
        """The index of each row's cohort of `grouping` (cohorts first seen are added)."""
        if not grouping:
            return np.full(rows, self._cohort(()), dtype=np.int64)
        key = np.zeros(rows, dtype=np.int64)
        for name in grouping:
            key = key * len(codes[name][1]) + codes[name][0]
        _, first_rows, inverse = np.unique(key, return_index=True, return_inverse=True)
        lookup = [
            self._cohort(tuple((name, codes[name][1][codes[name][0][row]]) for name in grouping)) for row in first_rows
        ]
        return np.asarray(lookup, dtype=np.int64)[inverse]

    def _cohort(self, cohort: Cohort) -> int:
        found = self.index.get(cohort)
        if found is not None:
            return found
        self.index[cohort] = len(self.cohorts)
        self.cohorts.append(cohort)
        if len(self.cohorts) > self.values.shape[1]:
            grown = np.zeros((len(self.parts), max(16, 2 * len(self.cohorts)), self.values.shape[2]), np.float32)
            grown[:, : self.values.shape[1]] = self.values
            self.values = grown
        return self.index[cohort]

    def _extend(self, end: int) -> None:
        """Hold the intervals up to `end`, dropping those more than `keep` intervals before it."""
        needed = max(self.column(end), self.length)
        if needed > self.values.shape[2]:
            drop = max(0, needed - self.keep)
            kept = max(0, self.length - drop)
            grown = np.zeros((len(self.parts), self.values.shape[1], self.keep + max(self.keep // 8, 24)), np.float32)
            grown[:, :, :kept] = self.values[:, :, drop : drop + kept]
            self.values, self.start, needed = grown, self.start + drop * self.step, needed - drop
        self.length = needed


def _codes(column: pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Each row's code in the column's distinct values (as text), and those values."""
    encoded = column.cast(pa.string()).dictionary_encode().combine_chunks()
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64), [
        str(v) for v in encoded.dictionary.to_pylist()
    ]


def instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """What a customer's rules of one scope and interval read: their dimensions, groupings and parts."""

    customer_id: int
    dimensions: tuple[str, ...]
    groupings: tuple[tuple[str, ...], ...]
    parts: tuple[str, ...]
    granularity: Granularity
    step: int


class SeriesCache:
    """The series of each `SeriesKey`, kept between rounds (see the module docstring). `settle_s`: how long after
    an interval's end its outcomes may still arrive (it is read again until then)."""

    def __init__(self, engine: Engine, settle_s: int, chunk_s: int = DAY_S) -> None:
        self._engine = engine
        self._settle_s = settle_s
        self._chunk_s = chunk_s
        self._held: dict[SeriesKey, tuple[CohortSeries, int]] = {}

    def series(self, key: SeriesKey, since: int, until: int, now: int) -> CohortSeries:
        """The series of `key` holding at least [since, until) (epoch s on the step), reading from the store only
        what it did not hold or what had not settled when it was read (`now` is the time of the round)."""
        held = self._held.get(key)
        keep = (until - since) // key.step
        if held is None or held[0].start > since or held[0].end < since or held[0].keep < keep:
            series = CohortSeries(key.dimensions, key.groupings, key.parts, key.step, since, keep)
            begin = since
        else:
            series, settled = held
            begin = min(series.end, settled)
        for low in range(begin, until, self._chunk_s):
            high = min(until, low + self._chunk_s)
            query = leaves_query(
                key.customer_id, key.dimensions, key.parts, Period(instant(low), instant(high)), key.granularity
            )
            series.add(fetch(self._engine, query), low, high)
        settled = min(series.end, (now - self._settle_s) // key.step * key.step)
        self._held[key] = (series, max(settled, since))
        return series

    def retain(self, customer_id: int, keys: Iterable[SeriesKey]) -> None:
        """Forget the customer's series of every other key (its rules changed or gone)."""
        wanted = set(keys)
        self._held = {k: v for k, v in self._held.items() if k.customer_id != customer_id or k in wanted}
