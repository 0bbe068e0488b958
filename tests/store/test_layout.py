"""The columnar build of view runs equals a row-by-row conversion with the catalog's defaults."""

from __future__ import annotations

import uuid

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sightline.catalog import DIMENSIONS, EVENT_FIELDS
from sightline.store.layout import EVENT_SCHEMA, ViewEvents, view_events_table

_STRINGS = st.text(alphabet="abcXYZ-é ", max_size=6)


def _value(clickhouse_type: str) -> st.SearchStrategy[object]:
    if "String" in clickhouse_type:
        return _STRINGS
    if clickhouse_type.startswith("Float"):
        return st.sampled_from([0.0, 1.5, 250.25])
    return st.integers(0, 255)


_dimensions = st.dictionaries(st.sampled_from([d.name for d in DIMENSIONS]), _STRINGS, max_size=6).map(
    lambda values: {n: (len(v) if next(d for d in DIMENSIONS if d.name == n).kind == "number" else v)
                    for n, v in values.items()}
)  # fmt: skip
_event = st.fixed_dictionaries(
    {"event": st.sampled_from(["heartbeat", "play_request", "end"]), "ts": st.integers(1, 2**40)},
    optional={f.name: _value(f.clickhouse_type) for f in EVENT_FIELDS},
)
_runs = st.lists(
    st.builds(
        ViewEvents, st.integers(1, 9), st.binary(min_size=16, max_size=16), _dimensions, st.lists(_event, max_size=4)
    ),
    max_size=4,
)


def _row_by_row(runs: list[ViewEvents]) -> pa.Table:
    defaults = {d.name: 0 if d.kind == "number" else "" for d in DIMENSIONS} | {
        f.name: 0.0 if f.clickhouse_type.startswith("Float") else "" if "String" in f.clickhouse_type else 0
        for f in EVENT_FIELDS
    }
    rows = [
        {**defaults, **run.dimensions, **event, "customer_id": run.customer_id, "view_id": run.view_id}
        for run in runs
        for event in run.events
    ]
    return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)


@settings(deadline=None)
@given(_runs)
def test_view_runs_convert_as_their_rows_would(runs: list[ViewEvents]) -> None:
    assert view_events_table(runs).equals(_row_by_row(runs))


def test_a_dimension_the_run_lacks_is_empty_and_repeated_per_event() -> None:
    run = ViewEvents(
        7, uuid.uuid4().bytes, {"cdn": "akamai"}, [{"event": "heartbeat", "ts": 1}, {"event": "end", "ts": 2}]
    )
    table = view_events_table([run])
    assert table.column("cdn").to_pylist() == ["akamai", "akamai"]
    assert table.column("country").to_pylist() == ["", ""]
    assert table.column("play_ms").to_pylist() == [0, 0]
