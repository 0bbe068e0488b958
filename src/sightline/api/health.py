"""`GET /healthz`: the process answers (liveness); `GET /readyz`: it can take traffic now (readiness).

A load balancer sends traffic to a ready process only; an orchestrator restarts a process that is not live. So
liveness asks nothing of the store (a store that is down is not cured by restarting every process over it), and
readiness asks everything a request needs: the store answers a trivial read within `ready_timeout_s`, the spool
takes a write, and the writer is under its limit of pending rows (else ingest answers 503 anyway).
"""

from __future__ import annotations

import asyncio
import os
import uuid

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sightline import __version__
from sightline.api.access import access
from sightline.api.deps import StoreDep, WriterDep
from sightline.auth.plans import PUBLIC
from sightline.query.printer import PING
from sightline.store.migrations import MIGRATIONS
from sightline.store.writer import BatchingWriter

router = APIRouter(tags=["health"])


class HealthResponse(BaseModel):
    status: str
    version: str
    schema_version: int


class ReadyResponse(BaseModel):
    status: str


@router.get("/healthz", response_model=HealthResponse, **access(PUBLIC))
async def healthz() -> HealthResponse:
    """200 while the process answers (liveness); whether it can serve is `/readyz`'s."""
    return HealthResponse(status="ok", version=__version__, schema_version=MIGRATIONS[-1].version)


@router.get(
    "/readyz",
    response_model=ReadyResponse,
    **access(
        PUBLIC,
        responses={503: {"description": "Not ready: `status` is `unavailable` and `reason` says why."}},
    ),
)
async def readyz(request: Request, store: StoreDep, writer: WriterDep) -> ReadyResponse | JSONResponse:
    """200 when the store answers, the spool takes a write and the writer has room; 503 with the reason otherwise."""
    timeout_s: float = request.app.state.ready_timeout_s
    try:
        await asyncio.wait_for(run_in_threadpool(store.query, PING), timeout_s)
    except TimeoutError:
        return _not_ready(f"the store did not answer within {timeout_s:g} s")
    except Exception as error:  # any store failure means not ready, and says why
        return _not_ready(f"the store does not answer: {str(error)[:200]}")
    try:
        await run_in_threadpool(_probe_write, writer)
    except OSError as error:
        return _not_ready(f"the spool cannot be written: {error.strerror or error}")
    stats = writer.stats()
    if stats.pending_rows >= stats.max_pending_rows:
        return _not_ready(f"the writer holds {stats.pending_rows} rows, its limit; ingest answers 503")
    return ReadyResponse(status="ready")


def _probe_write(writer: BatchingWriter) -> None:
    """Create, write and remove a file next to the spool's segments (OSError when the disk refuses)."""
    path = writer.spool_dir / f".ready-{uuid.uuid4().hex}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"ready")
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


def _not_ready(reason: str) -> JSONResponse:
    return JSONResponse(status_code=503, content={"status": "unavailable", "reason": reason})
