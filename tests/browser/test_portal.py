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
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, Request, Response, ViewportSize, expect

from tests.browser.portal_harness import (
    ACCESS_TOKEN_TTL_S,
    AXE,
    ENTERPRISE,
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
VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}
SCREENSHOTS = os.environ.get("SIGHTLINE_PORTAL_SCREENSHOTS")
NOW_REFRESH_MS = 15_000
"""How often the Now page asks again (pages/now.js)."""


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

    def field(row: dict[str, Any], key: str) -> Any:
        """`key` of `row`, a dotted key (`impact.views`) read in its nested object."""
        value: Any = row
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def label(row: dict[str, Any]) -> str:
        value = row.get(number.row_key or "")
        return " → ".join(value) if isinstance(value, list) else str(value) if value != "" else "(none)"

    labelled = [row for row in rows if label(row) == number.row_label]
    return [field(row, number.key) for row in labelled]


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
            f"{number.key}={number.value} ({number.text!r}) is not in the answer to {number.request}: {candidates[:10]}"
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
    if name == "alerts":  # the player incident may be more than a day ago
        open_page(page, name, range="7d")
    assert f"p={name}&" in (page.get_attribute("nav a[aria-current=page]", "href") or "")
    states = page.eval_on_selector_all("section.panel", "els => els.map(e => e.dataset.state)")
    assert states, "the page has no panel"
    assert "error" not in states, page.inner_text("main")[:2000]
    assert "loading" not in states
    numbers = shown_numbers(page)
    if name == "alerts":  # the list's impact (the diagnosis's numbers: test_an_alert_shows_its_band_…)
        numbers = [n for n in numbers if n.key.startswith("impact.")]
    checked = check_numbers(portal, traffic, numbers)
    assert checked >= 3, f"only {checked} numbers shown on {name}"
    assert axe_violations(page) == []
    screenshot(page, name)


def test_a_breakdown_row_opens_its_views_and_a_view_its_timeline(
    tour: tuple[Page, Traffic], portal: PortalWorld
) -> None:
    page, traffic = tour
    open_page(page, "video", by="cdn")
    link = page.locator("table tbody tr").first.locator("td[data-key=cdn] a")
    cdn = link.inner_text()
    link.click()
    wait_ready(page, "views")
    assert state_of(page)["f"] == f"[cdn={cdn}]"
    cdns = page.eval_on_selector_all("td[data-key=cdn]", "cells => cells.map(c => c.textContent)")
    assert cdns, "the breakdown row's views are listed"
    assert set(cdns) == {cdn}
    check_numbers(portal, traffic, shown_numbers(page))
    view = page.locator("td[data-key=sessionid] a").first
    session_id = view.inner_text()
    view.click()
    wait_ready(page, "view")
    assert state_of(page)["sid"] == session_id
    assert page.get_attribute("dd[data-key=sessionid]", "data-value") == session_id
    assert page.locator("section.panel[data-state=ready] .chart").count() == 1
    events = page.locator("table[data-request] tbody tr").count()
    answer = portal.get(page.get_attribute("table[data-request]", "data-request") or "")
    assert events == len(answer["response"]) > 0
    screenshot(page, "view")


def test_a_heatmap_cell_opens_the_views_its_code_ended(tour: tuple[Page, Traffic], portal: PortalWorld) -> None:
    page, _ = tour
    open_page(page, "heatmap", hm="playerversion")
    cell = page.locator("section.panel", has_text="Hottest cells").locator("tbody tr").first
    code = cell.locator("td[data-key=errorcode]").inner_text()
    version = cell.locator("td[data-key=column]").inner_text()
    cell.locator("a").click()
    wait_ready(page, "views")
    assert state_of(page)["f"] == f"[errorcode={code}][playerversion={version}]"
    codes = page.eval_on_selector_all("td[data-key=errorcode]", "cells => cells.map(c => c.textContent)")
    assert codes, f"no view that {code} ended on {version}"
    assert set(codes) == {code}
    # the chart's own cell, clicked with the mouse: the same views
    open_page(page, "heatmap", hm="playerversion")
    point = page.evaluate(
        """([code, version]) => {
            const el = document.querySelector('.chart[aria-label^="Heatmap"]');
            const option = el.chart.getOption();
            const x = option.xAxis[0].data.indexOf(version), y = option.yAxis[0].data.indexOf(code);
            const [px, py] = el.chart.convertToPixel({seriesIndex: 0}, [x, y]);
            const box = el.getBoundingClientRect();
            return [box.left + px, box.top + py];
        }""",
        [code, version],
    )
    page.mouse.click(point[0], point[1])
    wait_ready(page, "views")
    assert state_of(page)["f"] == f"[errorcode={code}][playerversion={version}]"


def test_a_heatmap_cell_over_time_opens_the_views_its_code_ended_in_that_bucket(tour: tuple[Page, Traffic]) -> None:
    page, _ = tour
    open_page(page, "heatmap")
    cell = page.locator("section.panel", has_text="Hottest cells").locator("tbody tr").first
    code = cell.locator("td[data-key=errorcode]").inner_text()
    cell.locator("a").click()
    wait_ready(page, "views")
    state = state_of(page)
    assert (state["f"], state["range"], state["st"]) == (f"[errorcode={code}]", "custom", "ended")
    assert 0 < int(state["to"]) - int(state["from"]) <= 3600
    codes = page.eval_on_selector_all("td[data-key=errorcode]", "cells => cells.map(c => c.textContent)")
    assert codes, f"no view that {code} ended in the hottest bucket"
    assert set(codes) == {code}


def test_a_subscriber_opens_their_views_and_a_qoefilter_keeps_the_poor_ones(
    tour: tuple[Page, Traffic], portal: PortalWorld
) -> None:
    page, traffic = tour
    open_page(page, "subscribers")
    link = page.locator("td[data-key=subscriberid] a").first
    subscriber = link.inner_text()
    link.click()
    wait_ready(page, "views")
    assert state_of(page)["f"] == f"[subscriberid={subscriber}]"
    request = page.get_attribute("table[data-request]", "data-request") or ""
    assert "subscriberid" in urllib.parse.unquote(request)
    assert page.locator("td[data-key=sessionid] a").count() > 0
    check_numbers(portal, traffic, shown_numbers(page))
    open_page(page, "views")
    page.fill("#qoefilter", "latency>3")
    page.press("#qoefilter", "Enter")
    wait_ready(page, "views")
    assert state_of(page)["q"] == "latency>3"
    latencies = page.eval_on_selector_all(
        "td[data-key=latency][data-value]", "cells => cells.map(c => +c.dataset.value)"
    )
    assert latencies, "some views started slowly"
    assert min(latencies) > 3
    check_numbers(portal, traffic, shown_numbers(page))


def test_the_time_range_and_filters_live_in_the_url_and_back_restores_them(
    tour: tuple[Page, Traffic], portal: PortalWorld
) -> None:
    page, traffic = tour
    open_page(page, "kpis")
    plays_day = page.get_attribute(".tile[data-metric=viewercount] .tile-value", "data-value")
    page.select_option("#range", "6h")
    wait_ready(page, "kpis")
    assert state_of(page)["range"] == "6h"
    plays_six_hours = page.get_attribute(".tile[data-metric=viewercount] .tile-value", "data-value")
    page.select_option("#filter-field", "device")
    page.fill("#filter-value", "tv")
    page.click("form.filter-add button[type=submit]")
    wait_ready(page, "kpis")
    assert state_of(page)["f"] == "[device=tv]"
    assert page.inner_text("#filter-chips").startswith("device is tv")
    check_numbers(portal, traffic, shown_numbers(page))
    plays_tv = page.get_attribute(".tile[data-metric=viewercount] .tile-value", "data-value")
    assert float(plays_tv or 0) < float(plays_six_hours or 0) < float(plays_day or 0)
    page.go_back()
    wait_ready(page, "kpis")
    assert "f" not in state_of(page)
    assert page.get_attribute(".tile[data-metric=viewercount] .tile-value", "data-value") == plays_six_hours
    assert page.input_value("#range") == "6h"
    page.go_back()
    wait_ready(page, "kpis")
    assert "range" not in state_of(page)
    assert page.get_attribute(".tile[data-metric=viewercount] .tile-value", "data-value") == plays_day
    page.go_forward()
    page.go_forward()
    wait_ready(page, "kpis")
    assert state_of(page)["f"] == "[device=tv]"
    link = page.url
    other = page.context.new_page()  # a new tab: signed out (the session is the tab's), then the linked page
    other.goto(link)
    other.fill("#username", portal.admin.username)
    other.fill("#password", portal.admin.password)
    other.click("form.login button[type=submit]")
    wait_ready(other, "kpis")
    assert state_of(other)["f"] == "[device=tv]"
    assert other.get_attribute(".tile[data-metric=viewercount] .tile-value", "data-value") == plays_tv
    other.close()
    page.click("#filter-chips button")
    wait_ready(page, "kpis")
    assert "f" not in state_of(page)


def test_the_comparison_draws_the_previous_period_from_the_apis_answer(
    tour: tuple[Page, Traffic], portal: PortalWorld
) -> None:
    page, traffic = tour
    open_page(page, "video", by="cdn")
    page.check("#compare")
    wait_ready(page, "video")
    assert state_of(page)["cmp"] == "1"
    assert page.is_checked("#compare")
    chart = page.evaluate(
        """() => {
            const el = document.querySelector('.chart[data-request]');
            const series = el.chart.getOption().series.map(s => ({name: s.name, data: s.data}));
            return {request: el.dataset.request, series};
        }"""
    )
    names = [s["name"] for s in chart["series"]]
    assert names == ["Video start time", "Video start time (previous period)", "Median video start time",
                     "Median video start time (previous period)", "95th percentile video start time",
                     "95th percentile video start time (previous period)"]  # fmt: skip
    now = urllib.parse.parse_qs(urllib.parse.urlsplit(chart["request"]).query)["period"][0]
    start, end = (int(part.split("=")[1]) for part in now.split(","))

    def of_previous_period(request: str) -> str:
        return request.replace(
            urllib.parse.quote(now, safe=""), urllib.parse.quote(f"start={2 * start - end},end={start}", safe="")
        )

    previous_request = of_previous_period(chart["request"])
    assert previous_request in traffic.api_paths()
    before = portal.get(previous_request)["response"]
    drawn = chart["series"][1]["data"]
    assert len(drawn) == len(before) > 0
    assert [[t / 1000 - (end - start), v] for t, v in drawn] == [[row["timestamp"], row["latency"]] for row in before]
    row = page.locator("section.panel", has_text="Experience by cdn").locator("tbody tr").first
    cdn = row.locator("td[data-key=cdn]").inner_text()
    previous = float(row.locator("td[data-key=previous]").get_attribute("data-derived") or "nan")
    latency = float(row.locator("td[data-key=latency]").get_attribute("data-value") or "nan")
    breakdown = page.get_attribute("section.panel:has-text('Experience by cdn') table", "data-request") or ""
    answer = portal.get(
        breakdown.replace(
            urllib.parse.quote(now, safe=""), urllib.parse.quote(f"start={2 * start - end},end={start}", safe="")
        )
    )
    assert previous == next(r["latency"] for r in answer["response"] if r["cdn"] == cdn)
    change = float(row.locator("td[data-key=change]").get_attribute("data-derived") or "nan")
    assert abs(change - 100 * (latency - previous) / previous) < 1e-9
    page.uncheck("#compare")
    wait_ready(page, "video")
    assert "cmp" not in state_of(page)


def test_a_custom_range_is_read_in_the_viewers_time_zone(browser: Browser, portal: PortalWorld) -> None:
    context = browser.new_context(viewport=VIEWPORT, timezone_id="America/New_York")
    page = context.new_page()
    sign_in(page, portal, portal.admin)
    page.select_option("#range", "custom")
    page.fill("#range-from", "2026-03-07T22:00")
    page.fill("#range-to", "2026-03-08T09:30")  # across the start of daylight saving time
    page.click("form.custom-range button[type=submit]")
    wait_ready(page)
    zone = ZoneInfo("America/New_York")
    state = state_of(page)
    assert (state["range"], int(state["from"]), int(state["to"])) == (
        "custom",
        int(datetime(2026, 3, 7, 22, 0, tzinfo=zone).timestamp()),
        int(datetime(2026, 3, 8, 9, 30, tzinfo=zone).timestamp()),
    )
    assert "America/New_York" in page.inner_text("#period-label")
    assert page.locator("section.panel[data-state=empty]").count() >= 1  # no traffic then
    context.close()


def test_a_user_of_two_customers_switches_and_is_told_what_the_plan_leaves_out(
    browser: Browser, portal: PortalWorld
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    traffic = Traffic(page)
    sign_in(page, portal, portal.both)
    assert page.inner_text("#plan").startswith("Plan: Enterprise")
    page.select_option("#customer", "1002")
    wait_ready(page, "kpis")
    assert state_of(page)["c"] == "1002"
    assert page.inner_text("#plan").startswith("Plan: Professional")
    assert check_numbers(portal, traffic, shown_numbers(page)) >= 3
    assert all("/1002?" in n.request for n in shown_numbers(page))
    missing = page.eval_on_selector_all("nav a:has(.badge)", "links => links.map(a => a.firstChild.textContent)")
    assert set(missing) == {"Content Paths", "Subscriber Insight", "Alerts", "Views"}
    page.click("nav a[href*='p=views']")
    wait_ready(page, "views")
    text = page.inner_text("main")
    assert "Not included in your plan (Professional)" in text
    assert "session-level data" in text
    assert not any("/listsessions/" in path for path in traffic.api_paths())
    open_page(page, "insights")
    assert page.locator("[data-state=not-included]").count() == 1
    assert page.locator("section.panel[data-state=ready]").count() >= 2
    assert axe_violations(page) == []
    screenshot(page, "not-included")
    context.close()


def test_a_table_downloads_as_csv(tour: tuple[Page, Traffic]) -> None:
    page, _ = tour
    open_page(page, "video", by="country")
    panel = page.locator("section.panel", has_text="Experience by country")
    with page.expect_download() as download:
        panel.locator("button.csv").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[0][:3] == ["country", "attempts", "viewercount"]
    shown = panel.locator("tbody tr").count()
    assert len(rows) - 1 == shown
    first = panel.locator("tbody tr").first
    assert rows[1][0] == first.locator("td").first.inner_text()
    assert float(rows[1][1]) == float(first.locator("td[data-key=attempts]").get_attribute("data-value") or "nan")


def the_player_alert(page: Page, portal: PortalWorld) -> dict[str, Any]:
    """The alerts page of the last 7 days opened, the API's alert of the injected player incident (its cohort the
    player version, or diagnosed to it)."""
    open_page(page, "alerts", range="7d")
    answer = portal.get(page.get_attribute("section.panel table[data-request]", "data-request") or "")
    for alert in answer["response"]:
        named = [alert["cohort"], *(c["conditions"] for c in alert["diagnosis"]["causes"])]
        if alert["metric"] == "vsf" and any(c.get("playerversion") == "1.3.1" for c in named):
            return dict(alert)
    raise AssertionError(f"no alert of the player incident in {[a['cohort'] for a in answer['response']]}")


def test_an_alert_shows_its_band_red_points_and_diagnosis(tour: tuple[Page, Traffic], portal: PortalWorld) -> None:
    page, _ = tour
    alert = the_player_alert(page, portal)
    page.click(f"table a[href*='alert={alert['id']}']")
    wait_ready(page, "alerts")
    assert state_of(page)["alert"] == alert["id"]
    detail = page.locator(f"article.alert-detail[data-alert='{alert['id']}']")
    expect(detail).to_be_visible()
    # the chart: the band (lower + width, green), the observed values and the anomalous points (red), as answered
    points = alert["series"]["points"]
    drawn = detail.locator(".chart").evaluate(
        "el => el.chart.getOption().series.map(s => ({name: s.name, type: s.type, n: s.data.length, data: s.data}))"
    )
    by_name = {s["name"]: s for s in drawn}
    assert by_name["expected band"]["n"] == by_name["observed"]["n"] == len(points) > 0
    assert [v for _, v in by_name["expected low"]["data"]] == [p["lower"] for p in points]
    anomalous = [[p["timestamp"] * 1000, p["value"]] for p in points if p["anomalous"]]
    assert anomalous
    assert by_name["anomalous"]["type"] == "scatter"
    assert by_name["anomalous"]["data"] == anomalous
    # values in the catalog's unit of the metric (vsf: percent)
    observed = detail.locator("dd[data-fact=observed]").inner_text()
    assert observed.endswith(" %")
    assert number_in_text(observed) == round(alert["observed"], 2)
    # the diagnosis names the injected combination, its numbers are the API's, and a cause opens its views
    causes = alert["diagnosis"]["causes"]
    rows = detail.locator("table tbody tr")
    assert rows.count() == len(causes) > 0
    first = rows.first.locator("td").first.inner_text()
    assert set(first.split(" ∧ ")) >= {"player = ExoPlayer", "playerversion = 1.3.1"}, first
    for key in ("share", "observed", "expected", "views", "viewers"):
        assert float(rows.first.locator(f"td[data-key={key}]").get_attribute("data-value") or "nan") == causes[0][key]
    assert detail.locator("code[data-request=observedquery]").inner_text() == alert["observedquery"]
    assert detail.locator("code[data-request=metricquery]").inner_text() == alert["metricquery"]
    assert detail.locator("code[data-request=listsessions]").inner_text() == alert["listsessions"]
    screenshot(page, "alerts")
    rows.first.locator("td a").click()
    wait_ready(page, "views")
    state = state_of(page)
    assert "[player=ExoPlayer]" in state["f"]
    assert "[playerversion=1.3.1]" in state["f"]
    assert int(state["from"]) == alert["start"] - alert["window"]
    assert page.locator("table tbody tr").count() > 0, "the cause's views are listed"


def test_alert_filters_are_the_apis_parameters_and_live_in_the_url(tour: tuple[Page, Traffic]) -> None:
    page, traffic = tour
    open_page(page, "alerts", range="7d")
    page.select_option("#alert-severity", "major")
    wait_ready(page, "alerts")
    page.select_option("#alert-status", "resolved")
    wait_ready(page, "alerts")
    assert state_of(page)["severity"] == "major"
    assert state_of(page)["status"] == "resolved"
    last = [p for p in traffic.api_paths() if "/getAIAlerts/" in p and "severity=major" in p and "status=resolved" in p]
    assert last, "the filters are not sent as the API's parameters"
    shown = page.eval_on_selector_all("table tbody tr td[data-key=severity]", "els => els.map(e => e.textContent)")
    assert set(shown) <= {"major"}
    page.go_back()
    wait_ready(page, "alerts")
    assert "status" not in state_of(page)
    assert state_of(page)["severity"] == "major"
    open_page(page, "alerts", range="custom", **{"from": "978307200", "to": "978393600"})  # 2001: none
    expect(page.locator("section.panel[data-state=empty]")).to_have_text(re.compile("No alert in this period."))


def test_the_alerts_table_downloads_as_csv(tour: tuple[Page, Traffic]) -> None:
    page, _ = tour
    open_page(page, "alerts", range="7d")
    panel = page.locator("section.panel", has_text="Alerts of the period")
    with page.expect_download() as download:
        panel.locator("button.csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    shown = panel.locator("table").first.locator("tbody tr")
    assert len(rows) == shown.count() > 0
    assert rows[0]["label"] == shown.first.locator("td").first.inner_text()
    assert float(rows[0]["impact.views"]) == float(
        shown.first.locator("td[data-key='impact.views']").get_attribute("data-value") or "nan"
    )


def test_acknowledge_and_mute_call_the_api_and_update_the_row(tour: tuple[Page, Traffic], portal: PortalWorld) -> None:
    page, _ = tour
    alert = the_player_alert(page, portal)
    assert alert["acknowledged"] is None
    assert alert["muted"] is None
    open_page(page, "alerts", range="7d", alert=alert["id"])
    detail = page.locator(f"article.alert-detail[data-alert='{alert['id']}']")
    row = page.locator(f"table tbody tr:has(a[href*='alert={alert['id']}'])")
    detail.locator("button[data-action=acknowledge]").click()
    expect(detail.locator("button[data-action=acknowledge]")).to_have_text("Acknowledged")
    expect(detail.locator("button[data-action=acknowledge]")).to_be_disabled()
    expect(row.locator("td[data-key=acked]")).to_have_text(f"by {portal.admin.username}")
    detail.locator("button[data-action=mute][data-seconds='86400']").click()
    expect(detail.locator("dd[data-fact=muted]")).to_contain_text(portal.admin.username)
    answered = the_player_alert(page, portal)  # GET getAIAlerts again: the API holds both
    assert answered["acknowledged"]["by"] == portal.admin.username
    assert answered["muted"]["by"] == portal.admin.username
    assert abs(answered["muted"]["until"] - answered["acknowledged"]["at"] - 86400) < 600
    assert axe_violations(page) == []


def test_a_viewer_may_acknowledge_but_not_mute(browser: Browser, portal: PortalWorld) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    sign_in(page, portal, portal.both)
    open_page(page, "alerts", c=str(ENTERPRISE[0]), range="7d")
    detail = page.locator("article.alert-detail")
    expect(detail.locator("button[data-action=acknowledge]")).to_be_visible()
    mutes = detail.locator("button[data-action=mute]")
    assert mutes.count() == 2
    for i in range(2):
        expect(mutes.nth(i)).to_be_disabled()
        reason = page.locator("#" + (mutes.nth(i).get_attribute("aria-describedby") or "none"))
        expect(reason).to_have_text("Only an admin of the customer may mute an alert.")
    assert axe_violations(page) == []
    context.close()


def test_a_panel_shows_its_loading_empty_and_error_states(tour: tuple[Page, Traffic]) -> None:
    page, _ = tour
    held: list[Any] = []
    page.route("**/mm-apis/metricquery/**", lambda route: held.append(route))
    open_url = page.url.split("?")[0] + "?" + re.sub(r"p=[a-z]+", "p=video", page.url.split("?")[1])
    page.goto(open_url)
    page.wait_for_selector("section.panel[data-state=loading][aria-busy=true]")
    assert "Loading" in page.inner_text("section.panel[data-state=loading]")
    for route in held:
        route.continue_()
    page.unroute("**/mm-apis/metricquery/**")
    wait_ready(page, "video")
    open_page(page, "video", range="custom", **{"from": "978307200", "to": "978393600"})  # 2001: nothing
    assert page.locator("section.panel[data-state=empty]").count() >= 1
    assert "No data in this period." in page.inner_text("main")
    open_page(page, "video", f="[cdn=Akamai][nosuchfield=1]")
    errors = page.eval_on_selector_all(
        "section.panel[data-state=error] [role=alert]", "els => els.map(e => e.textContent)"
    )
    assert errors, "a refused request shows its error"
    assert all("nosuchfield" in e and "(400, filter)" in e for e in errors)


def test_every_control_is_reachable_and_usable_with_the_keyboard(tour: tuple[Page, Traffic]) -> None:
    page, _ = tour
    open_page(page, "kpis")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    reached: list[str] = []
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "() => { const e = document.activeElement; return e.id || e.textContent.trim().slice(0, 30); }"
            )
        )
    for control in ("Skip to content", "range", "compare", "filter-field", "filter-op", "filter-value", "logout",
                    "KPIs", "Video Experience", "Error Heatmap", "Now"):  # fmt: skip
        assert control in reached, f"{control} is not reached by Tab: {reached}"
    # a page change, a time range and a drill-down with the keyboard alone
    page.focus("nav a[href*='p=video']")
    page.keyboard.press("Enter")
    wait_ready(page, "video")
    assert page.evaluate("() => document.activeElement.id") == "main", "a new page takes the focus to its content"
    page.focus("#range")
    page.keyboard.press("ArrowDown")  # the next preset
    wait_ready(page, "video")
    assert state_of(page)["range"] == "7d"
    assert page.evaluate("() => document.activeElement.id") == "range", "the control keeps the focus"
    page.keyboard.press("ArrowDown")
    wait_ready(page, "video")
    assert state_of(page)["range"] == "30d"
    page.focus("table tbody tr td a")
    page.keyboard.press("Enter")
    wait_ready(page, "views")
    assert "f" in state_of(page)


def test_now_refreshes_by_itself(tour: tuple[Page, Traffic]) -> None:
    page, traffic = tour
    open_page(page, "now")

    def asked() -> int:
        return sum(1 for r in traffic.requests if "granularity=minute" in r.url)

    before = asked()
    page.wait_for_timeout(NOW_REFRESH_MS + 2000)
    assert asked() > before
    wait_ready(page, "now")
    assert page.locator("section.panel[data-state=ready]").count() == 2


def test_tokens_are_refreshed_before_they_expire(tour: tuple[Page, Traffic], portal: PortalWorld) -> None:
    page, traffic = tour
    assert traffic.refresh_grants() >= 1, f"no refresh in a session longer than {ACCESS_TOKEN_TTL_S} s"
    assert not [a.url for a in traffic.answers if a.status == 401]
    open_page(page, "kpis")
    assert page.locator("section.panel[data-state=ready]").count() == 2


def test_logout_revokes_the_login(tour: tuple[Page, Traffic], portal: PortalWorld) -> None:
    page, _ = tour
    session = page.evaluate("() => JSON.parse(sessionStorage.getItem('sightline.session'))")
    assert portal.status("/mm-apis/whoami", session["access"]) == 200
    page.click("#logout")
    expect(page.locator("form.login")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('sightline.session')") is None
    assert portal.status("/mm-apis/whoami", session["access"]) == 401
    page.goto(portal.base_url + "/?p=kpis")
    expect(page.locator("form.login")).to_be_visible()
