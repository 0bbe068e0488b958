"""The catalog as JSON-ready data and as Markdown: `/mm-apis/catalog`, docs/metrics.md, docs/dimensions.md."""

from __future__ import annotations

import textwrap
from typing import Any

from sightline.catalog.dimensions import DIMENSIONS
from sightline.catalog.formula import ZERO_DENOMINATOR_RULE, parts_of, render
from sightline.catalog.metrics import METRICS, MetricSpec
from sightline.catalog.parts import PARTS, SKETCH_ACCURACY
from sightline.catalog.rollups import ROLLUPS


def describe_catalog() -> dict[str, Any]:
    metrics = [
        {
            "name": m.name,
            "label": m.label,
            "unit": m.unit,
            "definition": m.definition,
            "formula": render(m.formula),
            "formula_without_business_exceptions": render(m.formula_for(include_business=False)),
            "parts": sorted(parts_of(m.formula)),
            "dashboards": list(m.dashboards),
            "ad": m.ad,
        }
        for m in METRICS
    ]
    dimensions = [
        {
            "name": d.name,
            "group": d.group,
            "kind": d.kind,
            "description": d.description,
            "rollups": [r.name for r in ROLLUPS if d.name in r.dimensions],
        }
        for d in DIMENSIONS
    ]
    return {"metrics": metrics, "dimensions": dimensions}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _business_note(metric: MetricSpec) -> str:
    if not metric.business:
        return ""
    return f" Business exceptions are left out; with `businesserror=true` they count: `{render(metric.formula)}`."


def metrics_md() -> str:
    """docs/metrics.md. The formula column is what the API computes by default (`businesserror=false`)."""
    rows = "\n".join(
        f"| `{m.name}` | {m.label} | {m.unit} | {_cell(m.definition)}{_business_note(m)} | "
        f"`{render(m.formula_for(include_business=False))}` | {', '.join(m.dashboards)} |"
        for m in METRICS
    )
    parts = "\n".join(
        f"| `{p.name}` | {p.aggregate} | {p.attribution.replace('_', ' ')} | {_cell(p.description)} |" for p in PARTS
    )
    return f"""# Metrics

<!-- generated from src/sightline/catalog/ by `sightline docs`; a test fails when this file is stale -->

Every metric is a formula over **additive parts** summed over the group asked for (a total, a row of a
breakdown, a time bucket): ratios are computed from summed parts, never averaged; a ratio over a zero
denominator has no value (`null`, see below). Outcome parts count in the bucket of the view's start;
time-based parts in the bucket of the event (docs/architecture.md). Definitions follow CTA-2066 and
industry usage; names follow SmartSight's where it has one.

Words used exactly: an **attempt** is a view with a play request; a view **started** when it rendered
its first frame (the `first_frame` event), and a started view is a **play**. "Views that started" never
means attempts. **Business exceptions** are error events that the player flags as `business_error`
(entitlement, geo-block, concurrency limit: the service refused, the player did not fail). The error
metrics (vsf, videostartfailures, vpf, playbackfailures, totalstartupfailure, errors, fatalerrors,
errorsperplay) leave them out by default (`businesserror=false`), as their formula column shows; each
says what `businesserror=true` computes instead, and a `qoefilter` condition on one evaluates it the same way (a
view refused by a business exception has `vsf` 0 unless `businesserror=true`). **Errors** are the player's `error`
events; ad errors (`ad_error`) count only in the ad metrics.

| metric | label | unit | definition | formula | dashboards |
|---|---|---|---|---|---|
{rows}

## Additive parts

| part | stored as | counted at | meaning |
|---|---|---|---|
{parts}

`period_ms` is the length of the group's time span: the whole period, or in a series the part of the
bucket inside the period (the first and last buckets of a period that does not start and end on their
bounds are shorter).
`q50(…)`, `q95(…)`, `q99(…)` are quantiles of a DDSketch (ClickHouse's `quantileDD`, relative accuracy
{SKETCH_ACCURACY * 100:g} %): of n values, the value at rank ⌊q·(n − 1)⌋ in order (counting from 0; the lower
of the two order statistics around the rank), within {SKETCH_ACCURACY * 100:g} % of it, and within 1 % once
the API rounds seconds to 4 decimals, for every group size. The buckets of a sketch are exact counts, so
the same views give the same value whichever table answers and however the rows were merged; the median
of two plays is the smaller one.

## A zero denominator

{textwrap.fill(ZERO_DENOMINATOR_RULE, 105)}
"""


def dimensions_md() -> str:
    rows = "\n".join(
        f"| `{d.name}` | {d.group} | {d.kind} | {_cell(d.description)} | "
        f"{', '.join(r.name for r in ROLLUPS if d.name in r.dimensions) or '—'} |"
        for d in DIMENSIONS
    )
    return f"""# Dimensions

<!-- generated from src/sightline/catalog/ by `sightline docs`; a test fails when this file is stale -->

Every view carries these dimensions (the beacon's `dimensions`, docs/beacon-format.md). Each can be
grouped by (`aggby`) and filtered on (`filter`); `timestamp` groups by time bucket. A query whose
dimensions and filter fields all lie in one rollup is answered from it; else from `events`
(`explain=true` shows the choice).

| dimension | group | kind | meaning | rollups |
|---|---|---|---|---|
{rows}
| `timestamp` | time | time | The time bucket of a series, at `granularity` (epoch seconds, UTC). | all |
"""
