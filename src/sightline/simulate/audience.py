"""A simulated customer: its profile, catalogue, audience, CDNs, ad creatives and incidents, and the
dimension values of a set of views.

Invariant: every view gets every dimension of the catalog (`DIMENSIONS`), with one value per view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from sightline.catalog.dimensions import DIMENSIONS
from sightline.simulate.columns import Coded, dictionary
from sightline.simulate.customers import KIND_LIVE, Catalogue, CustomerProfile, build_catalogue, profile_for
from sightline.simulate.incidents import Incident
from sightline.simulate.population import Population, build_population
from sightline.simulate.world import CDNS

ENTRY_POINTS: tuple[str, ...] = ("home", "search", "continue_watching", "deeplink", "autoplay", "retry")
ENTRY = {name: i for i, name in enumerate(ENTRY_POINTS)}
NUMBER_DIMENSIONS: tuple[str, ...] = tuple(d.name for d in DIMENSIONS if d.kind == "number")


@dataclass(frozen=True, slots=True)
class ViewDims:
    """Dimension values of a set of views: strings as codes, numbers as uint32."""

    strings: dict[str, Coded]
    numbers: dict[str, NDArray[np.uint32]]

    def take(self, rows: NDArray[np.int64]) -> ViewDims:
        return ViewDims(
            {k: v.take(rows) for k, v in self.strings.items()}, {k: v[rows] for k, v in self.numbers.items()}
        )

    @staticmethod
    def concat(parts: list[ViewDims]) -> ViewDims:
        first = parts[0]
        return ViewDims(
            {k: Coded(v.values, np.concatenate([p.strings[k].codes for p in parts])) for k, v in first.strings.items()},
            {k: np.concatenate([p.numbers[k] for p in parts]) for k in first.numbers},
        )


@dataclass(frozen=True, slots=True)
class Customer:
    """Everything about one simulated customer that does not change over time."""

    customer_id: int
    profile: CustomerProfile
    catalogue: Catalogue
    population: Population
    cdn_weights: NDArray[np.float64]
    cdn_quality: NDArray[np.float64]
    cdn_names: pa.Array
    cdn_hosts: pa.Array
    creatives: pa.Array  # index 0 is "" (no creative)
    incidents: tuple[Incident, ...]  # the customer's own
    content: dict[str, pa.Array]  # dictionaries of content dimensions

    def view_dims(
        self,
        viewer: NDArray[np.int64],
        asset: NDArray[np.int64],
        cdn: NDArray[np.int64],
        connection: Coded,
        entry: NDArray[np.int64],
    ) -> ViewDims:
        """Every dimension of views watched by `viewer` of `asset` over `cdn`."""
        cat = self.catalogue
        strings = {name: coded.take(viewer) for name, coded in self.population.dims.items()}
        strings |= {
            "assetid": Coded(self.content["assetid"], asset.astype(np.int32)),
            "assetname": Coded(self.content["assetname"], asset.astype(np.int32)),
            "series": Coded(self.content["series"], cat.series_of[asset]),
            "genre": Coded(self.content["genre"], cat.genre_of[asset]),
            "streamtype": Coded(self.content["streamtype"], (cat.kind[asset] != KIND_LIVE).astype(np.int32)),
            "cdn": Coded(self.cdn_names, cdn.astype(np.int32)),
            "host": Coded(self.cdn_hosts, cdn.astype(np.int32)),
            "connectiontype": connection,
            "custom1": Coded(self.content["entry"], entry.astype(np.int32)),
        }
        empty = Coded(pa.array([""]), np.zeros(viewer.size, dtype=np.int32))
        numbers = {
            "season": cat.season[asset],
            "episode": cat.episode[asset],
            "contentduration": cat.duration_s[asset],
            "asn": self.population.asn[viewer],
        }
        for d in DIMENSIONS:
            if d.kind == "string" and d.name not in strings:
                strings[d.name] = empty
        return ViewDims(strings, numbers)


def build_customer(customer_id: int, seed: int, viewers: int, incidents: tuple[Incident, ...]) -> Customer:
    """The customer `customer_id` with `viewers` viewers, deterministic for (`seed`, `customer_id`)."""
    profile = profile_for(customer_id)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, customer_id, 0x5EED])))
    catalogue = build_catalogue(profile, rng)
    population = build_population(profile, viewers, rng)
    cdns = [c for c in CDNS if c.name in profile.cdns]
    weights = np.array([profile.cdns[c.name] for c in cdns])
    series, _ = dictionary(catalogue.series_names)
    genres, _ = dictionary(catalogue.genres)
    return Customer(
        customer_id=customer_id,
        profile=profile,
        catalogue=catalogue,
        population=population,
        cdn_weights=weights / weights.sum(),
        cdn_quality=np.array([c.quality for c in cdns]),
        cdn_names=pa.array([c.name for c in cdns]),
        cdn_hosts=pa.array([c.host.format(slug=profile.slug) for c in cdns]),
        creatives=pa.array(["", *(f"cr-{profile.slug}-{i:03d}" for i in range(1, 41))]),
        incidents=tuple(i for i in incidents if i.customer_id == customer_id),
        content={
            "assetid": pa.array(catalogue.asset_ids),
            "assetname": pa.array(catalogue.asset_names),
            "series": series,
            "genre": genres,
            "streamtype": pa.array(["live", "vod"]),
            "entry": pa.array(list(ENTRY_POINTS)),
        },
    )
