"""Plan levels as data (docs/plans.md is checked with the other generated documents in tests/test_docs.py)."""

from __future__ import annotations

import itertools

import pytest

from sightline.auth.plans import FEATURE_DESCRIPTIONS, PLANS, Feature, plan_for


def test_each_plan_adds_to_the_one_below_and_the_highest_allows_everything() -> None:
    levels = [plan.level for plan in PLANS]
    assert levels == sorted(set(levels))
    for lower, higher in itertools.pairwise(PLANS):
        assert lower.features < higher.features
    assert PLANS[-1].features == frozenset(Feature)


def test_every_feature_is_described() -> None:
    assert set(FEATURE_DESCRIPTIONS) == set(Feature)


def test_an_unknown_plan_level_names_the_known_ones() -> None:
    assert plan_for(6831).name == "Enterprise"
    with pytest.raises(ValueError, match="6829 \\(Essentials\\)"):
        plan_for(1)
