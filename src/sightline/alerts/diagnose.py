"""Root-cause localisation: the smallest sets of dimension-value combinations (`cdn=X ∧ country=Y`) that
explain an anomaly's excess over its expected value (pure, numpy).

Input: `Leaves` (diagnose_leaves.py): one row per combination of dimension values, observed y, expected e
and exposure x. A candidate cause is an element: a conjunction of 1 to `max_dimensions` dimension values,
covering the leaves that match it. Its hypothesis, y = e + δ·x on its leaves (one δ) against y = e, is
scored by how much it lowers the weighted squared error of the leaves, Σw·r² with r = y − e and w = 1/var:
  gain(E) = (Σ_E w·x·r)² / Σ_E w·x²   (a χ² with one degree of freedom when E is no cause).
The noise variance of a leaf, var = a·e + b·e², is fitted to the leaves themselves (robustly: most leaves
are normal), so counts (Poisson-like, a) and amounts with proportional error (b) both fit.

Search: of a true cause, a broader element dilutes the excess with normal leaves and a narrower one drops
part of it, so the gain peaks at the cause itself. Greedy: take the element of largest gain, remove its
leaves, repeat while the best gain passes a Bonferroni bound over all elements (so nothing is returned
when the excess is noise). Then generalise: causes sharing an ancestor (fewer conditions) become that
ancestor when its other leaves are closer to the causes' shift than to none (a cause whose effect varies
across its leaves is one cause, not the pieces the greedy search took it apart into).
Alternatives run the same search from the next-best first elements, in that order.

Deterministic: ties go to fewer dimensions, then to the element met first. Cost: one bincount over
n × (number of cuboids) per greedy step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from sightline.alerts.diagnose_leaves import FloatArray, IntArray, Leaves

BoolArray = np.ndarray[tuple[int], np.dtype[np.bool_]]
_Conditions = tuple[tuple[int, int], ...]
"""A combination inside the search: (dimension index, value code) pairs, sorted by dimension."""

_MEDIAN_Z2 = 0.4549
"""The median of z² for z ~ N(0, 1)."""
_COUNTED = 5.0
"""Leaves expecting at least this many events tell their extra (relative) noise; fewer are mostly Poisson."""
_RELATIVE_FLOOR = 1e-3
"""The smallest relative noise assumed (a noiseless input would make any change infinitely significant)."""
_SEARCH_STEPS = 20
"""The most elements one greedy search takes before generalising."""
_MOST = 0.5
"""Causes that hold more than this share of an ancestor's volume (exposure) are pieces of the ancestor."""


@dataclass(frozen=True, slots=True)
class Cause:
    """A combination of dimension values. `observed`, `expected`, `views` and `leaves` are the combination's
    totals; `share` is the excess of the leaves it explains (none counted by a cause before it) over the
    anomaly's total excess Σ(observed − expected); `significance` its gain over those leaves (a χ²)."""

    conditions: tuple[tuple[str, str], ...]
    observed: float
    expected: float
    views: float
    leaves: int
    share: float
    significance: float


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A candidate set of causes, strongest first; `share` is the excess they explain together."""

    causes: tuple[Cause, ...]
    share: float


def diagnose(
    leaves: Leaves,
    *,
    direction: int | None = None,
    max_dimensions: int = 3,
    max_causes: int = 5,
    candidates: int = 5,
    false_alarm: float = 0.01,
    min_share: float = 0.02,
    reference: Sequence[Leaves] = (),
) -> tuple[Diagnosis, ...]:
    """Ranked candidate cause sets of the anomaly in `leaves`, best first; empty when nothing is significant.

    `direction` +1 looks for excess above the expected, −1 below, None takes the direction of the most
    significant element. Elements combine at most `max_dimensions` dimensions; a set holds at most
    `max_causes` causes; `candidates` sets at most are returned; `false_alarm` is the chance that noise
    alone yields a cause (Bonferroni over all elements)."""
    if direction not in (None, 1, -1):
        raise ValueError("direction must be +1, -1 or None")
    if max_dimensions < 1 or max_causes < 1 or candidates < 1:
        raise ValueError("max_dimensions, max_causes and candidates must be ≥ 1")
    if not 0 < false_alarm < 1 or not 0 <= min_share < 1:
        raise ValueError("false_alarm must be in (0, 1) and min_share in [0, 1)")
    kept = (leaves.observed > 0) | (leaves.expected > 0) | (leaves.exposure > 0)
    if not kept.any():
        return ()
    noisy = reference or (leaves,)
    residual = np.concatenate([past.observed - past.expected for past in noisy])
    noise = _noise(residual, np.concatenate([past.expected for past in noisy]), leaves.counts)
    model = _model(leaves, kept, noise)
    elements = _elements(model.codes, max_dimensions)
    everything: BoolArray = np.ones(model.size, dtype=bool)
    threshold = _chi2_bound(false_alarm / elements.count)
    if direction is None:
        direction = max((1, -1), key=lambda way: float(_gains(elements, model, everything, way).max()))
    gains = _gains(elements, model, everything, direction)
    gains = np.where(gains > threshold, gains, 0.0)
    found: list[tuple[_Conditions, ...]] = []
    for start in _ranked(elements, gains)[:candidates]:
        if gains[start] <= 0:
            break
        chosen = _greedy(elements, model, direction, threshold, int(start))
        general = _generalised(model, chosen, direction)
        causes = tuple(_strongest(model, general, direction, threshold, min_share)[:max_causes])
        if causes not in found:
            found.append(causes)
    return tuple(_diagnosis(leaves, kept, model, causes, direction) for causes in found)


def _model(leaves: Leaves, kept: BoolArray, noise: tuple[float, float]) -> _Model:
    observed, expected, exposure = leaves.observed[kept], leaves.expected[kept], leaves.exposure[kept]
    residual = observed - expected
    a, b = noise
    variance = a * expected + b * expected**2
    positive = expected > 0
    weight = 1.0 / np.where(positive, variance, variance[positive].min() if positive.any() else 1.0)
    return _Model(
        leaves.codes[kept], observed, expected, exposure, weight * exposure * residual, weight * exposure**2, noise
    )


@dataclass(frozen=True, slots=True)
class _Model:
    """The leaves kept for the search: their codes (n, d); observed y, expected e, exposure x, w·x·r and w·x²
    of each (n,); `noise` (a, b) of the noise variance a·e + b·e²."""

    codes: IntArray
    observed: FloatArray
    expected: FloatArray
    exposure: FloatArray
    numerator: FloatArray
    denominator: FloatArray
    noise: tuple[float, float]

    @property
    def size(self) -> int:
        return int(self.codes.shape[0])

    def mask(self, conditions: _Conditions) -> BoolArray:
        inside: BoolArray = np.ones(self.size, dtype=bool)
        for j, code in conditions:
            inside &= self.codes[:, j] == code
        return inside

    def volume(self, mask: BoolArray) -> float:
        return float(self.exposure[mask].sum())

    def top(self, mask: BoolArray) -> float:
        return float(self.numerator[mask].sum())

    def bottom(self, mask: BoolArray) -> float:
        return float(self.denominator[mask].sum())

    def shift(self, mask: BoolArray) -> float:
        """The δ of y = e + δ·x fitted on the leaves of `mask` (0 on none)."""
        bottom = self.bottom(mask)
        return self.top(mask) / bottom if bottom > 0 else 0.0

    def gain(self, mask: BoolArray, within: BoolArray, direction: int) -> float:
        """The gain of the leaves of `mask` standing out towards `direction` from the rest of `within`."""
        inside = mask & within

        def total(values: FloatArray) -> FloatArray:
            return np.array([values[inside].sum()], dtype=np.float64)

        sums = (total(self.numerator), total(self.denominator), total(self.observed), total(self.expected))
        return float(_contrast(self, within, sums, direction)[0])


@dataclass(frozen=True, slots=True)
class _Elements:
    """Every element of every cuboid: `ids[i, c]` is leaf i's element in cuboid c (ids are global);
    element e is the combination `codes[e, j]` of the dimensions j of `cuboids[cuboid[e]]`."""

    ids: IntArray
    cuboid: IntArray
    layer: IntArray
    codes: IntArray
    cuboids: tuple[tuple[int, ...], ...]

    @property
    def count(self) -> int:
        return int(self.cuboid.shape[0])

    def conditions(self, element: int) -> _Conditions:
        return tuple((j, int(self.codes[element, j])) for j in self.cuboids[int(self.cuboid[element])])


def _greedy(elements: _Elements, model: _Model, direction: int, threshold: float, start: int) -> list[_Conditions]:
    """From `start`, add the element of largest gain over the leaves no element covers yet while that gain
    passes `threshold` (at most _SEARCH_STEPS elements)."""
    chosen = [start]
    left = ~_covered(elements, start)
    while len(chosen) < _SEARCH_STEPS and left.any():
        gains = _gains(elements, model, left, direction)
        gains = np.where(gains > threshold, gains, 0.0)
        best = int(_ranked(elements, gains)[0])
        if gains[best] <= 0:
            break
        chosen.append(best)
        left &= ~_covered(elements, best)
    return [elements.conditions(e) for e in chosen]


def _generalised(model: _Model, causes: list[_Conditions], direction: int) -> list[_Conditions]:
    """Replace the causes under an ancestor by the ancestor when they are most of its volume (two or more
    causes: the pieces of one cause whose effect varies), or when its leaves no cause covers fit their
    shift δ better than none (Σw(r − δx)² < Σw·r², i.e. 2δ·Σwxr − δ²·Σwx² ≥ 0). The ancestor taking the
    most causes first, then the one whose other leaves fit best, then the one with fewer conditions."""
    while True:
        covered: BoolArray = np.zeros(model.size, dtype=bool)
        for cause in causes:
            covered |= model.mask(cause)
        options: list[tuple[int, float, int, _Conditions]] = []
        for ancestor in sorted({a for cause in causes for a in _ancestors(cause)}):
            members = sum(set(ancestor) <= set(c) for c in causes)
            inside = model.mask(ancestor)
            shift = model.shift(inside & covered)
            rest = inside & ~covered
            better = 2 * shift * model.top(rest) - shift * shift * model.bottom(rest)
            most = members >= 2 and model.volume(inside & covered) >= _MOST * model.volume(inside)
            if shift * direction > 0 and (better >= 0 or most):
                options.append((members, better, -len(ancestor), ancestor))
        if not options:
            return causes
        ancestor = max(options, key=lambda option: option[:3])[3]
        causes = [c for c in causes if not set(ancestor) <= set(c)] + [ancestor]


def _ancestors(cause: _Conditions) -> list[_Conditions]:
    """The combinations of some but not all of `cause`'s conditions."""
    return [subset for size in range(1, len(cause)) for subset in combinations(cause, size)]


def _strongest(
    model: _Model, causes: list[_Conditions], direction: int, threshold: float, min_share: float
) -> list[_Conditions]:
    """Causes strongest first, each of largest gain over the leaves the ones before it left, while that gain
    passes `threshold` (a generalised cause may leave little to the ones after it); then without the causes
    whose excess there is below `min_share` of the excess of them all, until none is."""
    while True:
        ordered: list[_Conditions] = []
        excess: list[float] = []
        left: BoolArray = np.ones(model.size, dtype=bool)
        remaining = sorted(set(causes))
        while remaining:
            gains = [model.gain(model.mask(c), left, direction) for c in remaining]
            best = max(range(len(remaining)), key=lambda k: (gains[k], -len(remaining[k])))
            if gains[best] <= threshold:
                break
            ordered.append(remaining.pop(best))
            mine = model.mask(ordered[-1]) & left
            excess.append(direction * float(model.observed[mine].sum() - model.expected[mine].sum()))
            left &= ~mine
        kept = [cause for cause, part in zip(ordered, excess, strict=True) if part >= min_share * sum(excess)]
        if kept == ordered:
            return ordered
        causes = kept


def _gains(elements: _Elements, model: _Model, mask: BoolArray, direction: int) -> FloatArray:
    """Each element's gain over the leaves of `mask` (see `_contrast`)."""
    columns = elements.ids.shape[1]
    ids = elements.ids[mask].ravel()

    def total(values: FloatArray) -> FloatArray:
        sums = np.bincount(ids, weights=np.repeat(values[mask], columns), minlength=elements.count)
        return sums.astype(np.float64, copy=False)

    sums = (total(model.numerator), total(model.denominator), total(model.observed), total(model.expected))
    return _contrast(model, mask, sums, direction)


def _contrast(
    model: _Model, mask: BoolArray, sums: tuple[FloatArray, FloatArray, FloatArray, FloatArray], direction: int
) -> FloatArray:
    """The gain of each element (its Σwxr, Σwx², Σy, Σe in `sums`) standing out towards `direction` from the
    other leaves of `mask`: how much better its own shift and one for the others fit than one shift common
    to all, each shift counted only when towards `direction` (a drift of everything that way is no cause;
    leaves moved the other way are not a drift). 0 unless the element's shift passes the others'. For
    counts, capped by the Poisson likelihood ratio of its total against its expected at the others' level."""
    top, bottom, observed, expected = sums
    whole_top, whole_bottom = model.top(mask), model.bottom(mask)
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
        gains: FloatArray = np.where(stands_out, np.maximum(own + rest - common, 0.0), 0.0)
        a = model.noise[0]
        if a > 0:
            rest_expected = float(model.expected[mask].sum()) - expected
            rest_observed = float(model.observed[mask].sum()) - observed
            level = np.where(rest_expected > 0, rest_observed / rest_expected, 1.0)
            level = np.maximum(level, 1.0) if direction > 0 else np.minimum(level, 1.0)
            gains = np.minimum(gains, _poisson_ratio(observed, expected * level) / a)
    return gains


def _poisson_ratio(observed: FloatArray, expected: FloatArray) -> FloatArray:
    """2·(y·ln(y/e) − (y − e)): the likelihood ratio of y events against e expected, honest for few events."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(observed > 0, observed * np.log(observed / np.maximum(expected, 1e-300)), 0.0)
    ratio: FloatArray = 2.0 * (log_term - (observed - expected))
    return ratio


def _ranked(elements: _Elements, gains: FloatArray) -> IntArray:
    """Elements by gain, highest first; gains equal to 1e-9 relative order by fewer dimensions, then id."""
    best = float(gains.max()) if gains.size else 0.0
    rounded = np.round(gains / (best if best > 0 else 1.0), 9)
    order: IntArray = np.lexsort((np.arange(elements.count), elements.layer, -rounded))
    return order


def _covered(elements: _Elements, element: int) -> BoolArray:
    covered: BoolArray = elements.ids[:, elements.cuboid[element]] == element
    return covered


def _elements(codes: IntArray, max_dimensions: int) -> _Elements:
    """Group the leaves by every combination of 1 to `max_dimensions` dimensions (a cuboid)."""
    n, d = codes.shape
    cuboids = tuple(c for size in range(1, min(max_dimensions, d) + 1) for c in combinations(range(d), size))
    ids = np.empty((n, len(cuboids)), dtype=np.int64)
    cuboid_of: list[IntArray] = []
    representative: list[IntArray] = []
    offset = 0
    for c, dims in enumerate(cuboids):
        key = np.zeros(n, dtype=np.int64)
        for j in dims:
            key = key * (int(codes[:, j].max()) + 1) + codes[:, j]
            if key.max(initial=0) > 2**40:
                key = np.unique(key, return_inverse=True)[1].astype(np.int64)
        _, first, group = np.unique(key, return_index=True, return_inverse=True)
        ids[:, c] = group + offset
        rows = np.full((first.shape[0], d), -1, dtype=np.int64)
        rows[:, list(dims)] = codes[first][:, list(dims)]
        representative.append(rows)
        cuboid_of.append(np.full(first.shape[0], c, dtype=np.int64))
        offset += first.shape[0]
    cuboid = np.concatenate(cuboid_of)
    layer = np.array([len(dims) for dims in cuboids], dtype=np.int64)[cuboid]
    return _Elements(ids, cuboid, layer, np.concatenate(representative), cuboids)


def _noise(residual: FloatArray, expected: FloatArray, counts: bool) -> tuple[float, float]:
    """(a, b) of the noise variance a·e + b·e², b at least _RELATIVE_FLOOR², from medians of squared residuals
    (robust while fewer than half the leaves compared are anomalous).
    Counts: a = 1 (events are Poisson-noisy) and b is what the leaves of at least _COUNTED expected events
    need so that the median of r²/(e + b·e²) is that of a normal z². Other amounts: r²/e² ≈ a/e + b fitted
    to the medians of (r/e)² in narrow bins of e (quantile bins of about 50 leaves, at most 16)."""
    positive = np.flatnonzero(expected > 0)
    floor = _RELATIVE_FLOOR**2
    if counts:
        large = expected >= _COUNTED
        if not large.any():
            return 1.0, floor
        squares, level = residual[large] ** 2, expected[large]
        low, high = floor, 1e6
        if np.median(squares / (level + low * level**2)) <= _MEDIAN_Z2:
            return 1.0, low
        for _ in range(100):
            middle = math.sqrt(low * high)
            if np.median(squares / (level + middle * level**2)) > _MEDIAN_Z2:
                low = middle
            else:
                high = middle
        return 1.0, high
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


def _chi2_bound(tail: float) -> float:
    """z² such that a χ² with one degree of freedom passes it with probability `tail`."""
    low, high = 0.0, 40.0
    for _ in range(100):
        middle = (low + high) / 2
        if math.erfc(middle / math.sqrt(2)) > tail:
            low = middle
        else:
            high = middle
    return high * high


def _diagnosis(
    leaves: Leaves, kept: BoolArray, model: _Model, causes: tuple[_Conditions, ...], direction: int
) -> Diagnosis:
    excess = leaves.observed[kept] - leaves.expected[kept]
    total = float(excess.sum())
    explained: BoolArray = np.zeros(model.size, dtype=bool)
    described: list[Cause] = []
    for cause in causes:
        inside = model.mask(cause)
        significance = model.gain(inside, ~explained, direction)
        mine = inside & ~explained
        explained |= mine
        everywhere: BoolArray = np.ones(leaves.size, dtype=bool)
        for j, code in cause:
            everywhere &= leaves.codes[:, j] == code
        described.append(
            Cause(
                conditions=tuple((leaves.dimensions[j], leaves.labels[j][code]) for j, code in cause),
                observed=float(leaves.observed[everywhere].sum()),
                expected=float(leaves.expected[everywhere].sum()),
                views=float(leaves.views[everywhere].sum()),
                leaves=int(inside.sum()),
                share=float(excess[mine].sum()) / total if total != 0 else 0.0,
                significance=significance,
            )
        )
    share = float(excess[explained].sum()) / total if total != 0 else 0.0
    return Diagnosis(tuple(described), share)
