"""Stored alert rules that checks added since refuse, mended rather than left out of every listing and round
(`alerts.store.mended`: a name's line separators and bidirectional controls, minimums past 1,000,000,000, a
recipient URL that no client can send to).

Revision ID: 0007
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from sightline.alerts.store import mended

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


def upgrade() -> None:
    rules = sa.table(
        "alert_rules", sa.column("id", sa.String()), sa.column("customer_id", sa.BigInteger()), sa.column("definition")
    )
    connection = op.get_bind()
    for rule_id, customer_id, definition in connection.execute(
        sa.select(rules.c.id, rules.c.customer_id, rules.c.definition)
    ).all():
        text = mended(rule_id, customer_id, definition)
        if text is not None:
            connection.execute(sa.update(rules).where(rules.c.id == rule_id).values(definition=text))
            log.warning("alert rule %s of customer %s mended to what the checks now allow", rule_id, customer_id)


def downgrade() -> None:
    """Nothing to undo: the mended definitions are valid at every revision."""
