"""`GET /mm-apis/catalog`: the metrics and dimensions the query API knows, from the catalog itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sightline.api.deps import CurrentPrincipal
from sightline.api.errors import AUTH_RESPONSES
from sightline.catalog.describe import describe_catalog

router = APIRouter(prefix="/mm-apis", tags=["metrics and dimensions"], responses=AUTH_RESPONSES)


@router.get("/catalog", summary="Metrics and dimensions")
def catalog(_: CurrentPrincipal) -> dict[str, Any]:
    """Every metric (unit, definition, formula over additive parts) and every dimension."""
    return describe_catalog()
