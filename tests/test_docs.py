"""The documents generated from the catalog are up to date (run `make docs` when this fails)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sightline.catalog.formula import render
from sightline.catalog.metrics import METRICS
from sightline.docs import DOCUMENTS
from sightline.query.request import MetricQueryParams, parse_metric_query

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_generated_document_is_fresh(name: str) -> None:
    assert (DOCS / name).read_text() == DOCUMENTS[name](), f"docs/{name} is stale: run `make docs`"


def _metric_rows() -> dict[str, list[str]]:
    """The cells of each row of the metrics table of docs/metrics.md, by metric name."""
    rows = {}
    for line in (DOCS / "metrics.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if len(cells) == 6 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    return rows


def test_the_formula_column_is_what_a_request_computes_by_default() -> None:
    """A request without `businesserror` leaves business exceptions out: docs/metrics.md shows that formula,
    and what `businesserror=true` computes in the definition."""
    period = "start=1714780800,end=1714867200"
    rows = _metric_rows()
    assert set(rows) == {m.name for m in METRICS}
    for metric in METRICS:
        default = parse_metric_query(1001, MetricQueryParams(metrics=metric.name, period=period))
        with_business = parse_metric_query(
            1001, MetricQueryParams(metrics=metric.name, period=period, businesserror="true")
        )
        cells = rows[metric.name]
        assert cells[4] == f"`{render(default.metrics[0].formula_for(default.include_business))}`", metric.name
        other = render(with_business.metrics[0].formula_for(with_business.include_business))
        if other != cells[4].strip("`"):
            assert f"with `businesserror=true` they count: `{other}`" in cells[3], metric.name
