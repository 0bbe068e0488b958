"""The scheduler: each tick runs every customer's due rounds, judging intervals once they settled; one customer's
failed round is logged and neither stops the others' nor the next tick."""

from __future__ import annotations

import logging

import pytest

from sightline.alerts.engine import SETTLE_S
from sightline.alerts.scheduler import AlertScheduler, alerting_customers
from sightline.auth.accounts import CustomerInfo


class Rounds:
    """An engine that records the rounds asked of it and fails for one customer."""

    def __init__(self, failing: int) -> None:
        self.failing = failing
        self.asked: list[tuple[int, int, int]] = []

    def run(self, customer_id: int, until: int, now: int, first: int | None = None) -> int:
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


def test_only_customers_whose_plan_allows_alerts_are_run() -> None:
    customers = [CustomerInfo(1, "Enterprise", 6831), CustomerInfo(2, "Essentials", 6829)]
    assert alerting_customers(customers) == [1]
