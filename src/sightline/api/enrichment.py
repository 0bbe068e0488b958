"""`enrich_request`: what every ingest route calls between decoding a beacon and `IngestPipeline.accept`."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from sightline.ingest.enrich import Enricher


def enrich_request(request: Request, dimensions: dict[str, Any]) -> dict[str, Any]:
    """`dimensions` completed from the request's User-Agent and client address (docs/enrichment.md)."""
    enricher: Enricher = request.app.state.enricher
    return enricher.enrich(
        dimensions,
        request.headers.get("user-agent", ""),
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
    )
