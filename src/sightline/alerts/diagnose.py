"""Root-cause localisation: the smallest sets of dimension-value combinations (`cdn=X ∧ country=Y`) that
explain an anomaly's excess over its expected value (pure, numpy).

Input: `Leaves` (diagnose_leaves.py): one row per combination of dimension values, observed y, expected e
and exposure x. A candidate cause is an element: a conjunction of 1 to `max_dimensions` dimension values,
covering the leaves that match it. Its hypothesis, y = e + δ·x on its leaves (one δ) against y = e, is
scored by how much it lowers the weighted squared error of the leaves, Σw·r² with r = y − e and w = 1/var:
  gain(E) = (Σ_E w·x·r)² / Σ_E w·x²   (a χ² with one degree of freedom when E is no cause).
The noise variance of a leaf, var = a·e + b·e², is fitted to the leaves themselves (robustly: most leaves
are normal), so counts (Poisson-like, a) and amounts with proportional error (b) both fit.
Of a true cause, a broader element dilutes the excess with normal leaves and a narrower one drops part of
it, so the gain peaks at the cause itself. The search is greedy: take the element of largest gain, remove
its leaves, repeat while the best gain passes `threshold`, a Bonferroni bound over all elements (no cause
is returned when the excess is noise). Alternatives start from the next-best first elements; candidate
sets are ranked by Σ(gain − threshold).

Deterministic: ties go to fewer dimensions, then to the element met first. Cost: one bincount over
n × (number of cuboids) per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from sightline.alerts.diagnose_leaves import FloatArray, IntArray, Leaves

_TRIM = 0.8
"""Share of a bin's smallest squared residuals its noise is estimated from (the rest may be anomalous)."""
_TRIMMED_NORMAL = 0.4377
"""E[z² | |z| below its 80th percentile] for z ~ N(0, 1): corrects the trimmed mean to a variance."""
_RELATIVE_FLOOR = 1e-3
"""The smallest relative noise assumed (a noiseless input would make any change infinitely significant)."""


@dataclass(frozen=True, slots=True)
class Cause:
    """A combination of dimension values. `observed`, `expected`, `views` and `leaves` are the combination's
    totals; `share` is the excess of the leaves it explains (none counted by a cause before it) over the
    anomaly's total excess Σ(observed − expected); `significance` its gain (χ², one degree of freedom)."""

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
    score: float


@dataclass(frozen=True, slots=True)
class _Elements:
    """Every element of every cuboid: `ids[i, c]` is leaf i's element in cuboid c (ids are global)."""

    ids: IntArray
    cuboid: IntArray
    layer: IntArray
    codes: IntArray
    cuboids: tuple[tuple[int, ...], ...]

    @property
    def count(self) -> int:
        return int(self.cuboid.shape[0])


def diagnose(
    leaves: Leaves,
    *,
    direction: int | None = None,
    max_dimensions: int = 3,
    max_causes: int = 5,
    candidates: int = 5,
    false_alarm: float = 0.01,
) -> tuple[Diagnosis, ...]:
    """Ranked candidate cause sets of the anomaly in `leaves`, best first; empty when nothing is significant.

    `direction` +1 looks for excess above the expected, −1 below, None takes the direction of the most
    significant element. Elements combine at most `max_dimensions` dimensions; a set holds at most
    `max_causes` causes; `candidates` sets at most are returned; `false_alarm` is the chance that noise
    alone yields a cause (Bonferroni over all elements)."""
    if direction not in (None, 1, -1):
        raise ValueError("direction must be +1, -1 or None")
    if max_dimensions < 1 or max_causes < 1 or candidates < 1 or not 0 < false_alarm < 1:
        raise ValueError("max_dimensions, max_causes and candidates must be ≥ 1, false_alarm in (0, 1)")
    kept = (leaves.observed > 0) | (leaves.expected > 0) | (leaves.exposure > 0)
    if not kept.any():
        return ()
    residual = leaves.observed[kept] - leaves.expected[kept]
    weight = 1.0 / _noise_variance(residual, leaves.expected[kept])
    exposure = leaves.exposure[kept]
    elements = _elements(leaves.codes[kept], max_dimensions)
    numerator = weight * exposure * residual
    denominator = weight * exposure * exposure
    threshold = _chi2_bound(false_alarm / elements.count)
    everything = np.ones(residual.shape[0], dtype=bool)
    first = _gains(elements, numerator, denominator, everything, direction)
    if direction is None:
        direction = 1 if first[1][int(np.argmax(first[0]))] >= 0 else -1
        first = _gains(elements, numerator, denominator, everything, direction)
    gains = first[0]
    starts = [e for e in _ranked(elements, gains)[:candidates] if gains[e] > threshold]
    found: list[tuple[tuple[int, ...], tuple[float, ...]]] = []
    for start in starts:
        chosen = _greedy(elements, numerator, denominator, direction, threshold, max_causes, start, gains)
        if chosen[0] not in (f[0] for f in found):
            found.append(chosen)
    total_excess = float(residual.sum())
    return tuple(_diagnosis(leaves, kept, elements, residual, total_excess, c, g, threshold) for c, g in found)


def _greedy(
    elements: _Elements,
    numerator: FloatArray,
    denominator: FloatArray,
    direction: int,
    threshold: float,
    max_causes: int,
    start: int,
    start_gains: FloatArray,
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    chosen = [start]
    gains_of_chosen = [float(start_gains[start])]
    left = ~_covered(elements, start)
    while len(chosen) < max_causes and left.any():
        gains = _gains(elements, numerator, denominator, left, direction)[0]
        best = _ranked(elements, gains)[0]
        if gains[best] <= threshold:
            break
        chosen.append(best)
        gains_of_chosen.append(float(gains[best]))
        left &= ~_covered(elements, best)
    return tuple(chosen), tuple(gains_of_chosen)


def _gains(
    elements: _Elements, numerator: FloatArray, denominator: FloatArray, mask: np.ndarray, direction: int | None
) -> tuple[FloatArray, FloatArray]:
    """Each element's gain over the leaves of `mask` (0 when its shift is against `direction`), and its Σw·x·r."""
    columns = elements.ids.shape[1]
    ids = elements.ids[mask].ravel()
    top = np.bincount(ids, weights=np.repeat(numerator[mask], columns), minlength=elements.count)
    bottom = np.bincount(ids, weights=np.repeat(denominator[mask], columns), minlength=elements.count)
    with np.errstate(divide="ignore", invalid="ignore"):
        gains: FloatArray = np.where(bottom > 0, top * top / bottom, 0.0)
    if direction is not None:
        gains = np.where(top * direction > 0, gains, 0.0)
    return gains, top.astype(np.float64)


def _ranked(elements: _Elements, gains: FloatArray) -> IntArray:
    """Elements by gain, highest first; gains equal to 1e-9 relative order by fewer dimensions, then id."""
    best = float(gains.max()) if gains.size else 0.0
    scale = best if best > 0 else 1.0
    rounded = np.round(gains / scale, 9)
    order: IntArray = np.lexsort((np.arange(elements.count), elements.layer, -rounded))
    return order


def _covered(elements: _Elements, element: int) -> np.ndarray:
    covered: np.ndarray = elements.ids[:, elements.cuboid[element]] == element
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
    layer = np.array([len(cuboids[c]) for c in range(len(cuboids))], dtype=np.int64)[cuboid]
    return _Elements(ids, cuboid, layer, np.concatenate(representative), cuboids)


def _noise_variance(residual: FloatArray, expected: FloatArray) -> FloatArray:
    """var = a·e + b·e² per leaf, fitted to the trimmed relative second moments of the residuals in narrow
    bins of e (quantile bins of about 50 leaves, at most 16): r²/e² ≈ a/e + b."""
    positive = np.flatnonzero(expected > 0)
    if positive.size == 0:
        return np.ones_like(expected)
    order = positive[np.argsort(expected[positive], kind="stable")]
    chunks = np.array_split(order, max(1, min(16, order.size // 50)))
    level = np.empty(len(chunks))
    spread = np.empty(len(chunks))
    for b, chunk in enumerate(chunks):
        relative = np.sort((residual[chunk] / expected[chunk]) ** 2)
        trimmed = relative[: max(1, math.ceil(_TRIM * relative.size))]
        level[b] = float(np.exp(np.log(expected[chunk]).mean()))
        spread[b] = max(float(trimmed.mean()) / _TRIMMED_NORMAL, _RELATIVE_FLOOR**2)
    alpha, beta = _fit_variance(level, spread)
    variance: FloatArray = alpha * expected + np.maximum(beta, _RELATIVE_FLOOR**2) * expected**2
    smallest = float(variance[positive].min())
    return np.where(expected > 0, variance, smallest)


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
    alpha, beta, _ = min(fits, key=lambda fit: fit[2])
    return alpha, beta


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
    leaves: Leaves,
    kept: np.ndarray,
    elements: _Elements,
    residual: FloatArray,
    total_excess: float,
    chosen: tuple[int, ...],
    gains: tuple[float, ...],
    threshold: float,
) -> Diagnosis:
    causes: list[Cause] = []
    explained = np.zeros(residual.shape[0], dtype=bool)
    for element, gain in zip(chosen, gains, strict=True):
        conditions = tuple(
            (leaves.dimensions[j], leaves.labels[j][int(elements.codes[element, j])])
            for j in elements.cuboids[int(elements.cuboid[element])]
        )
        full = np.ones(leaves.size, dtype=bool)
        for j in elements.cuboids[int(elements.cuboid[element])]:
            full &= leaves.codes[:, j] == elements.codes[element, j]
        mine = _covered(elements, element) & ~explained
        explained |= mine
        share = float(residual[mine].sum()) / total_excess if total_excess != 0 else 0.0
        causes.append(
            Cause(
                conditions=conditions,
                observed=float(leaves.observed[full].sum()),
                expected=float(leaves.expected[full].sum()),
                views=float(leaves.views[full].sum()),
                leaves=int(full.sum()),
                share=share,
                significance=gain,
            )
        )
    share = float(residual[explained].sum()) / total_excess if total_excess != 0 else 0.0
    return Diagnosis(tuple(causes), share, sum(g - threshold for g in gains))
