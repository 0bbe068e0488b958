"""Customer profiles and their content catalogues.

A customer's profile comes from its id (cycling through `PROFILES`), so any tuple of ids is valid.
Invariant: a catalogue's episodes of one series are contiguous and in (season, episode) order, so the
next episode of asset `a` is `a + 1` when `series_of[a + 1] == series_of[a]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sightline.simulate.world import GENRES

KIND_EPISODE, KIND_FILM, KIND_CLIP, KIND_LIVE = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Tier:
    """A subscription tier: share of households, whether it sees ads, whether viewers log in."""

    name: str
    share: float
    ads: bool
    logged_in: bool


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    name: str
    slug: str
    size: float
    countries: dict[str, float]
    cdns: dict[str, float]
    live_share: float
    tiers: tuple[Tier, ...]
    series: int
    films: int
    clips: int
    channels: int
    genres: tuple[str, ...]
    app_versions: tuple[str, ...]


PROFILES: tuple[CustomerProfile, ...] = (
    CustomerProfile(
        "Northstream",
        "northstream",
        1.0,
        {
            "US": 0.4,
            "CA": 0.08,
            "GB": 0.14,
            "DE": 0.1,
            "FR": 0.07,
            "ES": 0.05,
            "NL": 0.03,
            "BR": 0.05,
            "MX": 0.04,
            "AU": 0.04,
        },
        {"Akamai": 0.4, "CloudFront": 0.35, "Fastly": 0.25},
        0.12,
        (Tier("premium", 0.35, False, True), Tier("basic", 0.35, True, True), Tier("free", 0.3, True, False)),
        series=120,
        films=500,
        clips=0,
        channels=6,
        genres=(
            "Drama",
            "Comedy",
            "Crime",
            "Documentary",
            "Sci-Fi",
            "Reality",
            "Thriller",
            "Romance",
            "News",
        ),
        app_versions=("7.2.0", "7.3.1", "7.4.0"),
    ),
    CustomerProfile(
        "Velocity Sports",
        "velocity",
        0.6,
        {"GB": 0.3, "US": 0.2, "DE": 0.15, "ES": 0.1, "FR": 0.1, "IN": 0.1, "JP": 0.05},
        {"Fastly": 0.5, "Cloudflare": 0.3, "Lumen": 0.2},
        0.6,
        (Tier("pass", 0.5, False, True), Tier("free", 0.5, True, False)),
        series=20,
        films=40,
        clips=400,
        channels=12,
        genres=("Sports", "Documentary", "News"),
        app_versions=("3.9.2", "4.0.0"),
    ),
    CustomerProfile(
        "Kidoodle Play",
        "kidoodle",
        0.35,
        {"US": 0.45, "MX": 0.2, "BR": 0.2, "IN": 0.15},
        {"CloudFront": 0.6, "Lumen": 0.4},
        0.05,
        (Tier("family", 0.4, False, True), Tier("free", 0.6, True, False)),
        series=80,
        films=60,
        clips=200,
        channels=2,
        genres=("Kids", "Animation", "Comedy"),
        app_versions=("2.1.0", "2.2.3"),
    ),
    CustomerProfile(
        "Cinevault",
        "cinevault",
        0.2,
        {"DE": 0.3, "FR": 0.25, "NL": 0.15, "GB": 0.2, "ES": 0.1},
        {"Akamai": 0.7, "Cloudflare": 0.3},
        0.0,
        (Tier("subscriber", 1.0, False, True),),
        series=15,
        films=900,
        clips=0,
        channels=0,
        genres=("Drama", "Thriller", "Romance", "Action", "Documentary"),
        app_versions=("1.8.0", "1.9.0"),
    ),
)


def profile_for(customer_id: int) -> CustomerProfile:
    """The profile of `customer_id`; ids past the table cycle through it."""
    return PROFILES[(customer_id - 1) % len(PROFILES)]


_ADJECTIVES = (
    "Silent",
    "Broken",
    "Golden",
    "Hidden",
    "Last",
    "Crimson",
    "Northern",
    "Wild",
    "Quiet",
    "Burning",
    "Lost",
    "Distant",
    "Iron",
    "Electric",
    "Hollow",
    "Secret",
    "Midnight",
    "Frozen",
    "Bright",
    "Falling",
    "Savage",
    "Paper",
    "Glass",
    "Endless",
)
_NOUNS = (
    "Harbor",
    "Empire",
    "Orchard",
    "Signal",
    "Frontier",
    "Kingdom",
    "River",
    "Witness",
    "Garden",
    "Machine",
    "Summer",
    "Station",
    "Detective",
    "Island",
    "Crown",
    "Circuit",
    "Valley",
    "Promise",
    "Tide",
    "Archive",
    "Horizon",
    "Lantern",
    "Canyon",
    "Republic",
)


@dataclass(frozen=True, slots=True)
class Catalogue:
    """A customer's assets as parallel arrays, and the popularity of titles (a series counts as one)."""

    asset_ids: tuple[str, ...]
    asset_names: tuple[str, ...]
    series_names: tuple[str, ...]  # index 0 is "" (no series)
    genres: tuple[str, ...]
    kind: NDArray[np.int8]
    series_of: NDArray[np.int32]  # index into series_names
    season: NDArray[np.uint32]
    episode: NDArray[np.uint32]
    genre_of: NDArray[np.int32]
    duration_s: NDArray[np.uint32]  # 0 for live
    title_first: NDArray[np.int32]  # per title: first asset
    title_count: NDArray[np.int32]  # per title: number of assets (episodes)
    title_weight: NDArray[np.float64]  # per VOD title, Zipf popularity summing to 1 (live titles: 0)
    live_weight: NDArray[np.float64]  # per title, live channel popularity summing to 1 (VOD titles: 0)


def _names(rng: np.random.Generator, count: int, template: str) -> list[str]:
    combos = rng.permutation(len(_ADJECTIVES) * len(_NOUNS))
    names = []
    for i in range(count):
        combo = int(combos[i % len(combos)])
        name = template.format(adj=_ADJECTIVES[combo // len(_NOUNS)], noun=_NOUNS[combo % len(_NOUNS)])
        names.append(name if i < len(combos) else f"{name} {i // len(combos) + 1}")
    return names


def _zipf(rng: np.random.Generator, count: int, exponent: float = 1.1) -> NDArray[np.float64]:
    weights = 1.0 / np.arange(1, count + 1, dtype=np.float64) ** exponent
    weights = weights[rng.permutation(count)]
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def build_catalogue(profile: CustomerProfile, rng: np.random.Generator) -> Catalogue:
    """The catalogue of `profile`: series with seasons of episodes, films, clips and live channels."""
    ids: list[str] = []
    names: list[str] = []
    rows: list[tuple[int, int, int, int, int, int]] = []  # kind, series, season, episode, genre, duration
    firsts: list[int] = []
    counts: list[int] = []
    genre_index = {g: i for i, g in enumerate(GENRES)}
    genre_codes = [genre_index[g] for g in profile.genres]
    series_names = ["", *_names(rng, profile.series, "The {adj} {noun}")]
    for s in range(1, profile.series + 1):
        seasons = int(min(rng.geometric(0.45), 6))
        per_season = int(rng.integers(6, 14))
        duration = int(rng.choice((22, 30, 45, 55))) * 60 + int(rng.integers(-90, 90))
        genre = genre_codes[int(rng.integers(len(genre_codes)))]
        firsts.append(len(ids))
        counts.append(seasons * per_season)
        for season in range(1, seasons + 1):
            for ep in range(1, per_season + 1):
                ids.append(f"{profile.slug}-ep-{s:04d}-s{season:02d}e{ep:02d}")
                names.append(f"{series_names[s]} S{season}:E{ep}")
                rows.append((KIND_EPISODE, s, season, ep, genre, duration + int(rng.integers(-60, 60))))
    for kind, count, prefix, template, low, high in (
        (KIND_FILM, profile.films, "mv", "{adj} {noun}", 80 * 60, 150 * 60),
        (KIND_CLIP, profile.clips, "clip", "{noun} Highlights: {adj}", 40, 300),
    ):
        for i, name in enumerate(_names(rng, count, template)):
            firsts.append(len(ids))
            counts.append(1)
            ids.append(f"{profile.slug}-{prefix}-{i + 1:05d}")
            names.append(name)
            rows.append(
                (
                    kind,
                    0,
                    0,
                    0,
                    genre_codes[int(rng.integers(len(genre_codes)))],
                    int(rng.integers(low, high)),
                )
            )
    vod_titles = len(firsts)
    for i in range(profile.channels):
        firsts.append(len(ids))
        counts.append(1)
        ids.append(f"{profile.slug}-live-{i + 1:02d}")
        names.append(f"{profile.name} {('News', 'One', 'Live', 'Sports', 'Kids', 'Movies')[i % 6]} {i // 6 + 1}")
        rows.append((KIND_LIVE, 0, 0, 0, genre_codes[i % len(genre_codes)], 0))
    table = np.array(rows, dtype=np.int64).reshape(-1, 6)
    title_weight = np.zeros(len(firsts))
    title_weight[:vod_titles] = _zipf(rng, vod_titles)
    live_weight = np.zeros(len(firsts))
    if profile.channels:
        live_weight[vod_titles:] = _zipf(rng, profile.channels, 0.8)
    return Catalogue(
        asset_ids=tuple(ids),
        asset_names=tuple(names),
        series_names=tuple(series_names),
        genres=GENRES,
        kind=table[:, 0].astype(np.int8),
        series_of=table[:, 1].astype(np.int32),
        season=table[:, 2].astype(np.uint32),
        episode=table[:, 3].astype(np.uint32),
        genre_of=table[:, 4].astype(np.int32),
        duration_s=table[:, 5].astype(np.uint32),
        title_first=np.array(firsts, np.int32),
        title_count=np.array(counts, np.int32),
        title_weight=title_weight,
        live_weight=live_weight,
    )


def pick_assets(
    catalogue: Catalogue, live_share: float | NDArray[np.float64], rng: np.random.Generator, n: int
) -> NDArray[np.int32]:
    """`n` assets: live channels with probability `live_share` (when the catalogue has any), else VOD
    titles by popularity; within a series, a random episode."""
    has_live = bool(catalogue.live_weight.sum() > 0)
    live = rng.random(n) < (live_share if has_live else 0.0)
    titles = np.where(
        live,
        _choose(rng, catalogue.live_weight if has_live else catalogue.title_weight, n),
        _choose(rng, catalogue.title_weight, n),
    )
    offset = (rng.random(n) * catalogue.title_count[titles]).astype(np.int32)
    return (catalogue.title_first[titles] + offset).astype(np.int32)


def _choose(rng: np.random.Generator, weights: NDArray[np.float64], n: int) -> NDArray[np.int64]:
    cdf = np.cumsum(weights)
    chosen = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return np.asarray(np.minimum(chosen, len(weights) - 1), dtype=np.int64)
