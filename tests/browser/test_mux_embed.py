"""mux-embed in Debian's Chromium, reporting to Sightline as it would to Mux: a 10 s clip played to its end
on a `<video>` is one view in the query API, with the startup time the page measured, 10 s of play time,
and the browser and OS it ran on.

mux-embed sends to `https://<beaconCollectionDomain>`, except for a domain ending in `localhost[:port]`,
which it sends to over `http://`: so the page names the app as `localhost:<port>` and mux-embed posts,
unchanged and unintercepted, to the app's `POST /` (docs/ingest-mux.md).
"""

from __future__ import annotations

import time
import urllib.parse

from playwright.sync_api import Page

from tests.browser.harness import Clip, StaticSite, Tenant, play_to_end, reported_view

STARTUP_TOLERANCE_MS = 100
PLAY_TOLERANCE_S = 0.5


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
    assert abs(view.play_s - clip.duration_s) <= PLAY_TOLERANCE_S, view
    assert (view.browser, view.platform) == (playback.expected_browser(), playback.expected_platform())
