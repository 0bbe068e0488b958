"""User agents → the catalog's device, OS and browser vocabulary (a table of real user agents)."""

from __future__ import annotations

import pytest

from sightline.ingest.useragent import MAX_TEXT, UserAgentInfo, parse_user_agent

HEADLESS_CHROMIUM = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
)

# user agent → (device, brand, model, platform, osversion, browser, browserversion)
CASES: list[tuple[str, tuple[str, ...]]] = [
    (HEADLESS_CHROMIUM, ("desktop", "", "", "Linux", "", "HeadlessChrome", "156")),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        ("desktop", "", "", "Linux", "", "Chrome", "126"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 "
        "Safari/537.36 Edg/125.0.0.0",
        ("desktop", "", "", "Windows", "10", "Edge", "125"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0",
        ("desktop", "", "", "Windows", "10", "Firefox", "126"),
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 "
        "Safari/605.1.15",
        ("desktop", "Apple", "Mac", "macOS", "10.15", "Safari", "17"),
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 "
        "Safari/537.36",
        ("desktop", "", "", "ChromeOS", "14541.0", "Chrome", "125"),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        "Mobile/15E148 Safari/604.1",
        ("mobile", "Apple", "iPhone", "iOS", "17.4", "Safari", "17"),
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/125.0.6422.80 Mobile/15E148 Safari/604.1",
        ("mobile", "Apple", "iPhone", "iOS", "17.4", "Chrome", "125"),
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
        "Mobile/15E148 Safari/604.1",
        ("tablet", "Apple", "iPad", "iPadOS", "17.5", "Safari", "17"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.165 "
        "Mobile Safari/537.36",
        ("mobile", "Google", "Pixel 8", "Android", "14", "Chrome", "125"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 "
        "Chrome/117.0.0.0 Mobile Safari/537.36",
        ("mobile", "Samsung", "SM-S911B", "Android", "13", "Samsung Internet", "24"),
    ),
    (
        "Mozilla/5.0 (Linux; U; Android 9; en-us; SM-T510 Build/PPR1.180610.011) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Version/4.0 Chrome/70.0 Safari/537.36",
        ("tablet", "Samsung", "SM-T510", "Android", "9", "Chrome", "70"),
    ),
    (
        "Mozilla/5.0 (SMART-TV; LINUX; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) 94.0.4606.31/7.0 TV "
        "Safari/537.36",
        ("tv", "Samsung", "SMART-TV", "Tizen", "7.0", "Safari", ""),
    ),
    (
        "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/94.0.4606.128 "
        "Safari/537.36 WebAppManager",
        ("tv", "LG", "Web0S SmartTV", "webOS", "", "Chrome", "94"),
    ),
    ("Roku/DVP-12.5 (12.5.0.4178-AE)", ("tv", "Roku", "Roku", "Roku OS", "12.5", "Roku", "12")),
    (
        "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7624.3337N; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36",
        ("tv", "Amazon", "AFTMM", "Fire OS", "", "Chrome WebView", "120"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 11; SHIELD Android TV Build/RQ1A.210105.003; wv) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Version/4.0 Chrome/120.0 Safari/537.36",
        ("tv", "", "SHIELD Android TV", "Android TV", "11", "Chrome", "120"),
    ),
    (
        "AppleCoreMedia/1.0.0.21L227 (Apple TV; U; CPU OS 17_4 like Mac OS X; en_us)",
        ("tv", "Apple", "AppleTV", "tvOS", "", "", ""),
    ),
    (
        "Mozilla/5.0 (PlayStation; PlayStation 5/6.50) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.4 "
        "Safari/605.1.15",
        ("console", "Sony", "PlayStation 5", "PlayStation", "", "Safari", "15"),
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox Series X) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/48.0.2564.82 Safari/537.36 Edge/20.02",
        ("console", "Microsoft", "Xbox Series X", "Xbox", "10", "Edge", "20"),
    ),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ("bot", "", "", "", "", "Googlebot", "2"),
    ),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.0.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ("bot", "", "", "Android", "6.0", "Googlebot", "2"),
    ),
    ("ExoPlayerLib/2.18.1", ("", "", "", "", "", "", "")),
    ("curl/8.5.0", ("", "", "", "", "", "curl", "8")),
    ("", ("", "", "", "", "", "", "")),
    ("   ", ("", "", "", "", "", "", "")),
]


@pytest.mark.parametrize(("user_agent", "expected"), CASES, ids=[c[0][:40] or "empty" for c in CASES])
def test_user_agent_table(user_agent: str, expected: tuple[str, ...]) -> None:
    assert tuple(parse_user_agent(user_agent).as_dimensions().values()) == expected


def test_fields_are_the_catalog_dimensions_in_order() -> None:
    assert list(UserAgentInfo().as_dimensions()) == [
        "device", "brand", "model", "platform", "osversion", "browser", "browserversion",
    ]  # fmt: skip


def test_parses_are_cached() -> None:
    parse_user_agent.cache_clear()
    first = parse_user_agent(HEADLESS_CHROMIUM)
    assert parse_user_agent(HEADLESS_CHROMIUM) is first
    assert parse_user_agent.cache_info().hits == 1


def test_long_values_are_cut_to_the_catalogs_limit() -> None:
    model = "X" * 2000
    info = parse_user_agent(f"Mozilla/5.0 (Linux; Android 14; {model}) AppleWebKit/537.36 Chrome/125.0 Mobile")
    assert info.device == "mobile"
    assert 0 < len(info.model) <= MAX_TEXT
