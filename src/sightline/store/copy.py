"""`sightline copy`: the events of a data directory into a server store, so that a user who started embedded can
grow (`sightline copy --from chdb://DIR --to clickhouse://…`).

Invariant: a rerun changes nothing. Events are copied a customer's slice of a day at a time, each slice in the
order of its key, so the same events make the same batch; a batch is inserted under a token made from its
content (a replay after a crash, rollups included, lands once), and a batch the server already holds whole is
not sent again. A batch of which the server holds a part (the source changed between two runs) stops the copy
with a message saying so: inserting it would store that part twice. The views and rollups of the server are
built from the copied events by its materialized views, as ingest builds them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from sightline.query.printer import print_select
from sightline.store.base import Store, StoreError
from sightline.store.layout import conform, stored_batch
from sightline.store.migrations import event_counts

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Copied:
    """What a copy did: events inserted, and events the server held already."""

    inserted: int = 0
    present: int = 0


def copy_events(
    source: Store, destination: Store, *, batch_rows: int = 100_000, progress: Callable[[int], object] | None = None
) -> Copied:
    """Copy every event of `source` into `destination` (see the module's docstring); `progress` hears the
    events of each batch done."""
    inserted = present = 0
    for customer_id, day, count in event_counts(source):
        start = int(datetime.strptime(str(day), "%Y%m%d").replace(tzinfo=UTC).timestamp() * 1000)
        slices = max(1, math.ceil(count / batch_rows))
        for k in range(slices):
            low, high = start + DAY_MS * k // slices, start + DAY_MS * (k + 1) // slices
            batch = conform(source.read_internal(print_select(stored_batch(customer_id, low, high))))
            if batch.num_rows == 0:
                continue
            held = destination.count_stored(batch)
            if held == batch.num_rows:
                present += held
            elif held == 0:
                destination.insert_events(batch, dedup_token=f"copy-{_digest(batch)}")
                inserted += batch.num_rows
            else:
                raise StoreError(
                    f"the server holds {held} of the {batch.num_rows} events of customer {customer_id} from "
                    f"{datetime.fromtimestamp(low / 1000, UTC):%Y-%m-%d %H:%M} to "
                    f"{datetime.fromtimestamp(high / 1000, UTC):%H:%M} UTC: the data directory changed since they "
                    "were copied; copying them again would store some twice"
                )
            if progress is not None:
                progress(batch.num_rows)
    return Copied(inserted, present)


def _digest(batch: pa.Table) -> str:
    """A digest of `batch`'s content (its schema is the layout's): the same events, the same digest."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_table(batch.combine_chunks())
    return hashlib.sha256(sink.getvalue()).hexdigest()
