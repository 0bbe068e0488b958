"""What a named query is (`NamedQuerySpec`: its question, columns and definitions, and the builder of its
SELECT) and what a validated request for one is (`SmartQuery`).

Invariants: a builder is pure (a `SmartQuery` in, a `query.ast.Select` out) and its SELECT answers every row,
in order, unpaged (the pipeline pages it: `query.pipeline.paged`); the page, passed through `name_page` when
the spec has one, answers exactly the spec's columns, in order, plus `totalrecords` — except the columns its
`labels` name, which it answers as the hidden `labels.keys` columns instead; the spec's columns and
definitions are what docs/smartquery.md says about the query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sightline.query.ast import Select
from sightline.query.filters import Condition
from sightline.query.pipeline import QueryRequest
from sightline.store.base import Store

ColumnKind = Literal["string", "number", "list", "time"]


@dataclass(frozen=True, slots=True)
class ResultColumn:
    """A column of a named query's rows. A `filterable` column can be named in `filter`: the condition then
    keeps the rows whose value passes it (a dimension in `filter` selects the views counted instead)."""

    name: str
    kind: ColumnKind
    description: str
    filterable: bool = False


@dataclass(frozen=True, slots=True)
class StoredDays:
    """Whole UTC days of a query's period whose viewing sessions are read as stored (`path_entries`, one
    slice a day, `slices[k]` for `days[k]`) rather than built from `views`; in order."""

    days: tuple[date, ...] = ()
    slices: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DayTable:
    """What a named query stores of each past UTC day (`stored_days`): the rows of `table` that `rows` answers
    for a query of that one day (without its filters), which the query sums over the days of its period that
    `stored_days` gives, instead of computing them from `views`."""

    kind: str
    table: str
    rows: Callable[[SmartQuery], Select]
    stored_days: Callable[[SmartQuery], tuple[date, ...]]
    """The days of a query that may be read as stored: whole days that its computation does not cut."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SmartQuery(QueryRequest):
    """A validated request: the named query, its period and bucket size, the views it counts (`filter`, on
    dimensions) and the rows it keeps, and the page."""

    name: str
    row_filter: tuple[Condition, ...] = ()
    """Conditions on filterable result columns: only the rows that pass them are answered."""
    limit: int
    stored: StoredDays = StoredDays()
    """Set by the spec's `plan`, from the store, after the request was validated (and looked up in the cache)."""

    def since(self, lookback: timedelta) -> datetime:
        return self.period.start - lookback


@dataclass(frozen=True, slots=True)
class RowLabels:
    """Text columns named after paging, for the page's rows alone: reading them for every row before
    paging costs far more (a subscriber id for each of millions of views, merged with FINAL). The page
    answers the numbers `keys` instead, which locate a row's labels; `build(query, located)` gets the
    `keys` values of each page row and answers one row per row, with its first key and `columns`."""

    keys: tuple[str, ...]
    columns: tuple[str, ...]
    build: Callable[[SmartQuery, tuple[tuple[int, ...], ...]], Select]


@dataclass(frozen=True, slots=True)
class NamedQuerySpec:
    name: str
    title: str
    question: str
    """The question the query answers, in a content team's words."""
    columns: tuple[ResultColumn, ...]
    definitions: tuple[str, ...]
    """How each number is counted: the terms a reader must know, one sentence or two each."""
    order: str
    build: Callable[[SmartQuery], Select]
    name_page: Callable[[SmartQuery, Select], Select] | None = None
    """Names what the page's rows hold as hashes, around the paged SELECT (on the page's rows only)."""
    lookback: timedelta = timedelta(0)
    """How long before the period the query reads views (to tell new viewers from returning ones)."""
    uses_granularity: bool = False
    labels: RowLabels | None = None
    plan: Callable[[Store, SmartQuery], SmartQuery] | None = None
    """Reads what the store holds ready for the query (`SmartQuery.stored`) before it is built."""

    def filterable(self) -> dict[str, ColumnKind]:
        return {c.name: c.kind for c in self.columns if c.filterable}
