"""hls.js with sightline.js in Debian's Chromium: a 10 s clip played to its end is one view in the query
API, with the startup time the page measured, 10 s of play time, the browser and OS it ran on (derived by
the collector from the User-Agent), and the variant's bitrate."""

from __future__ import annotations

import time

from playwright.sync_api import Page

from tests.browser.harness import Clip, StaticSite, Tenant, play_to_end, reported_view

STARTUP_TOLERANCE_MS = 100
STALL_TOLERANCE_MS = 100
PLAY_TOLERANCE_S = 0.5


def test_a_view_played_with_hls_js_is_reported_as_the_page_measured_it(
    page: Page, static_site: StaticSite, clip: Clip, tenant: Tenant
) -> None:
    since = time.time()
    url = static_site.url(
        "pages/hls-sightline.html", collector=tenant.base_url, key=tenant.ingest_key, src=static_site.url(clip.hls)
    )
    playback = play_to_end(page, url)
    view = reported_view(tenant, since)
    assert view.plays == 1
    assert abs(view.startup_ms - playback.startup_ms) <= STARTUP_TOLERANCE_MS, (view, playback)
    assert abs(view.play_s - playback.play_s) <= PLAY_TOLERANCE_S, (view, playback)
    assert (view.browser, view.platform) == (playback.expected_browser(), playback.expected_platform())
    bitrate = tenant.query("avgbitrate", since, time.time())["response"][0]["avgbitrate"]
    assert bitrate == round(clip.hls_bandwidth() / 1000)


def test_a_stall_is_reported_with_the_time_and_count_the_page_measured(
    page: Page, static_site: StaticSite, clip: Clip, tenant: Tenant
) -> None:
    """The clip's second segment comes 5 s late: playback stalls once, about 3 s after its 2 s."""
    since = time.time()
    url = static_site.url(
        "pages/hls-sightline.html",
        collector=tenant.base_url,
        key=tenant.ingest_key,
        src=static_site.url(clip.hls_stalling),
    )
    playback = play_to_end(page, url)
    assert playback.stalls == 1, playback
    view = reported_view(tenant, since)
    assert abs(view.play_s - playback.play_s) <= PLAY_TOLERANCE_S, (view, playback)
    row = tenant.query("buffcount,bufferingratio", since, time.time())["response"][0]
    ratio = row["bufferingratio"] / 100
    rebuffer_ms = ratio / (1 - ratio) * view.play_s * 1000  # ratio = stall ÷ (play + stall)
    assert row["buffcount"] == 1
    assert abs(rebuffer_ms - playback.stall_ms) <= STALL_TOLERANCE_MS, (rebuffer_ms, playback)
