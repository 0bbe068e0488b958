"""`enrich_request`: what every ingest route calls between decoding a beacon and `IngestPipeline.accept`
(CMCD, whose records wait for their reorder window, keeps the `request_origin` and enriches later)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from sightline.ingest.enrich import Enricher, RequestOrigin


def request_origin(request: Request) -> RequestOrigin:
    """What enrichment reads of `request`."""
    return RequestOrigin(
        request.headers.get("user-agent", ""),
        request.client.host if request.client else None,
        tuple(request.headers.getlist("x-forwarded-for")),
    )


def enrich_request(request: Request, dimensions: dict[str, Any]) -> dict[str, Any]:
    """`dimensions` completed from the request's User-Agent and client address (docs/enrichment.md)."""
    enricher: Enricher = request.app.state.enricher
    return enricher.enrich(dimensions, *request_origin(request))
