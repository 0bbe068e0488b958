"""The alerts' tables in the metadata database (SQLAlchemy 2, the accounts' `Base`; Alembic revision 0003).

Invariants: a rule's `definition` is the JSON of its `RuleInput` (webhook secrets included: notifications sign with
them; the API never answers them); `judged_until` is the end of the last interval the engine judged for the rule,
committed with that round's alert changes, so a round is neither lost nor repeated. An alert is one episode of one
rule × cohort: (rule_id, cohort, started_at) is unique, and its id is derived from them, so a round run twice
yields the same alert. Times are UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sightline.auth.models import Base, UtcDateTime


class AlertRuleRow(Base):
    __tablename__ = "alert_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    definition: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    judged_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AlertCustomerRow(Base):
    """A customer whose default rules were added (once: a customer may delete them afterwards)."""

    __tablename__ = "alert_customers"

    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    defaults_added_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AlertRow(Base):
    """One alert: its state in columns, and what getAIAlerts answers of it besides them in `body` (JSON)."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("rule_id", "cohort", "started_at", name="uq_alerts_episode"),
        Index("ix_alerts_customer_started_at", "customer_id", "started_at"),
        Index("ix_alerts_rule_status", "rule_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("customers.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(36))
    cohort: Mapped[str] = mapped_column(String(1000))
    metric: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    clean_intervals: Mapped[int]
    escalations: Mapped[int]
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(254))
    muted_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    muted_by: Mapped[str | None] = mapped_column(String(254))
    body: Mapped[str] = mapped_column(Text)
