"""The scheduler: each tick runs every customer's due rounds, judging intervals once they settled; one customer's
failed round is logged and neither stops the others' nor the next tick. A replay judges no later than the scheduler
could by now."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

import pytest

from sightline.alerts.engine import SETTLE_S, RuleRoundsError
from sightline.alerts.scheduler import EARLIEST_S, AlertScheduler, alerting_customers, judged_by, replay
from sightline.auth.accounts import CustomerInfo


class Rounds:
    """An engine that records the rounds asked of it and fails for one customer."""

    def __init__(self, failing: int) -> None:
        self.failing = failing
        self.asked: list[tuple[int, int, int]] = []

    def run(self, customer_id: int, until: int, now: int, first: int | None = None, skip: Collection[str] = ()) -> int:
        self.asked.append((customer_id, until, now))
        if customer_id == self.failing:
            raise RuntimeError("the store went away")
        return 2


def test_a_failed_round_is_logged_and_the_other_customers_rounds_run(caplog: pytest.LogCaptureFixture) -> None:
    rounds = Rounds(failing=1)
    scheduler = AlertScheduler(rounds, lambda: [1, 2], every_s=60, clock=lambda: 10_000.0)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR):
        assert scheduler.tick() == 2
        assert scheduler.tick() == 2
    assert rounds.asked == [(1, 10_000 - SETTLE_S, 10_000), (2, 10_000 - SETTLE_S, 10_000)] * 2
    assert sum("customer 1 failed" in r.getMessage() for r in caplog.records) == 2


class OneRuleFails:
    """An engine whose customer 1 has a rule whose round fails after its other rules' 3 rounds ran."""

    def run(self, customer_id: int, until: int, now: int, first: int | None = None, skip: Collection[str] = ()) -> int:
        if customer_id == 1:
            raise RuleRoundsError({"rule-a": RuntimeError("a bug")}, 3)
        return 2


def test_a_failed_rule_is_logged_by_its_id_and_the_rounds_that_ran_count(caplog: pytest.LogCaptureFixture) -> None:
    scheduler = AlertScheduler(OneRuleFails(), lambda: [1, 2], every_s=60, clock=lambda: 10_000.0)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR):
        assert scheduler.tick() == 5
    [logged] = [r for r in caplog.records if "failed" in r.getMessage()]
    assert "rule rule-a of customer 1" in logged.getMessage()
    assert logged.exc_info is not None
    assert "a bug" in str(logged.exc_info[1])


def test_only_customers_whose_plan_allows_alerts_are_run() -> None:
    customers = [CustomerInfo(1, "Enterprise", 6831), CustomerInfo(2, "Essentials", 6829)]
    assert alerting_customers(customers) == [1]


Span = Callable[[int], tuple[int, int]]
"""A period from the time a test runs (epoch s): the check reads the clock then."""


@pytest.mark.parametrize(
    "span",
    [
        lambda now: (now - 3600, now),  # the last minute's intervals have not settled
        lambda now: (now + 86_400, now + 90_000),  # the rules' judged_until would skip every round until then
        lambda now: (EARLIEST_S - 1, EARLIEST_S + 3600),
        lambda now: (now - 3600, now - 7200),
    ],
    ids=["not settled", "tomorrow", "before 2000", "empty"],
)
def test_a_replay_of_what_the_scheduler_could_not_have_judged_is_refused_before_any_round(span: Span) -> None:
    rounds = Rounds(failing=0)
    with pytest.raises(ValueError, match="a replay's period must"):
        replay(rounds, 1, *span(int(time.time())))  # type: ignore[arg-type]
    assert rounds.asked == []


def test_a_replay_judges_up_to_what_the_scheduler_judges_by_now() -> None:
    rounds, now = Rounds(failing=0), int(time.time())
    assert replay(rounds, 1, now - 7200, judged_by(now)) == 2 * len(rounds.asked)  # type: ignore[arg-type]
    assert rounds.asked[-1] == (1, now - SETTLE_S, now)  # as the scheduler's tick at now
