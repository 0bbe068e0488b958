"""The formats' session states and the sessionizer's views shared by the processes of a service over a server store
(ingest/shared_states.py, ingest/shared_views.py).

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_states",
        sa.Column("format", sa.String(50), primary_key=True),
        sa.Column("customer_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("session", sa.Text(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("due_ms", sa.BigInteger(), nullable=True),
        sa.Column("written_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_session_states_due_ms", "session_states", ["due_ms"])
    op.create_index("ix_session_states_written_ms", "session_states", ["written_ms"])
    op.create_table(
        "session_views",
        sa.Column("view_id", sa.LargeBinary(16), primary_key=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_session_views_last_seen_ms", "session_views", ["last_seen_ms"])


def downgrade() -> None:
    op.drop_table("session_views")
    op.drop_table("session_states")
