"""How much a combination of dimension values explains: the statistics of root-cause diagnosis (pure, numpy).

A leaf has observed y and expected e (diagnose_leaves.py), residual r = y − e and noise variance
var = a·e + b·e² (`fit_noise`: Poisson-like counts a, proportional error b; e = 0 counts as the least
positive e). A cause E with shift δ says
y = e·(1 + δ) on its leaves; weighted least squares (w = 1/var) fits δ_E = Σ_E w·e·r / Σ_E w·e² and lowers
Σw·r² by gain(E) = (Σ_E w·e·r)² / Σ_E w·e², a χ² with one degree of freedom when E is no cause.
A cause stands out from the rest (`contrast`): its gain is how much better its own shift and one for the
other leaves fit than one shift common to all, so a drift of everything is no cause. For counts the gain is
capped by the Poisson likelihood ratio of E's total, honest where few events are expected.
An element is a combination of 1 to `max_dimensions` dimensions' values (`Elements`); the sums behind the
gains of every element come from one bincount per summed quantity over n × (number of cuboids) ids, and
are updated by subtraction as leaves are set aside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from sightline.alerts.diagnose_leaves import FloatArray, IntArray, Leaves

BoolArray = np.ndarray[tuple[int], np.dtype[np.bool_]]
Conditions = tuple[tuple[int, int], ...]
"""A combination inside the search: (dimension index, value code) pairs, sorted by dimension."""

_MEDIAN_Z2 = 0.4549
"""The median of z² for z ~ N(0, 1)."""
_COUNTED = 5.0
"""Leaves expecting at least this many events tell their extra (relative) noise; fewer are mostly Poisson."""
_RELATIVE_FLOOR = 1e-3
"""The smallest relative noise assumed (a noiseless input would make any change infinitely significant)."""


@dataclass(frozen=True, slots=True)
class Scorer:
    """The leaves that carry an amount: their codes (n, d); y, e, w·e·r and w·e² of each (n,); the noise (a, b)."""

    codes: IntArray
    observed: FloatArray
    expected: FloatArray
    numerator: FloatArray
    denominator: FloatArray
    noise: tuple[float, float]

    @property
    def size(self) -> int:
        return int(self.codes.shape[0])

    def mask(self, conditions: Conditions) -> BoolArray:
        inside: BoolArray = np.ones(self.size, dtype=bool)
        for j, code in conditions:
            inside &= self.codes[:, j] == code
        return inside

    def excess(self, mask: BoolArray) -> float:
        return float(self.observed[mask].sum() - self.expected[mask].sum())

    def shift(self, mask: BoolArray) -> float:
        """The δ fitted on the leaves of `mask` (0 on none)."""
        bottom = float(self.denominator[mask].sum())
        return float(self.numerator[mask].sum()) / bottom if bottom > 0 else 0.0

    def gain(self, mask: BoolArray, within: BoolArray, direction: int) -> float:
        """The gain of the leaves of `mask` standing out towards `direction` from the rest of `within`."""
        inside = mask & within

        sums = np.array([[v[inside].sum()] for v in (self.numerator, self.denominator, self.observed, self.expected)])
        return float(contrast(self, within, sums, direction)[0])


def scorer(leaves: Leaves, kept: BoolArray, noise: tuple[float, float]) -> Scorer:
    """The scorer of the `kept` leaves under the noise (a, b) (see `fit_noise`). A leaf nothing was expected
    of scales and varies as the least expected one does, so that a new cohort can be a cause."""
    observed, expected = leaves.observed[kept], leaves.expected[kept]
    positive = expected > 0
    scale = np.where(positive, expected, expected[positive].min() if positive.any() else 1.0)
    a, b = noise
    weight = 1.0 / (a * scale + b * scale**2)
    residual = observed - expected
    return Scorer(leaves.codes[kept], observed, expected, weight * scale * residual, weight * scale**2, noise)


@dataclass(frozen=True, slots=True)
class Elements:
    """Every element of every cuboid. Cuboid c (dimensions `cuboids[c]`) holds elements start[c] to
    start[c + 1] − 1; `ids[c, i]` is leaf i's element in it, counted from start[c]; element k is the
    combination `codes[k, j]` of the dimensions j of its cuboid `cuboid[k]`."""

    ids: IntArray
    start: IntArray
    cuboid: IntArray
    layer: IntArray
    codes: IntArray
    cuboids: tuple[tuple[int, ...], ...]

    @property
    def count(self) -> int:
        return int(self.cuboid.shape[0])

    def conditions(self, element: int) -> Conditions:
        return tuple((j, int(self.codes[element, j])) for j in self.cuboids[int(self.cuboid[element])])

    def element(self, conditions: Conditions) -> int:
        """The element of a combination of the leaves' values."""
        match = self.cuboid == self.cuboids.index(tuple(j for j, _ in conditions))
        for j, code in conditions:
            match &= self.codes[:, j] == code
        return int(np.flatnonzero(match)[0])

    def covered(self, element: int) -> BoolArray:
        c = int(self.cuboid[element])
        covered: BoolArray = self.ids[c] == element - int(self.start[c])
        return covered


def elements(codes: IntArray, max_dimensions: int) -> Elements:
    """Group the leaves (codes (n, d)) by every combination of 1 to `max_dimensions` dimensions (a cuboid)."""
    n, d = codes.shape
    cardinality = codes.max(axis=0, initial=0) + 1
    cuboids = tuple(c for size in range(1, min(max_dimensions, d) + 1) for c in combinations(range(d), size))
    ids = np.empty((len(cuboids), n), dtype=np.int64)
    representative: list[IntArray] = []
    for c, dims in enumerate(cuboids):
        radix = [int(cardinality[j]) for j in dims]
        if math.prod(radix) <= 8 * n:
            key = np.ravel_multi_index(tuple(codes[:, j] for j in dims), radix)
            present = np.zeros(math.prod(radix), dtype=bool)
            present[key] = True
            ids[c] = (np.cumsum(present) - 1)[key]
            unique = np.column_stack(np.unravel_index(np.flatnonzero(present), radix))
        else:
            unique, inverse = np.unique(codes[:, list(dims)], axis=0, return_inverse=True)
            ids[c] = inverse.reshape(-1)
        rows = np.full((unique.shape[0], d), -1, dtype=np.int64)
        rows[:, list(dims)] = unique
        representative.append(rows)
    sizes = np.array([rows.shape[0] for rows in representative], dtype=np.int64)
    start = np.concatenate(([0], np.cumsum(sizes)))
    cuboid = np.repeat(np.arange(len(cuboids)), sizes)
    layer = np.array([len(dims) for dims in cuboids], dtype=np.int64)[cuboid]
    return Elements(ids, start, cuboid, layer, np.concatenate(representative), cuboids)


def totals(found: Elements, score: Scorer, mask: BoolArray) -> FloatArray:
    """Σw·e·r, Σw·e², Σy and Σe of each element over the leaves of `mask`, shape (4, found.count); they add
    up, so the totals of fewer leaves are those of more minus the leaves' own."""
    quantities = np.stack((score.numerator, score.denominator, score.observed, score.expected))
    rows = np.flatnonzero(mask)
    sums = np.empty((4, found.count), dtype=np.float64)
    for c in range(len(found.cuboids)):
        low, high = int(found.start[c]), int(found.start[c + 1])
        ids = found.ids[c, rows]
        for q in range(4):
            sums[q, low:high] = np.bincount(ids, weights=quantities[q, rows], minlength=high - low)
    return sums


def contrast(score: Scorer, mask: BoolArray, sums: FloatArray, direction: int) -> FloatArray:
    """The gain of each element (its `totals` over the leaves of `mask`, (4, k)) standing out towards
    `direction` from the other leaves of `mask`: how much better its own shift and one for the others fit
    than one shift common to all, each shift counted only towards `direction` (a drift of everything that
    way is no cause; leaves moved the other way are no drift). 0 unless the element's shift passes the
    others'. For counts, capped by the Poisson likelihood ratio of its total against its expected at the
    others' level."""
    top, bottom, observed, expected = sums
    whole_top, whole_bottom = float(score.numerator[mask].sum()), float(score.denominator[mask].sum())
    rest_top, rest_bottom = whole_top - top, whole_bottom - bottom
    tiny = 1e-12 * whole_bottom
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where((bottom > 0) & (top * direction > 0), top * top / bottom, 0.0)
        moved = (rest_bottom > tiny) & (rest_top * direction > 0)
        rest = np.where(moved, rest_top * rest_top / rest_bottom, 0.0)
        common = whole_top * whole_top / whole_bottom if whole_top * direction > 0 else 0.0
        stands_out = np.where(bottom > 0, top / bottom, 0.0) * direction > np.where(
            moved, rest_top / rest_bottom * direction, 0.0
        )
        found: FloatArray = np.where(stands_out, np.maximum(own + rest - common, 0.0), 0.0)
        a = score.noise[0]
        if a > 0:
            rest_expected = float(score.expected[mask].sum()) - expected
            rest_observed = float(score.observed[mask].sum()) - observed
            level = np.where(rest_expected > 0, rest_observed / rest_expected, 1.0)
            level = np.maximum(level, 1.0) if direction > 0 else np.minimum(level, 1.0)
            found = np.minimum(found, poisson_ratio(observed, expected * level) / a)
    return found


def poisson_ratio(observed: FloatArray, expected: FloatArray) -> FloatArray:
    """2·(y·ln(y/e) − (y − e)): the likelihood ratio of y events against e expected, honest for few events; the
    ratio y/e is taken in logs (finite for any y against an e of 0, taken as 1e-300)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(observed > 0, observed, 1.0)) - np.log(np.maximum(expected, 1e-300))
        log_term = np.where(observed > 0, observed * logs, 0.0)
    ratio: FloatArray = 2.0 * (log_term - (observed - expected))
    return ratio


def fit_noise(residual: FloatArray, expected: FloatArray, counts: bool) -> tuple[float, float]:
    """(a, b) of the noise variance a·e + b·e², b at least _RELATIVE_FLOOR², from medians of squared residuals
    (robust while fewer than half the leaves compared are anomalous).
    Counts: a = 1 (events are Poisson-noisy) and b is what the leaves of at least _COUNTED expected events
    need so that the median of r²/(e + b·e²) is that of a normal z². Other amounts: r²/e² ≈ a/e + b fitted
    to the medians of (r/e)² in narrow bins of e (quantile bins of about 50 leaves, at most 16)."""
    floor = _RELATIVE_FLOOR**2
    if counts:
        large = expected >= _COUNTED
        squares, level = residual[large] ** 2, expected[large]
        if not large.any() or np.median(squares / (level + floor * level**2)) <= _MEDIAN_Z2:
            return 1.0, floor
        low, high = floor, 1e6
        for _ in range(100):
            middle = math.sqrt(low * high)
            if np.median(squares / (level + middle * level**2)) > _MEDIAN_Z2:
                low = middle
            else:
                high = middle
        return 1.0, high
    positive = np.flatnonzero(expected > 0)
    if positive.size == 0:
        return 0.0, floor
    order = positive[np.argsort(expected[positive], kind="stable")]
    chunks = np.array_split(order, max(1, min(16, order.size // 50)))
    levels = np.array([np.exp(np.log(expected[chunk]).mean()) for chunk in chunks])
    spread = np.array([np.median((residual[chunk] / expected[chunk]) ** 2) / _MEDIAN_Z2 for chunk in chunks])
    a, b = _fit_variance(levels, np.maximum(spread, floor))
    return a, max(b, floor)


def _fit_variance(level: FloatArray, spread: FloatArray) -> tuple[float, float]:
    """Non-negative (a, b) of spread ≈ a/level + b, least squares relative to spread."""
    design = np.column_stack((1.0 / (level * spread), 1.0 / spread))
    target = np.ones_like(level)
    fits: list[tuple[float, float, float]] = []
    both = np.linalg.lstsq(design, target, rcond=None)[0]
    if (both >= 0).all():
        fits.append((float(both[0]), float(both[1]), float(np.sum((design @ both - target) ** 2))))
    for column in range(2):
        x = design[:, column]
        coefficient = float(x @ target / (x @ x))
        pair = (coefficient, 0.0) if column == 0 else (0.0, coefficient)
        fits.append((*pair, float(np.sum((x * coefficient - target) ** 2))))
    a, b, _ = min(fits, key=lambda fit: fit[2])
    return a, b


def chi2_bound(tail: float) -> float:
    """z² such that a χ² with one degree of freedom passes it with probability `tail`."""
    low, high = 0.0, 40.0
    for _ in range(100):
        middle = (low + high) / 2
        if math.erfc(middle / math.sqrt(2)) > tail:
            low = middle
        else:
            high = middle
    return high * high
