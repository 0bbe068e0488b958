"""Fixtures of the real-browser tests (parts in harness.py). For a new player test, take:

- `tenant`: the running app (cross-origin from the pages) and a fresh customer with an ingest key and an
  API key, so each test's views are its own; `reported_view(tenant, since)` reads a played view back;
- `static_site`: `static_site.url("pages/x.html", **query)` for a page of tests/browser/pages/, and
  `static_site.module("hls.js/dist/hls.min.js")` for a file of an npm package of package.json;
- `clip`: the 10 s clip's paths on the static site (`clip.hls`, `clip.dash`, `clip.mp4`); the app's media
  pass-through serves the same files, without the `clip/` prefix, at `/media/{ingestKey}/…`;
- `page`: a Playwright page in a fresh context of Debian's Chromium; `play_to_end(page, url)` plays a page
  that uses pages/measure.js and returns what the page measured;
- `playwright`: to launch a browser of other flags than `browser`'s;
- `portal`: the portal's world (portal_harness.py), shared by the portal tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from sightline.auth.service import AuthService, open_auth
from sightline.settings import Settings
from tests.browser.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Clip,
    SightlineApp,
    StaticSite,
    Tenant,
    add_tenant,
    build_clip,
    install_npm_modules,
    npm_cache_root,
    run_app,
    serve_static,
)
from tests.browser.portal_harness import AXE, PortalWorld, bundle_is_current, portal_world

_customer_ids = itertools.count(3001)


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return build_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="session")
def node_modules() -> Path:
    return install_npm_modules(npm_cache_root())


@pytest.fixture(scope="session")
def static_site(tmp_path_factory: pytest.TempPathFactory, clip: Clip, node_modules: Path) -> Iterator[StaticSite]:
    with serve_static(tmp_path_factory.mktemp("site"), clip, node_modules) as site:
        yield site


@pytest.fixture(scope="session")
def sightline_app(tmp_path_factory: pytest.TempPathFactory, clip: Clip) -> Iterator[SightlineApp]:
    """The app, whose media pass-through (/media/{ingestKey}/…) serves the clip's directory."""
    with run_app(tmp_path_factory.mktemp("app") / "data", media_dir=clip.directory) as app:
        yield app


@pytest.fixture(scope="session")
def auth_service(sightline_app: SightlineApp) -> Iterator[AuthService]:
    """The running app's accounts database, opened alongside it (SQLite allows it)."""
    auth = open_auth(Settings(data_dir=sightline_app.data_dir))
    yield auth
    auth.close()


@pytest.fixture
def tenant(sightline_app: SightlineApp, auth_service: AuthService) -> Tenant:
    """A fresh customer of the running app, with an ingest key and an API key."""
    return add_tenant(sightline_app, auth_service, next(_customer_ids))


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright, once for the browser tests (its sync API cannot be started twice at once), stopped when they
    are done: its sync API keeps an event loop running in the main thread, where later tests call asyncio.run."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run installs it)", pytrace=False)
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded one), with a fresh profile made by Playwright."""
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalWorld]:
    """The portal's world, shared by every portal test: simulated traffic of two customers, users and keys."""
    if not AXE.exists() or not bundle_is_current():
        pytest.fail("the portal's bundle is missing or older than its sources: run `make portal`", pytrace=False)
    with portal_world(tmp_path_factory.mktemp("portal") / "data") as world:
        yield world
