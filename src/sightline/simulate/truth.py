"""Ground truth on disk: a directory with `views.parquet` (one row per simulated view; its `incidents`
column names the incidents that touched the view) and `incidents.json` (the injected incidents in the
format of `--incidents` files, each with the catalog metric of each effect and the `views` it touched).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sightline.simulate.incidents import Incident, parse_incidents

VIEWS_FILE = "views.parquet"
INCIDENTS_FILE = "incidents.json"


@dataclass(frozen=True, slots=True)
class GroundTruth:
    views: pa.Table
    incidents: tuple[Incident, ...]


def touched_views(views: pa.Table) -> Counter[str]:
    """How many of the truth rows `views` each incident touched, by name."""
    touched: Counter[str] = Counter()
    for item in pc.value_counts(views.column("incidents").cast(pa.string())).to_pylist():
        for name in str(item["values"]).split(","):
            if name:
                touched[name] += int(item["counts"])
    return touched


class GroundTruthWriter:
    """Streams truth tables into `<path>/views.parquet`; `close` writes `<path>/incidents.json`."""

    def __init__(self, path: Path, incidents: tuple[Incident, ...]) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._incidents = incidents
        self._writer: pq.ParquetWriter | None = None
        self._touched: Counter[str] = Counter()

    def write(self, views: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path / VIEWS_FILE, views.schema)
        self._writer.write_table(views)
        self._touched += touched_views(views)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        incidents = [i.to_json() | {"views": self._touched[i.name]} for i in self._incidents]
        (self.path / INCIDENTS_FILE).write_text(json.dumps(incidents, indent=2) + "\n")

    def __enter__(self) -> GroundTruthWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def write_ground_truth(path: Path, views: Iterable[pa.Table], incidents: tuple[Incident, ...]) -> None:
    """Write the truth tables `views` (one per chunk) and `incidents` into the directory `path`."""
    with GroundTruthWriter(path, incidents) as writer:
        for table in views:
            writer.write(table)


def read_ground_truth(path: Path) -> GroundTruth:
    """The ground truth written by `write_ground_truth` (string dimensions dictionary-encoded)."""
    views = pq.read_table(path / VIEWS_FILE) if (path / VIEWS_FILE).exists() else pa.table({})
    data = json.loads((path / INCIDENTS_FILE).read_text())
    return GroundTruth(views, parse_incidents(data))
