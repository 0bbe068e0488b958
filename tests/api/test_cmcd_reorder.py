"""CMCD reports out of order through the app (issue 19 §2): a report overtaken in transit takes its place
within the reorder window, whatever else arrives meanwhile, from one customer or another."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.ingest.cmcd import parse_record
from sightline.ingest.cmcd_format import CmcdReports
from sightline.ingest.enrich import RequestOrigin
from sightline.ingest.format import Decoded
from sightline.ingest.intake import STEPS_PER_CUSTOMER, Intake
from sightline.ingest.pipeline import IngestUnavailableError, derived_view_id
from sightline.ingest.session_states import SessionStates
from sightline.settings import Settings

ALPHA, BETA = 1001, 1002
PLAN_LEVEL = 6831
WINDOW_S = 1.0
T0 = (int(time.time()) // 3600 - 24) * 3_600_000  # a whole hour, a day ago (within the stored window of times)
CMCD = {"Content-Type": "application/cmcd"}


@dataclass(frozen=True)
class World:
    client: TestClient
    keys: dict[int, str]
    api_keys: dict[int, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("cmcd-reorder"),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        cmcd_reorder_window_s=WINDOW_S,
    )
    with TestClient(create_app(settings)) as client:
        accounts = client.app.state.auth.accounts  # type: ignore[attr-defined]
        keys, api_keys = {}, {}
        for customer in (ALPHA, BETA):
            accounts.add_customer(customer, f"Customer {customer}", PLAN_LEVEL)
            keys[customer] = accounts.create_key(KeyKind.INGEST, customer)[1]
            api_keys[customer] = accounts.create_key(KeyKind.API, customer)[1]
        yield World(client, keys, api_keys)


def line(sid: str, e: str, at: int, sn: int, **keys: Any) -> str:
    extra = "".join(f",{k}={v}" for k, v in keys.items())
    return f'e={e},sid="{sid}",ts={T0 + at},sn={sn},v=2{extra}'


def post(world: World, customer: int, *lines: str) -> None:
    response = world.client.post(f"/cmcd/{world.keys[customer]}", content="\n".join(lines), headers=CMCD)
    assert response.status_code == 204, response.text


def settled(world: World) -> None:
    """Wait until the collector holds nothing (its timer applied every record and stored the views they made) and
    the writer stored it all."""
    app = world.client.app
    deadline = time.monotonic() + 10 * WINDOW_S + 10
    while services(app).intake.held or services(app).intake.unstored:
        assert time.monotonic() < deadline, "held records were never applied"
        time.sleep(0.05)
    services(app).writer.flush()


def get(world: World, customer: int, path: str, **params: str) -> Any:
    response = world.client.get(
        f"/mm-apis/{path}/{customer}",
        params={"planlevel": str(PLAN_LEVEL), **params},
        headers={"X-API-Key": world.api_keys[customer]},
    )
    assert response.status_code == 200, response.text
    return response.json()


def view_of(world: World, customer: int, sid: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The metrics of the sid's first view (by its id, which its play request fixes) and its timeline."""
    view_id = str(uuid.UUID(bytes=derived_view_id(customer, "cmcd", sid, T0)))
    timeline = get(world, customer, "listsessions", sessionid=view_id)
    period = f"start={T0 // 1000 - 3600},end={T0 // 1000 + 7200}"
    metrics = "attempts,viewercount,latency,playdur,buffcount,bufferingratio"
    rows = get(world, customer, "metricquery", metrics=metrics, period=period, aggby="sessionid")["response"]
    (row,) = [row for row in rows if row["sessionid"] == view_id]
    return row, timeline["response"]


DASH_CLEAN = [  # a clean 10 s play as dash.js 5.2 reports it, one record per report
    ("s", 0, {"cid": '"clip"', "sf": "d", "st": "v"}),
    ("r", 263, {}),
    ("p", 509, {}),
    ("e", 10_509, {}),
]


def test_a_starting_report_overtaken_by_the_next_ones_gives_the_view_sent(world: World) -> None:
    records = {sta: line("dash-1", "ps", at, sn, sta=sta, **keys) for sn, (sta, at, keys) in enumerate(DASH_CLEAN)}
    post(world, ALPHA, records["r"])
    post(world, ALPHA, records["p"])
    time.sleep(WINDOW_S / 3)
    post(world, ALPHA, records["s"])  # held back in transit
    post(world, ALPHA, records["e"])
    settled(world)
    metrics, timeline = view_of(world, ALPHA, "dash-1")
    assert (metrics["attempts"], metrics["viewercount"], metrics["buffcount"]) == (1, 1, 0)
    assert metrics["latency"] == pytest.approx(0.509)
    assert metrics["playdur"] == pytest.approx(10_000 / 60_000, abs=1e-4)
    assert metrics["bufferingratio"] == 0
    assert [(e["event"], e["offset"]) for e in timeline] == [
        ("play_request", 0),
        ("first_frame", 0.509),
        ("end", 10.509),
    ]


def test_two_customers_with_the_same_sid_do_not_meet(world: World) -> None:
    alpha = [line("shared", "ps", at, sn, sta=sta) for sn, (sta, at, _) in enumerate(DASH_CLEAN)]
    beta = [
        line("shared", "ps", 0, 0, sta="s"),
        line("shared", "ps", 900, 1, sta="p"),
        line("shared", "ps", 5_900, 2, sta="q"),
    ]
    post(world, BETA, beta[1])
    post(world, ALPHA, alpha[2], alpha[1])
    post(world, BETA, beta[0], beta[2])
    post(world, ALPHA, alpha[3], alpha[0])
    settled(world)
    alpha_view, alpha_timeline = view_of(world, ALPHA, "shared")
    beta_view, beta_timeline = view_of(world, BETA, "shared")
    minute = 1e-4 * 60  # playdur is in minutes, to 4 decimals
    assert (alpha_view["latency"], alpha_view["playdur"] * 60) == (pytest.approx(0.509), pytest.approx(10, abs=minute))
    assert (beta_view["latency"], beta_view["playdur"] * 60) == (pytest.approx(0.9), pytest.approx(5, abs=minute))
    assert [e["event"] for e in alpha_timeline] == ["play_request", "first_frame", "end"]
    assert [e["event"] for e in beta_timeline] == ["play_request", "first_frame", "exit"]


def test_a_customer_holding_its_limit_of_records_does_not_hold_up_another(world: World, tmp_path: Path) -> None:
    states = SessionStates(tmp_path, int(time.time() * 1000))
    cmcd = CmcdReports(window_ms=60_000)
    intake = Intake(services(world.client.app).pipeline, states, lambda dims, _: dims, [cmcd], max_held=3)
    origin = RequestOrigin("", None, ())

    def take(customer: int, sid: str) -> None:
        decoded = Decoded({sid: [parse_record(line(sid, "ps", 0, 0, sta="s"))]})
        world.client.portal.call(intake.take, cmcd, customer, decoded, origin)  # type: ignore[union-attr]

    try:
        for n in range(3):
            take(ALPHA, f"flood-{n}")
        with pytest.raises(IngestUnavailableError):
            take(ALPHA, "flood-3")
        take(BETA, "calm")
        assert intake.held == 4
    finally:
        states.close()


class RecordingReports(CmcdReports):
    """CMCD reports whose steps are recorded by customer, in the order the event loop runs them."""

    def __init__(self, steps: list[int]) -> None:
        super().__init__(window_ms=60_000)
        self.steps = steps

    def advance(self, state: Any, customer_id: int, session: str, units: Any, now_ms: int) -> Any:
        self.steps.append(customer_id)
        return super().advance(state, customer_id, session, units, now_ms)


def test_a_report_of_many_sessions_does_not_hold_another_customers_behind_all_of_them(
    world: World, tmp_path: Path
) -> None:
    steps: list[int] = []
    cmcd = RecordingReports(steps)
    states = SessionStates(tmp_path, int(time.time() * 1000))
    intake = Intake(services(world.client.app).pipeline, states, lambda dims, _: dims, [cmcd])
    origin = RequestOrigin("", None, ())
    flood = Decoded({f"many-{n}": [parse_record(line(f"many-{n}", "ps", 0, 0, sta="s"))] for n in range(200)})
    calm = Decoded({"calm": [parse_record(line("calm", "ps", 0, 0, sta="s"))]})

    async def both() -> None:  # the flood's request arrives first, the other customer's right after
        await asyncio.gather(intake.take(cmcd, ALPHA, flood, origin), intake.take(cmcd, BETA, calm, origin))

    try:
        world.client.portal.call(both)  # type: ignore[union-attr]
    finally:
        states.close()
    assert sorted(steps) == [ALPHA] * 200 + [BETA]
    assert steps.index(BETA) <= STEPS_PER_CUSTOMER
