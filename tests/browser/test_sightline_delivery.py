"""How sightline.js delivers in Debian's Chromium: a batch that meets a network failure, then a 503 with
Retry-After, is sent again after the backoff and after the time the server asked for, and the view
arrives whole; a page left mid-view sends its exit as it goes (sendBeacon), with the time it played."""

from __future__ import annotations

import time

from playwright.sync_api import Page, Route

from tests.browser.harness import Clip, StaticSite, Tenant, play_to_end, reported_view

RETRY_AFTER_S = 2
PLAY_TOLERANCE_S = 0.5


def _page_url(static_site: StaticSite, clip: Clip, tenant: Tenant) -> str:
    return static_site.url(
        "pages/hls-sightline.html", collector=tenant.base_url, key=tenant.ingest_key, src=static_site.url(clip.hls)
    )


def test_a_batch_is_retried_after_a_network_error_and_a_503_and_the_view_arrives_whole(
    page: Page, static_site: StaticSite, clip: Clip, tenant: Tenant
) -> None:
    posts: list[tuple[float, str]] = []

    def flaky_collector(route: Route) -> None:
        posts.append((time.monotonic(), route.request.post_data or ""))
        if len(posts) == 1:
            route.abort("connectionreset")
        elif len(posts) == 2:
            cors = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After"}
            route.fulfill(status=503, headers={"Retry-After": str(RETRY_AFTER_S), **cors}, body="{}")
        else:
            route.continue_()

    page.route(f"{tenant.base_url}/collect?*", flaky_collector)
    since = time.time()
    playback = play_to_end(page, _page_url(static_site, clip, tenant))
    view = reported_view(tenant, since)
    assert view.plays == 1
    assert abs(view.play_s - playback.play_s) <= PLAY_TOLERANCE_S, (view, playback)
    (failed_at, first), (refused_at, second), (accepted_at, third) = posts[:3]
    assert first == second == third, "the same batch is sent again"
    assert 0.5 <= refused_at - failed_at < RETRY_AFTER_S, "a network error: the first backoff (0.5 to 1 s)"
    assert accepted_at - refused_at >= RETRY_AFTER_S, "a 503: after its Retry-After"


def test_a_page_left_mid_view_sends_its_exit_with_the_time_played(
    page: Page, static_site: StaticSite, clip: Clip, tenant: Tenant
) -> None:
    since = time.time()
    page.goto(_page_url(static_site, clip, tenant))
    page.wait_for_function("document.querySelector('video').currentTime >= 3", timeout=30_000)
    played_s = page.evaluate("document.querySelector('video').currentTime")
    page.goto("about:blank")  # pagehide: the view ends with `exit`, handed to sendBeacon
    view = reported_view(tenant, since)
    assert view.plays == 1
    assert abs(view.play_s - played_s) <= PLAY_TOLERANCE_S, (view, played_s)
    ended = tenant.query("endedplays,completedplays", since, time.time(), sessiontype="ended")
    outcome = [(row["endedplays"], row["completedplays"]) for row in ended["response"]]
    assert outcome == [(1, 0)], "ended by the exit, not completed"
