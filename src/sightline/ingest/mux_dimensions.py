"""mux-embed's view metadata (long key names, see `mux_keys`) → the catalog's view dimensions.

Invariants: every value fits its dimension (strings cut to `MAX_TEXT` and UTF-8 encodable, numbers within
UInt32, `streamtype` only `live`, `vod` or ""), so the result always validates as `ViewDimensions`; a dimension
mux-embed says nothing about is left out, for enrichment (user agent, geo) or the default to fill. Browser and OS are
rarely in the beacon (mux-embed leaves them to the collector): enrichment derives them from the request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from sightline.ingest.native import MAX_TEXT

UINT32_MAX = 2**32 - 1
_SURROGATES = re.compile("[\ud800-\udfff]")

TEXT_SOURCES: dict[str, tuple[str, ...]] = {
    "assetid": ("video_id",),
    "assetname": ("video_title",),
    "series": ("video_series",),
    "viewerid": ("mux_viewer_id",),
    "subscriberid": ("viewer_user_id",),
    "subscribertype": ("viewer_plan",),
    "subscribertag": ("viewer_plan_category",),
    "brand": ("viewer_device_manufacturer",),
    "model": ("viewer_device_model", "viewer_device_name"),
    "platform": ("viewer_os_family",),
    "osversion": ("viewer_os_version",),
    "browser": ("viewer_application_name",),
    "player": ("player_software_name", "player_software"),
    "playerversion": ("player_software_version",),
    "cdn": ("video_cdn",),
    "host": ("video_source_hostname",),
    "experiment": ("experiment_name",),
    **{f"custom{n}": (f"custom_{n}",) for n in range(1, 11)},
}
"""Dimensions copied from mux fields: the first non-empty field of each tuple wins."""

_DEVICES = {"desktop": "desktop", "tablet": "tablet", "tv": "tv", "console": "console", "stb": "stb"}
_DEVICES |= {"phone": "mobile", "mobile": "mobile", "smartphone": "mobile"}
_CONNECTIONS = {"wifi": "wifi", "cellular": "cellular", "wired": "wired", "ethernet": "wired", "unknown": "unknown"}
_DRMS = frozenset({"widevine", "fairplay", "playready"})
_MIME_FORMATS = {
    "application/x-mpegurl": "hls",
    "application/vnd.apple.mpegurl": "hls",
    "audio/mpegurl": "hls",
    "application/dash+xml": "dash",
    "video/mp4": "mp4",
    "application/vnd.ms-sstr+xml": "smooth",
}
_EXTENSION_FORMATS = {".m3u8": "hls", ".mpd": "dash", ".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".ism": "smooth"}

SOURCE_KEYS: frozenset[str] = frozenset(
    {key for keys in TEXT_SOURCES.values() for key in keys}
    | {
        "viewer_application_version",
        "viewer_device_category",
        "viewer_connection_type",
        "video_stream_type",
        "video_source_is_live",
        "video_duration",
        "video_source_duration",
        "video_source_mime_type",
        "video_source_url",
        "view_drm_type",
        "mux_embed",
        "mux_embed_version",
    }
)
"""Every mux field the dimensions are made from: what per-view decoding state must remember."""


def encodable(value: str) -> str:
    """`value` with each lone UTF-16 surrogate, which JSON may escape (`"\\ud83d"`, a text cut inside an emoji)
    but UTF-8 cannot hold, replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", value)


def text(value: Any) -> str:
    """A mux value as dimension text: strings (`encodable`) and integers as they are, cut to `MAX_TEXT`; others ""."""
    if isinstance(value, str):
        return encodable(value[:MAX_TEXT])
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)[:MAX_TEXT]
    return ""


def number(value: Any) -> float | None:
    """A finite JSON number (booleans are not numbers), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def first_text(fields: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    """The text of the first of `keys` that has some, else ""."""
    return next((found for key in keys if (found := text(fields.get(key)))), "")


def _stream_type(fields: Mapping[str, Any]) -> str:
    declared = text(fields.get("video_stream_type")).lower()
    if declared == "live":
        return "live"
    if declared in ("on-demand", "on demand", "ondemand", "vod"):
        return "vod"
    live = fields.get("video_source_is_live")
    return "" if not isinstance(live, bool) else "live" if live else "vod"


def _duration_s(fields: Mapping[str, Any]) -> int:
    for key in ("video_duration", "video_source_duration"):
        ms = number(fields.get(key))
        if ms is not None and ms > 0:
            return min(round(ms / 1000), UINT32_MAX)
    return 0


def _stream_format(fields: Mapping[str, Any]) -> str:
    mime = text(fields.get("video_source_mime_type")).split(";")[0].strip().lower()
    if mime in _MIME_FORMATS:
        return _MIME_FORMATS[mime]
    path = text(fields.get("video_source_url")).split("?")[0].split("#")[0].lower()
    return next((fmt for ext, fmt in _EXTENSION_FORMATS.items() if path.endswith(ext)), "")


def view_dimensions(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The view's dimensions from the latest value of each mux field; unknown ones left out."""
    found: dict[str, Any] = {name: first_text(fields, keys) for name, keys in TEXT_SOURCES.items()}
    found["browserversion"] = text(fields.get("viewer_application_version")).split(".")[0]
    found["device"] = _DEVICES.get(text(fields.get("viewer_device_category")).lower(), "")
    found["connectiontype"] = _CONNECTIONS.get(text(fields.get("viewer_connection_type")).lower(), "")
    drm = text(fields.get("view_drm_type")).lower()
    found["drm"] = drm if drm in _DRMS else ""
    found["streamtype"] = _stream_type(fields)
    found["contentduration"] = 0 if found["streamtype"] == "live" else _duration_s(fields)
    found["streamformat"] = _stream_format(fields)
    sdk = " ".join(part for part in (text(fields.get("mux_embed")), text(fields.get("mux_embed_version"))) if part)
    found["sdkversion"] = sdk[:MAX_TEXT]
    return {name: value for name, value in found.items() if value}
