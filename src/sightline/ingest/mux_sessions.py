"""The decoding state of the mux-embed views seen lately, and one lock per view.

Bounded: at most `max_views` states, the least recently used forgotten first. A forgotten view (or every
view, after a restart) resynchronises at its next full event (`mux.decode_view`); what it sent between is
ignored. The lock serialises the bodies of one view, so that each is decoded against the state the
previous one left (mux-embed has one body in flight per player, except at page unload). Used from the
event loop only.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict

from sightline.ingest.mux import MuxViewState

MuxViewKey = tuple[int, str]
"""(customer id, mux view id)."""


class MuxViews:
    """Per-view decoding state, least recently used first out."""

    def __init__(self, max_views: int = 50_000) -> None:
        self._states: OrderedDict[MuxViewKey, MuxViewState] = OrderedDict()
        self._locks: weakref.WeakValueDictionary[MuxViewKey, asyncio.Lock] = weakref.WeakValueDictionary()
        self._max_views = max_views

    def lock(self, key: MuxViewKey) -> asyncio.Lock:
        """The lock of a view; it lives as long as someone holds or waits for it."""
        found = self._locks.get(key)
        if found is None:
            found = self._locks[key] = asyncio.Lock()
        return found

    def get(self, key: MuxViewKey) -> MuxViewState | None:
        return self._states.get(key)

    def put(self, key: MuxViewKey, state: MuxViewState) -> None:
        self._states[key] = state
        self._states.move_to_end(key)
        while len(self._states) > self._max_views:
            self._states.popitem(last=False)

    def __len__(self) -> int:
        return len(self._states)
