"""`request_origin`: what enrichment reads of a request (`ingest.enrich`), which every ingest route hands to
`Intake.take` with what it decoded."""

from __future__ import annotations

from fastapi import Request

from sightline.ingest.enrich import RequestOrigin


def request_origin(request: Request) -> RequestOrigin:
    """What enrichment reads of `request`."""
    return RequestOrigin(
        request.headers.get("user-agent", ""),
        request.client.host if request.client else None,
        tuple(request.headers.getlist("x-forwarded-for")),
    )
