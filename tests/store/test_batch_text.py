"""Text columns of an event batch are stored as their values whatever their Arrow encoding: plain, or
dictionary-encoded in chunks of different dictionaries (as batches joined together have them), on every backend."""

from __future__ import annotations

from collections import Counter

from sightline.store import Store
from tests.handwritten import by_hand
from tests.store.test_server import text_batch


def test_dictionary_encoded_text_is_stored_as_its_values(store: Store) -> None:
    events, _ = text_batch(rows_per_dictionary=300, values=40, length=30)
    store.insert_events(events)
    stored = store.query(by_hand("SELECT assetname, count() AS n FROM events GROUP BY assetname"))
    found = dict(zip(stored.column("assetname").to_pylist(), stored.column("n").to_pylist(), strict=True))
    assert found == Counter(events.column("assetname").to_pylist())
