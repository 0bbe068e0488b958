"""The per-view model: outcome, startup, play time, stalls, renditions, pauses, seeks, errors and ads,
drawn for a batch of views at once, with incidents applied, as event groups plus the true values.

Invariants: exactly one of vsf, ebvs, started per view; a started view ends with `end` (VOD played to
its end), a fatal `error` (VPF) or `exit`; true `play_ms`, `rebuffer_ms`, `rebuffer_count`, `startup_ms`,
`errors` and `fatal_errors` are the model's, and the events carry exactly these totals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sightline.simulate.audience import Customer, ViewDims
from sightline.simulate.customers import KIND_CLIP, KIND_EPISODE, KIND_FILM, KIND_LIVE
from sightline.simulate.devices import DEVICES
from sightline.simulate.effects import NO_CODE, ViewEffects, view_effects
from sightline.simulate.population import connection_codes
from sightline.simulate.timeline import Groups, T, make_groups
from sightline.simulate.world import (
    AD_ERROR_CODES,
    ERROR_INDEX,
    LADDER,
    NONFATAL_CODES,
    VPF_CODES,
    VSF_BUSINESS_CODES,
    VSF_TECH_CODES,
)

OUTCOMES: tuple[str, ...] = ("vsf", "ebvs", "vpf", "completed", "exited")
VSF, EBVS, VPF, COMPLETED, EXITED = range(5)
MAX_PLAY_MS = 4 * 3_600_000
HEARTBEAT_MS = 60_000
MIDROLL_EVERY_MS = 600_000
AD_OUTCOMES = ("ad_full", "ad_click", "ad_skip", "ad_stall", "ad_error", "ad_nofill")
AD_SHARES = np.array([0.62, 0.03, 0.15, 0.05, 0.08, 0.07])
"""How an ad request ends (`AD_OUTCOMES`) without incident: each outcome but an error or no fill is an impression."""
_AD_ERROR = AD_OUTCOMES.index("ad_error")
_LADDER_KBPS = np.array([r.bitrate_kbps for r in LADDER])
_MAX_LEVEL = np.array([d.max_level for d in DEVICES])
_DROPPED_PER_MIN = np.array([d.dropped_frames_per_min for d in DEVICES])


@dataclass(frozen=True, slots=True)
class ViewBatch:
    """A batch of views: identity, dimensions, true values and the event groups that realise them."""

    start_ms: NDArray[np.int64]
    viewer: NDArray[np.int64]
    asset: NDArray[np.int64]
    dims: ViewDims
    outcome: NDArray[np.int64]
    startup_ms: NDArray[np.int64]
    play_ms: NDArray[np.int64]
    rebuffer_ms: NDArray[np.int64]
    rebuffer_count: NDArray[np.int64]
    errors: NDArray[np.int64]
    live_latency_ms: NDArray[np.int64]
    dropped_per_min: NDArray[np.float64]
    groups: Groups
    effects: ViewEffects


def _codes(rng: np.random.Generator, table: dict[str, float], n: int) -> NDArray[np.int64]:
    p = np.array(list(table.values()))
    index = np.minimum(np.searchsorted(np.cumsum(p) / p.sum(), rng.random(n), side="right"), p.size - 1)
    return np.array([ERROR_INDEX[c] for c in table], dtype=np.int64)[index]


def _lognormal(
    rng: np.random.Generator, median: NDArray[np.float64] | float, sigma: float, n: int
) -> NDArray[np.float64]:
    return np.asarray(median * rng.lognormal(0.0, sigma, n), dtype=np.float64)


def _spread(view: NDArray[np.int64], count: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """One entry per unit of `count[i]` for view `view[i]`: (view, rank within the view from 0)."""
    rows = np.repeat(view, count)
    return rows, np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count)


def _ads(
    rng: np.random.Generator,
    customer: Customer,
    view: NDArray[np.int64],
    position: int,
    pos: NDArray[np.int64] | int,
    ad_errors: NDArray[np.float64],
    abandon: NDArray[np.bool_],
) -> Groups:
    """One ad break per entry of `view`: ending in an ad error with probability `ad_errors[view]` where it is
    not NaN (the other outcomes in their usual proportions), left by the viewer after the first quartile
    where `abandon[view]`."""
    n = view.size
    p = np.where(np.isnan(ad_errors[view])[:, None], AD_SHARES, _ad_outcomes(ad_errors[view]))
    kind = np.minimum((rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1), len(AD_OUTCOMES) - 1)
    template = np.where(abandon[view], T["ad_abandon"], np.array([T[t] for t in AD_OUTCOMES])[kind])
    failed = kind >= AD_OUTCOMES.index("ad_error")
    creative = rng.integers(1, len(customer.creatives), n)
    code = np.where(failed, _codes(rng, AD_ERROR_CODES, n), creative)
    aux = np.where(failed, rng.integers(1000, 8000, n), rng.integers(150, 1500, n))
    dur = rng.choice(np.array([15_000, 20_000, 30_000]), n) + rng.integers(-400, 400, n)
    return make_groups(view, template, pos=pos, dur=dur, aux=aux, code=code, ad_position=position)


def _ad_outcomes(error: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per entry, the probabilities of `AD_OUTCOMES` when an ad ends in an error with probability `error`."""
    others = AD_SHARES[None, :] * ((1 - error) / (1 - AD_SHARES[_AD_ERROR]))[:, None]
    others[:, _AD_ERROR] = error
    return np.asarray(others, dtype=np.float64)


def _bitrate_level(sustain: NDArray[np.int64], factor: NDArray[np.float64]) -> NDArray[np.int64]:
    """The highest rung at most `factor` x the bitrate of rung `sustain` (rung 1 at least); `sustain` at 1."""
    level = np.searchsorted(_LADDER_KBPS, factor * _LADDER_KBPS[sustain], side="right") - 1
    return np.asarray(np.clip(level, 1, sustain), dtype=np.int64)


def draw_views(
    customer: Customer,
    start_ms: NDArray[np.int64],
    viewer: NDArray[np.int64],
    asset: NDArray[np.int64],
    entry: NDArray[np.int64],
    rng: np.random.Generator,
) -> ViewBatch:
    """The views of `viewer` watching `asset` from `start_ms` (see the module invariants)."""
    n = start_ms.size
    views = np.arange(n, dtype=np.int64)
    cat, pop = customer.catalogue, customer.population
    cdn = np.minimum(
        np.searchsorted(np.cumsum(customer.cdn_weights), rng.random(n), side="right"),
        customer.cdn_weights.size - 1,
    )
    connection, connection_quality = connection_codes(pop, viewer, rng)
    dims = customer.view_dims(viewer, asset, cdn, connection, entry)
    effects = view_effects(customer.incidents, start_ms, dims.strings)
    quality = pop.quality[viewer] * customer.cdn_quality[cdn] * connection_quality
    kind = cat.kind[asset]
    live = kind == KIND_LIVE

    startup = np.clip(_lognormal(rng, 1100 * quality**0.8 * effects.startup_time, 0.45, n), 150, 45_000)
    startup = startup.astype(np.int64)
    preroll = pop.ads[viewer] & (rng.random(n) < np.where(live, 0.3, 0.75))

    p_business = 0.004
    p_tech = np.minimum(0.006 * quality, 0.05)
    p_tech_incident = np.minimum(p_tech + effects.startup_failure, 1 - p_business)
    p_ebvs = 0.03 + 0.25 * np.clip((startup - 2500) / 15_000, 0, 1) + 0.03 * preroll + effects.exit_before_start
    u = rng.random(n)
    business = u < p_business
    vsf = u < p_business + p_tech_incident
    vsf_of_incident = vsf & (u >= p_business + p_tech)
    ebvs = ~vsf & (u < p_business + p_tech_incident + p_ebvs)
    started = ~vsf & ~ebvs

    duration = cat.duration_s[asset].astype(np.int64) * 1000
    resume = ((kind == KIND_EPISODE) | (kind == KIND_FILM)) & (rng.random(n) < 0.25)
    remaining = duration - np.where(resume, rng.uniform(0.1, 0.8, n) * duration, 0).astype(np.int64)
    mode = rng.random(n)
    intent = np.where(
        mode < 0.5,
        _lognormal(rng, 75_000, 0.9, n),
        np.where(mode < 0.9, _lognormal(rng, 300_000, 0.8, n), np.inf),
    )
    intent = np.where(
        np.isinf(intent) & (duration > 2_100_000) & (rng.random(n) < 0.8),
        _lognormal(rng, 900_000, 0.5, n),
        intent,
    )
    intent = np.where((kind == KIND_CLIP) & (mode < 0.7), np.inf, intent)
    intent = np.where(live, _lognormal(rng, 420_000, 1.0, n), intent)
    completes = ~live & (intent >= remaining)
    play = np.clip(np.where(completes, remaining, np.minimum(intent, MAX_PLAY_MS)), 2000, MAX_PLAY_MS)
    p_vpf = np.minimum(0.004 * quality, 0.2)
    u_vpf = rng.random(n)
    vpf = started & (u_vpf < p_vpf + effects.playback_failure)
    vpf_of_incident = vpf & (u_vpf >= p_vpf)
    play = np.where(vpf, np.maximum(2000, play * rng.uniform(0.05, 1.0, n)), play).astype(np.int64)
    completes &= started & ~vpf
    play = np.where(started, play, 0)
    outcome = np.select([vsf, ebvs, vpf, completes], [VSF, EBVS, VPF, COMPLETED], EXITED)

    max_level = _MAX_LEVEL[pop.device_profile[viewer]]
    sustain = np.clip(max_level - np.floor(2.5 * (quality - 0.8)).astype(np.int64), 1, max_level)
    sustain = _bitrate_level(sustain, effects.bitrate)
    minutes = play / 60_000
    parts: list[Groups] = [make_groups(views, "play_request")]

    abandon = ebvs & preroll & (rng.random(n) < 0.5)
    never = np.zeros(n, dtype=bool)
    ad_errors = effects.ad_errors
    parts.append(_ads(rng, customer, views[preroll], 1, 0, ad_errors, abandon))

    fatal_code = np.where(business, _codes(rng, VSF_BUSINESS_CODES, n), _codes(rng, VSF_TECH_CODES, n))
    fatal_code = np.where(vpf, _codes(rng, VPF_CODES, n), fatal_code)
    given_code = (vsf_of_incident | vpf_of_incident) & (effects.failure_code != NO_CODE)
    fatal_code = np.where(given_code, effects.failure_code, fatal_code)
    to_fail = np.where(business, rng.integers(200, 900, n), np.clip(_lognormal(rng, 2500, 0.7, n), 100, 30_000))
    wait = np.where(abandon, rng.integers(500, 5000, n), (startup * rng.uniform(0.2, 0.95, n)).astype(np.int64))
    first = np.select([started, vsf], [T["first_frame"], T["fail"]], T["exit"])
    first_dur = np.select([started, vsf], [startup, to_fail.astype(np.int64)], wait)
    first_code = np.where(started, np.clip(sustain - rng.integers(0, 3, n), 1, max_level), fatal_code)
    parts.append(make_groups(views, first, dur=first_dur, code=first_code))

    def events_at_random(rate: NDArray[np.float64] | float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        count = np.where(started, rng.poisson(np.asarray(rate * minutes, dtype=np.float64)), 0)
        rows, _ = _spread(views, count)
        return rows, 1 + (rng.random(rows.size) * (play[rows] - 1)).astype(np.int64)

    stall_rows, stall_pos = events_at_random(0.025 * quality**2 * effects.stall_ratio)
    stall_median = 1800 * np.sqrt(quality[stall_rows])
    stall_dur = np.clip(_lognormal(rng, stall_median, 0.8, stall_rows.size), 250, 55_000).astype(np.int64)
    parts.append(make_groups(stall_rows, "stall", pos=stall_pos, dur=stall_dur))
    rows, pos = events_at_random(0.15 * (1 + quality) / 2)
    level = np.clip(sustain[rows] + rng.integers(-2, 2, rows.size), 1, max_level[rows])
    parts.append(make_groups(rows, "rendition", pos=pos, code=level))
    rows, pos = events_at_random(np.where(live, 0.01, 0.04))
    parts.append(
        make_groups(
            rows,
            "pause",
            pos=pos,
            dur=np.clip(_lognormal(rng, 10_000, 0.9, rows.size), 500, 55_000).astype(np.int64),
        )
    )
    rows, pos = events_at_random(np.where(live, 0.0, 0.03))
    parts.append(
        make_groups(
            rows,
            "seek",
            pos=pos,
            dur=np.clip(_lognormal(rng, 700, 0.6, rows.size), 100, 8000).astype(np.int64),
        )
    )
    rows, pos = events_at_random(0.002)
    parts.append(make_groups(rows, "cdn_change", pos=pos))
    error_rows, pos = events_at_random(0.008 * quality)
    parts.append(make_groups(error_rows, "error", pos=pos, code=_codes(rng, NONFATAL_CODES, error_rows.size)))

    midrolls = np.where(started & pop.ads[viewer] & ~live & (duration >= 900_000), (play - 1) // MIDROLL_EVERY_MS, 0)
    rows, rank = _spread(views, midrolls)
    parts.append(_ads(rng, customer, rows, 2, (rank + 1) * MIDROLL_EVERY_MS, ad_errors, never))
    rows, rank = _spread(views, np.where(started, (play - 1) // HEARTBEAT_MS, 0))
    parts.append(make_groups(rows, "heartbeat", pos=(rank + 1) * HEARTBEAT_MS))
    post = views[completes & pop.ads[viewer] & (rng.random(n) < 0.4)]
    parts.append(_ads(rng, customer, post, 3, play[post], ad_errors, never))
    last = views[started]
    terminal = np.select([completes, vpf], [T["end"], T["fail"]], T["exit"])[last]
    parts.append(make_groups(last, terminal, pos=play[last], code=fatal_code[last]))

    latency = np.where(rng.random(n) < 0.2, _lognormal(rng, 4000, 0.3, n), _lognormal(rng, 18_000, 0.3, n))
    return ViewBatch(
        start_ms=start_ms,
        viewer=viewer,
        asset=asset,
        dims=dims,
        outcome=outcome,
        startup_ms=np.where(started, startup, 0),
        play_ms=play,
        rebuffer_ms=np.bincount(stall_rows, weights=stall_dur, minlength=n).astype(np.int64),
        rebuffer_count=np.bincount(stall_rows, minlength=n).astype(np.int64),
        errors=np.bincount(error_rows, minlength=n).astype(np.int64) + (vsf | vpf),
        live_latency_ms=np.where(live, latency, 0).astype(np.int64),
        dropped_per_min=_DROPPED_PER_MIN[pop.device_profile[viewer]] * quality,
        groups=Groups.concat(parts),
        effects=effects,
    )
