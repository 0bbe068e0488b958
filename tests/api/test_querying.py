"""The API's values of result rows: `json_rows` (column by column) answers what `json_value` (value by value)
does."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sightline.api.querying import json_rows, json_value

_TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


def _by_value(table: pa.Table) -> list[dict[str, object]]:
    return [{key: json_value(value) for key, value in row.items()} for row in table.to_pylist()]


@settings(deadline=None, max_examples=300)
@given(
    floats=st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.none(), min_size=1, max_size=20),
    data=st.data(),
)
def test_json_rows_equal_json_value_of_each_value(floats: list[float | None], data: st.DataObject) -> None:
    n = len(floats)
    times = data.draw(st.lists(_TIMES | st.none(), min_size=n, max_size=n))
    counts = data.draw(st.lists(st.integers(0, 2**63) | st.none(), min_size=n, max_size=n))
    names = data.draw(st.lists(st.text(max_size=5) | st.none(), min_size=n, max_size=n))
    table = pa.table(
        {
            "ratio": pa.array(floats, pa.float64()),
            "single": pa.array(floats, pa.float32()),
            "at_ms": pa.array(times, pa.timestamp("ms", "UTC")),
            "at_s": pa.array(times, pa.timestamp("s", "UTC")),
            "count": pa.array(counts, pa.uint64()),
            "name": pa.array(names, pa.string()),
        }
    )
    assert json_rows(table) == _by_value(table)


def test_values_that_are_not_finite_are_no_value_and_ratios_keep_four_decimals() -> None:
    table = pa.table({"ratio": pa.array([math.nan, math.inf, -math.inf, 2 / 3, 12.5], pa.float64())})
    assert [row["ratio"] for row in json_rows(table)] == [None, None, None, 0.6667, 12.5]


def test_rounding_a_column_equals_rounding_each_value_at_the_edges() -> None:
    edges = [0.00005, 0.00015, 1.00005, 2.675, -0.00005, 5e-5 * 3, 123456.78905, 9.0e11 + 0.00015, 2.0**53, 1e300]
    table = pa.table({"value": pa.array(edges, pa.float64())})
    assert [row["value"] for row in json_rows(table)] == [json_value(v) for v in edges]
