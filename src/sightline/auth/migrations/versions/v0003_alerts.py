"""Alert rules, alerts, and the customers whose default rules were added; existing customers get the defaults.

Revision ID: 0003
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from sightline.alerts.store import default_rule_definitions

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rules = op.create_table(
        "alert_rules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.BigInteger(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("judged_until", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_alert_rules_customer_id", "alert_rules", ["customer_id"])
    marked = op.create_table(
        "alert_customers",
        sa.Column("customer_id", sa.BigInteger(), sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("defaults_added_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.BigInteger(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rule_id", sa.String(36), nullable=False),
        sa.Column("cohort", sa.String(1000), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("clean_intervals", sa.Integer(), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(254), nullable=True),
        sa.Column("muted_until", sa.DateTime(), nullable=True),
        sa.Column("muted_by", sa.String(254), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.UniqueConstraint("rule_id", "cohort", "started_at", name="uq_alerts_episode"),
    )
    op.create_index("ix_alerts_customer_started_at", "alerts", ["customer_id", "started_at"])
    op.create_index("ix_alerts_rule_status", "alerts", ["rule_id", "status"])
    customers = sa.table("customers", sa.column("id", sa.BigInteger()))
    ids = list(op.get_bind().execute(sa.select(customers.c.id)).scalars())
    now = datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC
    op.bulk_insert(
        rules,
        [
            {"id": str(uuid.uuid4()), "customer_id": customer, "definition": text, "created_at": now, "updated_at": now}
            for customer in ids
            for text in default_rule_definitions()
        ],
    )
    op.bulk_insert(marked, [{"customer_id": customer, "defaults_added_at": now} for customer in ids])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("alert_customers")
    op.drop_table("alert_rules")
