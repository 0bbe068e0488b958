"""From event groups to the ordered event rows of views: timestamps, sequence numbers and deltas.

A group is a short fixed pattern of events (a stall is `stall_start` + `stall_end`, an ad is up to eight
ad events) placed at a content play position of its view. Groups are emitted in build order (play
request, pre-roll, first frame or pre-start end, body, heartbeats, post-roll, terminal); a stable sort
on (view, play position) keeps each group contiguous and ties in build order.

Invariants of the output, per view: rows are contiguous and in `seq` order 0..n-1; `play_request`
has `ts` = the view start; `play_ms` is the play position difference from the previous row, so the
view's `play_ms` sums to its last play position; every other delta is carried by exactly one row.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from sightline.catalog.events import EVENT_TYPES

# One template event: (event type, wall ∝ dur, wall ∝ aux, ad_ms ∝ dur, rebuffer_ms ∝ dur).
TemplateEvent = tuple[str, float, float, float, float]


def _quiet(event: str) -> TemplateEvent:
    return (event, 0.0, 0.0, 0.0, 0.0)


def _after(event: str) -> TemplateEvent:
    return (event, 1.0, 0.0, 0.0, 0.0)


def _ad(event: str, share: float, aux: float = 0.0) -> TemplateEvent:
    return (event, share, aux, share, 0.0)


_AD_HEAD = (_quiet("ad_request"), ("ad_impression", 0.0, 1.0, 0.0, 0.0), _quiet("ad_start"))

TEMPLATES: dict[str, tuple[TemplateEvent, ...]] = {
    "play_request": (_quiet("play_request"),),
    "first_frame": (_after("first_frame"),),
    "exit": (_after("exit"),),
    "fail": (_after("error"),),
    "end": (_after("end"),),
    "heartbeat": (_quiet("heartbeat"),),
    "stall": (_quiet("stall_start"), ("stall_end", 1.0, 0.0, 0.0, 1.0)),
    "pause": (_quiet("pause"), _after("resume")),
    "seek": (_quiet("seek_start"), _after("seek_end")),
    "rendition": (_quiet("rendition_change"),),
    "cdn_change": (_quiet("cdn_change"),),
    "error": (_quiet("error"),),
    "ad_full": (
        *_AD_HEAD,
        _ad("ad_first_quartile", 0.25),
        _ad("ad_midpoint", 0.25),
        _ad("ad_third_quartile", 0.25),
        _ad("ad_complete", 0.25),
    ),
    "ad_click": (
        *_AD_HEAD,
        _ad("ad_first_quartile", 0.25),
        _ad("ad_click", 0.1),
        _ad("ad_midpoint", 0.15),
        _ad("ad_third_quartile", 0.25),
        _ad("ad_complete", 0.25),
    ),
    "ad_skip": (*_AD_HEAD, _ad("ad_first_quartile", 0.25), _ad("ad_skip", 0.1)),
    "ad_stall": (
        *_AD_HEAD,
        _ad("ad_first_quartile", 0.25),
        _ad("ad_midpoint", 0.25),
        _quiet("ad_stall"),
        _ad("ad_third_quartile", 0.25, aux=1.0),
        _ad("ad_complete", 0.25),
    ),
    "ad_error": (_quiet("ad_request"), ("ad_error", 0.0, 1.0, 0.0, 0.0)),
    "ad_nofill": (_quiet("ad_request"),),
    "ad_abandon": (*_AD_HEAD, _ad("ad_first_quartile", 0.25)),
}
TEMPLATE_NAMES: tuple[str, ...] = tuple(TEMPLATES)
T = {name: i for i, name in enumerate(TEMPLATE_NAMES)}
EVENT = {name: i for i, name in enumerate(EVENT_TYPES)}
AD_EVENTS = np.array([name.startswith("ad_") for name in EVENT_TYPES])

_WIDTH = max(len(t) for t in TEMPLATES.values())
_LENGTH = np.array([len(TEMPLATES[n]) for n in TEMPLATE_NAMES], dtype=np.int64)
_TABLE = np.zeros((len(TEMPLATES), _WIDTH, 5))
for _i, _name in enumerate(TEMPLATE_NAMES):
    for _j, (_event, *_shares) in enumerate(TEMPLATES[_name]):
        _TABLE[_i, _j] = (EVENT[_event], *_shares)


@dataclass(frozen=True, slots=True)
class Groups:
    """Event groups in build order. `code` is the error index, the new rendition level (also the
    level at the first frame) or the ad creative; `ad_position` is 0 none, 1 pre-, 2 mid-, 3 post-roll."""

    view: NDArray[np.int64]
    pos: NDArray[np.int64]
    template: NDArray[np.int64]
    dur: NDArray[np.int64]
    aux: NDArray[np.int64]
    code: NDArray[np.int64]
    ad_position: NDArray[np.int64]

    @staticmethod
    def concat(parts: list[Groups]) -> Groups:
        return Groups(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Groups)})


def make_groups(
    view: NDArray[np.int64],
    template: str | NDArray[np.int64],
    *,
    pos: NDArray[np.int64] | int = 0,
    dur: NDArray[np.int64] | int = 0,
    aux: NDArray[np.int64] | int = 0,
    code: NDArray[np.int64] | int = 0,
    ad_position: int = 0,
) -> Groups:
    """Groups for `view` (one each), scalars broadcast."""
    n = view.size

    def full(value: NDArray[np.int64] | int) -> NDArray[np.int64]:
        return np.broadcast_to(np.asarray(value, dtype=np.int64), (n,)).copy()

    tpl = full(T[template]) if isinstance(template, str) else template.astype(np.int64)
    return Groups(view.astype(np.int64), full(pos), tpl, full(dur), full(aux), full(code), full(ad_position))


@dataclass(frozen=True, slots=True)
class Timeline:
    """Event rows of a set of views, ordered by (view, seq)."""

    view: NDArray[np.int64]
    event: NDArray[np.int64]  # index into EVENT_TYPES
    group: NDArray[np.int64]  # index into the Groups the timeline was built from
    seq: NDArray[np.int64]
    ts: NDArray[np.int64]
    play_ms: NDArray[np.int64]
    extra_ms: NDArray[np.int64]  # wall time besides play since the previous row
    rebuffer_ms: NDArray[np.int64]
    ad_ms: NDArray[np.int64]
    started: NDArray[np.int64]
    level_before: NDArray[np.int64]  # rendition level in effect since the previous row
    view_first: NDArray[np.int64]  # per view: index of its first row
    view_end_ms: NDArray[np.int64]  # per view: ts of its last row


def _previous(values: NDArray[np.int64], first_of_view: NDArray[np.bool_], fill: int) -> NDArray[np.int64]:
    shifted = np.empty_like(values)
    shifted[1:] = values[:-1]
    shifted[:1] = fill
    return np.where(first_of_view, fill, shifted)


def build_timeline(g: Groups, start_ms: NDArray[np.int64]) -> Timeline:
    """The rows of views `0..len(start_ms)-1` from their groups (see the module invariants)."""
    length = _LENGTH[g.template]
    group = np.repeat(np.arange(g.view.size), length)
    within = np.arange(group.size) - np.repeat(np.cumsum(length) - length, length)
    view = g.view[group]
    order = np.argsort((view << 32) | g.pos[group], kind="stable")
    group, within, view = group[order], within[order], view[order]
    row = _TABLE[g.template[group], within]
    event = row[:, 0].astype(np.int64)

    # the rendition level each row leaves in effect: set by play_request (0), first_frame, rendition_change
    sets = np.isin(event, (EVENT["play_request"], EVENT["first_frame"], EVENT["rendition_change"]))
    level_set = np.where(event == EVENT["play_request"], 0, g.code[group])
    last_set = np.maximum.accumulate(np.where(sets, np.arange(event.size), 0))
    level_after = level_set[last_set]
    first_of_view = np.ones(event.size, dtype=bool)
    first_of_view[1:] = view[1:] != view[:-1]
    level_before = _previous(level_after, first_of_view, 0)
    keep = ~((event == EVENT["rendition_change"]) & (level_set == level_before))
    group, within, view, row, event = group[keep], within[keep], view[keep], row[keep], event[keep]
    level_before, first_of_view = level_before[keep], first_of_view[keep]

    dur = g.dur[group].astype(np.float64)
    extra = np.floor(dur * row[:, 1]).astype(np.int64) + np.floor(g.aux[group] * row[:, 2]).astype(np.int64)
    pos = g.pos[group]
    play = pos - _previous(pos, first_of_view, 0)
    play[first_of_view] = 0
    view_first = np.searchsorted(view, np.arange(start_ms.size))
    wall = np.cumsum(play + extra)
    ts = start_ms[view] + wall - (wall - play - extra)[view_first][view]
    is_ff = (event == EVENT["first_frame"]).astype(np.int64)
    ff_count = np.cumsum(is_ff)
    started = ff_count - (ff_count - is_ff)[view_first][view]
    view_last = np.append(view_first[1:], event.size)[: start_ms.size] - 1  # empty when there are no views
    return Timeline(
        view=view,
        event=event,
        group=group,
        seq=np.arange(event.size) - view_first[view],
        ts=ts,
        play_ms=play,
        extra_ms=extra,
        rebuffer_ms=np.floor(dur * row[:, 4]).astype(np.int64),
        ad_ms=np.floor(dur * row[:, 3]).astype(np.int64),
        started=started,
        level_before=level_before,
        view_first=view_first,
        view_end_ms=ts[view_last],
    )
