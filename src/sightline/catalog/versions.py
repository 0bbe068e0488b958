"""The catalog version of each table derived from `events`: what its rows were computed by.

`views` is computed by the view columns' declarations, each rollup by its own declaration (grain, dimensions)
and the parts' (every rollup holds every part). A table's version is a digest of those declarations, each
named (`column startup_ms`, `part viewers`, `rollup`) with a digest of its own, so that a change says what it
changed. Descriptions are left out: they change no row. The store records the version each table was built by
and rebuilds the tables whose version changed (`store.migrations.rebuild_changed`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sightline.catalog.parts import PARTS, SKETCH_ACCURACY, SKETCH_LEVEL, VIEW_COLUMNS, PartSpec, declared_at
from sightline.catalog.rollups import ROLLUPS

VIEWS = "views"


def digest(text: str) -> str:
    """A short digest of `text` (16 hex digits of its SHA-256)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class TableVersion:
    """The declarations a derived table is computed by: each one's name and digest."""

    table: str
    declarations: tuple[tuple[str, str], ...]

    @property
    def version(self) -> str:
        return digest(json.dumps(sorted(self.declarations)))

    def changed_since(self, before: TableVersion) -> tuple[str, ...]:
        """The names of the declarations that differ from `before`'s (added, removed or changed), in order."""
        return tuple(sorted({name for name, _ in set(self.declarations) ^ set(before.declarations)}))


def _part(part: PartSpec) -> str:
    sketch = (SKETCH_ACCURACY, SKETCH_LEVEL) if part.aggregate == "ddsketch" else ()
    fields = (part.name, part.aggregate, part.attribution, part.expression, part.condition, part.argument_type)
    return digest(repr((*fields, *sketch)))


def table_versions(schema_version: int | None = None) -> dict[str, TableVersion]:
    """The version of `views` and of each rollup as schema `schema_version` declares them (None: the newest)."""
    views = tuple(
        (f"column {c.name}", digest(repr((c.name, c.aggregate, c.expression, c.clickhouse_type))))
        for c in declared_at(VIEW_COLUMNS, schema_version)
    )
    parts = tuple((f"part {p.name}", _part(p)) for p in declared_at(PARTS, schema_version))
    found = {VIEWS: TableVersion(VIEWS, views)}
    for rollup in ROLLUPS:
        declared = ("rollup", digest(repr((rollup.name, rollup.grain, rollup.dimensions))))
        found[rollup.name] = TableVersion(rollup.name, (declared, *parts))
    return found
