"""Root-cause localisation: the smallest sets of dimension-value combinations (`cdn=X ∧ country=Y`) that
explain an anomaly's excess over its expected value (pure, numpy).

Input: `Leaves` (diagnose_leaves.py), one row per combination of the dimension values in reach, with the
observed and the expected amount of an additive metric, or of a ratio metric's numerator (its expected =
expected rate × observed denominator). Output: candidate sets of causes, best first, each cause a
combination of 1 to `max_dimensions` values with its totals, share of the excess and significance.

Scoring (diagnose_score.py): a cause multiplies the expected amount of its leaves; its gain is how much
that lowers the leaves' noise-weighted squared error against one shift of all the other leaves, a χ²
under a noise variance a·e + b·e² fitted robustly to the leaves (or to `reference` windows of normal
traffic). Of a true cause, a broader combination dilutes the excess with normal leaves and a narrower one
drops part of it, so the gain peaks at the cause itself.
Search: (1) greedy: take the combination of largest gain, set its leaves aside, repeat while the best gain
passes a Bonferroni bound over all combinations (`false_alarm`; so nothing is returned for noise, and
nothing for a drift of everything, which no combination stands out of); (2) generalise: causes under a
common ancestor (fewer conditions) become the ancestor when they hold most of its expected amount, or when
its other leaves fit their shift better than none (one cause whose effect varies across its leaves, not
the pieces the greedy search took it apart into); (3) keep, strongest first, the causes that still pass the
bound over what the ones before them left and explain at least `min_share` of the excess of them all.
Alternatives: the same search from the next-best first combinations, in that order, then the first set
with its strongest cause one level broader or narrower.
Deterministic: ties go to fewer dimensions, then to the combination met first.
`broadened` (the engine's last step, over wider leaves than the search's): a cause loses the conditions whose
left-out views do not refute its rise, as a greedy search that met few of those views could not tell.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from sightline.alerts.diagnose_leaves import FloatArray, IntArray, Leaves, Named
from sightline.alerts.diagnose_score import (
    BoolArray,
    Conditions,
    Elements,
    Scorer,
    chi2_bound,
    contrast,
    elements,
    fit_noise,
    scorer,
    totals,
)

_SEARCH_STEPS = 20
"""The most combinations one greedy search takes before generalising."""
MOST = 0.5
"""Causes that hold more than this share of an ancestor's expected amount are pieces of the ancestor."""


@dataclass(frozen=True, slots=True)
class Cause:
    """A combination of dimension values, `conditions` as (dimension, value) pairs in the leaves' dimension
    order. `observed`, `expected`, `views` and `leaves` are the combination's totals; `share` is the excess
    of the leaves it explains (none explained by a cause before it) over the anomaly's total excess: the net
    Σ(observed − expected) of all leaves, or the causes' own when leaves moved the other way offset part of it
    (so shares are at most 1); `significance` its gain over those leaves (a χ²)."""

    conditions: Named
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
    """Ranked candidate cause sets of the anomaly in `leaves`, best first; () when nothing stands out.

    `direction` +1 looks for excess above the expected, −1 below, None the way of the larger gain. Causes
    combine at most `max_dimensions` dimensions; a set holds at most `max_causes` causes and none that
    explains less than `min_share` of the excess of them all; at most `candidates` sets. `false_alarm` is
    the chance that noise alone yields a cause. `reference`: leaves of normal windows (same dimensions,
    observed against the same kind of expected) to learn the noise from; by default the leaves themselves."""
    if direction not in (None, 1, -1):
        raise ValueError("direction must be +1, -1 or None")
    if max_dimensions < 1 or max_causes < 1 or candidates < 1:
        raise ValueError("max_dimensions, max_causes and candidates must be ≥ 1")
    if not 0 < false_alarm < 1 or not 0 <= min_share < 1:
        raise ValueError("false_alarm must be in (0, 1) and min_share in [0, 1)")
    if any(past.dimensions != leaves.dimensions for past in reference):
        raise ValueError("reference leaves must have the dimensions of the leaves")
    kept: BoolArray = (leaves.observed > 0) | (leaves.expected > 0)
    if not kept.any():
        return ()
    score = scorer(leaves, kept, leaves_noise(leaves, reference))
    found = elements(score.codes, max_dimensions)
    everything: BoolArray = np.ones(score.size, dtype=bool)
    threshold = chi2_bound(false_alarm / found.count)
    sums = totals(found, score, everything)
    if direction is None:
        direction = max((1, -1), key=lambda way: float(contrast(score, everything, sums, way).max()))
    first = contrast(score, everything, sums, direction)
    first = np.where(first > threshold, first, 0.0)
    sets: list[tuple[Conditions, ...]] = []
    for start in _ranked(found, first)[:candidates]:
        if first[start] <= 0:
            break
        chosen = _greedy(found, score, sums, direction, threshold, int(start))
        general = _generalised(score, chosen, direction)
        causes = tuple(_strongest(score, general, direction, threshold, min_share)[:max_causes])
        if causes and causes not in sets:
            sets.append(causes)
    if sets:
        sets += [variant for variant in _variants(found, first, sets[0]) if variant not in sets]
    return tuple(_diagnosis(leaves, kept, score, causes, direction) for causes in sets[:candidates])


def leaves_noise(leaves: Leaves, reference: Sequence[Leaves] = ()) -> tuple[float, float]:
    """(a, b) of the noise variance a·e + b·e² of `leaves` (`fit_noise`), learnt from the `reference` windows,
    or from the leaves themselves without any."""
    noisy = reference or (leaves,)
    residual = np.concatenate([past.observed - past.expected for past in noisy])
    return fit_noise(residual, np.concatenate([past.expected for past in noisy]), leaves.counts)


def broadened(
    conditions: Named,
    inside: Callable[[Named], NDArray[np.bool_]],
    observed: FloatArray,
    expected: FloatArray,
    noise: tuple[float, float],
    refuted: float,
    as_simple: Callable[[str, Named], bool] = lambda name, others: False,
) -> Named:
    """A cause's `conditions` without those the views they leave out do not refute. `inside(conditions)` is the
    mask of a combination's leaves, `observed` and `expected` their amounts, `noise` the (a, b) of their noise
    variance a·e + b·e² (`fit_noise`). On the leaves the other conditions hold and one excludes, the cause's own
    ratio k of observed to expected fits y·ln k − (k − 1)·e better than none (quasi-Poisson log-likelihood, over
    the dispersion (a·Σe + b·Σe²) ÷ Σe); while some condition's views do not refute k (they fit it no more than
    `refuted` worse than none), the condition whose views fit best is dropped and k is taken again. A condition
    on a dimension whose drop leaves a cause as simple, `as_simple(dimension, the other conditions)` (a player
    version beside its player: one dimension either way), is dropped only when its views fit k better than none:
    of two causes as simple, the one that fits. One condition always stays, and so does one that leaves out
    nothing expected (the player of a player version): nothing refutes or supports it."""
    kept = tuple(conditions)
    while len(kept) > 1:
        mine = inside(kept)
        ratio = max(float(observed[mine].sum()), 1e-300) / max(float(expected[mine].sum()), 1e-300)
        drops: list[tuple[float, Named]] = []
        for condition in kept:
            others = tuple(c for c in kept if c != condition)
            rest = inside(others) & ~mine
            seen, level = float(observed[rest].sum()), float(expected[rest].sum())
            if level <= 0:
                continue
            dispersion = (noise[0] * level + noise[1] * float(expected[rest] @ expected[rest])) / level
            fit = (seen * math.log(ratio) - (ratio - 1.0) * level) / dispersion
            if fit >= (0.0 if as_simple(condition[0], others) else -refuted):
                drops.append((fit, others))
        if not drops:
            break
        kept = max(drops, key=lambda drop: drop[0])[1]
    return kept


def _variants(found: Elements, first: FloatArray, causes: tuple[Conditions, ...]) -> list[tuple[Conditions, ...]]:
    """The set with its strongest cause one level broader or narrower: each of its ancestors that passed the
    bound, strongest first, then its child (one more condition) of largest gain."""
    main, rest = causes[0], causes[1:]
    broader = [e for e in map(found.element, _ancestors(main)) if first[e] > 0]
    children = found.layer == len(main) + 1
    for j, code in main:
        children &= found.codes[:, j] == code
    narrower = [int(np.argmax(np.where(children, first, -1.0)))] if (first[children] > 0).any() else []
    ordered = sorted(broader, key=lambda e: -first[e]) + narrower
    return [(found.conditions(e), *rest) for e in ordered]


def _greedy(
    found: Elements, score: Scorer, sums: FloatArray, direction: int, threshold: float, start: int
) -> list[Conditions]:
    """From `start`, add the combination of largest gain over the leaves none covers yet while that gain
    passes `threshold` (at most _SEARCH_STEPS combinations); `sums` are the totals over all leaves."""
    chosen = [start]
    left = ~found.covered(start)
    sums = sums - totals(found, score, ~left)
    while len(chosen) < _SEARCH_STEPS and left.any():
        step = contrast(score, left, sums, direction)
        step = np.where(step > threshold, step, 0.0)
        best = int(_ranked(found, step)[0])
        if step[best] <= 0:
            break
        chosen.append(best)
        taken = found.covered(best) & left
        sums = sums - totals(found, score, taken)
        left &= ~taken
    return [found.conditions(e) for e in chosen]


def _generalised(score: Scorer, causes: list[Conditions], direction: int) -> list[Conditions]:
    """Drop the causes whose leaves another cause holds (pieces of it: `appversion=A ∧ cdn=X ∧ isp=I` beside
    `cdn=X ∧ country=Y`, I being one of Y's ISPs), then replace the causes under an ancestor by the ancestor
    when they hold most of its expected amount (two or more causes: the pieces of one), or when its leaves no
    cause covers fit their shift δ better than none (Σw(r − δe)² ≤ Σw·r², i.e. 2δ·Σw·e·r − δ²·Σw·e² ≥ 0).
    The ancestor taking the most causes first, then the one whose other leaves fit best, then the one with
    fewer conditions."""
    causes = _without_pieces(score, causes)
    while True:
        covered: BoolArray = np.zeros(score.size, dtype=bool)
        for cause in causes:
            covered |= score.mask(cause)
        options: list[tuple[int, float, int, Conditions]] = []
        for ancestor in sorted({a for cause in causes for a in _ancestors(cause)}):
            members = sum(set(ancestor) <= set(c) for c in causes)
            inside = score.mask(ancestor)
            shift = score.shift(inside & covered)
            rest = inside & ~covered
            better = shift * (2 * float(score.numerator[rest].sum()) - shift * float(score.denominator[rest].sum()))
            held = float(score.expected[inside & covered].sum())
            most = members >= 2 and held >= MOST * float(score.expected[inside].sum())
            if shift * direction > 0 and (better >= 0 or most):
                options.append((members, better, -len(ancestor), ancestor))
        if not options:
            return causes
        ancestor = max(options, key=lambda option: option[:3])[3]
        causes = [c for c in causes if not set(ancestor) <= set(c)] + [ancestor]


def _without_pieces(score: Scorer, causes: list[Conditions]) -> list[Conditions]:
    """`causes` without those whose leaves another one holds; of two holding the same leaves, the one with fewer
    conditions stays (the first of equals)."""
    masks = [score.mask(cause) for cause in causes]
    kept = []
    for i, cause in enumerate(causes):
        holders = (
            j
            for j, other in enumerate(causes)
            if j != i
            and not (masks[i] & ~masks[j]).any()
            and ((masks[j] & ~masks[i]).any() or (len(other), j) < (len(cause), i))
        )
        if next(holders, None) is None:
            kept.append(cause)
    return kept


def _ancestors(cause: Conditions) -> list[Conditions]:
    """The combinations of some but not all of `cause`'s conditions."""
    return [subset for size in range(1, len(cause)) for subset in combinations(cause, size)]


def _strongest(
    score: Scorer, causes: list[Conditions], direction: int, threshold: float, min_share: float
) -> list[Conditions]:
    """Causes strongest first, each of largest gain over the leaves the ones before it left, while that gain
    passes `threshold` (a generalised cause may leave little to the ones after it); then without the causes
    whose excess there is below `min_share` of the excess of them all, until none is."""
    while True:
        ordered: list[Conditions] = []
        excess: list[float] = []
        left: BoolArray = np.ones(score.size, dtype=bool)
        remaining = sorted(set(causes))
        while remaining:
            strength = [score.gain(score.mask(c), left, direction) for c in remaining]
            best = max(range(len(remaining)), key=lambda k: (strength[k], -len(remaining[k])))
            if strength[best] <= threshold:
                break
            ordered.append(remaining.pop(best))
            mine = score.mask(ordered[-1]) & left
            excess.append(direction * score.excess(mine))
            left &= ~mine
        kept = [cause for cause, part in zip(ordered, excess, strict=True) if part >= min_share * sum(excess)]
        if kept == ordered:
            return ordered
        causes = kept


def _ranked(found: Elements, gain: FloatArray) -> IntArray:
    """Combinations by gain, highest first; gains equal to 1e-9 relative by fewer dimensions, then first met."""
    best = float(gain.max()) if gain.size else 0.0
    rounded = np.round(gain / (best if best > 0 else 1.0), 9)
    order: IntArray = np.lexsort((np.arange(found.count), found.layer, -rounded))
    return order


def _diagnosis(
    leaves: Leaves, kept: BoolArray, score: Scorer, causes: tuple[Conditions, ...], direction: int
) -> Diagnosis:
    explained: BoolArray = np.zeros(score.size, dtype=bool)
    own: list[tuple[BoolArray, float]] = []
    for cause in causes:
        inside = score.mask(cause)
        own.append((inside & ~explained, score.gain(inside, ~explained, direction)))
        explained |= own[-1][0]
    net = float(leaves.observed.sum() - leaves.expected.sum())
    total = direction * max(direction * net, direction * score.excess(explained))
    described: list[Cause] = []
    for cause, (mine, significance) in zip(causes, own, strict=True):
        named = tuple((leaves.dimensions[j], leaves.labels[j][code]) for j, code in cause)
        everywhere = leaves.holding(named)
        described.append(
            Cause(
                conditions=named,
                observed=float(leaves.observed[everywhere].sum()),
                expected=float(leaves.expected[everywhere].sum()),
                views=float(leaves.views[everywhere].sum()),
                leaves=int(everywhere.sum()),
                share=score.excess(mine) / total if total != 0 else 0.0,
                significance=significance,
            )
        )
    share = score.excess(explained) / total if total != 0 else 0.0
    return Diagnosis(tuple(described), share)
