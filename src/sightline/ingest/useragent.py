"""User agent → device class, brand, model, OS and browser, in the vocabulary of the catalog.

ua-parser names the browser, OS and device; the device class (desktop, mobile, tablet, tv, console,
bot) is ours, decided from those names and a few tokens of the user agent. Names are folded into
the catalog's vocabulary (the simulator's and docs/enrichment.md's): `Mac OS X` → `macOS`, iOS on an
iPad → `iPadOS`, `Mobile Safari` → `Safari`, `Chrome Mobile` → `Chrome`; `HeadlessChrome` stays as it
is, so automated playback can be told apart. Invariants: an unknown part is the empty string, never
`Other`; versions are `major.minor` for the OS and the major alone for the browser; every value is at
most `MAX_TEXT` characters. Parses are cached (bounded LRU), so the same user agent costs one parse.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache

from ua_parser import parse

MAX_TEXT = 512
UA_CACHE_SIZE = 4096

_BROWSER_NAMES = {
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari WebView",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome WebView",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
}
_OS_NAMES = {"Mac OS X": "macOS", "ATV OS X": "tvOS", "Web0S": "webOS", "Roku": "Roku OS", "Chrome OS": "ChromeOS"}
_DESKTOP_OS = frozenset({"Windows", "macOS", "Linux", "ChromeOS", "Ubuntu", "Fedora", "Debian", "FreeBSD", "OpenBSD"})
_TV_OS = frozenset({"Tizen", "webOS", "Roku OS", "tvOS", "Android TV", "Fire OS"})
_GENERIC_BRANDS = frozenset({"Generic", "Generic_Android", "Generic_Android_Tablet", "Generic_Inettv", "Spider"})
_TV_TOKENS = re.compile(r"SMART-?TV|SmartTV|HbbTV|Android TV|GoogleTV|BRAVIA|CrKey|AppleTV|Apple TV|Roku|\bAFT\w+")
_ANDROID_TV_TOKENS = re.compile(r"Android TV|GoogleTV|BRAVIA")
_FIRE_TV = re.compile(r"\bAFT\w+")
_XBOX = re.compile(r"Xbox(?: (?:One|Series [XS]))?")
_CONSOLE_BRANDS = frozenset({"Sony", "Nintendo"})
_CONSOLE_FAMILIES = re.compile(r"PlayStation|Nintendo")
_BOT_TOKENS = re.compile(r"bot\b|crawler|spider|HeadlessShell", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class UserAgentInfo:
    """What a user agent says about the device; "" where it says nothing."""

    device: str = ""
    brand: str = ""
    model: str = ""
    platform: str = ""
    osversion: str = ""
    browser: str = ""
    browserversion: str = ""

    def as_dimensions(self) -> dict[str, str]:
        return asdict(self)


def _version(*parts: str | None) -> str:
    """`major.minor` from the parts present, stopping at the first absent one."""
    taken: list[str] = []
    for part in parts:
        if not part:
            break
        taken.append(part)
    return ".".join(taken)


def _platform(os_family: str, device_family: str, user_agent: str) -> str:
    name = _OS_NAMES.get(os_family, os_family)
    if _XBOX.search(user_agent):
        return "Xbox"
    if name == "iOS" and device_family == "iPad":
        return "iPadOS"
    if name == "Android" and _FIRE_TV.search(user_agent):
        return "Fire OS"
    if name == "Android" and _ANDROID_TV_TOKENS.search(user_agent):
        return "Android TV"
    if not name and device_family.startswith("PlayStation"):
        return "PlayStation"
    return name


def _device_class(platform: str, device_family: str, brand: str, user_agent: str) -> str:
    """desktop, mobile, tablet, tv, console or bot; "" when the user agent does not tell."""
    if device_family == "Spider" or _BOT_TOKENS.search(user_agent):
        return "bot"
    if platform in {"Xbox", "PlayStation"} or (brand in _CONSOLE_BRANDS and _CONSOLE_FAMILIES.search(device_family)):
        return "console"
    if platform in _TV_OS or _TV_TOKENS.search(user_agent):
        return "tv"
    if device_family == "iPad" or platform == "iPadOS":
        return "tablet"
    if platform == "iOS" or device_family in {"iPhone", "iPod"}:
        return "mobile"
    if platform == "Android":
        # Android's own convention: phones' browsers say "Mobile", tablets' do not.
        return "mobile" if "Mobile" in user_agent else "tablet"
    if platform in _DESKTOP_OS:
        return "desktop"
    return ""


def load_rules() -> None:
    """Load ua-parser's rules now (about 0.2 s, once per process) rather than in the first request."""
    parse("Mozilla/5.0")


@lru_cache(maxsize=UA_CACHE_SIZE)
def parse_user_agent(user_agent: str) -> UserAgentInfo:
    """Device, OS and browser of `user_agent` (empty fields for an empty or unknown one)."""
    if not user_agent.strip():
        return UserAgentInfo()
    result = parse(user_agent)
    agent, system, hardware = result.user_agent, result.os, result.device
    device_family, brand, model = (
        (hardware.family, hardware.brand or "", hardware.model or "") if hardware else ("", "", "")
    )
    platform = _platform(system.family if system else "", device_family, user_agent)
    device = _device_class(platform, device_family, brand, user_agent)
    if platform == "Fire OS":
        brand = "Amazon"
    elif platform == "Xbox":
        brand, model = "Microsoft", max(_XBOX.findall(user_agent), key=len)
    elif device_family == "Roku":
        brand = "Roku"
    browser = _BROWSER_NAMES.get(agent.family, agent.family) if agent else ""
    info = UserAgentInfo(
        device=device,
        brand="" if brand in _GENERIC_BRANDS else brand,
        model="" if device == "bot" else model,
        platform=platform,
        osversion=_version(system.major, system.minor) if system and platform != "Fire OS" else "",
        browser=browser,
        browserversion=(agent.major or "") if agent else "",
    )
    return UserAgentInfo(**{name: value[:MAX_TEXT] for name, value in info.as_dimensions().items()})
