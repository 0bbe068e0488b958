"""A bounded map of the collector's per-customer state (views, format sessions) whose evictions are fair.

Each entry belongs to a customer. Entries are kept least recently touched first, over all customers (`items`,
for the sweepers' time order) and per customer (`items_of`). What a bound evicts is taken from the customers
that hold the most first (`customers_by_size`): a customer flooding new views or sessions evicts its own, and
another customer's state in progress is kept while that customer holds less than the flooder.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class CustomerLru(Generic[Key, Value]):
    """Entries by key, each of a customer, in the order they were last touched. Not thread-safe."""

    def __init__(self) -> None:
        self._all: OrderedDict[Key, tuple[int, Value]] = OrderedDict()
        self._of: dict[int, OrderedDict[Key, None]] = {}

    def __len__(self) -> int:
        return len(self._all)

    def __contains__(self, key: Key) -> bool:
        return key in self._all

    def get(self, key: Key) -> Value | None:
        found = self._all.get(key)
        return found[1] if found is not None else None

    def put(self, key: Key, customer_id: int, value: Value) -> None:
        """Add or replace the entry of `key`, as the most recently touched."""
        self.pop(key)
        self._all[key] = (customer_id, value)
        self._of.setdefault(customer_id, OrderedDict())[key] = None

    def touch(self, key: Key) -> None:
        """Make the entry of `key` (which must be here) the most recently touched."""
        self._all.move_to_end(key)
        self._of[self._all[key][0]].move_to_end(key)

    def pop(self, key: Key) -> Value | None:
        """Remove the entry of `key`; its value (None when absent)."""
        found = self._all.pop(key, None)
        if found is None:
            return None
        keys = self._of[found[0]]
        del keys[key]
        if not keys:
            del self._of[found[0]]
        return found[1]

    def items(self) -> Iterator[tuple[Key, Value]]:
        """Every entry, least recently touched first (do not change the map while iterating)."""
        return ((key, value) for key, (_, value) in self._all.items())

    def items_of(self, customer_id: int) -> Iterator[tuple[Key, Value]]:
        """The customer's entries, least recently touched first (do not change the map while iterating)."""
        return ((key, self._all[key][1]) for key in self._of.get(customer_id, ()))

    def count(self, customer_id: int) -> int:
        """The customer's entries."""
        return len(self._of.get(customer_id, ()))

    def customers_by_size(self) -> list[int]:
        """The customers with entries, those with the most first."""
        return sorted(self._of, key=self.count, reverse=True)
