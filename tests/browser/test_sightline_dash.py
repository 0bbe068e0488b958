"""dash.js with sightline.js in Debian's Chromium: the 10 s clip as DASH is one view with the page's startup
time, 10 s of play time, and the video Representation's bitrate (from dash.js's quality events). It ends
at dash.js's own end of the stream too, when the element's `ended` never comes (Chromium may skip it once
dash.js has seeked to the end itself)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page

from tests.browser.harness import Clip, StaticSite, Tenant, play_to_end, reported_view

STARTUP_TOLERANCE_MS = 100
PLAY_TOLERANCE_S = 0.5


@pytest.mark.parametrize("swallow_ended", [False, True], ids=["element-ended", "no-element-ended"])
def test_a_view_played_with_dash_js_is_reported_as_the_page_measured_it(
    page: Page, static_site: StaticSite, clip: Clip, tenant: Tenant, swallow_ended: bool
) -> None:
    since = time.time()
    url = static_site.url(
        "pages/dash-sightline.html",
        collector=tenant.base_url,
        key=tenant.ingest_key,
        src=static_site.url(clip.dash),
        swallowEnded=str(int(swallow_ended)),
    )
    playback = play_to_end(page, url)
    view = reported_view(tenant, since)
    assert view.plays == 1
    assert abs(view.startup_ms - playback.startup_ms) <= STARTUP_TOLERANCE_MS, (view, playback)
    assert abs(view.play_s - playback.play_s) <= PLAY_TOLERANCE_S, (view, playback)
    answer = tenant.query("avgbitrate,player,bitrateswitches", since, time.time(), aggby="player")
    assert [(row["player"], row["avgbitrate"], row["bitrateswitches"]) for row in answer["response"]] == [
        ("dash.js", round(clip.dash_video_bandwidth() / 1000), 0)
    ]
