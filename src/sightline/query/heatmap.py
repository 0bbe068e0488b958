"""The error heatmap: error codes × a dimension's values or time buckets, as a matrix ready to draw.

Three queries of `query.errors` make it: the rows (error codes with their totals, ordered and paged), the
columns (the dimension's values with the most of the order metric, or every time bucket of the period,
with their totals and attempts) and the cells (errors of the rows' codes per column). `assemble` joins
them into the matrix; a cell without errors has counts 0 and rates 0 (no value when its column has no
attempts). Invariant: every metric of a cell is computed like the same metric of a list row grouped by
`errorcode` and the column field (docs/errors.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sightline.query.ast import Direction
from sightline.query.compile import TIMESTAMP
from sightline.query.error_request import HeatmapSpec
from sightline.query.errors import ErrorQuery
from sightline.query.filters import And, Condition, Node
from sightline.query.period import GRANULARITY_SECONDS

ROW_FIELD = "errorcode"
HOTTEST = 10
"""How many of the hottest cells the heatmap lists."""

Row = Mapping[str, Any]


def columns_query(rows: ErrorQuery, spec: HeatmapSpec) -> ErrorQuery:
    """The columns, with their attempts: every bucket of the period, or the dimension values with the most of
    the order metric."""
    metrics = tuple(dict.fromkeys((*rows.metrics, "attempts")))
    if spec.column == TIMESTAMP:
        order: tuple[str, Direction] = (TIMESTAMP, "ASC")
        return replace(rows, metrics=metrics, error_fields=(), series=True, order_by=order, limit=None, offset=0)
    order = rows.order_by if rows.order_by[0] != ROW_FIELD else (rows.metrics[0], "DESC")
    return replace(
        rows,
        metrics=metrics,
        error_fields=(),
        dimensions=(spec.column,),
        order_by=order,
        limit=spec.column_limit,
        offset=0,
    )


def _and(node: Node | None, condition: Condition) -> Node:
    if node is None:
        return condition
    children = node.children if isinstance(node, And) else (node,)
    return And((*children, condition))


def cells_query(rows: ErrorQuery, spec: HeatmapSpec, codes: Sequence[str], labels: Sequence[Any]) -> ErrorQuery:
    """The cells of the rows' `codes` in the columns `labels`."""
    query = replace(
        rows,
        error_filter=_and(rows.error_filter, Condition(ROW_FIELD, "=", tuple(codes))),
        limit=None,
        offset=0,
    )
    if spec.column == TIMESTAMP:
        return replace(query, series=True)
    values = tuple(v if isinstance(v, str) else float(v) for v in labels)
    return replace(query, dimensions=(spec.column,), filter=_and(rows.filter, Condition(spec.column, "=", values)))


def time_labels(rows: ErrorQuery) -> list[int]:
    """The start (epoch s) of every bucket of the period at the query's granularity."""
    seconds = GRANULARITY_SECONDS[rows.granularity]
    start = int(rows.period.start.timestamp()) // seconds * seconds
    return list(range(start, int(rows.period.end.timestamp()), seconds))


def _label(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp())
    return value


def _rate(count: int, attempts: int) -> float | None:
    return round(100.0 * count / attempts, 4) if attempts else None


def _empty_cell(metrics: Sequence[str], attempts: int) -> dict[str, Any]:
    zero = {"errors": 0, "fatalerrors": 0, "affectedviews": 0, "affectedviewers": 0, "attempts": attempts}
    rates = {"errorrate": _rate(0, attempts), "fatalerrorrate": _rate(0, attempts)}
    return {m: {**zero, **rates}[m] for m in metrics}


def _value(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 4)
    return value


def assemble(
    rows: ErrorQuery,
    spec: HeatmapSpec,
    row_results: Sequence[Row],
    column_results: Sequence[Row],
    cell_results: Sequence[Row],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The heatmap (axes, column totals with attempts, maxima and the hottest cells), and one row per error code
    holding its totals and its `cells`, one list per metric aligned with `heatmap.columnlabels`: the `heatmap`
    and the `response` of the answer's envelope."""
    metrics = rows.metrics
    by_column = {_label(r[spec.column]): r for r in column_results}
    labels: list[Any] = time_labels(rows) if spec.column == TIMESTAMP else list(by_column)
    attempts = [int(by_column[c]["attempts"]) if c in by_column else 0 for c in labels]
    cells = {(r[ROW_FIELD], _label(r[spec.column])): r for r in cell_results}
    order_metric = rows.order_by[0] if rows.order_by[0] in metrics else metrics[0]
    response: list[dict[str, Any]] = []
    candidates: list[tuple[int | float, int, int]] = []
    for i, row in enumerate(row_results):
        code = row[ROW_FIELD]
        matrix: dict[str, list[Any]] = {m: [] for m in metrics}
        for j, label in enumerate(labels):
            found = cells.get((code, label))
            cell = {m: _value(found[m]) for m in metrics} if found else _empty_cell(metrics, attempts[j])
            for m in metrics:
                matrix[m].append(cell[m])
            order_value = cell[order_metric]
            if isinstance(order_value, int | float) and order_value > 0:
                candidates.append((order_value, i, j))
        response.append({ROW_FIELD: code, **{m: _value(row[m]) for m in metrics}, "cells": matrix})
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    hottest = [
        {ROW_FIELD: response[i][ROW_FIELD], spec.column: labels[j], order_metric: value}
        for value, i, j in candidates[:HOTTEST]
    ]
    maxima = {m: max((v for r in response for v in r["cells"][m] if v is not None), default=None) for m in metrics}
    total_metrics = tuple(dict.fromkeys((*metrics, "attempts")))
    column_totals = {
        m: [_value(by_column[c][m]) if c in by_column else _empty_cell(total_metrics, 0)[m] for c in labels]
        for m in total_metrics
    }
    heatmap = {
        "rows": ROW_FIELD,
        "columns": spec.column,
        "columnlabels": labels,
        "metrics": list(metrics),
        "columntotals": column_totals,
        "max": maxima,
        "hottest": hottest,
    }
    return heatmap, response
