"""Leases in the metadata database (SQLite, and PostgreSQL when configured): one holder at a time, even when
holders race on engines of their own as processes would; taken over once expired; a keeper's work stops when its
renewal fails; the work under a lease runs only while it is held."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from sightline.alerts.scheduler import AlertScheduler
from sightline.auth.db import open_engine
from sightline.auth.leases import LeaseKeeper, acquire, holder_id, holding, release, renew
from sightline.auth.service import AuthService
from tests.auth.fixtures import ManualClock

TTL = timedelta(seconds=30)


def test_a_lease_has_one_holder_until_it_expires_or_is_released(auth: AuthService, clock: ManualClock) -> None:
    engine = auth.engine
    assert acquire(engine, "work", "a", TTL, clock)
    assert not acquire(engine, "work", "b", TTL, clock)
    assert acquire(engine, "work", "a", TTL, clock)  # already a's: taken again, its expiry moved
    assert acquire(engine, "other", "b", TTL, clock)  # another lease is free
    clock.advance(TTL.total_seconds() - 1)
    assert not acquire(engine, "work", "b", TTL, clock)
    assert not renew(engine, "work", "b", TTL, clock)
    clock.advance(1)  # expired: anyone may take it
    assert acquire(engine, "work", "b", TTL, clock)
    assert not renew(engine, "work", "a", TTL, clock)  # a lost it: its renewal fails
    assert not release(engine, "work", "a")
    assert renew(engine, "work", "b", TTL, clock)
    assert release(engine, "work", "b")
    assert acquire(engine, "work", "a", TTL, clock)  # released: free at once


def race(engines: list[Engine], name: str, clock: ManualClock) -> list[str]:
    """The holders (one per engine, each on a thread of its own) that got the lease `name`, all asking at once."""
    start = threading.Barrier(len(engines))
    won: list[str] = []

    def ask(engine: Engine) -> None:
        holder = holder_id()
        start.wait()
        if acquire(engine, name, holder, TTL, clock):
            won.append(holder)

    threads = [threading.Thread(target=ask, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_holders_racing_for_a_free_or_expired_lease_on_engines_of_their_own_get_it_once(
    auth: AuthService, clock: ManualClock
) -> None:
    url = auth.engine.url.render_as_string(hide_password=False)
    engines = [open_engine(url) for _ in range(6)]
    try:
        for _ in range(4):  # the first race for a free lease, the others for an expired one
            assert len(race(engines, "work", clock)) == 1
            clock.advance(TTL.total_seconds())
    finally:
        for engine in engines:
            engine.dispose()


def test_a_keeper_holds_while_it_renews_and_stops_when_a_renewal_fails(auth: AuthService, clock: ManualClock) -> None:
    first = LeaseKeeper(auth.engine, ("work", "more"), TTL, clock)
    second = LeaseKeeper(auth.engine, ("work",), TTL, clock)
    first.keep()
    second.keep()
    assert first.held() == {"work": True, "more": True}
    assert not second.holds("work")
    clock.advance(TTL.total_seconds() / 3)
    first.keep()  # renewed
    clock.advance(TTL.total_seconds() * 2 / 3 + 1)  # past the first expiry, not the renewed one
    second.keep()
    assert first.holds("work")
    assert not second.holds("work")
    clock.advance(TTL.total_seconds())  # first stalled: its lease expired and the second takes it over
    second.keep()
    assert second.holds("work")
    first.keep()  # its renewal fails: its work stops
    assert first.held() == {"work": False, "more": True}
    second.stop()  # released at stop
    first.keep()
    assert first.holds("work")
    first.stop()
    assert acquire(auth.engine, "more", holder_id(), TTL, clock)


def test_a_keeper_that_cannot_renew_stops_its_work_within_two_thirds_of_the_ttl(auth: AuthService) -> None:
    keeper = LeaseKeeper(auth.engine, ("work",), timedelta(seconds=1.5))
    keeper.keep()
    assert keeper.holds("work")
    time.sleep(1.1)  # no renewal (the keeper's thread is not started): 1 s after it was taken, it stops
    assert not keeper.holds("work")


class Rounds:
    """An engine that records the customers whose rounds were asked of it."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def run(self, customer_id: int, until: int, now: int, first: int | None = None) -> int:
        self.asked.append(customer_id)
        return 1


def test_the_alert_rounds_run_only_while_the_lease_is_held(auth: AuthService, clock: ManualClock) -> None:
    keeper = LeaseKeeper(auth.engine, ("alert-rounds",), TTL, clock)
    rounds = Rounds()
    scheduler = AlertScheduler(
        rounds,  # type: ignore[arg-type]
        lambda: [1, 2],
        every_s=60,
        clock=lambda: 10_000.0,
        may_run=lambda: keeper.holds("alert-rounds"),
    )
    assert scheduler.tick() == 0
    keeper.keep()
    assert scheduler.tick() == 2
    assert rounds.asked == [1, 2]


def test_holding_waits_for_the_lease_and_releases_it(auth: AuthService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sightline.auth.leases")
    ran: list[str] = []

    def second() -> None:
        with holding(auth.engine, "once", TTL):
            ran.append("second")

    with holding(auth.engine, "once", TTL):
        waiting = threading.Thread(target=second)
        waiting.start()
        deadline = time.monotonic() + 10
        while "waiting for the lease once" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "waiting for the lease once" in caplog.text
        assert ran == []
    waiting.join(timeout=10)
    assert ran == ["second"]
    assert acquire(auth.engine, "once", "another", TTL)  # released after the block
