"""The portal in Debian's Chromium, on a real chDB with simulated traffic (portal_harness.py): sign-in, every
page with numbers checked against the API's own answers to the same requests, the drill-downs, the state in
the URL, the plan levels, CSV, the states of a panel, the keyboard, accessibility (axe-core), token refresh
and logout.

Set SIGHTLINE_PORTAL_SCREENSHOTS to a directory (docs/portal) to save a screenshot of every page there.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, Request, Response, expect

from tests.browser.portal_harness import (
    AXE,
    ACCESS_TOKEN_TTL_S,
    PortalWorld,
    ShownNumber,
    decimals_in_text,
    number_in_text,
    open_page,
    shown_numbers,
    sign_in,
    state_of,
    wait_ready,
)

PAGES = ("kpis", "video", "ads", "insights", "analysis", "paths", "subscribers", "heatmap", "alerts", "views", "now")
VIEWPORT = {"width": 1400, "height": 1000}
SCREENSHOTS = os.environ.get("SIGHTLINE_PORTAL_SCREENSHOTS")


class Traffic:
    """What a page asked of the app and how it was answered."""

    def __init__(self, page: Page) -> None:
        self.requests: list[Request] = []
        self.answers: list[Response] = []
        page.on("request", lambda request: self.requests.append(request))
        page.on("response", lambda response: self.answers.append(response))

    def api_paths(self) -> set[str]:
        return {re.sub(r"^https?://[^/]+", "", r.url) for r in self.requests if "/mm-apis/" in r.url}

    def refresh_grants(self) -> int:
        return sum(
            1 for r in self.requests if r.url.endswith("/oauth/token") and "refresh_token" in (r.post_data or "")
        )


@pytest.fixture(scope="module")
def tour(browser: Browser, portal: PortalWorld) -> Iterator[tuple[Page, Traffic]]:
    """One signed-in tab of the admin, kept across the tests of this module, as a person would."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    traffic = Traffic(page)
    sign_in(page, portal, portal.admin)
    yield page, traffic
    context.close()


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def api_value(answer: dict[str, Any], number: ShownNumber) -> list[Any]:
    """The values of `number.key` in the rows of `answer` that `number` could show: a tile shows the total row;
    a table cell, the row whose first field is the row's label."""
    rows = answer["response"] + answer.get("heatmap", {}).get("hottest", [])
    if number.row_label is None:
        return [rows[0].get(number.key)] if rows else []

    def label(row: dict[str, Any]) -> str:
        value = row.get(number.row_key or "")
        return " → ".join(value) if isinstance(value, list) else str(value) if value != "" else "(none)"

    labelled = [row for row in rows if label(row) == number.row_label]
    return [row.get(number.key) for row in labelled]


def check_numbers(portal: PortalWorld, traffic: Traffic, numbers: list[ShownNumber]) -> int:
    """Each shown number is the API's answer to the page's own request; the count checked."""
    answers: dict[str, Any] = {}
    sent = traffic.api_paths()
    for number in numbers:
        assert number.request in sent, f"the page shows a number of a request it did not send: {number.request}"
        if number.request not in answers:
            answers[number.request] = portal.get(number.request)
        candidates = api_value(answers[number.request], number)
        assert any(c is not None and abs(float(c) - number.value) < 1e-9 for c in candidates), (
            f"{number.key}={number.value} ({number.text!r}) is not in the API's answer to {number.request}: {candidates[:10]}"
        )
        shown, decimals = number_in_text(number.text), decimals_in_text(number.text)
        assert abs(shown - number.value * number.scale) <= 0.5 * 10**-decimals + 1e-9, (
            f"{number.text!r} does not show {number.value}"
        )
    return len(numbers)


def axe_violations(page: Page) -> list[str]:
    """The serious and critical violations axe-core finds on the page as it is."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_a_wrong_password_is_refused_with_a_clear_message(browser: Browser, portal: PortalWorld) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(portal.base_url + "/")
    page.fill("#username", portal.admin.username)
    page.fill("#password", "not-the-password")
    page.click("form.login button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
    assert page.locator("nav").count() == 0
    assert axe_violations(page) == []
    screenshot(page, "login")
    context.close()


@pytest.mark.parametrize("name", PAGES)
def test_every_page_shows_the_apis_answers(tour: tuple[Page, Traffic], portal: PortalWorld, name: str) -> None:
    page, traffic = tour
    page.click(f"nav a[href*='p={name}']")
    wait_ready(page, name)
    assert f"p={name}&" in (page.get_attribute("nav a[aria-current=page]", "href") or "")
    states = page.eval_on_selector_all("section.panel", "els => els.map(e => e.dataset.state)")
    assert states, "the page has no panel"
    assert "error" not in states and "loading" not in states, page.inner_text("main")[:2000]
    if name == "alerts":
        assert page.locator("[data-alerts=not-configured]").is_visible()
        assert "Alerts are not configured" in page.inner_text("main")
        assert any("/mm-apis/getAIAlerts/" in path for path in traffic.api_paths())
    else:
        checked = check_numbers(portal, traffic, shown_numbers(page))
        assert checked >= 3, f"only {checked} numbers shown on {name}"
    assert axe_violations(page) == []
    screenshot(page, name)
