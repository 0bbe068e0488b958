"""A customer's audience: households (geo, ISP, subscription) and their viewers (one device each).

Invariants: a viewer's device, OS, browser and player come from one coherent `DeviceProfile`; viewers of
a household share its country, region, city, ISP and subscriber id; anonymous tiers have no subscriber
id. Activity weights are heavy-tailed, so a few viewers return often and most rarely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from sightline.simulate.columns import Coded, dictionary, hex_ids
from sightline.simulate.customers import CustomerProfile
from sightline.simulate.devices import DEVICES
from sightline.simulate.world import CONNECTION_QUALITY, COUNTRIES

_SDKS = {
    "AVPlayer": ("sightline-apple 1.3.0", "sightline-apple 1.2.4"),
    "ExoPlayer": ("sightline-android 1.3.1", "sightline-android 1.2.9"),
    "Roku Video Player": ("sightline-roku 1.1.0",),
}
_WEB_SDKS = ("sightline-js 1.4.2", "sightline-js 1.4.1")
_TAGS = ("", "", "", "student", "promo-spring", "early-adopter", "win-back")
_LANGUAGES = {
    "en": "en",
    "de": "de",
    "fr": "fr",
    "es": "es",
    "pt": "pt-BR",
    "hi": "hi",
    "ja": "ja",
    "nl": "nl",
}


@dataclass(frozen=True, slots=True)
class Population:
    """Viewers as parallel arrays; `dims` holds every viewer-level dimension as codes."""

    dims: dict[str, Coded]
    asn: NDArray[np.uint32]
    device_profile: NDArray[np.int32]
    utc_offset_ms: NDArray[np.int64]
    quality: NDArray[np.float64]  # ISP x device delivery quality (1.0 typical, higher worse)
    ads: NDArray[np.bool_]
    activity_cdf: NDArray[np.float64]

    @property
    def size(self) -> int:
        return int(self.device_profile.size)


def _weights(keys: tuple[str, ...], weights: dict[str, float]) -> NDArray[np.float64]:
    w = np.array([weights.get(k, 0.0) for k in keys])
    return np.asarray(w / w.sum(), dtype=np.float64)


def _pick(rng: np.random.Generator, p: NDArray[np.float64], n: int) -> NDArray[np.int64]:
    return np.minimum(np.searchsorted(np.cumsum(p), rng.random(n), side="right"), p.size - 1)


def _per_group(options: list[tuple[str, ...]], group: NDArray[np.int64], rng: np.random.Generator) -> Coded:
    """Codes of a uniformly chosen option of each row's group (`options[group]`)."""
    flat = [v for opts in options for v in opts]
    values, flat_codes = dictionary(flat)
    starts = np.cumsum([0, *(len(o) for o in options)])[:-1]
    counts = np.array([len(o) for o in options])
    choice = (rng.random(group.size) * counts[group]).astype(np.int64)
    return Coded(values, flat_codes[starts[group] + choice])


def _constant(labels: list[str], group: NDArray[np.int64]) -> Coded:
    values, codes = dictionary(labels)
    return Coded(values, codes[group])


def _household_networks(isp: NDArray[np.int64], viewer_household: NDArray[np.int64]) -> Coded:
    """Each viewer's address as the collector stores it by default (its /24): one network per household and
    ISP, its first octet chosen by the ISP: made-up addresses, as everything simulated."""
    pairs, pair_of_viewer = np.unique(np.stack([isp, viewer_household]), axis=1, return_inverse=True)
    networks = [f"{1 + i % 223}.{h >> 8 & 255}.{h & 255}.0" for i, h in pairs.T.tolist()]
    return _constant(networks, pair_of_viewer.reshape(-1))  # households 65,536 apart share a network


def build_population(profile: CustomerProfile, viewers: int, rng: np.random.Generator) -> Population:
    """`viewers` viewers in about `viewers / 1.6` households of `profile`'s countries and tiers."""
    households = max(1, int(viewers / 1.6))
    codes = tuple(c.code for c in COUNTRIES)
    h_country = _pick(rng, _weights(codes, profile.countries), households)
    tier = _pick(rng, np.array([t.share for t in profile.tiers]), households)
    logged_in = np.array([t.logged_in for t in profile.tiers])[tier]
    h_subscriber = np.where(logged_in, np.arange(1, households + 1), 0)
    viewer_household = np.concatenate([np.arange(households), rng.integers(0, households, viewers - households)])
    country = h_country[viewer_household]

    places = [(c.code, region, city) for c in COUNTRIES for region, city in c.places]
    place_country = np.array([codes.index(p[0]) for p in places])
    place = _in_country(rng, place_country, country)
    isps = [(codes.index(c.code), isp) for c in COUNTRIES for isp in c.isps]
    isp = _in_country(rng, np.array([i[0] for i in isps]), country)

    device = _pick(rng, np.array([d.weight for d in DEVICES]) / sum(d.weight for d in DEVICES), viewers)
    subscriber_ids = pa.concat_arrays([pa.array([""]), hex_ids(rng, households, "sub-")])
    tag_values, tag_codes = dictionary(list(_TAGS))
    dims = {
        "viewerid": Coded(hex_ids(rng, viewers, ""), np.arange(viewers, dtype=np.int32)),
        "subscriberid": Coded(subscriber_ids, h_subscriber[viewer_household].astype(np.int32)),
        "subscribertype": _constant([t.name for t in profile.tiers], tier[viewer_household]),
        "subscribertag": Coded(tag_values, tag_codes[rng.integers(0, len(_TAGS), viewers)]),
        "country": _constant(list(codes), country),
        "region": _constant([p[1] for p in places], place),
        "city": _constant([p[2] for p in places], place),
        "isp": _constant([i[1].name for i in isps], isp),
        "ipaddress": _household_networks(isp, viewer_household),
        "experiment": _constant(
            ["", "abr-2024:control", "abr-2024:treatment"],
            np.where(rng.random(viewers) < 0.3, 1 + (rng.random(viewers) < 0.5), 0),
        ),
        "custom2": _constant([_LANGUAGES[c.language] for c in COUNTRIES], country),
        "custom3": _constant(["cohort-a", "cohort-b", "cohort-c", "cohort-d"], rng.integers(0, 4, viewers)),
        "custom4": _constant(["stable", "beta"], (rng.random(viewers) < 0.05).astype(np.int64)),
        **_device_dims(profile, device, rng),
    }
    activity = rng.lognormal(0.0, 1.3, viewers)
    quality = np.array([i[1].quality for i in isps])[isp] * np.array([d.quality for d in DEVICES])[device]
    return Population(
        dims=dims,
        asn=np.array([i[1].asn for i in isps], dtype=np.uint32)[isp],
        device_profile=device.astype(np.int32),
        utc_offset_ms=(np.array([c.utc_offset_h for c in COUNTRIES]) * 3_600_000).astype(np.int64)[country],
        quality=quality,
        ads=np.array([t.ads for t in profile.tiers])[tier][viewer_household],
        activity_cdf=np.cumsum(activity) / activity.sum(),
    )


def _in_country(
    rng: np.random.Generator, item_country: NDArray[np.int64], country: NDArray[np.int64]
) -> NDArray[np.int64]:
    """For each row, one of the items of its country, the first items more likely (weights 1/rank)."""
    order = np.argsort(item_country, kind="stable")
    first = np.searchsorted(item_country[order], np.arange(len(COUNTRIES)))
    count = np.bincount(item_country, minlength=len(COUNTRIES))
    rank = np.floor(count[country] * rng.random(country.size) ** 1.6).astype(np.int64)
    return np.asarray(order[first[country] + rank], dtype=np.int64)


def _device_dims(profile: CustomerProfile, device: NDArray[np.int64], rng: np.random.Generator) -> dict[str, Coded]:
    apps = [d.app.format(app=profile.name) if d.app else f"{profile.name} Web" for d in DEVICES]
    sdks = [_SDKS.get(d.player, _WEB_SDKS) for d in DEVICES]
    return {
        "device": _constant([d.device for d in DEVICES], device),
        "brand": _constant([d.brand for d in DEVICES], device),
        "model": _per_group([d.models for d in DEVICES], device, rng),
        "platform": _constant([d.platform for d in DEVICES], device),
        "osversion": _per_group([d.osversions for d in DEVICES], device, rng),
        "browser": _constant([d.browser for d in DEVICES], device),
        "browserversion": _per_group([d.browserversions for d in DEVICES], device, rng),
        "appname": _constant(apps, device),
        "appversion": _per_group([profile.app_versions] * len(DEVICES), device, rng),
        "screen": _per_group([d.screens for d in DEVICES], device, rng),
        "player": _constant([d.player for d in DEVICES], device),
        "playerversion": _per_group([d.playerversions for d in DEVICES], device, rng),
        "sdkversion": _per_group(sdks, device, rng),
        "streamformat": _constant([d.streamformat for d in DEVICES], device),
        "drm": _constant([d.drm for d in DEVICES], device),
    }


def connection_codes(
    population: Population, viewers: NDArray[np.int64], rng: np.random.Generator
) -> tuple[Coded, NDArray[np.float64]]:
    """Per view: the connection type (drawn from the viewer's device mix) and its quality factor."""
    mix = np.array([d.connections for d in DEVICES])[population.device_profile[viewers]]
    connection = (rng.random(viewers.size)[:, None] > np.cumsum(mix, axis=1)).sum(axis=1)
    connection = np.minimum(connection, mix.shape[1] - 1)
    values, codes = dictionary(["wifi", "cellular", "wired", "unknown"])
    return Coded(values, codes[connection]), np.array(CONNECTION_QUALITY)[connection]
