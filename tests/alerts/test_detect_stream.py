"""The streaming detector (sightline.alerts.detect_stream): causal, one score per episode, seasonality learned."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from sightline.alerts.detect_stream import StreamParams, stream_scores, tail_probability

STEP_S = 300
ROWS = 288 * 14  # two weeks of 5-minute points
Array = npt.NDArray[np.float64]


def _times() -> npt.NDArray[np.int64]:
    return np.arange(ROWS, dtype=np.int64) * STEP_S


def _daily(rng: np.random.Generator) -> Array:
    """A daily wave (10 to 30) with small noise."""
    phase = 2 * np.pi * (_times() % 86_400) / 86_400
    return 20.0 + 10.0 * np.sin(phase) + rng.normal(0.0, 0.5, ROWS)


def test_scores_are_in_0_1_and_only_episode_openings_score() -> None:
    values = _daily(np.random.default_rng(1))
    values[3000:3010] += 15.0
    scores = stream_scores(_times(), values)
    assert ((scores >= 0.0) & (scores <= 1.0)).all()
    flagged = np.flatnonzero(scores > 0)
    assert flagged.size > 0
    assert (scores[flagged] > 1.0 - StreamParams().alpha).all()


def test_a_level_shift_opens_one_episode_at_its_start() -> None:
    values = _daily(np.random.default_rng(2))
    values[3100:] += 15.0  # a lasting shift
    flagged = np.flatnonzero(stream_scores(_times(), values) > 0)
    assert flagged[flagged >= 3050].tolist()[:1] == [3100]
    assert ((flagged > 3100) & (flagged < 3200)).sum() == 0  # the episode is not repeated


def test_the_daily_wave_itself_is_not_anomalous() -> None:
    values = _daily(np.random.default_rng(3))
    flagged = np.flatnonzero(stream_scores(_times(), values) > 0)
    assert flagged[flagged >= 288 * 2].size <= 2  # after two days the wave is known


def test_a_dip_normal_by_day_is_caught_at_night() -> None:
    """A value that is normal at the daily peak is anomalous in the trough: the season is learned."""
    values = _daily(np.random.default_rng(4))
    trough = 288 * 10 + 216  # 18:00, the trough of sin
    values[trough] = 30.0
    scores = stream_scores(_times(), values)
    assert scores[trough] > 0


def test_no_look_ahead() -> None:
    """Changing the future changes nothing before it."""
    rng = np.random.default_rng(5)
    values = _daily(rng)
    changed = values.copy()
    changed[2500:] = rng.normal(100.0, 50.0, ROWS - 2500)
    before = stream_scores(_times(), values)
    after = stream_scores(_times(), changed)
    assert np.array_equal(before[:2500], after[:2500])
    assert not np.array_equal(before[2500:], after[2500:])


def test_tail_probability_of_a_surprise_is_learned_from_the_past() -> None:
    rng = np.random.default_rng(6)
    surprise = np.abs(rng.normal(0.0, 1.0, 5000))
    surprise[-1] = 6.0
    p = tail_probability(surprise, StreamParams())
    assert p[-1] < 1e-4
    assert np.mean(p[1000:-1] < 0.01) == pytest.approx(0.01, abs=0.006)  # calibrated on clean data


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        stream_scores(_times(), np.zeros(ROWS - 1))
