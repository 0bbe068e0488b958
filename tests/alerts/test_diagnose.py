"""Root-cause diagnosis on small synthetic cubes: CDN × country × device × player leaves with Poisson noise,
an effect injected on known combinations, and the diagnosis compared with them."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from itertools import product

import numpy as np
import pytest
from numpy.typing import NDArray

from sightline.alerts.diagnose import Diagnosis, broadened, diagnose
from sightline.alerts.diagnose_leaves import (
    LeavesError,
    Named,
    additive_leaves,
    baseline_rate,
    coded,
    main_effect_rates,
    ratio_leaves,
)
from sightline.alerts.diagnose_score import poisson_ratio
from sightline.alerts.diagnosis import _beside_its_parent

DIMENSIONS = ("cdn", "country", "device", "player")
VALUES = (
    ("akamai", "fastly", "cloudfront", "edgio"),
    ("us", "fr", "de", "br", "in"),
    ("android", "ios", "web", "tv"),
    ("shaka", "hls.js", "avplayer"),
)
Combination = tuple[tuple[str, str], ...]


def grid() -> list[NDArray[np.str_]]:
    rows = list(product(*VALUES))
    return [np.array([row[j] for row in rows]) for j in range(len(DIMENSIONS))]


def inside(columns: list[NDArray[np.str_]], combination: Combination) -> NDArray[np.bool_]:
    mask = np.ones(columns[0].shape[0], dtype=bool)
    for name, value in combination:
        mask &= columns[DIMENSIONS.index(name)] == value
    return mask


def counts_cube(
    effects: dict[Combination, float], seed: int = 7, reference: bool = False, max_dimensions: int = 3
) -> Diagnosis | None:
    """Errors per leaf: expected ~100 each, observed Poisson around expected × (1 + effect of its cause);
    with `reference`, the noise is learnt from a window of the same leaves without effect."""
    rng = np.random.default_rng(seed)
    columns = grid()
    expected = rng.gamma(4.0, 25.0, size=columns[0].shape[0])
    factor = np.ones_like(expected)
    for combination, effect in effects.items():
        factor[inside(columns, combination)] += effect
    observed = rng.poisson(expected * factor).astype(np.float64)
    normal = additive_leaves(DIMENSIONS, columns, np.asarray(rng.poisson(expected), dtype=np.float64), expected)
    leaves = additive_leaves(DIMENSIONS, columns, observed, expected)
    found = diagnose(leaves, reference=(normal,) if reference else (), max_dimensions=max_dimensions)
    return found[0] if found else None


def causes(diagnosis: Diagnosis | None) -> set[Combination]:
    return set() if diagnosis is None else {c.conditions for c in diagnosis.causes}


@pytest.mark.parametrize(
    "cause",
    [
        (("cdn", "fastly"),),
        (("country", "br"), ("device", "tv")),
        (("cdn", "edgio"), ("country", "fr"), ("player", "shaka")),
    ],
    ids=["1 dimension", "2 dimensions", "3 dimensions"],
)
def test_a_cause_is_found_at_its_own_combination(cause: Combination) -> None:
    diagnosis = counts_cube({cause: 0.8})
    assert causes(diagnosis) == {cause}


def test_a_single_leaf_cause_is_found_when_combinations_reach_every_dimension() -> None:
    leaf = (("cdn", "akamai"), ("country", "in"), ("device", "ios"), ("player", "avplayer"))
    assert causes(counts_cube({leaf: 1.5}, max_dimensions=4)) == {leaf}


def test_two_simultaneous_causes_are_both_found() -> None:
    first = (("cdn", "akamai"), ("device", "ios"))
    second = (("country", "in"),)
    assert causes(counts_cube({first: 1.0, second: 0.6})) == {first, second}


def test_noise_alone_yields_no_cause_but_by_the_false_alarm_rate() -> None:
    """false_alarm = 0.01 per diagnosis: 40 cubes of noise expect 0.4 false causes; 3 or more has p < 0.01."""
    assert sum(counts_cube({}, seed=seed) is not None for seed in range(40)) <= 2


def test_a_drift_of_everything_is_no_cause() -> None:
    drift: dict[Combination, float] = {(("cdn", value),): 0.3 for value in VALUES[0]}
    assert counts_cube(drift, reference=True) is None
    cause: Combination = (("country", "us"),)
    assert causes(counts_cube({**drift, cause: 0.5}, reference=True)) == {cause}


def test_a_drop_is_found_towards_its_direction_only() -> None:
    cause = (("country", "de"),)
    rng = np.random.default_rng(3)
    columns = grid()
    expected = rng.gamma(4.0, 25.0, size=columns[0].shape[0])
    observed = rng.poisson(expected * np.where(inside(columns, cause), 0.3, 1.0)).astype(np.float64)
    leaves = additive_leaves(DIMENSIONS, columns, observed, expected)
    assert {c.conditions for c in diagnose(leaves)[0].causes} == {cause}
    assert {c.conditions for c in diagnose(leaves, direction=-1)[0].causes} == {cause}
    assert diagnose(leaves, direction=1) == ()


def test_a_cause_reports_its_totals_and_share() -> None:
    columns = grid()
    expected = np.full(columns[0].shape[0], 100.0)
    cause = (("cdn", "fastly"), ("country", "us"))
    observed = expected + np.where(inside(columns, cause), 50.0, 0.0)
    (diagnosis, *_) = diagnose(additive_leaves(DIMENSIONS, columns, observed, expected))
    (found,) = diagnosis.causes
    assert found.conditions == cause
    assert (found.observed, found.expected, found.views, found.leaves) == (1800.0, 1200.0, 1800.0, 12)
    assert found.share == pytest.approx(1.0)
    assert diagnosis.share == pytest.approx(1.0)


def ratio_cube(seed: int = 11) -> tuple[list[NDArray[np.str_]], NDArray[np.float64], NDArray[np.float64]]:
    """Attempts per leaf (~500) and failures at a 2 % rate, Poisson."""
    rng = np.random.default_rng(seed)
    columns = grid()
    attempts = np.asarray(rng.poisson(500.0, size=columns[0].shape[0]), dtype=np.float64)
    return columns, attempts, np.full(attempts.shape[0], 0.02)


def test_a_ratio_cause_of_high_volume_wins_over_a_small_cohort_of_high_ratio() -> None:
    rng = np.random.default_rng(5)
    columns, attempts, rate = ratio_cube()
    big = (("cdn", "cloudfront"),)  # a quarter of the attempts, 2 % → 4 %
    small = (("cdn", "akamai"), ("country", "fr"), ("device", "tv"), ("player", "shaka"))  # 2 % → 30 %
    attempts[inside(columns, small)] = 40.0
    true_rate = rate + np.where(inside(columns, big), 0.02, 0.0) + np.where(inside(columns, small), 0.28, 0.0)
    failures = rng.poisson(true_rate * attempts).astype(np.float64)
    (diagnosis, *_) = diagnose(ratio_leaves(DIMENSIONS, columns, failures, attempts, rate))
    first = diagnosis.causes[0]
    assert first.conditions == big
    assert first.views == attempts[inside(columns, big)].sum()
    assert first.share > 0.5


def test_few_failures_of_few_attempts_are_no_incident() -> None:
    rng = np.random.default_rng(9)
    columns, attempts, rate = ratio_cube()
    small = (("cdn", "edgio"), ("country", "br"), ("device", "android"), ("player", "hls.js"))
    attempts[inside(columns, small)] = 4.0
    failures = rng.poisson(rate * attempts).astype(np.float64)
    failures[inside(columns, small)] = 2.0  # 50 % of 4 attempts
    assert diagnose(ratio_leaves(DIMENSIONS, columns, failures, attempts, rate)) == ()


def test_diagnosis_is_deterministic_and_ranks_alternatives() -> None:
    columns = grid()
    rng = np.random.default_rng(1)
    expected = rng.gamma(4.0, 25.0, size=columns[0].shape[0])
    cause = (("cdn", "fastly"), ("device", "web"))
    observed = rng.poisson(expected * np.where(inside(columns, cause), 1.8, 1.0)).astype(np.float64)
    leaves = additive_leaves(DIMENSIONS, columns, observed, expected)
    ranked = diagnose(leaves, candidates=5)
    assert ranked == diagnose(leaves, candidates=5)
    assert ranked[0].causes[0].conditions == cause
    assert 2 <= len(ranked) <= 5
    assert len({tuple(c.conditions for c in d.causes) for d in ranked}) == len(ranked)
    broader = {d.causes[0].conditions for d in ranked[1:]} & {(cause[0],), (cause[1],)}
    assert broader, "an alternative names the cause one level broader"


def test_baseline_rate_pools_windows_and_shrinks_thin_leaves() -> None:
    failures = np.array([[2.0, 0.0, 0.0], [2.0, 1.0, 0.0]])
    attempts = np.array([[100.0, 1.0, 0.0], [100.0, 1.0, 0.0]])
    rate = baseline_rate(failures, attempts, prior_views=20.0)
    overall = 5.0 / 202.0
    assert rate[0] == pytest.approx((4.0 + 20.0 * overall) / 220.0)
    assert rate[1] == pytest.approx((1.0 + 20.0 * overall) / 22.0)
    assert rate[2] == pytest.approx(overall)
    # shrunk towards each leaf's own target instead: a leaf never seen has its target
    towards = np.array([0.5, 0.1, 0.3])
    rate = baseline_rate(failures, attempts, prior_views=20.0, towards=towards)
    assert rate[0] == pytest.approx((4.0 + 20.0 * 0.5) / 220.0)
    assert rate[1] == pytest.approx((1.0 + 20.0 * 0.1) / 22.0)
    assert rate[2] == pytest.approx(0.3)


def test_coded_leaves_are_found_by_name() -> None:
    leaves = coded(("cdn", "country"), [np.array(["b", "a", "b"]), np.array(["US", "US", "FR"])])
    assert leaves.labels == (("a", "b"), ("FR", "US"))
    assert leaves.holding((("cdn", "b"),)).tolist() == [True, False, True]
    assert leaves.holding((("country", "US"), ("cdn", "b"))).tolist() == [True, False, False]
    assert leaves.holding((("cdn", "z"),)).tolist() == [False, False, False]  # a value no leaf has
    assert leaves.holding(()).all()
    assert leaves.column("cdn").tolist() == ["b", "a", "b"]
    with pytest.raises(LeavesError, match="'country' must have one value per leaf"):
        coded(("cdn", "country"), [np.array(["a", "b"]), np.array(["US"])])


def test_restricted_leaves_are_labelled_as_coding_them_anew_would() -> None:
    cdn, country, isp = np.array(["b", "a", "c", "b"]), np.array(["US", "US", "FR", "DE"]), np.array(list("wxyz"))
    every = coded(("cdn", "country", "isp"), [cdn, country, isp])
    rows = np.array([True, False, True, True])
    some = every.restricted(rows, ("isp", "cdn"))
    anew = coded(("isp", "cdn"), [isp[rows], cdn[rows]])
    assert (
        (some.dimensions, some.labels)
        == (anew.dimensions, anew.labels)
        == (("isp", "cdn"), (("w", "y", "z"), ("b", "c")))
    )
    assert some.codes.tolist() == anew.codes.tolist()


@pytest.mark.parametrize(
    ("observed", "expected", "message"),
    [
        ([1.0, -1.0], [1.0, 1.0], "observed must be finite and ≥ 0"),
        ([1.0, np.nan], [1.0, 1.0], "observed must be finite and ≥ 0"),
        ([1.0, 1.0], [1.0], "one value per leaf"),
    ],
)
def test_bad_leaves_are_refused(observed: list[float], expected: list[float], message: str) -> None:
    with pytest.raises(LeavesError, match=message):
        additive_leaves(("cdn",), [np.array(["a", "b"])], observed, expected)


def test_bad_parameters_are_refused() -> None:
    leaves = additive_leaves(("cdn",), [np.array(["a", "b"])], [1.0, 2.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="direction"):
        diagnose(leaves, direction=2)
    with pytest.raises(ValueError, match="max_dimensions"):
        diagnose(leaves, max_dimensions=0)


def test_a_new_cohort_nothing_was_expected_of_is_a_cause() -> None:
    rng = np.random.default_rng(4)
    columns = grid()
    cause = (("device", "tv"), ("player", "shaka"))
    expected = np.where(inside(columns, cause), 0.0, rng.gamma(4.0, 25.0, size=columns[0].shape[0]))
    observed = np.asarray(rng.poisson(expected), dtype=np.float64) + np.where(inside(columns, cause), 40.0, 0.0)
    (diagnosis, *_) = diagnose(additive_leaves(DIMENSIONS, columns, observed, expected))
    assert [c.conditions for c in diagnosis.causes] == [cause]


def test_an_alternative_names_the_cause_one_level_narrower() -> None:
    rng = np.random.default_rng(2)
    columns = grid()
    expected = rng.gamma(4.0, 25.0, size=columns[0].shape[0])
    cause = (("country", "fr"),)
    observed = np.asarray(rng.poisson(expected * np.where(inside(columns, cause), 1.6, 1.0)), dtype=np.float64)
    ranked = diagnose(additive_leaves(DIMENSIONS, columns, observed, expected))
    assert ranked[0].causes[0].conditions == cause
    narrower = [d.causes[0].conditions for d in ranked[1:] if set(cause) < set(d.causes[0].conditions)]
    assert [len(conditions) for conditions in narrower] == [2]


def test_shares_never_pass_the_whole_excess_when_other_leaves_moved_the_other_way() -> None:
    """The net excess of all leaves is smaller than the cause's when other leaves fell: each share, and the set's,
    is at most 1 (the excess to explain is the larger of the net excess and the causes' own)."""
    columns = grid()
    expected = np.full(columns[0].shape[0], 100.0)
    cause = (("cdn", "fastly"), ("country", "us"))
    fell = inside(columns, (("device", "tv"),))
    observed = expected + np.where(inside(columns, cause), 50.0, 0.0) - np.where(fell, 3.0, 0.0)
    (diagnosis, *_) = diagnose(additive_leaves(DIMENSIONS, columns, observed, expected), direction=1)
    assert [c.conditions for c in diagnosis.causes] == [cause]
    assert 0.0 < diagnosis.causes[0].share <= 1.0
    assert 0.0 < diagnosis.share <= 1.0


def test_the_likelihood_ratio_of_amounts_against_nothing_expected_is_finite() -> None:
    """Compared in logs: an amount against an expected 0 neither overflows nor warns, and is more surprising than
    against any positive expected amount."""
    observed = np.array([1e9, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        against_nothing = poisson_ratio(observed, np.zeros(2))
        against_some = poisson_ratio(observed, np.full(2, 1e-6))
    assert np.isfinite(against_nothing).all()
    assert (against_nothing > against_some).all()


def test_main_effects_learn_each_value_s_rate_and_do_not_count_correlated_values_twice() -> None:
    # two dimensions that go together (a phone is on a cellular connection 9 times in 10); only the phone fails more
    rng = np.random.default_rng(3)
    phone = rng.random(4000) < 0.3
    cellular = np.where(phone, rng.random(4000) < 0.9, rng.random(4000) < 0.05)
    views = rng.integers(1, 4, 4000).astype(np.float64)
    failures = rng.poisson(views * np.where(phone, 0.10, 0.02)).astype(np.float64)
    past = np.column_stack((phone, cellular)).astype(np.int64)
    unseen = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    rates = main_effect_rates(past, failures, views, unseen, prior=20.0)
    assert rates[[0, 2]] == pytest.approx([0.10, 0.10], rel=0.15)  # a phone, on either connection
    assert rates[[1, 3]] == pytest.approx([0.02, 0.02], rel=0.15)  # not a phone, on either connection


def test_main_effects_keep_a_value_seen_little_near_the_pooled_rate() -> None:
    past = np.array([[0], [1]])
    rates = main_effect_rates(past, np.array([100.0, 0.0]), np.array([10_000.0, 20.0]), past, prior=200.0)
    assert rates[0] == pytest.approx(0.01, rel=0.01)
    assert 0.008 < rates[1] < 0.01  # 0 failures of 20 views: barely below the pooled rate, not 0
    assert main_effect_rates(past, np.zeros(2), np.ones(2), past, prior=20.0).tolist() == [0.0, 0.0]


def _pair_leaves(live_views: float, live_failures: float) -> tuple[Floats, Floats, Callable[[Named], Bools]]:
    """Failures and their expected of the leaves cdn × streamtype × player (Shaka's versions 4.7 and 4.8): on
    cdn=Akamai every vod view fails at 30 % (1 % expected); Akamai's live views are `live_views` with
    `live_failures`; every other leaf has 200 views failing as expected."""
    rows = [(c, s, v) for c in ("Akamai", "Fastly") for s in ("vod", "live") for v in ("4.7", "4.8")]
    views = np.array([live_views / 2 if (c, s) == ("Akamai", "live") else 200.0 for c, s, _ in rows])
    expected = 0.01 * views
    observed = expected.copy()
    for n, (c, s, _) in enumerate(rows):
        if (c, s) == ("Akamai", "vod"):
            observed[n] = 0.3 * views[n]
        elif (c, s) == ("Akamai", "live"):
            observed[n] = live_failures / 2
    columns = {"cdn": np.array([r[0] for r in rows]), "streamtype": np.array([r[1] for r in rows])}
    columns["playerversion"] = np.array([r[2] for r in rows])
    columns["player"] = np.array(["Shaka Player"] * len(rows))

    def inside(conditions: Named) -> Bools:
        mask = np.ones(len(rows), dtype=bool)
        for name, value in conditions:
            mask &= columns[name] == value
        return mask

    return observed, expected, inside


Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]
REFUTED = 3.3
AKAMAI_VOD: Named = (("cdn", "Akamai"), ("streamtype", "vod"))


def test_a_condition_stays_when_the_views_it_leaves_out_did_not_rise() -> None:
    observed, expected, inside = _pair_leaves(live_views=200.0, live_failures=2.0)
    assert broadened(AKAMAI_VOD, inside, observed, expected, (1.0, 0.0), REFUTED) == AKAMAI_VOD


def test_a_condition_goes_when_the_views_it_leaves_out_rose_too_or_are_too_few_to_tell() -> None:
    for views, failures in ((200.0, 60.0), (4.0, 0.0)):
        observed, expected, inside = _pair_leaves(live_views=views, live_failures=failures)
        found = broadened(AKAMAI_VOD, inside, observed, expected, (1.0, 0.0), REFUTED)
        assert found == (("cdn", "Akamai"),), (views, failures)


def test_overdispersed_views_refute_less() -> None:
    observed, expected, inside = _pair_leaves(live_views=40.0, live_failures=0.0)
    assert broadened(AKAMAI_VOD, inside, observed, expected, (1.0, 0.0), REFUTED) == AKAMAI_VOD
    found = broadened(AKAMAI_VOD, inside, observed, expected, (4.0, 0.0), REFUTED)
    assert found == (("cdn", "Akamai"),)


def test_one_condition_and_a_condition_that_leaves_out_nothing_stay() -> None:
    observed, expected, inside = _pair_leaves(live_views=200.0, live_failures=60.0)
    named: Named = (("cdn", "Akamai"),)
    assert broadened(named, inside, observed, expected, (1.0, 0.0), REFUTED) == named
    with_player: Named = (("cdn", "Akamai"), ("player", "Shaka Player"), ("streamtype", "vod"))
    found = broadened(with_player, inside, observed, expected, (1.0, 0.0), REFUTED)
    assert found == (("cdn", "Akamai"), ("player", "Shaka Player"))  # live views rose too; every view is Shaka's


def test_a_version_beside_its_player_goes_only_when_the_other_versions_fit_its_rise_better_than_none() -> None:
    """Exits before start of Shaka 4.7.11 (30 of 100 views, 3.5 expected); the other version had 4 against 1.3, which
    no more fits 4.7.11's rise than it fits none (the scenario's c1002-06, diagnosed `player=Shaka Player`). The
    version and the player are one dimension each: the better fit names the cause."""
    columns = {
        "player": np.array(["Shaka Player", "Shaka Player", "ExoPlayer"]),
        "playerversion": np.array(["4.7", "4.8", "1.3"]),
    }
    expected = np.array([3.5, 1.3, 3.5])

    def inside(conditions: Named) -> Bools:
        mask = np.ones(3, dtype=bool)
        for name, value in conditions:
            mask &= columns[name] == value
        return mask

    version: Named = (("player", "Shaka Player"), ("playerversion", "4.7"))
    player: Named = (("player", "Shaka Player"),)

    noisy, risen = np.array([30.0, 4.0, 3.5]), np.array([30.0, 11.0, 3.5])
    assert broadened(version, inside, noisy, expected, (1.0, 0.0), REFUTED, _beside_its_parent) == version
    assert broadened(version, inside, risen, expected, (1.0, 0.0), REFUTED, _beside_its_parent) == player
    assert broadened(version, inside, noisy, expected, (1.0, 0.0), REFUTED) == player  # not refuted at 3.3


def test_a_fall_is_broadened_as_a_rise_is() -> None:
    """Bitrate halved on Akamai's vod views: the live views that kept theirs refute the fall, or show it too."""
    observed, expected, inside = _pair_leaves(live_views=200.0, live_failures=2.0)
    expected = 1000.0 * expected  # kbit/s × views: large amounts, spread by their size too
    fallen = np.where(observed > expected / 1000.0, 0.5 * expected, expected)  # Akamai vod at half its amount
    noise = (1.0, 0.001)
    assert broadened(AKAMAI_VOD, inside, fallen, expected, noise, REFUTED) == AKAMAI_VOD
    everywhere = np.where(inside((("cdn", "Akamai"),)), 0.5 * expected, expected)
    assert broadened(AKAMAI_VOD, inside, everywhere, expected, noise, REFUTED) == (("cdn", "Akamai"),)


def test_a_piece_of_a_cause_by_an_implied_dimension_does_not_broaden_it() -> None:
    """An ISP implies its country. The excess of `cdn=x ∧ country=us` is larger on one US ISP's views: the search
    takes `cdn=x ∧ isp=comcast` first and `cdn=x ∧ country=us` for the rest, two causes under `cdn=x` holding most
    of it, which made them `cdn=x` (the demo's CDN incident diagnosed `cdn=CloudFront`, 2026-12-07). The piece's
    views are the other cause's: the cause is `cdn=x ∧ country=us`."""
    isps = {"us": ("comcast", "att", "verizon"), "fr": ("orange", "free"), "de": ("telekom", "vodafone")}
    rows = [
        (cdn, country, isp, device)
        for cdn in ("x", "y", "z")
        for country, named in isps.items()
        for isp in named
        for device in ("a", "b", "c")
    ]
    columns = [np.array([row[j] for row in rows]) for j in range(4)]
    rng = np.random.default_rng(3)
    expected = rng.gamma(4.0, 25.0, size=len(rows)) * np.where(columns[1] == "us", 4.0, 1.0)
    cdn_us = (columns[0] == "x") & (columns[1] == "us")
    factor = 1.0 + 0.6 * cdn_us + 1.5 * (cdn_us & (columns[2] == "comcast"))
    observed = rng.poisson(expected * factor).astype(np.float64)
    leaves = additive_leaves(("cdn", "country", "isp", "device"), columns, observed, expected)
    assert [c.conditions for c in diagnose(leaves)[0].causes] == [(("cdn", "x"), ("country", "us"))]
