"""Alembic environment: runs the revisions on the connection that `sightline.auth.db.migrate` passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sightline.alerts import outbox  # noqa: F401  (its tables are on Base's metadata too)
from sightline.auth import leases  # noqa: F401  (so is its table)
from sightline.auth.models import Base
from sightline.ingest import shared_states, shared_views  # noqa: F401  (and the shared ingest state's)

connection: Connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
