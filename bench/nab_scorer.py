"""The scoring rules of NAB v1.1 (Numenta Anomaly Benchmark), written from its documented rules, vectorised.

For one series of `rows` points with labelled windows (inclusive row ranges, sorted, disjoint) and the rows
a detector flags (anomaly score ≥ the threshold):
- the first `min(floor(0.15 × rows), 750)` rows are probationary: ignored, flagged or not;
- a window is worth `tp_weight × σ₂(p) / σ₂(−1)` for its earliest flagged row, where `p = −(right − i + 1) / width`
  is the row's position in the window and `σ₂(p) = 2·sigmoid(−5p) − 1` (1.0 at the left edge, about 0 at the
  right edge); a window with no flagged row costs `−fn_weight`; later flags in the same window are free;
- a flagged row outside every window costs `fp_weight × σ₂(p)` with `p = |i − right of the previous window| /
  (width of the previous window − 1)` (σ₂ is −1 from p ≥ 3), and `−fp_weight` before the first window.

A corpus's raw score is the sum over its series at one threshold; it is normalised as `100 × (S − S_null) /
(S_perfect − S_null)`, with `S_null = −fn_weight × windows` (nothing flagged) and `S_perfect = tp_weight ×
windows` (each window flagged at its left edge, nothing else).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PROBATION_PERCENT = 0.15
PROBATION_CAP_ROWS = 5000

Windows = Sequence[tuple[int, int]]


@dataclass(frozen=True)
class Profile:
    """One of NAB's cost matrices (config/profiles.json)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


PROFILES = (
    Profile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0),
    Profile("reward_low_FP_rate", tp_weight=1.0, fp_weight=0.22, fn_weight=1.0),
    Profile("reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0),
)


def scaled_sigmoid(position: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """σ₂(p) = 2·sigmoid(−5p) − 1, and −1 from p ≥ 3 on."""
    return np.where(position >= 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0)


def probation_rows(rows: int) -> int:
    """The number of leading rows that are not scored."""
    return math.ceil(min(math.floor(PROBATION_PERCENT * rows), PROBATION_PERCENT * PROBATION_CAP_ROWS))


def row_scores(rows: int, windows: Windows, profile: Profile) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """What a flag at each row is worth, and the index of the window holding each row (−1 outside every window)."""
    index = np.arange(rows, dtype=np.float64)
    position = np.full(rows, 3.0)  # before the first window: a plain false positive
    window_of_row = np.full(rows, -1, dtype=np.int64)
    max_tp = float(scaled_sigmoid(np.array([-1.0]))[0])
    for number, (left, right) in enumerate(windows):
        width = right - left + 1
        window_of_row[left : right + 1] = number
        position[left : right + 1] = -(right - index[left : right + 1] + 1) / width
        following = slice(right + 1, windows[number + 1][0] if number + 1 < len(windows) else rows)
        position[following] = np.abs(index[following] - right) / (width - 1)
    unweighted = scaled_sigmoid(position)
    worth = np.where(window_of_row >= 0, unweighted * profile.tp_weight / max_tp, unweighted * profile.fp_weight)
    return worth, window_of_row


def score_series(flagged: npt.NDArray[np.bool_], windows: Windows, profile: Profile) -> float:
    """The raw NAB score of one series whose flagged rows are `flagged` (shape (rows,))."""
    rows = flagged.shape[0]
    worth, window_of_row = row_scores(rows, windows, profile)
    scored = np.arange(rows) >= probation_rows(rows)
    hits = flagged & scored
    false_positives = float(worth[hits & (window_of_row < 0)].sum())
    total = false_positives
    for number in range(len(windows)):
        in_window = window_of_row == number
        if not (in_window & scored).any():
            continue  # a window wholly in the probationary period is not scored
        detected = hits & in_window
        total += float(worth[detected].max()) if detected.any() else -profile.fn_weight
    return total


def normalised(raw_total: float, window_count: int, profile: Profile) -> float:
    """The corpus score on NAB's 0 (nothing flagged) to 100 (perfect) scale."""
    null = -profile.fn_weight * window_count
    perfect = profile.tp_weight * window_count
    return 100.0 * (raw_total - null) / (perfect - null)
