"""Device profiles: coherent combinations of device class, brand, OS, browser, app and player.

Invariant: iOS, iPadOS and tvOS play with AVPlayer; Android and Fire OS with ExoPlayer; browsers with
hls.js or dash.js; TVs, set-top boxes and consoles with their platform's player. Each row of `_TABLE`
is one profile; list-valued fields are `;`-separated and a viewer gets one of their values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """A device profile. `app` is "" for browsers; `connections` are wifi, cellular, wired, unknown
    shares; `max_level` is the highest rendition level; `quality` multiplies delivery problems."""

    weight: float
    device: str
    brand: str
    models: tuple[str, ...]
    platform: str
    osversions: tuple[str, ...]
    browser: str
    browserversions: tuple[str, ...]
    app: str
    screens: tuple[str, ...]
    player: str
    playerversions: tuple[str, ...]
    streamformat: str
    drm: str
    connections: tuple[float, ...]
    max_level: int
    quality: float
    dropped_frames_per_min: float


_CONNECTIONS = {"wired": "0.55;0;0.4;0.05", "home": "0.8;0;0.15;0.05", "mobile": "0.6;0.38;0;0.02"}
_DESKTOP = "1920x1080;2560x1440;1366x768;3840x2160"

# weight | device | brand | models | platform | OS versions | browser | browser versions | app | screens |
# player | player versions | format | DRM | connections | max level | quality | dropped frames per minute;
# a line starting with "    |" continues the previous one.
_TABLE = f"""
0.16|desktop|Microsoft|PC|Windows|10;11|Chrome|124;125;126||{_DESKTOP}|hls.js|1.5.7;1.5.8|hls
    |widevine|wired|7|1.0|6
0.05|desktop|Microsoft|PC|Windows|10;11|Edge|124;125||{_DESKTOP}|dash.js|4.7.4|dash|playready|wired
    |7|1.0|5
0.03|desktop|Microsoft|PC|Windows|10;11|Firefox|125;126||{_DESKTOP}|dash.js|4.7.4|dash|widevine
    |wired|6|1.05|8
0.06|desktop|Apple|MacBook Pro;MacBook Air;iMac|macOS|13.6;14.4|Safari|17.4;17.5|
    |2880x1800;2560x1664|hls.js|1.5.8|hls|fairplay|wired|7|0.95|3
0.04|desktop|Apple|MacBook Pro;MacBook Air|macOS|14.4|Chrome|125;126||2880x1800;2560x1664|hls.js
    |1.5.8|hls|widevine|wired|7|0.95|4
0.17|mobile|Apple|iPhone 13;iPhone 14;iPhone 15;iPhone 15 Pro|iOS|16.7;17.4;17.5|||{{app}} iOS
    |1170x2532;1179x2556|AVPlayer|17.4;17.5|hls|fairplay|mobile|6|1.0|1
0.10|mobile|Samsung|Galaxy S22;Galaxy S23;Galaxy A54|Android|13;14|||{{app}} Android
    |1080x2340;1080x2400|ExoPlayer|1.1.1;1.2.1;1.3.1|dash|widevine|mobile|6|1.1|3
0.05|mobile|Google|Pixel 7;Pixel 8|Android|14|||{{app}} Android|1080x2400|ExoPlayer|1.2.1;1.3.1|dash
    |widevine|mobile|6|1.0|2
0.04|tablet|Apple|iPad Air;iPad Pro 11|iPadOS|17.4;17.5|||{{app}} iOS|2360x1640;2388x1668|AVPlayer
    |17.5|hls|fairplay|home|7|0.95|1
0.02|tablet|Samsung|Galaxy Tab S9|Android|14|||{{app}} Android|2560x1600|ExoPlayer|1.2.1;1.3.1|dash
    |widevine|home|7|1.05|3
0.08|tv|Samsung|QN90C;CU7000;Q60C|Tizen|7.0;8.0|||{{app}} TV|3840x2160;1920x1080|Shaka Player
    |4.7.11;4.8.3|dash|playready|home|8|1.0|2
0.05|tv|LG|OLED C3;UQ75|webOS|23;24|||{{app}} TV|3840x2160|Shaka Player|4.7.11|dash|playready|home|8
    |1.0|2
0.05|tv|Roku|Roku Ultra;Roku Express 4K|Roku OS|12.5;13.0|||{{app}} Roku|3840x2160;1920x1080
    |Roku Video Player|13.0|hls|playready|home|8|1.05|1
0.03|tv|Apple|Apple TV 4K|tvOS|17.4;17.5|||{{app}} tvOS|3840x2160|AVPlayer|17.5|hls|fairplay|home|8
    |0.9|0.5
0.03|tv|Amazon|Fire TV Stick 4K|Fire OS|7.6;8.1|||{{app}} Fire TV|3840x2160|ExoPlayer|1.1.1;1.2.1
    |dash|widevine|home|8|1.05|2
0.02|stb|Arris|XG1v4;VIP5662|RDK|6.2|||{{app}} STB|1920x1080|AAMP|5.3|hls|playready|wired|6|1.1|4
0.01|stb|Humax|H7;TV Box 4K|Android TV|11;12|||{{app}} STB|3840x2160|ExoPlayer|1.1.1|dash|widevine
    |wired|7|1.1|3
0.005|console|Sony|PlayStation 5|PlayStation|24.03|||{{app}} PlayStation|3840x2160|WebMAF|3.2|dash
    |playready|wired|8|0.95|1
0.005|console|Microsoft|Xbox Series X;Xbox One|Xbox|10.0.25398|||{{app}} Xbox|3840x2160;1920x1080
    |MediaPlayer|10.0|dash|playready|wired|8|0.95|1
"""


def _profile(line: str) -> DeviceProfile:
    f = line.split("|")

    def many(text: str) -> tuple[str, ...]:
        return tuple(text.split(";"))

    return DeviceProfile(
        weight=float(f[0]),
        device=f[1],
        brand=f[2],
        models=many(f[3]),
        platform=f[4],
        osversions=many(f[5]),
        browser=f[6],
        browserversions=many(f[7]),
        app=f[8],
        screens=many(f[9]),
        player=f[10],
        playerversions=many(f[11]),
        streamformat=f[12],
        drm=f[13],
        connections=tuple(float(v) for v in _CONNECTIONS[f[14]].split(";")),
        max_level=int(f[15]),
        quality=float(f[16]),
        dropped_frames_per_min=float(f[17]),
    )


DEVICES: tuple[DeviceProfile, ...] = tuple(
    _profile(line) for line in _TABLE.replace("\n    |", "|").strip().splitlines()
)
