"""Rollups: pre-aggregated tables of every additive part at a grain, for a few dimensions each.

The planner (query/) picks the coarsest rollup that holds every dimension and filter column a request
needs at a grain dividing the requested one; else `views`; else `events`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sightline.catalog.dimensions import dimension

Grain = Literal["minute", "hour"]

GRAIN_SECONDS: dict[Grain, int] = {"minute": 60, "hour": 3600}


@dataclass(frozen=True, slots=True)
class RollupSpec:
    """A rollup table: `name` holds every part per (customer, bucket of `grain`, `dimensions`)."""

    name: str
    grain: Grain
    dimensions: tuple[str, ...]
    description: str

    def __post_init__(self) -> None:
        for name in self.dimensions:
            dimension(name)  # fails at import on an unknown dimension


ROLLUPS: tuple[RollupSpec, ...] = (
    RollupSpec(
        "rollup_1m",
        "minute",
        ("streamtype", "cdn"),
        "Minute totals per stream type and CDN: live monitoring, concurrency, alerts.",
    ),
    RollupSpec(
        "rollup_1h",
        "hour",
        ("streamtype", "cdn"),
        "Hourly totals per stream type and CDN: KPI totals and series over days.",
    ),
    RollupSpec(
        "rollup_1h_delivery",
        "hour",
        ("streamtype", "cdn", "country", "isp", "connectiontype"),
        "Hourly delivery breakdowns: CDN × country × ISP.",
    ),
    RollupSpec(
        "rollup_1h_device",
        "hour",
        ("streamtype", "device", "platform", "browser", "player", "playerversion", "appversion"),
        "Hourly device and player breakdowns.",
    ),
    RollupSpec(
        "rollup_1h_content",
        "hour",
        ("streamtype", "assetid", "assetname", "genre", "series"),
        "Hourly content breakdowns: top titles, genres and series.",
    ),
)
