"""mux-embed in Debian's Chromium, reporting to Sightline as it would to Mux: a 10 s clip played to its end
is one view in the query API, with the startup time the page measured, 10 s of play time, and the
browser and OS it ran on.

mux-embed sends to `https://<beaconCollectionDomain>`, except for a domain ending in `localhost[:port]`,
which it sends to over `http://`. So:
- mux-embed on a bare `<video>`, with the app named `localhost:<port>`, posts over plain HTTP;
- video.js with videojs-mux, with the app named by a host name as a customer's players name it
  (`collector.test`, which Chromium resolves to 127.0.0.1), posts over TLS to the app serving a
  certificate made by the test for that name (`sightline serve --tls-cert --tls-key`), which Chromium
  accepts by its public key alone (`--ignore-certificate-errors-spki-list`).
Both post unchanged and unintercepted to the app's `POST /` (docs/ingest-mux.md).
"""

from __future__ import annotations

import itertools
import time
import urllib.parse
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright

from sightline.auth.service import open_auth
from sightline.settings import Settings
from tests.browser.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Certificate,
    Clip,
    SightlineApp,
    StaticSite,
    Tenant,
    add_tenant,
    make_certificate,
    play_to_end,
    reported_view,
    run_app,
)

STARTUP_TOLERANCE_MS = 100
PLAY_TOLERANCE_S = 0.5
COLLECTOR_HOST = "collector.test"
_customer_ids = itertools.count(4001)


def test_a_view_reported_by_mux_embed_is_reported_as_the_page_measured_it(
    page: Page, static_site: StaticSite, clip: Clip, tenant: Tenant
) -> None:
    since = time.time()
    domain = f"localhost:{urllib.parse.urlsplit(tenant.base_url).port}"
    url = static_site.url("pages/mux-embed.html", domain=domain, key=tenant.ingest_key, src=static_site.url(clip.mp4))
    posted: list[str] = []
    page.on("request", lambda request: posted.append(request.url) if request.method == "POST" else None)
    playback = play_to_end(page, url)
    view = reported_view(tenant, since)
    assert posted, "mux-embed sent nothing"
    assert {urllib.parse.urlsplit(sent).netloc for sent in posted} == {domain}
    assert view.plays == 1
    assert abs(view.startup_ms - playback.startup_ms) <= STARTUP_TOLERANCE_MS, (view, playback)
    assert playback.holds_play_time(view.play_s, clip.duration_s, PLAY_TOLERANCE_S), (view, playback)
    assert (view.browser, view.platform) == (playback.expected_browser(), playback.expected_platform())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"), COLLECTOR_HOST)


@pytest.fixture(scope="module")
def tls_app(tmp_path_factory: pytest.TempPathFactory, certificate: Certificate) -> Iterator[SightlineApp]:
    """The app serving TLS only, with the test's certificate."""
    with run_app(tmp_path_factory.mktemp("tls-app") / "data", certificate=certificate) as app:
        yield app


@pytest.fixture
def tls_tenant(tls_app: SightlineApp) -> Iterator[Tenant]:
    auth = open_auth(Settings(data_dir=tls_app.data_dir))
    try:
        yield add_tenant(tls_app, auth, next(_customer_ids))
    finally:
        auth.close()


@pytest.fixture(scope="module")
def tls_browser(playwright: Playwright, certificate: Certificate) -> Iterator[Browser]:
    """Chromium that resolves `COLLECTOR_HOST` to 127.0.0.1 and accepts the test's certificate by its key."""
    args = [
        *CHROMIUM_ARGS,
        f"--host-resolver-rules=MAP {COLLECTOR_HOST} 127.0.0.1",
        f"--ignore-certificate-errors-spki-list={certificate.spki_sha256}",
    ]
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
    yield launched
    launched.close()


def test_videojs_mux_reports_over_tls_to_a_collector_named_by_its_host(
    tls_browser: Browser, static_site: StaticSite, clip: Clip, tls_tenant: Tenant
) -> None:
    since = time.time()
    domain = f"{COLLECTOR_HOST}:{urllib.parse.urlsplit(tls_tenant.base_url).port}"
    url = static_site.url(
        "pages/videojs-mux.html", domain=domain, key=tls_tenant.ingest_key, src=static_site.url(clip.mp4)
    )
    context = tls_browser.new_context()
    try:
        page = context.new_page()
        posted: list[str] = []
        page.on("request", lambda request: posted.append(request.url) if request.method == "POST" else None)
        playback = play_to_end(page, url)
        view = reported_view(tls_tenant, since)
    finally:
        context.close()
    assert posted, "videojs-mux sent nothing"
    assert {sent.rsplit("/", 1)[0] for sent in posted} == {f"https://{domain}"}, posted
    assert view.plays == 1
    assert abs(view.startup_ms - playback.startup_ms) <= STARTUP_TOLERANCE_MS, (view, playback)
    assert playback.holds_play_time(view.play_s, clip.duration_s, PLAY_TOLERANCE_S), (view, playback)
    assert (view.browser, view.platform) == (playback.expected_browser(), playback.expected_platform())
    rows = tls_tenant.query("viewercount", since, time.time(), aggby="assetid,assetname,streamtype,player")
    assert [{k: v for k, v in row.items() if k not in ("viewercount", "totalpages")} for row in rows["response"]] == [
        {"assetid": "clip-10s", "assetname": "Test clip", "streamtype": "vod", "player": "Video.js"}
    ], rows
