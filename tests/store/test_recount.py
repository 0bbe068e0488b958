"""Migration 8: `views` and the rollups of a store made at version 7 are recounted from `events` into exactly
what a store made at version 8 holds for the same events (startup times in a DDSketch, live latency from live
views only), are fed again afterwards, and come out the same when the migration runs again after a crash at
any statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from sightline.catalog import PARTS, ROLLUPS, VIEW_COLUMNS
from sightline.catalog.parts import SKETCH_ACCURACY
from sightline.simulate import SimulationConfig, simulate
from sightline.store import EmbeddedStore
from sightline.store.migrations import apply_migrations, event_days
from sightline.store.schema import recounted_ddl, render
from tests.handwritten import by_hand

CUSTOMER = 1
CONFIG = SimulationConfig(
    start=datetime(2024, 5, 4, 21, tzinfo=UTC),
    end=datetime(2024, 5, 5, 3, tzinfo=UTC),
    customer_ids=(CUSTOMER,),
    views_per_day=8000,
    seed=3,
)
LEVELS = (0.5, 0.95, 0.99)


def _events() -> pa.Table:
    """A few simulated hours, every heartbeat with a latency sample: of VOD views too (1 ms), as players and
    the simulator of version 7 sent them."""
    events = pa.concat_tables([chunk.events for chunk in simulate(CONFIG)])
    heartbeat = pc.equal(events.column("event").cast(pa.string()), "heartbeat")
    latency = pc.if_else(heartbeat, pc.max_element_wise(events.column("live_latency_ms"), 1), 0)
    index = events.schema.get_field_index("live_latency_ms")
    return events.set_column(index, "live_latency_ms", latency.cast(events.schema.field(index).type))


EVENTS = _events()
BATCHES = np.array_split(np.random.default_rng(5).permutation(EVENTS.num_rows), 4)


def _insert(store: EmbeddedStore, events: pa.Table) -> None:
    for batch in BATCHES:  # a view's rows reach the materialized views in several blocks
        store.insert_events(events.take(pa.array(batch)))


def _merge(aggregate: str, column: str) -> list[str]:
    if aggregate == "sum":
        return [f"sum(`{column}`) AS `{column}`"]
    if aggregate == "uniq":
        return [f"uniqMerge(`{column}`) AS `{column}`"]
    # as text: an empty sketch answers NaN, which equals nothing
    return [f"toString(quantileDDMerge({SKETCH_ACCURACY}, {q})(`{column}`)) AS `{column}_{q}`" for q in LEVELS]


def content(store: EmbeddedStore) -> dict[str, list[dict[str, Any]]]:
    """Every table that the migration recounts, each row merged by its key, in order."""
    found = {}
    views = [f"{c.aggregate}(`{c.name}`) AS `{c.name}`" for c in VIEW_COLUMNS]
    found["views"] = store.query(
        by_hand(f"SELECT toString(view_id) AS id, {', '.join(views)} FROM views GROUP BY view_id ORDER BY id")
    ).to_pylist()
    for rollup in ROLLUPS:
        keys = ", ".join(["bucket", *(f"`{d}`" for d in rollup.dimensions)])
        parts = ", ".join(s for p in PARTS for s in _merge(p.aggregate, p.name))
        found[rollup.name] = store.query(
            by_hand(f"SELECT {keys}, {parts} FROM {rollup.name} GROUP BY {keys} ORDER BY {keys}")
        ).to_pylist()
    return found


def _scalar(store: EmbeddedStore, sql: str) -> Any:
    return store.query(by_hand(sql)).column(0)[0].as_py()


@pytest.fixture(scope="module")
def made_at_8(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """What a store of the newest version holds for the events."""
    store = EmbeddedStore(Path(tmp_path_factory.mktemp("v8")))
    try:
        apply_migrations(store)
        _insert(store, EVENTS)
        return content(store)
    finally:
        store.close()


def test_a_version_7_store_is_recounted_into_what_version_8_makes(
    made_at_8: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    samples = pc.greater(EVENTS.column("live_latency_ms"), 0)
    live = pc.and_(samples, pc.equal(EVENTS.column("streamtype").cast(pa.string()), "live"))
    assert 0 < pc.sum(live).as_py() < pc.sum(samples).as_py(), "VOD views carry samples too"
    store = EmbeddedStore(tmp_path)
    try:
        assert apply_migrations(store, until=7) == [1, 2, 3, 4, 5, 6, 7]
        _insert(store, EVENTS)
        # version 7 counted every sample, in the rollups and in `views`, and kept a t-digest
        for table in ("rollup_1h", "views"):
            assert _scalar(store, f"SELECT sum(live_latency_count) FROM {table}") == pc.sum(samples).as_py()
        assert "quantileTDigest" in _scalar(store, "SELECT type FROM system.columns WHERE table = 'rollup_1m' "
                                                  "AND name = 'startup_ms_digest'")  # fmt: skip

        store.execute(  # a day a named query stored from the old `views`
            by_hand(
                "INSERT INTO stored_day_slices (customer_id, kind, day, slice, views_version) VALUES (1, 'paths', "
                "'2024-05-04', 1, 1)"
            )
        )

        assert apply_migrations(store, until=8) == [8]
        assert content(store) == made_at_8
        assert _scalar(store, "SELECT count() FROM stored_day_slices") == 0, "computed again from the new views"
        for table in ("rollup_1h", "views"):
            assert _scalar(store, f"SELECT sum(live_latency_count) FROM {table}") == pc.sum(live).as_py()
        leftovers = _scalar(
            store,
            "SELECT count() FROM system.tables WHERE database = currentDatabase() "
            "AND (name LIKE '%recounted%' OR name = 'events_replay')",
        )
        assert leftovers == 0

        # the materialized views from `events` feed the recounted tables
        later = EVENTS.filter(pc.equal(EVENTS.column("event").cast(pa.string()), "play_request")).slice(0, 1)
        shifted = pc.add(later.column("ts"), pa.scalar(int(timedelta(hours=1).total_seconds() * 1000)))
        store.insert_events(later.set_column(later.schema.get_field_index("ts"), "ts", shifted))
        for table in ("views", *(r.name for r in ROLLUPS)):
            attempts = "play_requested" if table == "views" else "attempts"
            total = _scalar(store, f"SELECT sum({attempts}) FROM {table}")
            assert total == sum(r[attempts] for r in made_at_8[table]) + 1, table
    finally:
        store.close()


@pytest.mark.parametrize("crash", ["between two days", "after the first exchange", "before the last view"])
def test_the_recount_run_again_after_a_crash_comes_out_the_same(
    made_at_8: dict[str, list[dict[str, Any]]], tmp_path: Path, crash: str
) -> None:
    store = EmbeddedStore(tmp_path)
    try:
        apply_migrations(store, until=7)
        _insert(store, EVENTS)
        statements = render(recounted_ddl(8, event_days(store)))
        assert event_days(store) == [20240504, 20240505]
        assert sum(s.startswith("INSERT") for s in statements) == 2, "a day at a time"
        done = {
            "between two days": next(i for i, s in enumerate(statements) if s.startswith("INSERT")) + 1,
            "after the first exchange": next(i for i, s in enumerate(statements) if s.startswith("EXCHANGE")) + 1,
            "before the last view": len(statements) - 1,
        }[crash]
        for statement in statements[:done]:
            store.execute(by_hand(statement))
        assert apply_migrations(store, until=8) == [8]  # not recorded yet: run again whole
        assert content(store) == made_at_8
    finally:
        store.close()
