"""The dimensions, their hash columns and the rollups that keep them: names, kinds, types and patterns."""

from __future__ import annotations

import re

import pytest

from sightline.catalog import DIMENSION_HASHES, DIMENSIONS, EVENT_FIELDS, PARTS, ROLLUPS, VIEW_COLUMNS, dimension
from sightline.catalog.dimensions import DimensionSpec
from sightline.catalog.rollups import GRAIN_SECONDS
from sightline.query.ast import IDENTIFIER

NAMES = [d.name for d in DIMENSIONS]
NUMBERS = {"season", "episode", "contentduration", "asn"}
HIGH_CARDINALITY = {"assetid", "assetname", "viewerid", "subscriberid", "ipaddress"}
HASHES = {
    "viewer_hash": "viewerid",
    "title_hash": "assetid",
    "subscriber_hash": "subscriberid",
    "series_hash": "series",
    "device_hash": "device",
}
TABLE_COLUMNS = {"customer_id", "ts", "view_id", "event", "bucket", "view_start", "timestamp"}
"""Columns of `events`, `views` and the rollups that are not catalog declarations, and the series key."""


def test_names_are_unique_identifiers() -> None:
    assert len(set(NAMES)) == len(NAMES)
    assert all(IDENTIFIER.match(name) for name in NAMES)
    assert dimension("cdn").group == "delivery"
    with pytest.raises(KeyError):
        dimension("cdns")


def test_no_dimension_shares_a_name_with_another_column() -> None:
    """A dimension is a column of `events`, `views` and the rollups, beside the event fields, the views'
    columns, their hash columns and the parts."""
    others = (
        [f.name for f in EVENT_FIELDS]
        + [c.name for c in VIEW_COLUMNS]
        + [h.name for h in DIMENSION_HASHES]
        + [p.name for p in PARTS]
        + sorted(TABLE_COLUMNS)
    )
    assert not set(NAMES) & set(others)


@pytest.mark.parametrize("spec", DIMENSIONS, ids=NAMES)
def test_kind_and_column_type(spec: DimensionSpec) -> None:
    if spec.name in NUMBERS:
        assert (spec.kind, spec.clickhouse_type) == ("number", "UInt32")
    elif spec.name in HIGH_CARDINALITY:
        assert (spec.kind, spec.clickhouse_type) == ("string", "String")
    else:
        assert (spec.kind, spec.clickhouse_type) == ("string", "LowCardinality(String)")


@pytest.mark.parametrize("spec", [d for d in DIMENSIONS if d.pattern], ids=lambda d: d.name)
def test_a_pattern_always_allows_the_empty_value(spec: DimensionSpec) -> None:
    assert spec.kind == "string"
    assert spec.pattern is not None
    assert re.match(spec.pattern, "")


def test_the_patterns() -> None:
    country, streamtype = dimension("country").pattern or "", dimension("streamtype").pattern or ""
    assert [bool(re.match(country, v)) for v in ("US", "DE", "us", "USA", "U")] == [True, True, False, False, False]
    assert [bool(re.match(streamtype, v)) for v in ("live", "vod", "Live", "dvr")] == [True, True, False, False]


def test_a_dimension_added_later_names_its_migration() -> None:
    assert {d.name: d.schema_version for d in DIMENSIONS if d.schema_version != 1} == {"ipaddress": 3}


def test_the_hash_columns() -> None:
    """Each hashes a string dimension; named apart from every dimension and column of `views`."""
    assert {h.name: h.dimension for h in DIMENSION_HASHES} == HASHES
    assert all(dimension(of).kind == "string" for of in HASHES.values())
    assert not set(HASHES) & (set(NAMES) | {c.name for c in VIEW_COLUMNS})
    assert {h.schema_version for h in DIMENSION_HASHES} == {4}


def test_the_rollups() -> None:
    """Named once; each keeps known dimensions, once each, at a grain of whole seconds; the minute rollup and
    the hourly one of the same dimensions answer the edges and the middle of a period alike."""
    names = [r.name for r in ROLLUPS]
    assert len(set(names)) == len(names)
    for rollup in ROLLUPS:
        assert IDENTIFIER.match(rollup.name)
        assert len(set(rollup.dimensions)) == len(rollup.dimensions)
        assert all(dimension(name) for name in rollup.dimensions)
        assert rollup.grain in GRAIN_SECONDS
    by_name = {r.name: r for r in ROLLUPS}
    assert by_name["rollup_1m"].dimensions == by_name["rollup_1h"].dimensions
    assert (by_name["rollup_1m"].grain, by_name["rollup_1h"].grain) == ("minute", "hour")
    with pytest.raises(KeyError):
        type(ROLLUPS[0])("rollup_x", "hour", ("nosuchdimension",), "")
