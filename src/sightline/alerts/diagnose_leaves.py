"""The input of root-cause diagnosis: leaves, one per combination of dimension values, with the observed and
the expected amount of a metric (pure, numpy).

Both kinds of metric become one additive model: a leaf holds `observed` (y) and `expected` (e), and the
hypothesis "cohort E is a cause" says y = e·(1 + δ) on E's leaves for one δ, and y = e elsewhere.
- Additive metric (plays, errors, ad errors): y and e are the amounts; a cause moves its leaves by one
  proportion (the "ripple effect" of Squeeze).
- Ratio metric (VSF % = failures / attempts, stall ratio = stalling / viewers, rebuffering ratio): y is the
  observed numerator and e = expected rate × observed denominator, so the excess y − e of a cohort is its
  excess numerator at its own volume, and a cause multiplies the rate of its views. Volume counts: 3
  failures of 4 attempts are 3 events, not 75 %.
`views` is reported per cause (the denominator of a ratio metric). `counts` says y and e count events,
whose noise is at least Poisson.
Invariants: observed, expected and views are float64 of shape (n,), finite and ≥ 0; codes is int64 of shape
(n, d) with 0 ≤ codes[:, j] < len(labels[j]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class LeavesError(ValueError):
    """Leaves that cannot be diagnosed: mismatched shapes, negative or non-finite amounts."""


Named = tuple[tuple[str, str], ...]
"""A combination by name: (dimension, value) pairs."""


@dataclass(frozen=True, slots=True)
class Coded:
    """The dimension values of leaves, as codes into each dimension's sorted labels."""

    dimensions: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    codes: IntArray

    def holding(self, conditions: Sequence[tuple[str, str]]) -> NDArray[np.bool_]:
        """The leaves of a combination of (dimension, value) pairs (every leaf for none; none for a value no
        leaf has)."""
        inside = np.ones(self.codes.shape[0], dtype=bool)
        for name, value in conditions:
            j = self.dimensions.index(name)
            inside &= self.codes[:, j] == (self.labels[j].index(value) if value in self.labels[j] else -1)
        return inside

    def column(self, dimension: str) -> NDArray[np.str_]:
        """The value of `dimension` of each leaf."""
        j = self.dimensions.index(dimension)
        values: NDArray[np.str_] = np.asarray(self.labels[j], dtype=str)[self.codes[:, j]]
        return values

    def restricted(self, rows: NDArray[np.bool_], dimensions: Sequence[str]) -> Coded:
        """The leaves of `rows` by their values of `dimensions` (a subset of `self.dimensions`), each dimension's
        labels those of these leaves alone, as `coded` would label them."""
        picked = self.codes[rows]
        labels: list[tuple[str, ...]] = []
        codes = np.empty((picked.shape[0], len(dimensions)), dtype=np.int64)
        for k, name in enumerate(dimensions):
            j = self.dimensions.index(name)
            present, codes[:, k] = np.unique(picked[:, j], return_inverse=True)
            labels.append(tuple(self.labels[j][int(code)] for code in present))
        return Coded(tuple(dimensions), tuple(labels), codes)


@dataclass(frozen=True, slots=True)
class Leaves(Coded):
    """One row per leaf (combination of dimension values); see the module docstring."""

    observed: FloatArray
    expected: FloatArray
    views: FloatArray
    counts: bool

    @property
    def size(self) -> int:
        return int(self.observed.shape[0])


def coded(dimensions: Sequence[str], columns: Sequence[ArrayLike]) -> Coded:
    """The leaves whose values of `dimensions` are `columns` (one array of n values per dimension)."""
    if len(dimensions) != len(columns) or not dimensions or len(set(dimensions)) != len(dimensions):
        raise LeavesError("dimensions must be distinct and name each column, at least one")
    values = [np.asarray(column).astype(str) for column in columns]
    for name, column in zip(dimensions, values, strict=True):
        if column.shape != (values[0].size,):
            raise LeavesError(f"column {name!r} must have one value per leaf")
    labels: list[tuple[str, ...]] = []
    codes = np.empty((values[0].size, len(values)), dtype=np.int64)
    for j, column in enumerate(values):
        names, codes[:, j] = np.unique(column, return_inverse=True)
        labels.append(tuple(str(name) for name in names))
    return Coded(tuple(dimensions), tuple(labels), codes)


def additive_leaves(
    dimensions: Sequence[str],
    columns: Sequence[ArrayLike],
    observed: ArrayLike,
    expected: ArrayLike,
    views: ArrayLike | None = None,
    counts: bool = True,
) -> Leaves:
    """Leaves of an additive metric. `columns[j]` holds dimension j's value of each leaf (n,); `observed` and
    `expected` the amounts (n,); `views` the leaf's views (n,), reported per cause (default: `observed`);
    `counts` False for amounts that do not count events (their noise is then learnt whole)."""
    return coded_leaves(coded(dimensions, columns), observed, expected, views, counts)


def coded_leaves(
    values: Coded, observed: ArrayLike, expected: ArrayLike, views: ArrayLike | None = None, counts: bool = True
) -> Leaves:
    """`additive_leaves` of leaves already coded (`values`: one row of codes per leaf)."""
    seen = _amounts("observed", observed)
    views_of = seen if views is None else _amounts("views", views)
    return _leaves(values, seen, _amounts("expected", expected), views_of, counts)


def ratio_leaves(
    dimensions: Sequence[str],
    columns: Sequence[ArrayLike],
    numerator: ArrayLike,
    denominator: ArrayLike,
    expected_rate: ArrayLike,
) -> Leaves:
    """Leaves of a ratio metric: the observed `numerator` and `denominator` (views) of each leaf (n,), and the
    rate expected of it (n,), e.g. from `baseline_rate`. The excess is numerator − expected_rate × denominator."""
    views = _amounts("denominator", denominator)
    rate = _amounts("expected_rate", expected_rate)
    return _leaves(coded(dimensions, columns), _amounts("numerator", numerator), rate * views, views, True)


def baseline_rate(
    history_numerator: ArrayLike,
    history_denominator: ArrayLike,
    prior_views: float = 20.0,
    towards: ArrayLike | None = None,
) -> FloatArray:
    """The rate expected of each leaf from its past windows, (h, n) arrays (h windows, n leaves, zeros where a
    leaf had no views): the leaf's pooled rate Σ numerator / Σ denominator, shrunk towards the rate `towards`
    (n,) of it (by default the pooled rate of all leaves) as if it had `prior_views` more views at that rate (a
    leaf seen little is not trusted alone)."""
    past = np.atleast_2d(np.asarray(history_numerator, dtype=np.float64))
    views = np.atleast_2d(np.asarray(history_denominator, dtype=np.float64))
    if past.shape != views.shape or past.ndim != 2:
        raise LeavesError(f"history arrays must have one shape (h, n), got {past.shape} and {views.shape}")
    if not (np.isfinite(past).all() and np.isfinite(views).all()) or (past < 0).any() or (views < 0).any():
        raise LeavesError("history amounts must be finite and ≥ 0")
    total_views = float(views.sum())
    overall = float(past.sum()) / total_views if total_views > 0 else 0.0
    target = np.full(past.shape[1], overall) if towards is None else np.asarray(towards, dtype=np.float64)
    rate: FloatArray = (past.sum(axis=0) + prior_views * target) / (views.sum(axis=0) + prior_views)
    return rate


def main_effect_rates(
    past: IntArray, numerator: FloatArray, denominator: FloatArray, codes: IntArray, prior: float, sweeps: int = 20
) -> FloatArray:
    """The rate of each leaf of `codes` (m, d) under the main effects of its dimension values, learnt from the
    leaves `past` (n, d) with their `numerator` and `denominator` (n,): the pooled rate times one factor per
    value, fitted so that each value's expected numerator (rate × denominator) meets its observed one (iterative
    proportional fitting of the Poisson log-linear model: dimensions that go together, such as a phone and a
    cellular connection, share their effect rather than count it twice). Each value also holds `prior`
    denominator at the pooled rate times its factor, which keeps the factor of a value seen little near 1; a
    value not seen in `past` has 1. Codes index the same labels in both."""
    total = float(denominator.sum())
    pooled = float(numerator.sum()) / total if total > 0 else 0.0
    if pooled <= 0:
        return np.full(codes.shape[0], pooled)
    pseudo = prior * pooled
    sizes = [int(max(past[:, j].max(initial=0), codes[:, j].max(initial=0))) + 1 for j in range(codes.shape[1])]
    factors = [np.ones(size) for size in sizes]
    fitted_rate: FloatArray = np.full(past.shape[0], pooled)
    for _ in range(sweeps):
        for j, factor in enumerate(factors):
            value = past[:, j]
            observed = np.bincount(value, numerator, factor.size)
            fitted = np.bincount(value, fitted_rate * denominator, factor.size)
            step = (observed + pseudo) / (fitted + pseudo * factor)
            factor *= step
            fitted_rate = fitted_rate * step[value]
    rate: FloatArray = np.full(codes.shape[0], pooled)
    for j, factor in enumerate(factors):
        rate = rate * factor[codes[:, j]]
    return rate


def _amounts(name: str, values: ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise LeavesError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise LeavesError(f"{name} must be finite and ≥ 0")
    return array


def _leaves(values: Coded, observed: FloatArray, expected: FloatArray, views: FloatArray, counts: bool) -> Leaves:
    n = observed.shape[0]
    if expected.shape[0] != n or views.shape[0] != n:
        raise LeavesError("every amount must have one value per leaf")
    if values.codes.shape[0] != n:
        raise LeavesError("every column must have one value per leaf")
    return Leaves(values.dimensions, values.labels, values.codes, observed, expected, views, counts)
