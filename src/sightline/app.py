"""The application factory: the FastAPI app over one store and its batching writer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from sightline import __version__
from sightline.alerts import delivery, scheduler
from sightline.alerts.alert_store import AlertStore
from sightline.alerts.delivery import DeliveryWorker
from sightline.alerts.engine import AlertEngine
from sightline.alerts.scheduler import AlertScheduler, alerting_customers
from sightline.alerts.store import RuleStore
from sightline.api import (
    alertdeliveries,
    alerts,
    catalog,
    cmcd,
    collect,
    errors_api,
    health,
    media,
    metrics,
    sdk,
    smartquery,
)
from sightline.api import sessions as session_routes
from sightline.api.auth import include_auth
from sightline.api.cors import ALLOWED_HEADERS, CrossOriginIngest
from sightline.api.docs_pages import include_docs_pages
from sightline.api.errors import install_error_handlers
from sightline.api.media import CMCD_REQUEST_HEADERS
from sightline.api.media_origin import MediaOrigin
from sightline.api.mux import router as mux_router
from sightline.api.observe import include_operations, serve_metrics
from sightline.api.services import Services, accounts
from sightline.auth.clock import utc_now
from sightline.auth.leases import LeaseKeeper, holding
from sightline.ingest.cmcd_format import adopt_legacy_log
from sightline.ingest.enrich import Enricher
from sightline.ingest.formats import Formats
from sightline.ingest.intake import Intake
from sightline.ingest.pipeline import IngestPipeline
from sightline.ingest.recovery import restore_sessions
from sightline.ingest.session_states import SessionStates
from sightline.ingest.sessions import Sessionizer
from sightline.ingest.shared_states import SharedSessionStates
from sightline.ingest.shared_views import SharedSessionizer
from sightline.ingest.window import EventWindow
from sightline.portal.routes import portal_router
from sightline.settings import Settings
from sightline.smartquery import stored_days
from sightline.smartquery.service import SmartQueryService
from sightline.smartquery.stored_days import Refresher
from sightline.store import EmbeddedStore, Store, open_store
from sightline.store.opening import LEASE as STORE_MIGRATIONS
from sightline.store.writer import BatchingWriter

SESSION_STATES = "session-states"
"""The directory of `<data-dir>` that holds the formats' session states (`ingest.session_states`)."""


def views_reach(settings: Settings, store: Store) -> tuple[timedelta, timedelta] | None:
    """How far around its times a named query's views may start, for a cache that must check the store's versions:
    None for the embedded engine, whose data directory has one process (its inserts are all the cache must hear
    of); else the ingest window (`smartquery.service.SmartQueryService`)."""
    if isinstance(store, EmbeddedStore):
        return None
    return timedelta(seconds=settings.event_max_late_s), timedelta(seconds=settings.event_max_ahead_s)


def session_states(settings: Settings, store: Store, metadata: Engine, formats: Formats, now_ms: int) -> SessionStates:
    """The formats' session states: in `<data-dir>` for the embedded engine, whose data directory has one process;
    else shared by every process of the service in the metadata database (`ingest.shared_states`)."""
    if isinstance(store, EmbeddedStore):
        return SessionStates(settings.data_dir / SESSION_STATES, now_ms)
    return SharedSessionStates(metadata, formats.all(), now_ms)


def create_app(
    settings: Settings, store: Store | None = None, writer: BatchingWriter | None = None, *, restore_views: bool = True
) -> FastAPI:
    """The app. It opens (and then owns and closes) the store of `settings` and its writer unless given,
    and the accounts database of `settings`. With `restore_views`, the collector's view state is rebuilt
    from the store at start, and a view it forgot is read back when it sends again (`ingest.recovery`); only
    for stores whose events all came through it.
    The accounts service is opened here (`api.services.accounts`: accounts are added before the app starts);
    the rest at start, once, as the app's `Services` (`api.services.services`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        auth, now_ms = accounts(app), int(time.time() * 1000)
        enricher = Enricher.from_settings(settings)
        # a server store is migrated by one process of the service at a time, under a lease (auth/leases.py)
        migrations_lease = partial(holding, auth.engine, STORE_MIGRATIONS, timedelta(seconds=settings.lease_ttl_s))
        the_store = open_store(settings, migrating=migrations_lease) if store is None else store
        the_writer = writer or BatchingWriter.for_settings(the_store, settings)
        sessions = Sessionizer() if isinstance(the_store, EmbeddedStore) else SharedSessionizer(auth.engine)
        if restore_views and not sessions.shared:  # shared: the metadata database holds it
            restore_sessions(the_store, sessions, [customer.id for customer in auth.accounts.list_customers()], now_ms)
        pipeline = IngestPipeline(
            sessions, the_writer, EventWindow.for_settings(settings), the_store if restore_views else None
        )
        formats = Formats.for_settings(settings)
        states = session_states(settings, the_store, auth.engine, formats, now_ms)
        adopt_legacy_log(settings.data_dir / "cmcd", states, formats.cmcd_reports, now_ms)
        intake = Intake(
            pipeline,
            states,
            lambda dims, origin: enricher.enrich(dims, *origin),
            formats.all(),
            count=app.state.telemetry.count_ingest,
        )
        intake.recover(the_store)
        metadata = sessionmaker(auth.engine, expire_on_commit=False)
        app.state.services = Services(
            store=the_store,
            writer=the_writer,
            enricher=enricher,
            pipeline=pipeline,
            formats=formats,
            intake=intake,
            media_origin=MediaOrigin.from_settings(settings),
            smartquery=SmartQueryService(
                the_store, smartquery.render_page, views_reach=views_reach(settings, the_store)
            ),
            alert_rules=RuleStore(metadata, utc_now),
            alerts=AlertStore(metadata, utc_now),
        )
        sweeper = asyncio.create_task(pipeline.sweep_forever())
        intake.start()
        # Work that runs in one process of the service at a time, each under its lease (auth/leases.py).
        once_only = (stored_days.LEASE, delivery.LEASE) + ((scheduler.LEASE,) if settings.alert_rounds else ())
        leases = LeaseKeeper(auth.engine, once_only, timedelta(seconds=settings.lease_ttl_s))
        leases.start()
        day_slices = Refresher(
            the_store,
            lambda: [customer.id for customer in auth.accounts.list_customers()],
            settings.stored_days_every_s,
            partial(leases.holds, stored_days.LEASE),
        )
        day_slices.start()
        notifications = DeliveryWorker.for_settings(auth.engine, settings, partial(leases.holds, delivery.LEASE))
        notifications.start()
        alert_rounds = AlertScheduler(
            AlertEngine(the_store, metadata, utc_now),
            lambda: alerting_customers(auth.accounts.list_customers()),
            settings.alerts_every_s,
            may_run=partial(leases.holds, scheduler.LEASE),
        )
        if settings.alert_rounds:
            alert_rounds.start()
        app.state.telemetry.watch(the_writer, app.state.services.smartquery.cache, leases)
        stop_metrics = serve_metrics(app.state.telemetry, settings)
        try:
            yield
        finally:
            sweeper.cancel()
            if stop_metrics is not None:
                stop_metrics()
            await intake.close()
            states.close()
            day_slices.stop()
            alert_rounds.stop()
            notifications.stop()
            leases.stop()  # after the work it guards: released, so another process takes it over at once
            if writer is None:
                the_writer.close()
            if store is None:
                the_store.close()
            enricher.close()
            auth.close()

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
    app.include_router(alerts.router)
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
