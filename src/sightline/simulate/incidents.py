"""Injected incidents: what goes wrong, for whom and when, as data the tests and alerts can check.

Invariant: incidents lie within [start, end) of the simulation and depend only on the configuration:
each is placed on the latest day whose slot fits, at a fixed UTC time of day (the audience's evening
for the CDN incident), so the last days of a demo show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, cast, get_args

import numpy as np
from numpy.typing import NDArray

from sightline.simulate.columns import Coded
from sightline.simulate.customers import profile_for

IncidentKind = Literal["cdn_degradation", "player_start_failure", "ad_server_errors", "ebvs_spike"]

PLAYER_FAILURE_CODE = "DRM_LICENSE_FAILED"


def incident_kind(value: object) -> IncidentKind:
    """`value` as an incident kind; ValueError for anything else."""
    for kind in get_args(IncidentKind):
        if kind == value:
            return cast(IncidentKind, kind)
    raise ValueError(f"unknown incident kind {value!r}")


@dataclass(frozen=True, slots=True)
class Incident:
    """Views of `customer_id` that start in [start, end) and match every `filters` dimension value."""

    kind: IncidentKind
    customer_id: int
    start: datetime
    end: datetime
    filters: dict[str, str] = field(default_factory=dict)
    effect: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "customer_id": self.customer_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "filters": dict(self.filters),
            "effect": self.effect,
        }

    @staticmethod
    def from_json(data: dict[str, object]) -> Incident:
        filters = data["filters"]
        assert isinstance(filters, dict)
        return Incident(
            kind=incident_kind(data["kind"]),
            customer_id=int(str(data["customer_id"])),
            start=datetime.fromisoformat(str(data["start"])),
            end=datetime.fromisoformat(str(data["end"])),
            filters={str(k): str(v) for k, v in filters.items()},
            effect=str(data["effect"]),
        )


def _slot(start: datetime, end: datetime, at: timedelta, length: timedelta) -> tuple[datetime, datetime]:
    """[s, s + length) at time of day `at` on the latest fitting day; else centred in the span."""
    day = end.replace(hour=0, minute=0, second=0, microsecond=0)
    while day + at >= start:
        if day + at + length <= end:
            return day + at, day + at + length
        day -= timedelta(days=1)
    middle = start + (end - start - length) / 2
    begin = max(start, middle).replace(second=0, microsecond=0)
    return begin, min(end, begin + length)


def plan_incidents(customer_ids: tuple[int, ...], start: datetime, end: datetime) -> tuple[Incident, ...]:
    """The four incidents: on the first customer, except ad-server and EBVS ones on the second if any."""
    first = customer_ids[0]
    second = customer_ids[1] if len(customer_ids) > 1 else first
    profile = profile_for(first)
    cdns = sorted(profile.cdns, key=lambda c: -profile.cdns[c])
    cdn = cdns[1] if len(cdns) > 1 else cdns[0]
    country = max(profile.countries, key=lambda c: profile.countries[c])
    ad_customer = second if any(t.ads for t in profile_for(second).tiers) else first
    hours = timedelta(hours=1)
    incidents = []
    for kind, customer, at, length, filters, effect in (
        (
            "cdn_degradation",
            first,
            1.2 * hours,
            40 * timedelta(minutes=1),
            {"cdn": cdn, "country": country},
            "rebuffering x12, stalls x2.5 longer, startup x3.5, bitrate 3 levels lower, more CDN switches",
        ),
        (
            "player_start_failure",
            first,
            14 * hours,
            2.5 * hours,
            {"player": "ExoPlayer", "playerversion": "1.3.1"},
            f"60 % of attempts fail before the first frame with {PLAYER_FAILURE_CODE}",
        ),
        (
            "ad_server_errors",
            ad_customer,
            20 * hours,
            1.5 * hours,
            {},
            "55 % of ad requests end in ad_error and 25 % go unfilled (fill rate drops)",
        ),
        (
            "ebvs_spike",
            second,
            18 * hours,
            hours,
            {"device": "tv", "brand": "Samsung"},
            "55 % of attempts exit before the first frame (EBVS)",
        ),
    ):
        begin, finish = _slot(start, end, at, length)
        incidents.append(Incident(incident_kind(kind), customer, begin, finish, filters, effect))
    return tuple(incidents)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def incident_mask(incident: Incident | None, start_ms: NDArray[np.int64], dims: dict[str, Coded]) -> NDArray[np.bool_]:
    """Views (by start time and dimension codes) that `incident` affects; none when it is None."""
    if incident is None:
        return np.zeros(start_ms.size, dtype=bool)
    mask = (start_ms >= to_ms(incident.start)) & (start_ms < to_ms(incident.end))
    for name, value in incident.filters.items():
        values = dims[name].values.to_pylist()
        mask &= dims[name].codes == (values.index(value) if value in values else -1)
    return mask
