"""`GET /mm-apis/catalog`: the metrics and dimensions the query API knows, from the catalog itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sightline.api.access import access
from sightline.api.deps import CurrentPrincipal
from sightline.auth.plans import SIGNED_IN
from sightline.catalog.describe import describe_catalog

router = APIRouter(prefix="/mm-apis", tags=["metrics and dimensions"])


@router.get("/catalog", summary="Metrics and dimensions", **access(SIGNED_IN))
def catalog(_: CurrentPrincipal) -> dict[str, Any]:
    """Every metric (unit, definition, formula over additive parts) and every dimension."""
    return describe_catalog()
