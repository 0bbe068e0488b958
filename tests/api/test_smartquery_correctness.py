"""Every named query of `GET /mm-apis/smartQuery`, answered over two simulated days, equals an independent
pandas computation from the simulator's ground truth (tests/api/smartquery_truth.py): content paths rebuilt
from the true sequences of views, subscriber figures and cohorts recomputed from their definitions, and the
others, row by row and column by column (exactly; floats to the API's 4 decimals; distinct counts of
`topcontent`, which come from the rollups' approximate states, within 1 %).

The events are inserted shuffled, in four batches, so that `views` holds several rows of most views and
the queries must merge them (FINAL). The period is the second day, so that the first is the lookback that
tells new viewers and subscribers from returning ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from sightline.api.services import services
from sightline.app import create_app
from sightline.auth.kinds import KeyKind
from sightline.query.period import Period
from sightline.settings import Settings
from sightline.simulate import SimulationConfig, simulate
from sightline.smartquery import paths, stored_days, subscribers
from sightline.smartquery.catalog import NAMED_QUERIES
from sightline.smartquery.spec import SmartQuery, StoredDays
from sightline.store import Store
from tests.api import smartquery_truth as truth

CUSTOMER, PLAN_LEVEL = 1001, 6831
OTHER, OTHER_PLAN = 1002, 6830  # Professional: no smart_query
START = datetime(2024, 5, 4, tzinfo=UTC)
CONFIG = SimulationConfig(
    start=START, end=START + timedelta(days=2), customer_ids=(CUSTOMER,), views_per_day=6000, seed=11
)
DAY_TWO = (START + timedelta(days=1), START + timedelta(days=2))
CONFIG_DAYS = (START, START + timedelta(days=2))
WHOLE = (START, START + timedelta(days=3))
"""Holds every event of every view: the attribution of play time (by event time) does not matter."""


@dataclass
class World:
    client: TestClient
    headers: dict[str, str]
    other_headers: dict[str, str]
    frame: Any
    business_vsf: set[str]
    store: Store


def _business_vsf(events: pa.Table) -> set[str]:
    """Ids of the views whose fatal error before the first frame was a business exception."""
    mask = np.asarray(
        (events.column("event").to_numpy(zero_copy_only=False) == "error")
        & (events.column("fatal").to_numpy() == 1)
        & (events.column("business_error").to_numpy() == 1)
        & (events.column("started").to_numpy() == 0)
    )
    ids = events.column("view_id").filter(pa.array(mask)).to_pylist()
    return {str(uuid.UUID(bytes=raw)) for raw in ids}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    chunks = list(simulate(CONFIG))
    events = pa.concat_tables([c.events for c in chunks])
    frame = truth.truth_frame(pa.concat_tables([c.views for c in chunks]))
    settings = Settings(  # past days are stored by the test that checks them, not by the server meanwhile
        data_dir=Path(tmp_path_factory.mktemp("smartquery")),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        stored_days_every_s=86_400,
    )
    app = create_app(settings)
    auth = app.state.auth
    auth.accounts.add_customer(CUSTOMER, "Correctness", PLAN_LEVEL)
    auth.accounts.add_customer(OTHER, "Professional", OTHER_PLAN)
    key = auth.accounts.create_key(KeyKind.API, CUSTOMER)[1]
    other_key = auth.accounts.create_key(KeyKind.API, OTHER)[1]
    with TestClient(app) as client:
        rows = np.random.default_rng(3).permutation(events.num_rows)
        for batch in np.array_split(rows, 4):
            services(app).store.insert_events(events.take(pa.array(batch)))
        store = services(app).store
        yield World(client, {"X-API-Key": key}, {"X-API-Key": other_key}, frame, _business_vsf(events), store)


def _period(span: tuple[datetime, datetime]) -> str:
    return f"start={int(span[0].timestamp())},end={int(span[1].timestamp())}"


def ask(world: World, name: str, span: tuple[datetime, datetime], **params: Any) -> tuple[int, Any]:
    query = {"queryname": name, "period": _period(span), "planlevel": PLAN_LEVEL, **params}
    response = world.client.get(f"/mm-apis/smartQuery/{CUSTOMER}", params=query, headers=world.headers)
    return response.status_code, response.json()


def every_row(world: World, name: str, span: tuple[datetime, datetime], **params: Any) -> list[dict[str, Any]]:
    """All rows of the answer, page by page (pages of 10000; checks the envelope of each)."""
    rows: list[dict[str, Any]] = []
    while True:
        status, body = ask(world, name, span, limit=10_000, offset=len(rows), querycache="False", **params)
        assert status == 200, body
        assert body["totalcount"] == len(body["response"])
        rows += body["response"]
        if len(rows) >= body["totalrecords"] or not body["response"]:
            assert len(rows) == body["totalrecords"]
            return rows


def _same(got: Any, expected: Any) -> bool:
    if expected is None or got is None:
        return got is None and expected is None
    if isinstance(expected, float | np.floating) or isinstance(got, float):
        return bool(abs(float(got) - float(expected)) <= 1e-4 + 1e-9 * abs(float(expected)))
    return bool(got == expected)


def mismatches(
    got: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]], approximate: tuple[str, ...] = ()
) -> list[str]:
    problems = (
        [f"rows only in the answer: {sorted(map(str, set(got) - set(expected)))[:5]}"]
        if set(got) - set(expected)
        else []
    )
    problems += [f"rows missing: {sorted(map(str, set(expected) - set(got)))[:5]}"] if set(expected) - set(got) else []
    for key in sorted(set(got) & set(expected), key=str):
        for column, value in expected[key].items():
            if column.startswith("_"):
                continue
            answer = got[key][column]
            close = abs(answer - value) <= 0.01 * value + 1 if column in approximate else _same(answer, value)
            if not close:
                problems.append(f"{key} {column}: got {answer!r}, expected {value!r}")
    return problems[:20]


def test_contentpaths_equal_the_paths_rebuilt_from_the_truth(world: World) -> None:
    rows = every_row(world, "contentpaths", DAY_TWO)
    got = {(r["kind"], tuple(r["assetids"])): r for r in rows}
    expected = truth.content_paths(world.frame, truth.Span.of(*DAY_TWO))
    assert len(got) == len(rows)
    assert mismatches(got, expected) == []
    assert {r["kind"] for r in rows} == {"path", "transition", "exit"}
    assert max(r["pathlength"] for r in rows if r["kind"] == "path") == truth.MAX_PATH
    ranks = [("path", "transition", "exit").index(r["kind"]) for r in rows]
    assert ranks == sorted(ranks)
    for kind in ("path", "transition", "exit"):
        counts = [r["count"] for r in rows if r["kind"] == kind]
        assert counts == sorted(counts, reverse=True)


def test_answers_read_from_stored_days_equal_those_computed_from_views_and_the_truth(world: World) -> None:
    """Once the past days are stored (`stored_days`), a period's whole days are read from there and the rest
    is computed from `views`: the answers stay the truth's, row for row."""
    spans = {"day two": DAY_TWO, "a day and a half": (START + timedelta(hours=12), DAY_TWO[1]), "both": CONFIG_DAYS}
    queries = ("contentpaths", "subscriberinsight", "subscribercohorts")
    request = SmartQuery(
        customer_id=CUSTOMER, period=Period(*DAY_TWO), granularity="hour", limit=1, name="contentpaths"
    )
    assert stored_days.plan(paths.DAYS, world.store, request).stored == StoredDays()
    computed = {(q, name): every_row(world, q, span) for q in queries for name, span in spans.items()}
    assert stored_days.refresh_days(world.store, [CUSTOMER], datetime.now(UTC)) == 4  # 2 days, 2 kinds
    assert stored_days.plan(paths.DAYS, world.store, request).stored.days == (DAY_TWO[0].date(),)
    both = replace(request, name="subscriberinsight", period=Period(*CONFIG_DAYS))
    assert stored_days.plan(subscribers.DAYS, world.store, both).stored.days == (START.date(), DAY_TWO[0].date())
    for (query, name), rows in computed.items():
        assert every_row(world, query, spans[name]) == rows, (query, name)
    for name, span in spans.items():
        expected = truth.content_paths(world.frame, truth.Span.of(*span))
        got = {(r["kind"], tuple(r["assetids"])): r for r in computed[("contentpaths", name)]}
        assert mismatches(got, expected) == [], name
    insight = truth.subscriber_insight(world.frame, truth.Span.of(*CONFIG_DAYS))
    assert mismatches({r["subscriberid"]: r for r in computed[("subscriberinsight", "both")]}, insight) == []
    cohorts = truth.subscriber_cohorts(insight)
    assert mismatches({r["cohort"]: r for r in computed[("subscribercohorts", "both")]}, cohorts) == []


def test_the_session_rule_keeps_the_simulated_sessions_whole(world: World) -> None:
    """The paths follow the sequences the simulator played: the 30-minute rule never cuts one."""
    assert truth.true_sessions_kept_whole(world.frame, truth.Span.of(*DAY_TWO)) >= 0.99


def test_subscriberinsight_equals_the_truth_and_every_cohort_is_populated(world: World) -> None:
    rows = every_row(world, "subscriberinsight", DAY_TWO)
    got = {r["subscriberid"]: r for r in rows}
    expected = truth.subscriber_insight(world.frame, truth.Span.of(*DAY_TWO))
    assert mismatches(got, expected) == []
    assert {r["cohort"] for r in rows} == {"atrisk", "new", "engaged", "returning"}
    minutes = [r["playdur"] for r in rows]
    assert minutes == sorted(minutes, reverse=True)


def test_subscribers_named_page_by_page_under_a_dimension_filter_equal_the_truth(world: World) -> None:
    """Each page's subscribers are named by a second query (their latest view in the period): small pages of a
    filtered answer name every subscriber as the truth does, in the order of the whole answer."""
    whole = every_row(world, "subscriberinsight", DAY_TWO, filter="[device=tv]")
    paged: list[dict[str, Any]] = []
    while len(paged) < len(whole):
        status, body = ask(
            world, "subscriberinsight", DAY_TWO, filter="[device=tv]", limit=7, offset=len(paged), querycache="False"
        )
        assert status == 200, body
        assert body["response"], body
        paged += body["response"]
    assert [r["subscriberid"] for r in paged] == [r["subscriberid"] for r in whole]
    tv = world.frame[world.frame["device"] == "tv"]
    expected = truth.subscriber_insight(tv, truth.Span.of(*DAY_TWO))
    assert len(expected) > 7
    assert mismatches({r["subscriberid"]: r for r in paged}, expected) == []


@pytest.mark.parametrize("days", [3, 70])
def test_active_days_are_counted_over_short_and_long_periods(world: World, days: int) -> None:
    """Up to 64 days a subscriber's active days are the bits of a mask, beyond that a set: both equal the truth."""
    span = (WHOLE[1] - timedelta(days=days), WHOLE[1])
    rows = every_row(world, "subscriberinsight", span)
    expected = truth.subscriber_insight(world.frame, truth.Span.of(*span))
    assert mismatches({r["subscriberid"]: r for r in rows}, expected) == []
    assert max(r["daysactive"] for r in rows) == 2


def test_a_row_filter_keeps_one_cohort_and_a_dimension_filter_the_views_counted(world: World) -> None:
    at_risk = every_row(world, "subscriberinsight", DAY_TWO, filter="[cohort=atrisk]")
    everyone = {r["subscriberid"]: r for r in every_row(world, "subscriberinsight", DAY_TWO)}
    assert at_risk
    assert list(at_risk) == [r for r in everyone.values() if r["cohort"] == "atrisk"]
    on_tv = every_row(world, "contentengagement", DAY_TWO, filter="[device=tv]")
    tv_frame = world.frame[world.frame["device"] == "tv"]
    expected = truth.content_engagement(tv_frame, truth.Span.of(*DAY_TWO))
    assert on_tv
    assert mismatches({r["assetid"]: r for r in on_tv}, expected) == []
    exits = every_row(world, "contentpaths", DAY_TWO, filter="kind=exit, pathlength=1")
    assert exits
    assert {r["kind"] for r in exits} == {"exit"}


def test_subscribercohorts_equal_the_truth(world: World) -> None:
    rows = every_row(world, "subscribercohorts", DAY_TWO)
    expected = truth.subscriber_cohorts(truth.subscriber_insight(world.frame, truth.Span.of(*DAY_TWO)))
    assert mismatches({r["cohort"]: r for r in rows}, expected) == []
    assert [r["cohort"] for r in rows] == ["atrisk", "new", "engaged", "returning"]


def test_topcontent_equals_the_truth(world: World) -> None:
    rows = every_row(world, "topcontent", WHOLE)
    expected = truth.top_content(world.frame, truth.Span.of(*WHOLE), world.business_vsf)
    assert mismatches({r["assetid"]: r for r in rows}, expected, approximate=("uniqueviewercount",)) == []
    minutes = [r["playdur"] for r in rows]
    assert minutes == sorted(minutes, reverse=True)


def test_contentengagement_equals_the_truth(world: World) -> None:
    rows = every_row(world, "contentengagement", DAY_TWO)
    expected = truth.content_engagement(world.frame, truth.Span.of(*DAY_TWO))
    assert mismatches({r["assetid"]: r for r in rows}, expected) == []
    assert all(r["reached25"] >= r["reached50"] >= r["reached75"] >= r["reached100"] for r in rows)


def test_bingesessions_equal_the_truth(world: World) -> None:
    rows = every_row(world, "bingesessions", DAY_TWO)
    expected = truth.binge_sessions(world.frame, truth.Span.of(*DAY_TWO))
    assert mismatches({r["series"]: r for r in rows}, expected) == []
    assert sum(r["bingesessions"] for r in rows) > 10


def test_newvsreturning_equals_the_truth(world: World) -> None:
    rows = every_row(world, "newvsreturning", DAY_TWO, granularity="hour")
    expected = truth.new_vs_returning(world.frame, truth.Span.of(*DAY_TWO))
    assert mismatches({r["timestamp"]: r for r in rows}, expected) == []
    assert len(rows) == 24
    assert 0 < sum(r["newviewers"] for r in rows) < sum(r["uniqueviewercount"] for r in rows)


@pytest.mark.parametrize("name", sorted(NAMED_QUERIES))
def test_each_answer_has_the_documented_columns_and_the_envelope(world: World, name: str) -> None:
    status, body = ask(world, name, DAY_TWO, limit=2)
    assert status == 200, body
    assert set(body) == {"totalcount", "pagecount", "totalrecords", "response", "queryId"}
    assert body["totalcount"] == len(body["response"]) == min(2, body["totalrecords"]) > 0
    assert body["pagecount"] == -(-body["totalrecords"] // 2)
    columns = [c.name for c in NAMED_QUERIES[name].columns]
    assert all(list(row) == [*columns, "totalpages"] for row in body["response"])
    uuid.UUID(body["queryId"])


def test_a_page_past_the_end_still_counts_every_record(world: World) -> None:
    status, body = ask(world, "subscribercohorts", DAY_TWO, offset=50)
    assert status == 200
    assert body["response"] == []
    assert body["totalrecords"] == 4


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"queryname": "nosuch"}, "queryname"),
        ({"filter": "[nosuch=1]"}, "filter"),
        ({"filter": "[cohort>1]"}, "filter"),
        ({"queryId": "not-a-uuid"}, "queryId"),
        ({"querycache": "maybe"}, "querycache"),
        ({"granularity": "week"}, "granularity"),
        ({"limit": 0}, "limit"),
        ({"period": "start=5,end=1"}, "period"),
    ],
)
def test_bad_parameters_are_400_naming_them(world: World, params: dict[str, Any], parameter: str) -> None:
    query = {"queryname": "subscriberinsight", "period": _period(DAY_TWO), **params}
    response = world.client.get(f"/mm-apis/smartQuery/{CUSTOMER}", params=query, headers=world.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["parameter"] == parameter
    if parameter == "queryname":
        assert all(name in response.json()["error"]["message"] for name in NAMED_QUERIES)


def test_a_plan_without_smart_query_is_403(world: World) -> None:
    query = {"queryname": "topcontent", "period": _period(DAY_TWO)}
    response = world.client.get(f"/mm-apis/smartQuery/{OTHER}", params=query, headers=world.other_headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "plan_forbidden"
