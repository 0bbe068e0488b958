"""View dimensions: the attributes a player reports once per view and every event row carries.

Invariant: a dimension's `name` is its beacon key, its column in every table and its API name.
Names follow SmartSight's where it has one (assetid, subscriberid, platform, device, cdn, …).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DimensionKind = Literal["string", "number"]
DimensionGroup = Literal["content", "viewer", "device", "player", "delivery", "geo", "experiment", "custom"]


@dataclass(frozen=True, slots=True)
class DimensionSpec:
    """One view dimension. `clickhouse_type` is the column type of `events` and `views`."""

    name: str
    group: DimensionGroup
    description: str
    kind: DimensionKind = "string"
    high_cardinality: bool = False
    pattern: str | None = None
    """A regular expression a reported string value must match (the empty string always may)."""
    schema_version: int = 1
    """The store migration that added the dimension's columns (1: the initial schema)."""

    @property
    def clickhouse_type(self) -> str:
        if self.kind == "number":
            return "UInt32"
        return "String" if self.high_cardinality else "LowCardinality(String)"


def _custom(n: int) -> DimensionSpec:
    return DimensionSpec(f"custom{n}", "custom", f"Customer-defined dimension {n}.")


DIMENSIONS: tuple[DimensionSpec, ...] = (
    DimensionSpec("assetid", "content", "Content identifier of the title played.", high_cardinality=True),
    DimensionSpec("assetname", "content", "Title of the content played.", high_cardinality=True),
    DimensionSpec("series", "content", "Series the title belongs to (empty for films and live channels)."),
    DimensionSpec("season", "content", "Season number within the series (0 when none).", kind="number"),
    DimensionSpec("episode", "content", "Episode number within the season (0 when none).", kind="number"),
    DimensionSpec("genre", "content", "Genre of the content."),
    DimensionSpec("streamtype", "content", "`live` or `vod`.", pattern="^(live|vod)?$"),
    DimensionSpec("contentduration", "content", "Duration of the content in seconds (0 for live).", kind="number"),
    DimensionSpec("viewerid", "viewer", "Anonymous viewer (device install) identifier.", high_cardinality=True),
    DimensionSpec(
        "subscriberid",
        "viewer",
        "Logged-in subscriber identifier (empty when anonymous).",
        high_cardinality=True,
    ),
    DimensionSpec("subscribertype", "viewer", "Subscription type, e.g. `premium`, `basic`, `free`."),
    DimensionSpec("subscribertag", "viewer", "Free-form tag the customer attaches to the subscriber."),
    DimensionSpec(
        "ipaddress",
        "viewer",
        "Client address the collector saw, never the beacon's: whole, its /24 (IPv4) or /48 (IPv6), or empty, "
        "as `SIGHTLINE_IP_STORAGE` says (docs/enrichment.md).",
        high_cardinality=True,
        schema_version=3,
    ),
    DimensionSpec("device", "device", "Device class: desktop, mobile, tablet, tv, stb, console or bot."),
    DimensionSpec("brand", "device", "Device brand, e.g. Apple, Samsung."),
    DimensionSpec("model", "device", "Device model."),
    DimensionSpec("platform", "device", "Operating system name, e.g. Android, iOS, Windows."),
    DimensionSpec("osversion", "device", "Operating system version."),
    DimensionSpec("browser", "device", "Browser name (empty in native apps)."),
    DimensionSpec("browserversion", "device", "Browser major version."),
    DimensionSpec("appname", "device", "Name of the app that embeds the player."),
    DimensionSpec("appversion", "device", "Version of the app that embeds the player."),
    DimensionSpec("screen", "device", "Screen size as `<width>x<height>` in device pixels."),
    DimensionSpec("player", "player", "Player name, e.g. hls.js, dash.js, ExoPlayer, AVPlayer."),
    DimensionSpec("playerversion", "player", "Player software version."),
    DimensionSpec("sdkversion", "player", "Version of the Sightline (or mux, CMCD) integration."),
    DimensionSpec("streamformat", "player", "Delivery format: hls, dash, mp4 or smooth."),
    DimensionSpec("drm", "player", "DRM system: widevine, fairplay, playready or none."),
    DimensionSpec("cdn", "delivery", "CDN that served the media."),
    DimensionSpec("host", "delivery", "Host name the media was requested from."),
    DimensionSpec("isp", "delivery", "Internet service provider of the viewer."),
    DimensionSpec("asn", "delivery", "Autonomous system number of the viewer's network.", kind="number"),
    DimensionSpec("connectiontype", "delivery", "wifi, cellular, wired or unknown."),
    DimensionSpec("country", "geo", "Country as ISO 3166-1 alpha-2 code.", pattern="^([A-Z]{2})?$"),
    DimensionSpec("region", "geo", "Region or state within the country."),
    DimensionSpec("city", "geo", "City."),
    DimensionSpec("experiment", "experiment", "A/B experiment and variant the view belongs to."),
    *(_custom(n) for n in range(1, 11)),
)

_BY_NAME = {d.name: d for d in DIMENSIONS}


def dimension(name: str) -> DimensionSpec:
    """The dimension called `name`; KeyError when the catalog has none."""
    return _BY_NAME[name]


@dataclass(frozen=True, slots=True)
class DimensionHashSpec:
    """A column of `views` that holds a 64-bit hash of a string dimension's value: `cityHash64` of the value,
    0 for the empty value. Named queries group and count views by it instead of hashing the text of millions
    of ids on every query. It is computed from each stored row's merged value and merged by `max`, so it is
    the hash of the view's value whenever a view's events carry one non-empty value of the dimension (or none)."""

    name: str
    dimension: str
    schema_version: int


DIMENSION_HASHES: tuple[DimensionHashSpec, ...] = tuple(
    DimensionHashSpec(name, of, 4)
    for name, of in (
        ("viewer_hash", "viewerid"),
        ("title_hash", "assetid"),
        ("subscriber_hash", "subscriberid"),
        ("series_hash", "series"),
        ("device_hash", "device"),
    )
)
