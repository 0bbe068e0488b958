"""An unknown user and a wrong password take the same time to refuse, with the real Argon2 cost."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from fastapi.testclient import TestClient

from sightline.settings import Settings
from tests.auth.fixtures import ManualClock, auth_app

ROUNDS = 20


def test_unknown_user_and_wrong_password_logins_take_the_same_time(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert (settings.argon2_time_cost, settings.argon2_memory_kib) == (3, 65_536)
    clock = ManualClock()
    app = auth_app(settings, clock)
    app.state.auth.accounts.add_customer(1001, "Alpha", 6831)
    app.state.auth.accounts.add_user("ann@example.com", "password-a", [1001])
    timings: dict[str, list[float]] = {"ann@example.com": [], "nobody@example.com": []}
    with TestClient(app) as client:
        for round_ in range(ROUNDS + 1):
            for username, durations in timings.items():
                form = {"grant_type": "password", "username": username, "password": "not-the-password"}
                started = time.perf_counter()
                response = client.post("/generateOAuthToken", data=form)
                if round_:  # the first round warms up
                    durations.append(time.perf_counter() - started)
                assert response.status_code == 400
            clock.advance(60)  # out of the failed-login limit's window
    app.state.auth.close()
    wrong, unknown = (statistics.median(d) for d in timings.values())
    # each round's two logins ran back to back: their ratio cancels what slowed the machine during that round
    ratio = statistics.median(w / u for w, u in zip(*timings.values(), strict=True))
    message = f"median of {ROUNDS}: wrong password {wrong:.4f} s, unknown user {unknown:.4f} s, ratio {ratio:.3f}"
    assert 1 / 1.25 <= ratio <= 1.25, message
