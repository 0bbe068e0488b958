"""A schema-based fuzzer (schemathesis) against the app's own `/openapi.json`: every operation answers what
its document says — no server error, every status documented, every body and header as documented — for
valid and invalid requests alike.

The app is the real one, on a real chDB holding a few simulated hours of a demo-like customer (an admin
user, an API key, an ingest key), and the fuzzer sends their credentials, so that it gets past
authentication (and also tries without them). Bounded and deterministic: a fixed seed, derandomized
generation, `MAX_EXAMPLES` per operation and phase. Not checked: `positive_data_acceptance` (that any
value the schema allows is answered 2xx), since a parameter such as `period` or `filter` is a string
whose grammar the schema does not spell out; the 400 it gets names the parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events
from starlette.types import ASGIApp, Receive, Scope, Send

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.demo import DemoAccount, provision_demo_customer
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, simulate

CUSTOMER, PLAN_LEVEL = 6831, 6831
MAX_EXAMPLES = 40
SEED = 19


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, DemoAccount, str]]:
    """The app over a store with six simulated hours of one demo customer; its account and an access token."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz"), argon2_time_cost=1, argon2_memory_kib=1024)
    app = create_app(settings)
    account = provision_demo_customer(
        app.state.auth, CUSTOMER, "Northstream", PLAN_LEVEL, "demo@example.com", "demo-pass"
    )
    token = app.state.auth.tokens.password_grant(account.username, account.password).access_token
    end = datetime.now(UTC).replace(microsecond=0)
    config = SimulationConfig(start=end - timedelta(hours=6), end=end, customer_ids=(CUSTOMER,), views_per_day=2000)
    with TestClient(app):
        for chunk in simulate(config):
            services(app).store.insert_events(chunk.events)
        yield app, account, token
    app.state.auth.close()


@pytest.fixture(scope="module")
def api_schema(demo: tuple[FastAPI, DemoAccount, str]) -> Any:
    app, account, token = demo
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": {
                "Authorization": f"Bearer {token}",
                "X-API-Key": account.api_key,
                "X-Ingest-Key": account.ingest_key,
            },
            "parameters": {"customerId": CUSTOMER, "ingestKey": account.ingest_key},
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "checks": {"positive_data_acceptance": {"enabled": False}},
            "workers": 1,
            "phases": {"stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", _started(app), config=config)


def _started(app: FastAPI) -> ASGIApp:
    """`app`, already started, as the fuzzer's client sees it: its client starts and stops the app around each
    request, which must not open the store again."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        for phase in ("startup", "shutdown"):
            await receive()
            await send({"type": f"lifespan.{phase}.complete"})

    return serve


def _failures(finished: events.ScenarioFinished) -> list[str]:
    """A line for each failed check of a scenario: the check, what failed, and a curl to reproduce it."""
    return [
        f"{finished.recorder.label} {check.name}: {check.failure_info.failure.title} "
        f"{check.failure_info.failure.message[:300]}\n  {check.failure_info.code_sample}"
        for checks in finished.recorder.checks.values()
        for check in checks
        if check.failure_info is not None
    ]


def test_every_operation_answers_as_documented(api_schema: Any) -> None:
    found: list[str] = []
    scenarios = 0
    calls: dict[str, int] = {}
    for event in schemathesis.engine.from_schema(api_schema).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios += 1
            label = event.recorder.label
            calls[label] = calls.get(label, 0) + len(event.recorder.interactions)
            found += _failures(event)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found.append(f"{getattr(event, 'label', '')}: {event.info.message if hasattr(event, 'info') else event}")
    print(sorted(calls.items()))
    assert scenarios > 0
    assert found == [], "\n".join(found)
