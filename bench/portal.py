"""The portal in Chromium on the demo's data: how long each dashboard takes to be fully drawn, and what it ships.

    .venv/bin/python bench/portal.py [--days 7] [--runs 5]

Starts `sightline demo` (its data: simulated traffic of `--days` days, live traffic going on) on a free port,
signs in its first user in Debian's Chromium (Playwright), then opens each page `--runs` times by its URL, as a
reload: the time from the start of the navigation to the portal's `sightline:drawn` mark (every panel of the
page in its final state, every chart rendered). The first run of each page is the first time the app answers
its requests (named queries are then cached by the app); the median is over all runs (goal ≤ 1.5 s). What a
page ships: the compressed (gzip) bytes of the scripts and style sheets it loads, from the browser's resource
timing, the page itself (index.html) included. Writes its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from benchlib import median, write_section
from demo_process import running_demo

PAGES = ("kpis", "video", "ads", "insights", "analysis", "paths", "subscribers", "heatmap", "alerts", "views", "now")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
GOAL_S = 1.5
READY_TIMEOUT_S = 600

_DRAWN = "() => performance.getEntriesByName('sightline:drawn').map(e => e.startTime)"
_SHIPPED = """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .filter(e => e.entryType === 'navigation' || /\\/portal\\/.+\\.(js|css)$/.test(new URL(e.name).pathname))
  .map(e => ({name: new URL(e.name).pathname, bytes: e.encodedBodySize, kind: e.entryType}))"""


def open_and_time(page: Page, url: str, name: str) -> float:
    """Seconds from the navigation's start to the page's drawn mark."""
    page.goto(url)
    page.wait_for_selector(f"main[data-ready=true][data-page={name}]", timeout=120_000)
    drawn: list[float] = page.evaluate(_DRAWN)
    return drawn[-1] / 1000


def measure(base: str, username: str, password: str, runs: int) -> list[dict[str, Any]]:
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for name in PAGES:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(base + "/")
            page.fill("#username", username)
            page.fill("#password", password)
            page.click("form.login button[type=submit]")
            page.wait_for_selector("main[data-ready=true][data-page]", timeout=120_000)
            customer = page.evaluate("() => new URLSearchParams(location.search).get('c')")
            url = f"{base}/?p={name}&c={customer}"
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})  # every run ships the page again
            times = []
            shipped: list[dict[str, Any]] = []
            for run in range(runs):
                times.append(open_and_time(page, url, name))
                if run == 0:
                    shipped = page.evaluate(_SHIPPED)
            scripts = sum(e["bytes"] for e in shipped if e["name"].endswith(".js"))
            styles = sum(e["bytes"] for e in shipped if e["name"].endswith(".css"))
            document = sum(e["bytes"] for e in shipped if e["kind"] == "navigation")
            results.append({"page": name, "times": times, "js": scripts, "css": styles, "html": document,
                            "files": len(shipped)})  # fmt: skip
            print(name, [f"{t:.2f}" for t in times], scripts, styles, flush=True)
            context.close()
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with running_demo(args.days, READY_TIMEOUT_S) as demo:
        first = json.loads(Path(demo.data_dir, "demo.json").read_text())["customers"][0]
        results = measure(demo.url, first["username"], first["password"], args.runs)
        load = os.getloadavg()
    rows = "\n".join(
        f"| {r['page']} | {r['times'][0]:.2f} s | {median(r['times']):.2f} s | {max(r['times']):.2f} s | "
        f"{'yes' if median(r['times']) <= GOAL_S else '**no**'} | {r['js'] / 1024:,.1f} KiB | "
        f"{r['css'] / 1024:,.1f} KiB | {r['html'] / 1024:,.1f} KiB |"
        for r in results
    )
    body = f"""
`sightline demo --days {args.days:g}` (its first customer, Enterprise, with live traffic), Debian's Chromium
headless at 1400×1000, a page opened by its URL {args.runs} times (a reload, nothing from the HTTP cache):
from the start of the navigation to every panel drawn (the portal's `sightline:drawn` mark). The first run
is the first time the app computes the page's answers; named queries (smartQuery) are cached by the app after
it. Shipped: the compressed (gzip) bytes of the page's scripts and style sheets (ECharts is in the shared chunk
every chart page loads) and of index.html. Load average at the end: {load[0]:.2f}.

| page | first | median of {args.runs} | slowest | median ≤ {GOAL_S} s | JS (gzip) | CSS (gzip) | HTML (gzip) |
|---|---|---|---|---|---|---|---|
{rows}
"""
    write_section("portal", f"python bench/portal.py --days {args.days:g} --runs {args.runs}", body)
    print(body)


if __name__ == "__main__":
    main()
