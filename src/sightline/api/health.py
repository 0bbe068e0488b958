"""`GET /healthz`: the service is up and its store answers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sightline import __version__
from sightline.api.access import access
from sightline.api.deps import StoreDep
from sightline.auth.plans import PUBLIC
from sightline.query.printer import PING
from sightline.store.migrations import MIGRATIONS

router = APIRouter(tags=["health"])


class HealthResponse(BaseModel):
    status: str
    version: str
    schema_version: int


@router.get(
    "/healthz",
    response_model=HealthResponse,
    **access(
        PUBLIC, responses={503: {"description": "The store does not answer: its error, as `status` and `error`."}}
    ),
)
async def healthz(store: StoreDep) -> HealthResponse | JSONResponse:
    """200 when the store answers a query; 503 otherwise."""
    try:
        await run_in_threadpool(store.query, PING)
    except Exception as error:  # any store failure means unhealthy, and says why
        return JSONResponse(status_code=503, content={"status": "unavailable", "error": str(error)[:200]})
    return HealthResponse(status="ok", version=__version__, schema_version=MIGRATIONS[-1].version)
