"""The services of a running app: built once by the app factory's lifespan (`app.py`), stored on the app, and
read only by the dependencies of `api/deps.py` (route modules never read `app.state`)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.types import ASGIApp

from sightline.api.media_origin import MediaOrigin
from sightline.auth.service import AuthService
from sightline.ingest.enrich import Enricher
from sightline.ingest.formats import Formats
from sightline.ingest.intake import Intake
from sightline.ingest.pipeline import IngestPipeline
from sightline.smartquery.service import SmartQueryService
from sightline.store import Store
from sightline.store.writer import BatchingWriter


@dataclass(frozen=True)
class Services:
    """What the routes use that exists while the app runs. (The accounts service is the factory's, `accounts`:
    it exists before the app starts, for the CLI's and tests' accounts, and the login routes need nothing else.)"""

    store: Store
    writer: BatchingWriter
    enricher: Enricher
    pipeline: IngestPipeline
    formats: Formats
    intake: Intake
    media_origin: MediaOrigin
    smartquery: SmartQueryService


def services(app: ASGIApp) -> Services:
    """The services of `app` (a Sightline app, as `TestClient.app` too), which its lifespan built."""
    assert isinstance(app, Starlette), "a Sightline app"
    built: Services = app.state.services
    return built


def accounts(app: ASGIApp) -> AuthService:
    """The accounts service the app factory opened."""
    assert isinstance(app, Starlette), "a Sightline app"
    auth: AuthService = app.state.auth
    return auth
