"""Static reference data of the simulated world: geography, networks, CDNs, errors, renditions, genres.

Invariant: every table is a tuple in a fixed order, so that indices into it are stable for a seed.
Quality factors are multipliers of the baseline (1.0 = typical; higher = worse delivery).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IspSpec:
    name: str
    asn: int
    quality: float


@dataclass(frozen=True, slots=True)
class CountrySpec:
    """A country (ISO 3166-1 alpha-2), its UTC offset in hours, (region, city) pairs and ISPs."""

    code: str
    utc_offset_h: float
    language: str
    places: tuple[tuple[str, str], ...]
    isps: tuple[IspSpec, ...]


def _isp(name: str, asn: int, quality: float = 1.0) -> IspSpec:
    return IspSpec(name, asn, quality)


COUNTRIES: tuple[CountrySpec, ...] = (
    CountrySpec(
        "US",
        -5,
        "en",
        (
            ("California", "Los Angeles"),
            ("New York", "New York"),
            ("Texas", "Houston"),
            ("Illinois", "Chicago"),
            ("Florida", "Miami"),
            ("Washington", "Seattle"),
        ),
        (
            _isp("Comcast", 7922),
            _isp("Charter Spectrum", 20115, 1.1),
            _isp("AT&T", 7018),
            _isp("Verizon Fios", 701, 0.8),
            _isp("T-Mobile", 21928, 1.5),
        ),
    ),
    CountrySpec(
        "CA",
        -5,
        "en",
        (("Ontario", "Toronto"), ("Quebec", "Montreal"), ("British Columbia", "Vancouver")),
        (_isp("Rogers", 812), _isp("Bell Canada", 577, 0.9), _isp("Telus", 852, 1.1)),
    ),
    CountrySpec(
        "GB",
        0,
        "en",
        (("England", "London"), ("England", "Manchester"), ("Scotland", "Glasgow")),
        (
            _isp("BT", 2856, 0.9),
            _isp("Virgin Media", 5089),
            _isp("Sky Broadband", 5607),
            _isp("Vodafone UK", 25135, 1.4),
        ),
    ),
    CountrySpec(
        "DE",
        1,
        "de",
        (
            ("Berlin", "Berlin"),
            ("Bavaria", "Munich"),
            ("Hamburg", "Hamburg"),
            ("North Rhine-Westphalia", "Cologne"),
        ),
        (_isp("Deutsche Telekom", 3320, 0.9), _isp("Vodafone DE", 3209, 1.1), _isp("O2 Germany", 6805, 1.3)),
    ),
    CountrySpec(
        "FR",
        1,
        "fr",
        (
            ("Ile-de-France", "Paris"),
            ("Auvergne-Rhone-Alpes", "Lyon"),
            ("Provence-Alpes-Cote d'Azur", "Marseille"),
        ),
        (_isp("Orange", 3215, 0.9), _isp("Free", 12322), _isp("SFR", 15557, 1.2)),
    ),
    CountrySpec(
        "ES",
        1,
        "es",
        (("Madrid", "Madrid"), ("Catalonia", "Barcelona"), ("Andalusia", "Seville")),
        (_isp("Movistar", 3352), _isp("Orange Spain", 12479, 1.1)),
    ),
    CountrySpec(
        "BR",
        -3,
        "pt",
        (
            ("Sao Paulo", "Sao Paulo"),
            ("Rio de Janeiro", "Rio de Janeiro"),
            ("Minas Gerais", "Belo Horizonte"),
        ),
        (_isp("Claro", 28573, 1.4), _isp("Vivo", 18881, 1.3), _isp("Oi", 7738, 1.7)),
    ),
    CountrySpec(
        "MX",
        -6,
        "es",
        (("Mexico City", "Mexico City"), ("Jalisco", "Guadalajara")),
        (_isp("Telmex", 8151, 1.4), _isp("Totalplay", 22884, 1.2)),
    ),
    CountrySpec(
        "IN",
        5.5,
        "hi",
        (("Maharashtra", "Mumbai"), ("Delhi", "New Delhi"), ("Karnataka", "Bengaluru")),
        (_isp("Reliance Jio", 55836, 1.8), _isp("Bharti Airtel", 9498, 1.6)),
    ),
    CountrySpec(
        "JP",
        9,
        "ja",
        (("Tokyo", "Tokyo"), ("Osaka", "Osaka")),
        (_isp("NTT", 4713, 0.7), _isp("KDDI", 2516, 0.8)),
    ),
    CountrySpec(
        "AU",
        10,
        "en",
        (("New South Wales", "Sydney"), ("Victoria", "Melbourne")),
        (_isp("Telstra", 1221), _isp("Optus", 4804, 1.2)),
    ),
    CountrySpec(
        "NL",
        1,
        "nl",
        (("North Holland", "Amsterdam"), ("South Holland", "Rotterdam")),
        (_isp("KPN", 1136, 0.8), _isp("Ziggo", 33915)),
    ),
)

CONNECTION_TYPES: tuple[str, ...] = ("wifi", "cellular", "wired", "unknown")
CONNECTION_QUALITY: tuple[float, ...] = (1.0, 1.8, 0.7, 1.2)


@dataclass(frozen=True, slots=True)
class CdnSpec:
    name: str
    host: str
    quality: float


CDNS: tuple[CdnSpec, ...] = (
    CdnSpec("Akamai", "{slug}-vh.akamaihd.net", 0.9),
    CdnSpec("CloudFront", "d2{slug}.cloudfront.net", 1.0),
    CdnSpec("Fastly", "{slug}.global.ssl.fastly.net", 1.0),
    CdnSpec("Cloudflare", "{slug}-stream.cloudflarestream.com", 1.1),
    CdnSpec("Lumen", "{slug}.lumen-cdn.net", 1.3),
)


@dataclass(frozen=True, slots=True)
class Rendition:
    bitrate_kbps: int
    width: int
    height: int
    fps: float
    codec: str


LADDER: tuple[Rendition, ...] = (
    Rendition(0, 0, 0, 0.0, ""),  # level 0: nothing rendered yet
    Rendition(350, 416, 234, 25.0, "avc1"),
    Rendition(800, 640, 360, 25.0, "avc1"),
    Rendition(1400, 960, 540, 25.0, "avc1"),
    Rendition(2400, 1280, 720, 30.0, "avc1"),
    Rendition(3600, 1280, 720, 60.0, "avc1"),
    Rendition(5800, 1920, 1080, 30.0, "avc1"),
    Rendition(7800, 1920, 1080, 60.0, "hvc1"),
    Rendition(14000, 3840, 2160, 30.0, "hvc1"),
)


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    code: str
    message: str
    business: bool = False


ERRORS: tuple[ErrorSpec, ...] = (
    ErrorSpec("MEDIA_ERR_NETWORK", "A network error caused the media download to fail."),
    ErrorSpec("MANIFEST_LOAD_ERROR", "Manifest request failed."),
    ErrorSpec("DRM_LICENSE_FAILED", "The license server rejected the license request."),
    ErrorSpec("HTTP_404", "Segment or manifest not found (HTTP 404)."),
    ErrorSpec("MEDIA_ERR_DECODE", "The media could not be decoded."),
    ErrorSpec("MEDIA_ERR_SRC_NOT_SUPPORTED", "The media format is not supported."),
    ErrorSpec("ENTITLEMENT_DENIED", "The subscription does not include this title.", business=True),
    ErrorSpec("GEO_BLOCKED", "This title is not available in your country.", business=True),
    ErrorSpec("CONCURRENT_STREAM_LIMIT", "Too many streams are playing on this account.", business=True),
    ErrorSpec("FRAGMENT_LOAD_ERROR", "A media segment failed to load; retrying."),
    ErrorSpec("BUFFER_STALLED_ERROR", "Playback stalled because the buffer ran dry."),
    ErrorSpec("LEVEL_LOAD_TIMEOUT", "A variant playlist timed out; switching level."),
    ErrorSpec("VAST_301", "Ad error: timeout of VAST URI."),
    ErrorSpec("VAST_303", "Ad error: no ads in VAST response after wrappers."),
    ErrorSpec("VAST_402", "Ad error: timeout of media file URI."),
    ErrorSpec("VAST_900", "Ad error: undefined error from the ad server."),
)

ERROR_INDEX: dict[str, int] = {e.code: i for i, e in enumerate(ERRORS)}

# Probabilities over ERRORS (by code) of a technical fatal error before and after start, of a business
# error before start, of a non-fatal error and of an ad error.
VSF_TECH_CODES: dict[str, float] = {
    "MANIFEST_LOAD_ERROR": 0.3,
    "MEDIA_ERR_NETWORK": 0.25,
    "DRM_LICENSE_FAILED": 0.2,
    "HTTP_404": 0.15,
    "MEDIA_ERR_SRC_NOT_SUPPORTED": 0.1,
}
VSF_BUSINESS_CODES: dict[str, float] = {
    "ENTITLEMENT_DENIED": 0.55,
    "GEO_BLOCKED": 0.2,
    "CONCURRENT_STREAM_LIMIT": 0.25,
}
VPF_CODES: dict[str, float] = {
    "MEDIA_ERR_NETWORK": 0.45,
    "MEDIA_ERR_DECODE": 0.25,
    "HTTP_404": 0.15,
    "DRM_LICENSE_FAILED": 0.05,
    "CONCURRENT_STREAM_LIMIT": 0.1,
}
NONFATAL_CODES: dict[str, float] = {
    "FRAGMENT_LOAD_ERROR": 0.5,
    "BUFFER_STALLED_ERROR": 0.3,
    "LEVEL_LOAD_TIMEOUT": 0.2,
}
AD_ERROR_CODES: dict[str, float] = {"VAST_301": 0.3, "VAST_303": 0.35, "VAST_402": 0.2, "VAST_900": 0.15}

# fmt: off
GENRES: tuple[str, ...] = (
    "Drama", "Comedy", "Crime", "Documentary", "Kids", "Sci-Fi", "Reality", "Action", "Romance", "Thriller",
    "News", "Sports", "Animation",
)

# Relative session intensity by local hour (0..23): night trough, evening peak.
HOURLY_INTENSITY: tuple[float, ...] = (
    0.36, 0.22, 0.13, 0.08, 0.06, 0.07, 0.12, 0.2, 0.26, 0.3, 0.33, 0.37,
    0.43, 0.45, 0.45, 0.48, 0.55, 0.66, 0.8, 0.93, 1.0, 0.96, 0.8, 0.57,
)
# fmt: on
WEEKEND_FACTOR = 1.2
WEEKEND_DAYTIME_FACTOR = 1.35
