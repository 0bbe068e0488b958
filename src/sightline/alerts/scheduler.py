"""When the engine's rounds run (IO): inside the service at each interval (`AlertScheduler`, a thread of the app's
lifespan), and over stored history (`replay`, for `sightline alerts run` and the demo).

Invariants: a round judges an interval `SETTLE_S` after its end (outcomes of views started near its end arrive
meanwhile); a failed round (a store error, a bug) is logged and the next tick tries again from where the rule's
`judged_until` says, so a failure delays rounds and never loses one; one customer's failure never stops another's
rounds, nor one rule's the other rules' of its customer (`RuleRoundsError`, logged per rule). A replay runs the
rounds the scheduler would have run, in order, 12 minutes of them per run (the engine's `MAX_CATCH_UP` intervals
of the shortest, 1 minute); rules already judged past a time are not judged again there. A replay judges only
what the scheduler could have judged by now (`check_period`), so no rule's `judged_until` passes where the
scheduler's next round starts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy.orm import sessionmaker

from sightline.alerts.engine import MAX_CATCH_UP, SETTLE_S, AlertEngine, RuleRoundsError
from sightline.alerts.rules import INTERVALS
from sightline.auth.accounts import CustomerInfo
from sightline.auth.clock import utc_now
from sightline.auth.plans import Feature, plan_for
from sightline.auth.service import open_auth
from sightline.periodic import Periodic
from sightline.query.pipeline import Engine
from sightline.settings import Settings

log = logging.getLogger(__name__)
LEASE = "alert-rounds"
"""The lease (`auth.leases`) under which one process of the service runs the alert rounds."""
REPLAY_STEP_S = MAX_CATCH_UP * min(INTERVALS)
"""How far one run of a replay goes: no rule of any interval falls behind by more than the engine catches up."""
EARLIEST_S = 946_684_800
"""2000-01-01 (epoch s): the store holds no event before it (the collectors refuse them)."""


def alerting_customers(customers: list[CustomerInfo]) -> list[int]:
    """The customers whose plan allows alerts."""
    return [c.id for c in customers if Feature.ALERTS in plan_for(c.plan_level).features]


def judged_by(now: float) -> int:
    """The time (epoch s) by which the scheduler judges intervals at `now`: those that ended `SETTLE_S` before."""
    return int(now) - SETTLE_S


def check_period(start: int, end: int, now: float) -> None:
    """ValueError unless `EARLIEST_S` <= `start` < `end` <= `judged_by(now)` (epoch s): a period a replay may judge."""
    latest = judged_by(now)
    if not EARLIEST_S <= start < end <= latest:
        raise ValueError(
            f"a replay's period must start at {EARLIEST_S} or later and end after its start, at {latest} or earlier "
            f"(epoch s: now less the {SETTLE_S} s an interval takes to settle); not [{start}, {end}]"
        )


def replay(
    engine: AlertEngine,
    customer_id: int,
    start: int,
    end: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """The rounds of `customer_id`'s rules over [start, end] (epoch s) as the scheduler would have run them, a rule
    never judged starting at `start`; the number of rule rounds run. `progress` hears the time reached. ValueError,
    and nothing judged, unless `check_period` allows [start, end]; `RuleRoundsError` at the end when a rule's round
    failed (the other rules' rounds all ran; the failed rule's stopped there, so that running the replay again, or
    the scheduler, judges it on from there: catching up past `MAX_CATCH_UP` intervals would skip rounds)."""
    check_period(start, end, time.time())
    ran = 0
    failed: dict[str, Exception] = {}
    for until in [*range(start, end, REPLAY_STEP_S), end]:
        try:
            ran += engine.run(customer_id, until, until + SETTLE_S, first=start, skip=failed)
        except RuleRoundsError as error:  # the other rules go on; a failed one stops where it failed
            ran += error.ran
            failed = {**error.failed, **failed}
        if progress is not None:
            progress(until)
    if failed:
        raise RuleRoundsError(failed, ran)
    return ran


def replay_customers(
    settings: Settings,
    store: Engine,
    customer_ids: list[int] | None,
    start: int,
    end: int,
    report: Callable[[int, int, float], None] = lambda customer, ran, seconds: None,
) -> int:
    """`replay` for each of `customer_ids` (None: every customer whose plan allows alerts) over the metadata
    database of `settings`; `report` hears each customer's rule rounds and seconds. The rule rounds run; ValueError,
    and nothing judged, unless `check_period` allows [start, end]; `RuleRoundsError` at the end, naming the rules of
    every customer whose round failed, when one did (each customer's other rules, and the other customers, ran)."""
    auth = open_auth(settings)
    try:
        engine = AlertEngine(store, sessionmaker(auth.engine, expire_on_commit=False), utc_now)
        total = 0
        failed: dict[str, Exception] = {}
        for customer_id in alerting_customers(auth.accounts.list_customers()) if customer_ids is None else customer_ids:
            started = time.monotonic()
            try:
                ran = replay(engine, customer_id, start, end)
            except RuleRoundsError as error:
                ran, failed = error.ran, {**failed, **error.failed}
            report(customer_id, ran, time.monotonic() - started)
            total += ran
        if failed:
            raise RuleRoundsError(failed, total)
        return total
    finally:
        auth.close()


class AlertScheduler:
    """Runs the due rounds of every customer `customers()` lists, every `every_s`, on a thread of its own, until
    `stop` (which waits for the round under way, so the stores can be closed after it); only while `may_run()` (this
    process holds the `LEASE`), which is asked before each customer's round."""

    def __init__(
        self,
        engine: AlertEngine,
        customers: Callable[[], list[int]],
        every_s: float,
        clock: Callable[[], float] = time.time,
        may_run: Callable[[], bool] = lambda: True,
    ) -> None:
        self.engine = engine
        self.may_run = may_run
        self.customers = customers
        self.every_s = every_s
        self._clock = clock
        self._loop = Periodic("sightline-alerts", every_s, self._tick_if_held)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def tick(self) -> int:
        """The rounds due now, for every customer; the number of rule rounds run. A customer's failure is logged."""
        now = int(self._clock())
        try:
            customers = self.customers()
        except Exception:
            log.exception("listing the customers to run alert rounds for failed; trying again in %s s", self.every_s)
            return 0
        ran = 0
        for customer_id in customers:
            if self._loop.stopping.is_set() or not self.may_run():
                break
            try:
                ran += self.engine.run(customer_id, judged_by(now), now)
            except RuleRoundsError as error:
                ran += error.ran
                for rule_id, failure in error.failed.items():
                    message = "the alert round of rule %s of customer %s failed; trying again in %s s"
                    log.error(message, rule_id, customer_id, self.every_s, exc_info=failure)
            except Exception:
                log.exception("the alert round of customer %s failed; trying again in %s s", customer_id, self.every_s)
        return ran

    def _tick_if_held(self) -> None:
        if self.may_run():
            self.tick()
