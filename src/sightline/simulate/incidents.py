"""Injected incidents as data: for whom (a customer and 0 to 3 dimension values), when (a start and an
end) and what goes wrong (one or more effects, each with its magnitude).

Invariants: an incident is valid when built (`parse_incidents` names the field that is not); an effect's
magnitude is in its kind's natural unit (`EFFECTS`), and each kind moves one catalog metric. The demo's
four incidents (`plan_incidents`) are instances of the model that depend only on the period and the
customers: each is placed on the latest day whose slot fits, at a fixed UTC time of day, so the last
days of a demo show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, cast, get_args

from sightline.catalog.dimensions import DIMENSIONS
from sightline.simulate.customers import profile_for
from sightline.simulate.world import ERROR_INDEX

EffectKind = Literal[
    "startup_failure", "playback_failure", "exit_before_start", "stall_ratio", "startup_time", "bitrate", "ad_errors"
]
MAX_FILTERS = 3
PLAYER_FAILURE_CODE = "DRM_LICENSE_FAILED"
STRING_DIMENSIONS: frozenset[str] = frozenset(d.name for d in DIMENSIONS if d.kind == "string")


@dataclass(frozen=True, slots=True)
class EffectSpec:
    """What an effect kind does to the matching views, the catalog metric it moves, and its magnitude's
    allowed range [low, high] (`low` excluded when `open_low`)."""

    metric: str
    unit: str
    low: float
    high: float
    open_low: bool = True

    def allows(self, magnitude: float) -> bool:
        above = magnitude > self.low if self.open_low else magnitude >= self.low
        return above and magnitude <= self.high


EFFECTS: dict[EffectKind, EffectSpec] = {
    "startup_failure": EffectSpec("vsf", "added probability that an attempt fails before its first frame", 0, 1),
    "playback_failure": EffectSpec("vpf", "added probability that a started view ends in a fatal error", 0, 1),
    "exit_before_start": EffectSpec("ebvs", "added probability that the viewer leaves before the first frame", 0, 1),
    "stall_ratio": EffectSpec("bufferingratio", "multiplier of the stall frequency (and so of stall time)", 0, 1000),
    "startup_time": EffectSpec("latency", "multiplier of the start-up time", 0, 100),
    "bitrate": EffectSpec("avgbitrate", "factor of the sustained bitrate (to the ladder's rung below)", 0, 1),
    "ad_errors": EffectSpec("aderrorrate", "probability that an ad ends in an ad error", 0, 1, open_low=False),
}


def effect_kind(value: object) -> EffectKind:
    """`value` as an effect kind; ValueError naming the allowed ones for anything else."""
    for kind in get_args(EffectKind):
        if kind == value:
            return cast(EffectKind, kind)
    raise ValueError(f"unknown effect {value!r}; allowed: {', '.join(get_args(EffectKind))}")


@dataclass(frozen=True, slots=True)
class Effect:
    kind: EffectKind
    magnitude: float

    @property
    def metric(self) -> str:
        return EFFECTS[self.kind].metric


@dataclass(frozen=True, slots=True)
class Incident:
    """Views of `customer_id` that start in [start, end) and match every `filters` dimension value get every
    effect; fatal failures it causes carry `error_code` ("" for the usual mix of codes)."""

    name: str
    customer_id: int
    start: datetime
    end: datetime
    filters: dict[str, str]
    effects: tuple[Effect, ...]
    error_code: str = ""

    def __post_init__(self) -> None:
        _check(self)

    @property
    def duration_s(self) -> int:
        return int((self.end - self.start).total_seconds())

    def describe(self) -> str:
        return ", ".join(f"{e.kind} {e.magnitude:g}" for e in self.effects)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "name": self.name,
            "customer_id": self.customer_id,
            "start": self.start.isoformat(),
            "duration_s": self.duration_s,
            "filters": dict(self.filters),
            "effects": [{"effect": e.kind, "magnitude": e.magnitude, "metric": e.metric} for e in self.effects],
        }
        if self.error_code:
            data["error_code"] = self.error_code
        return data


def _check(incident: Incident) -> None:
    where = f"incident {incident.name!r}"
    if not incident.name or "," in incident.name:
        raise ValueError(f"incident name {incident.name!r}: a non-empty name without commas is required")
    if incident.customer_id <= 0:
        raise ValueError(f"{where}: customer_id must be positive")
    if incident.start.tzinfo is None:
        raise ValueError(f"{where}: start must carry a time zone (e.g. 2026-12-01T20:00:00Z)")
    if incident.end <= incident.start:
        raise ValueError(f"{where}: duration_s must be positive")
    if len(incident.filters) > MAX_FILTERS:
        raise ValueError(f"{where}: filters take at most {MAX_FILTERS} dimensions")
    for dimension, value in incident.filters.items():
        if dimension not in STRING_DIMENSIONS:
            raise ValueError(f"{where}: filters: {dimension!r} is not a string dimension of the catalog")
        if not value:
            raise ValueError(f"{where}: filters: {dimension} needs a non-empty value")
    if not incident.effects:
        raise ValueError(f"{where}: effects must list at least one effect")
    kinds = [e.kind for e in incident.effects]
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"{where}: effects: each effect at most once")
    for effect in incident.effects:
        spec = EFFECTS[effect.kind]
        if not spec.allows(effect.magnitude):
            bracket = "(" if spec.open_low else "["
            raise ValueError(
                f"{where}: magnitude of {effect.kind} must be in {bracket}{spec.low:g}, {spec.high:g}] ({spec.unit})"
            )
    if incident.error_code and incident.error_code not in ERROR_INDEX:
        raise ValueError(f"{where}: error_code {incident.error_code!r} is not one the simulator knows")


def _field(data: Mapping[str, object], name: str, where: str) -> object:
    if name not in data:
        raise ValueError(f"{where}: {name} is required")
    return data[name]


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number")
    return float(value)


def parse_incident(data: object, position: int) -> Incident:
    """One incident of the JSON format (docs/simulator.md); ValueError naming the field that is wrong.
    Keys it does not know (e.g. the truth's `views`) are ignored, so a truth file reads back."""
    where = f"incident #{position}"
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: an object is required")
    name = str(_field(data, "name", where))
    where = f"incident {name!r}"
    customer = _field(data, "customer_id", where)
    if not isinstance(customer, int) or isinstance(customer, bool):
        raise ValueError(f"{where}: customer_id must be an integer")
    try:
        start = datetime.fromisoformat(str(_field(data, "start", where)))
    except ValueError:
        raise ValueError(f"{where}: start must be an ISO 8601 time with a time zone") from None
    duration = _number(_field(data, "duration_s", where), f"{where}: duration_s")
    filters = data.get("filters", {})
    if not isinstance(filters, Mapping) or not all(isinstance(v, str) for v in filters.values()):
        raise ValueError(f"{where}: filters must map dimension names to string values")
    effects = _field(data, "effects", where)
    if not isinstance(effects, list):
        raise ValueError(f"{where}: effects must be a list of {{effect, magnitude}}")
    parsed = []
    for item in effects:
        if not isinstance(item, Mapping):
            raise ValueError(f"{where}: effects must be a list of {{effect, magnitude}}")
        kind = effect_kind(_field(item, "effect", where))
        parsed.append(Effect(kind, _number(_field(item, "magnitude", where), f"{where}: magnitude of {kind}")))
    return Incident(
        name=name,
        customer_id=customer,
        start=start,
        end=start + timedelta(seconds=duration),
        filters={str(k): str(v) for k, v in filters.items()},
        effects=tuple(parsed),
        error_code=str(data.get("error_code", "")),
    )


def parse_incidents(data: object) -> tuple[Incident, ...]:
    """A JSON list of incidents (docs/simulator.md), names unique; ValueError naming what is wrong."""
    if not isinstance(data, list):
        raise ValueError("incidents: a JSON list of incidents is required")
    incidents = tuple(parse_incident(item, position) for position, item in enumerate(data, start=1))
    names = [i.name for i in incidents]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"incidents: names must be unique; repeated: {', '.join(duplicates)}")
    return incidents


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
    """The demo's four incidents: on the first customer, except ad-server and EBVS ones on the second if any.

    The CDN incident degrades delivery as a bad CDN edge would: stalls x30 (x12 as frequent, x2.5 as long
    before the model had effects), start-up x3.5, bitrate down about three rungs, more playback failures."""
    first = customer_ids[0]
    second = customer_ids[1] if len(customer_ids) > 1 else first
    profile = profile_for(first)
    cdns = sorted(profile.cdns, key=lambda c: -profile.cdns[c])
    cdn = cdns[1] if len(cdns) > 1 else cdns[0]
    country = max(profile.countries, key=lambda c: profile.countries[c])
    ad_customer = second if any(t.ads for t in profile_for(second).tiers) else first
    hours = timedelta(hours=1)
    cdn_effects = (
        Effect("stall_ratio", 30.0),
        Effect("startup_time", 3.5),
        Effect("bitrate", 0.3),
        Effect("playback_failure", 0.01),
    )
    incidents = []
    for name, customer, at, length, filters, effects, code in (
        ("cdn_degradation", first, 1.2 * hours, hours * 2 / 3, {"cdn": cdn, "country": country}, cdn_effects, ""),
        (
            "player_start_failure",
            first,
            14 * hours,
            2.5 * hours,
            {"player": "ExoPlayer", "playerversion": "1.3.1"},
            (Effect("startup_failure", 0.6),),
            PLAYER_FAILURE_CODE,
        ),
        ("ad_server_errors", ad_customer, 20 * hours, 1.5 * hours, {}, (Effect("ad_errors", 0.55),), ""),
        (
            "ebvs_spike",
            second,
            18 * hours,
            hours,
            {"device": "tv", "brand": "Samsung"},
            (Effect("exit_before_start", 0.55),),
            "",
        ),
    ):
        begin, finish = _slot(start, end, at, length)
        incidents.append(Incident(name, customer, begin, finish, filters, effects, code))
    return tuple(incidents)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
