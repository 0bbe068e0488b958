"""The OpenAPI documentation page in Debian's Chromium with the network closed but for the app: Swagger UI
lists the operations, and nothing is asked of another host."""

from __future__ import annotations

import urllib.parse

from playwright.sync_api import Page, Route
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.harness import SightlineApp

OPERATIONS = 10
"""Fewer operations than the app has: the page rendered its list."""


def test_the_documentation_renders_without_internet(page: Page, sightline_app: SightlineApp) -> None:
    app_host = urllib.parse.urlsplit(sightline_app.base_url).netloc
    refused: list[str] = []

    def only_the_app(route: Route) -> None:
        if urllib.parse.urlsplit(route.request.url).netloc == app_host:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", only_the_app)
    page.goto(sightline_app.base_url + "/docs")
    try:
        page.wait_for_function(f"document.querySelectorAll('.opblock').length >= {OPERATIONS}", timeout=30_000)
    except PlaywrightTimeoutError:
        raise AssertionError(f"/docs listed no operations; requests to other hosts: {refused}") from None
    page.wait_for_load_state("networkidle")
    assert refused == []
