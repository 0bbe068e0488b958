"""The catalog: dimensions, events, additive parts and rollups declared as data.

It is the single source of truth for the beacon format, the schema DDL, the API enums and the docs.
It imports nothing of ours and does no IO.
"""

from sightline.catalog.dimensions import DIMENSION_HASHES, DIMENSIONS, DimensionHashSpec, DimensionSpec, dimension
from sightline.catalog.events import EVENT_FIELDS, EVENT_TYPES, EventFieldSpec
from sightline.catalog.parts import PARTS, VIEW_COLUMNS, PartSpec, ViewColumnSpec
from sightline.catalog.rollups import ROLLUPS, RollupSpec

__all__ = [
    "DIMENSIONS",
    "DIMENSION_HASHES",
    "EVENT_FIELDS",
    "EVENT_TYPES",
    "PARTS",
    "ROLLUPS",
    "VIEW_COLUMNS",
    "DimensionHashSpec",
    "DimensionSpec",
    "EventFieldSpec",
    "PartSpec",
    "RollupSpec",
    "ViewColumnSpec",
    "dimension",
]
