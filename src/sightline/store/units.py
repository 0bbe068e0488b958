"""The units a spool segment is inserted in: the whole segment, and, when the store refuses it, its parts.

A unit is the rows of a segment that one insert stores: the whole segment; one customer's rows of it; or one
customer's rows of a run of its batches, down to one (a batch is what one `submit` gave: a view's events from
one request, or an Arrow batch). Invariants:
- a unit's rows are a pure function of the segment's content and the unit, and its deduplication token a
  pure function of the segment's name (unique, never reused) and the unit, so a replay after a crash inserts
  the same rows under the same token: a unit that had landed, wholly or in part, is completed and never
  stored twice (`events` and every materialized view recognise the token);
- the parts of a unit hold its rows exactly once: a segment's parts are its customers (when it has several),
  a customer's are the two halves of its batches (until one batch is left), so a bad batch among n is found
  in about 2·log2(n) inserts; a level with one part is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sightline.store.layout import conform, view_events_table, view_start_ms, with_added_dimensions
from sightline.store.spool import Batch

MAX_PARTITIONS_PER_INSERT = 100
"""The engine's `max_partitions_per_insert_block` (its default), set on every insert: an insert whose rows
fall in more partitions of one table is refused whole."""
_DAY_MS = 86_400_000


def segment_table(batches: list[Batch]) -> pa.Table:
    """Batches as one insert: the Arrow batches (conformed to the layout; older segments may lack dimensions
    added since) and the view runs, as a single chunk, so that the materialized views see a few large blocks
    rather than one per batch (measured: 50k rows as 1,000 chunks 4-6 s, as one 0.9 s), and a replay inserts
    the same blocks, which its deduplication token needs."""
    tables = [conform(with_added_dimensions(b)) for b in batches if isinstance(b, pa.Table)]
    runs = [run for b in batches if not isinstance(b, pa.Table) for run in b]
    if runs:
        tables.append(view_events_table(runs))
    return pa.concat_tables(tables).combine_chunks()


def customers_of(batch: Batch) -> set[int]:
    if isinstance(batch, pa.Table):
        return {int(c) for c in pc.unique(batch.column("customer_id")).to_pylist()}
    return {run.customer_id for run in batch}


def _of_customer(batch: Batch, customer: int) -> Batch:
    if isinstance(batch, pa.Table):
        return batch.filter(pc.equal(batch.column("customer_id"), customer))
    return [run for run in batch if run.customer_id == customer]


def batch_rows(batch: Batch) -> int:
    return batch.num_rows if isinstance(batch, pa.Table) else sum(len(run.events) for run in batch)


def partitions_per_insert(table: pa.Table) -> int:
    """The most partitions an insert of `table` (in the layout) makes in one table: `events` is partitioned by
    the month of `ts`, `views` by the day of the view's start (store/schema.py); the rollups and
    `error_events`, by the month of one of these, never make more."""
    if table.num_rows == 0:
        return 0
    months = np.unique(table.column("ts").to_numpy().astype("datetime64[ms]").astype("datetime64[M]")).size
    days = np.unique(view_start_ms(table.column("view_id")) // _DAY_MS).size
    return int(max(months, days))


def fits_one_insert(table: pa.Table) -> bool:
    """Whether `partitions_per_insert(table)` is within `MAX_PARTITIONS_PER_INSERT`: decided from the spans of
    both times (a segment of the last days: at once), counted only when a span could pass the limit."""
    if table.num_rows == 0:
        return True
    ts, ids = pc.min_max(table.column("ts")), pc.min_max(table.column("view_id"))
    ts_span = ts["max"].as_py() - ts["min"].as_py()
    start_span = int.from_bytes(ids["max"].as_py()[:6]) - int.from_bytes(ids["min"].as_py()[:6])
    spans_fit = MAX_PARTITIONS_PER_INSERT - 2  # a span touches at most two partitions more than it holds
    if ts_span < spans_fit * 28 * _DAY_MS and start_span < spans_fit * _DAY_MS:
        return True
    return partitions_per_insert(table) <= MAX_PARTITIONS_PER_INSERT


def _holding(segment: list[Batch], customer: int) -> list[int]:
    """The indexes of the batches of `segment` that hold rows of `customer`."""
    return [index for index, batch in enumerate(segment) if customer in customers_of(batch)]


@dataclass(frozen=True, slots=True)
class Unit:
    """The rows of spool segment `segment` of `customer` (None: every customer) in the batches `span` (start,
    stop; None: all) of those of the segment that hold rows of `customer`."""

    segment: str
    customer: int | None = None
    span: tuple[int, int] | None = None

    @property
    def token(self) -> str:
        """The deduplication token of its insert: the segment's name for the whole segment, as before units."""
        if self.customer is None:
            return self.segment
        token = f"{self.segment}.c{self.customer}"
        return token if self.span is None else f"{token}.b{self.span[0]}-{self.span[1]}"

    def batches(self, segment: list[Batch]) -> list[Batch]:
        """Its rows, as the batches of `segment` (the segment's batches, in order) restricted to it."""
        if self.customer is None:
            return segment
        indexes = _holding(segment, self.customer)
        if self.span is not None:
            indexes = indexes[self.span[0] : self.span[1]]
        return [_of_customer(segment[index], self.customer) for index in indexes]

    def rows(self, segment: list[Batch]) -> int:
        return sum(batch_rows(b) for b in self.batches(segment))

    def table(self, segment: list[Batch]) -> pa.Table:
        """Its rows in the layout (ValueError, or Arrow's error, when they do not convert)."""
        return segment_table(self.batches(segment))

    def parts(self, segment: list[Batch]) -> list[Unit]:
        """The units that divide it: a segment's customers, or the two halves of a customer's batches (see the
        module's invariants); none for one customer's rows of one batch."""
        if self.customer is None:
            customers = sorted(set().union(*(customers_of(b) for b in segment)))
            if len(customers) == 1:
                return Unit(self.segment, customers[0]).parts(segment)
            return [Unit(self.segment, c) for c in customers]
        start, stop = self.span or (0, len(_holding(segment, self.customer)))
        if stop - start < 2:
            return []
        middle = (start + stop) // 2
        return [Unit(self.segment, self.customer, (start, middle)), Unit(self.segment, self.customer, (middle, stop))]
