"""A small simulated day (one customer) shared by the simulator tests, and the store it was loaded into
with each view's events split over several shuffled insert batches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from sightline.settings import Settings
from sightline.simulate import SimulationConfig, simulate
from sightline.store import Store, open_store

DAY = SimulationConfig(
    start=datetime(2024, 5, 4, tzinfo=UTC),
    end=datetime(2024, 5, 5, tzinfo=UTC),
    customer_ids=(1,),
    views_per_day=5000,
    seed=7,
)


class SimulatedDay:
    def __init__(self, events: pa.Table, views: pa.Table) -> None:
        self.events = events
        self.views = views


@pytest.fixture(scope="session")
def day() -> SimulatedDay:
    chunks = list(simulate(DAY))
    return SimulatedDay(pa.concat_tables([c.events for c in chunks]), pa.concat_tables([c.views for c in chunks]))


@pytest.fixture(scope="module")
def loaded_store(day: SimulatedDay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The day inserted in 5 batches of shuffled rows: every view arrives in several, out of order.

    Module-scoped: chDB opens one data directory per process at a time, so it must be closed before
    the next module's tests open theirs."""
    store = open_store(Settings(data_dir=Path(tmp_path_factory.mktemp("store"))))
    rows = np.random.default_rng(1).permutation(day.events.num_rows)
    for part in np.array_split(rows, 5):
        store.insert_events(day.events.take(pa.array(part)))
    yield store
    store.close()
