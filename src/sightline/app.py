"""The application factory: the FastAPI app over one store and its batching writer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sightline import __version__
from sightline.alerts.delivery import DeliveryWorker
from sightline.api import alertdeliveries, catalog, cmcd, collect, errors_api, health, media, metrics, sdk, smartquery
from sightline.api import sessions as session_routes
from sightline.api.auth import include_auth
from sightline.api.cors import ALLOWED_HEADERS, CrossOriginIngest
from sightline.api.docs_pages import include_docs_pages
from sightline.api.errors import install_error_handlers
from sightline.api.media import CMCD_REQUEST_HEADERS
from sightline.api.mux import router as mux_router
from sightline.api.observe import include_operations, serve_metrics
from sightline.ingest.cmcd_sessions import CmcdSessions
from sightline.ingest.enrich import Enricher
from sightline.ingest.mux_sessions import MuxViews
from sightline.ingest.pipeline import IngestPipeline
from sightline.ingest.recovery import restore_sessions
from sightline.ingest.sessions import Sessionizer
from sightline.ingest.snapshot_log import SnapshotLog
from sightline.ingest.window import EventWindow
from sightline.portal.routes import portal_router
from sightline.settings import Settings
from sightline.smartquery.service import SmartQueryService
from sightline.smartquery.stored_days import Refresher
from sightline.store import Store, open_store
from sightline.store.writer import BatchingWriter


def create_app(
    settings: Settings, store: Store | None = None, writer: BatchingWriter | None = None, *, restore_views: bool = True
) -> FastAPI:
    """The app. It opens (and then owns and closes) the store of `settings` and its writer unless given,
    and the accounts database of `settings`. With `restore_views`, the collector's view state is rebuilt
    from the store at start (`ingest.recovery`); only for stores whose events all came through it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store, own_writer = store is None, writer is None
        app.state.enricher = Enricher.from_settings(settings)
        app.state.store = open_store(settings) if store is None else store
        app.state.writer = writer or BatchingWriter.for_settings(app.state.store, settings)
        sessions = Sessionizer()
        if restore_views:
            customers = [customer.id for customer in app.state.auth.accounts.list_customers()]
            restore_sessions(app.state.store, sessions, customers, int(time.time() * 1000))
        app.state.ingest = IngestPipeline(sessions, app.state.writer, EventWindow.for_settings(settings))
        cmcd_log = SnapshotLog(settings.data_dir / "cmcd")
        app.state.cmcd = CmcdSessions(
            app.state.ingest,
            cmcd_log,
            lambda dimensions, origin: app.state.enricher.enrich(dimensions, *origin),
            window_ms=round(settings.cmcd_reorder_window_s * 1000),
        )
        app.state.cmcd.recover(app.state.store)
        app.state.media_origin = media.MediaOrigin.from_settings(settings)
        app.state.mux_views = MuxViews()
        app.state.smartquery = SmartQueryService(app.state.store, smartquery.render_page)
        sweeper = asyncio.create_task(collect.sweep_forever(app))
        app.state.cmcd.start()
        stored_days = Refresher(
            app.state.store,
            lambda: [customer.id for customer in app.state.auth.accounts.list_customers()],
            settings.stored_days_every_s,
        )
        stored_days.start()
        notifications = DeliveryWorker.for_settings(app.state.auth.engine, settings)
        notifications.start()
        app.state.telemetry.watch(app.state.writer, app.state.smartquery.cache)
        stop_metrics = serve_metrics(app.state.telemetry, settings)
        try:
            yield
        finally:
            sweeper.cancel()
            if stop_metrics is not None:
                stop_metrics()
            await app.state.cmcd.close()
            cmcd_log.close()
            stored_days.stop()
            notifications.stop()
            if own_writer:
                app.state.writer.close()
            if own_store:
                app.state.store.close()
            app.state.enricher.close()
            app.state.auth.close()

    app = FastAPI(
        title="Sightline",
        version=__version__,
        lifespan=lifespan,
        description="Video quality-of-experience analytics with a SmartSight-compatible API.",
        # No OpenTelemetry export: FastAPI's check for configured providers on every request costs about a
        # twentieth of a beacon's handling.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        docs_url=None,  # FastAPI's pages load their files from a CDN: ours serve them (api.docs_pages)
        redoc_url=None,
    )
    install_error_handlers(app)
    include_docs_pages(app)
    app.include_router(health.router)
    include_auth(app, settings)
    app.include_router(metrics.router)
    app.include_router(errors_api.router)
    app.include_router(smartquery.router)
    app.include_router(session_routes.router)
    app.include_router(catalog.router)
    app.include_router(alertdeliveries.router)
    app.include_router(collect.router)
    app.include_router(sdk.router)
    app.include_router(cmcd.router)
    app.include_router(media.router)
    app.include_router(mux_router)
    app.include_router(portal_router())  # GET /: the portal; POST / stays mux's
    app.add_middleware(collect.CollectLane)  # added before CrossOriginIngest, so it runs inside it: CORS applies
    # Players post from their customers' pages: CORS on the ingest paths only (one prefix a line).
    app.add_middleware(
        CrossOriginIngest,
        prefixes=(
            "/collect",
            "/sdk",
            "/cmcd",
            "/media",
            "/mux",
        ),
        allow_headers=(*ALLOWED_HEADERS, *CMCD_REQUEST_HEADERS),
        paths=("/",),  # mux-embed posts to the root of its beaconCollectionDomain
    )
    include_operations(app, settings)  # last: its middleware sees every request and answer
    return app
