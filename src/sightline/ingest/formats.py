"""The beacon formats of one app: where a new format is registered (docs/architecture.md, Ingest)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sightline.ingest.cmcd_format import CmcdReports, CmcdRequests
from sightline.ingest.collect import NativeFormat
from sightline.ingest.format import IngestFormat
from sightline.ingest.mux_format import MuxFormat
from sightline.settings import Settings


@dataclass(frozen=True)
class Formats:
    native: NativeFormat
    mux: MuxFormat
    cmcd_reports: CmcdReports
    cmcd_requests: CmcdRequests

    @classmethod
    def for_settings(cls, settings: Settings) -> Formats:
        window_ms = round(settings.cmcd_reorder_window_s * 1000)
        return cls(NativeFormat(), MuxFormat(), CmcdReports(window_ms), CmcdRequests(window_ms))

    def all(self) -> tuple[IngestFormat[Any, Any], ...]:
        return tuple(getattr(self, field.name) for field in fields(self))
