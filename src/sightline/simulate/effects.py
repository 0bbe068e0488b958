"""What a customer's incidents do to a batch of views: per view, the added failure probabilities, the
multipliers and the ad error probability that the view model applies, and the incidents that touched it.

Invariant: a view no incident matches gets the neutral values (0 added, x1, no ad error override, code
-1, no incident), with which the view model draws exactly what it draws without incidents. Where
incidents overlap, added probabilities add up, multipliers multiply, the larger ad error probability wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from sightline.simulate.columns import Coded
from sightline.simulate.incidents import Incident, to_ms
from sightline.simulate.world import ERROR_INDEX

NO_CODE = -1


@dataclass(frozen=True, slots=True)
class ViewEffects:
    """Per view of a batch (see the module invariant); `*_code` is an index into `world.ERRORS` or NO_CODE."""

    startup_failure: NDArray[np.float64]
    playback_failure: NDArray[np.float64]
    exit_before_start: NDArray[np.float64]
    stall_ratio: NDArray[np.float64]
    startup_time: NDArray[np.float64]
    bitrate: NDArray[np.float64]
    ad_errors: NDArray[np.float64]  # NaN: the usual ad outcomes
    failure_code: NDArray[np.int64]
    incidents: Coded  # the names of the incidents that touched the view, joined by ","; "" for none


def incident_mask(incident: Incident, start_ms: NDArray[np.int64], dims: dict[str, Coded]) -> NDArray[np.bool_]:
    """Views (by start time and dimension codes) that `incident` affects."""
    mask = (start_ms >= to_ms(incident.start)) & (start_ms < to_ms(incident.end))
    for name, value in incident.filters.items():
        if not mask.any():
            break
        values = dims[name].values.to_pylist()
        mask &= dims[name].codes == (values.index(value) if value in values else -1)
    return mask


def view_effects(incidents: tuple[Incident, ...], start_ms: NDArray[np.int64], dims: dict[str, Coded]) -> ViewEffects:
    """The effects of `incidents` (one customer's) on the views starting at `start_ms` with `dims`."""
    n = start_ms.size
    added = {k: np.zeros(n) for k in ("startup_failure", "playback_failure", "exit_before_start")}
    factor = {k: np.ones(n) for k in ("stall_ratio", "startup_time", "bitrate")}
    ad_errors = np.full(n, np.nan)
    code = np.full(n, NO_CODE, dtype=np.int64)
    touched: list[tuple[str, NDArray[np.bool_]]] = []
    for incident in incidents:
        mask = incident_mask(incident, start_ms, dims)
        if not mask.any():
            continue
        touched.append((incident.name, mask))
        if incident.error_code:
            code[mask] = ERROR_INDEX[incident.error_code]
        for effect in incident.effects:
            if effect.kind in added:
                added[effect.kind][mask] += effect.magnitude
            elif effect.kind in factor:
                factor[effect.kind][mask] *= effect.magnitude
            else:
                ad_errors[mask] = np.fmax(ad_errors[mask], effect.magnitude)
    return ViewEffects(
        startup_failure=added["startup_failure"],
        playback_failure=added["playback_failure"],
        exit_before_start=added["exit_before_start"],
        stall_ratio=factor["stall_ratio"],
        startup_time=factor["startup_time"],
        bitrate=factor["bitrate"],
        ad_errors=ad_errors,
        failure_code=code,
        incidents=_names(touched, n),
    )


def _names(touched: list[tuple[str, NDArray[np.bool_]]], n: int) -> Coded:
    """Per view, the names of the incidents whose mask holds it, joined by ","."""
    if not touched:
        return Coded(pa.array([""]), np.zeros(n, dtype=np.int32))
    matrix = np.stack([mask for _, mask in touched], axis=1)
    combos, inverse = np.unique(matrix, axis=0, return_inverse=True)
    names = [",".join(name for (name, _), hit in zip(touched, row, strict=True) if hit) for row in combos]
    return Coded(pa.array(names), inverse.reshape(-1).astype(np.int32))
