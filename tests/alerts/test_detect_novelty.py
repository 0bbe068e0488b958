"""The novelty detector (sightline.alerts.detect_novelty): causal, scores in [0, 1], one alarm per novelty; spikes,
shifts, changes of variance, flat lines and a value wrong for its time of day are found; a learnt season is not."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from sightline.alerts.detect_novelty import (
    NoveltyParams,
    novelty_excess,
    novelty_scores,
    novelty_views,
    past_range,
    record_excess,
    seasonal_fit,
)

STEP_S = 300
DAY = 288  # 5-minute rows a day
Array = npt.NDArray[np.float64]


def _times(rows: int = 14 * DAY) -> npt.NDArray[np.int64]:
    return np.arange(rows, dtype=np.int64) * STEP_S


def _daily(seed: int, rows: int = 14 * DAY, noise: float = 0.2) -> Array:
    """A daily wave from 10 to 30 with a little noise."""
    phase = 2 * np.pi * (_times(rows) % 86_400) / 86_400
    return 20.0 + 10.0 * np.sin(phase) + np.random.default_rng(seed).normal(0.0, noise, rows)


def _alarms(values: Array) -> npt.NDArray[np.int64]:
    return np.flatnonzero(novelty_scores(_times(len(values)), values) > 0.5)


def test_scores_are_in_0_1_and_only_alarms_score() -> None:
    values = _daily(1)
    values[3000:3010] += 15.0
    scores = novelty_scores(_times(), values)
    assert ((scores >= 0.0) & (scores <= 1.0)).all()
    assert 3000 in np.flatnonzero(scores > 0.5)
    assert set(np.unique(scores[scores <= 0.5])) == {0.0}  # a row that does not open an alarm scores 0


def test_a_spike_is_an_alarm_at_its_row() -> None:
    values = _daily(2)
    values[3000] += 8.0  # 38 at most on the wave: past the record high of about 30
    assert 3000 in _alarms(values)


def test_a_level_shift_opens_one_alarm_at_its_start() -> None:
    values = _daily(3)
    values[3100:] += 15.0
    alarms = _alarms(values)
    assert alarms[alarms >= 3050][:1].tolist() == [3100]
    assert ((alarms > 3100) & (alarms < 3130)).sum() == 0  # the detector is quiet during the episode


def test_a_shift_within_the_range_of_the_values_is_found_by_the_level() -> None:
    values = np.random.default_rng(4).normal(0.0, 1.0, 14 * DAY)
    values[3000:] += 2.0  # a shift of 2 standard deviations: most values stay within the past range
    alarms = _alarms(values)
    assert ((alarms >= 3000) & (alarms < 3050)).any()


def test_a_change_of_variance_is_found() -> None:
    values = np.random.default_rng(5).normal(0.0, 1.0, 14 * DAY)
    values[3000:] *= 3.0
    alarms = _alarms(values)
    assert ((alarms >= 3000) & (alarms < 3024)).any()


def test_a_flat_line_is_found_by_the_spread() -> None:
    values = np.random.default_rng(6).normal(10.0, 1.0, 14 * DAY)
    values[3000:] = 10.0  # within every record: only the spread (0) is new
    excess = novelty_excess(_times(), values, NoveltyParams())
    alarms = _alarms(values)
    assert ((alarms >= 3000) & (alarms < 3024)).any()
    assert excess["spread"][3000:3024].max() > NoveltyParams().tolerance


def test_a_value_normal_by_day_is_an_alarm_at_night() -> None:
    """30 is the daily peak; at the trough, where the wave is at 10, it is novel for the daily expectation only."""
    values = _daily(7)
    trough = 10 * DAY + 216  # 18:00, the trough of the wave
    values[trough] = 30.0
    excess = novelty_excess(_times(), values, NoveltyParams())
    assert trough in _alarms(values)
    assert excess["value"][trough] == 0.0
    assert excess["daily"][trough] > NoveltyParams().tolerance


def test_a_seasonal_view_counts_only_where_its_season_predicts() -> None:
    """A daily wave: the daily expectation beats the recent level from its second day on; the weekly one never
    beats the daily one, so a week's residual is not a second, noisier copy of the day's."""
    rows = 21 * DAY
    values = _daily(13, rows)
    params = NoveltyParams()
    fits = seasonal_fit(values, novelty_views(_times(rows), values, params), params)
    assert fits["daily"][2 * DAY :].all()
    assert not fits["weekly"].any()


@pytest.mark.parametrize("seed", [14, 15, 16])
def test_a_clean_daily_series_raises_no_alarm_after_its_first_day(seed: int) -> None:
    alarms = _alarms(_daily(seed))
    assert alarms[alarms >= DAY].size == 0


@pytest.mark.parametrize("seed", [8, 9, 10])
def test_a_clean_seasonal_series_raises_no_alarm_once_its_week_is_learnt(seed: int) -> None:
    """Three weeks of a daily wave with quieter weekends: the first weekend is new (the detector may say so),
    every day after the first week is like one seen before."""
    rows = 21 * DAY
    weekend = np.where((_times(rows) // 86_400) % 7 >= 5, -3.0, 0.0)
    values = _daily(seed, rows) + weekend
    alarms = _alarms(values)
    assert alarms[alarms >= 7 * DAY].size == 0


def test_no_look_ahead() -> None:
    """Changing the future changes nothing before it, and the scores of a prefix are the prefix of the scores."""
    rng = np.random.default_rng(11)
    values = _daily(11)
    changed = values.copy()
    changed[2500:] = rng.normal(100.0, 50.0, len(values) - 2500)
    before, after = novelty_scores(_times(), values), novelty_scores(_times(), changed)
    assert np.array_equal(before[:2500], after[:2500])
    assert not np.array_equal(before[2500:], after[2500:])
    assert np.array_equal(novelty_scores(_times(3000), values[:3000]), before[:3000])


def test_missing_values_are_skipped() -> None:
    values = _daily(12)
    values[1000:1100] = np.nan
    values[3000] += 8.0
    scores = novelty_scores(_times(), values)
    assert np.isfinite(scores).all()
    assert scores[3000] > 0.5


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ([0.0, 1.0, 0.5, 1.5], [0.0, 0.0, 0.0, 0.5]),  # 1.5 passes the record high 1 by half the range 1
        ([0.0, 1.0, -2.0, 0.5], [0.0, 0.0, 2.0, 0.0]),  # −2 passes the record low 0 by twice the range
        ([1.0, 1.0, 2.0, np.nan], [0.0, 0.0, 0.0, 0.0]),  # a range of 0 measures nothing; NaN is not novel
    ],
)
def test_record_excess_by_hand(view: list[float], expected: list[float]) -> None:
    values = np.array(view)
    assert record_excess(values, past_range(values), warm_up=2).tolist() == expected


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        novelty_scores(_times(), np.zeros(14 * DAY - 1))
