"""The notification tables, on the same MetaData as the compiled entities."""
from __future__ import annotations

import sqlalchemy as sa

SEVERITIES = ("info", "warning", "critical")
STATES = ("open", "resolved")


def define_tables(md: sa.MetaData) -> None:
    if "notification" in md.tables:
        return
    sa.Table(
        "notification", md,
        sa.Column("id", sa.Integer, primary_key=True),
        # the alert rule, or the workflow task (notify_approvers) that raised it
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),  # alert | workflow
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("regulatory", sa.Boolean, nullable=False, default=False),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("entity", sa.String(64)),
        sa.Column("record_id", sa.Integer),
        sa.Column("record_name", sa.String(128)),
        sa.Column("warehouse_id", sa.Integer),
        sa.Column("role", sa.String(64)),  # a recipient role given by the record (approvals)
        sa.Column("data", sa.JSON),  # the record's fields the message was made from
        sa.Column("message", sa.JSON, nullable=False),  # {en, zh}
        sa.Column("raised_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, default="open"),
        sa.Column("resolved_by", sa.String(64)),
        sa.Column("resolved_at", sa.DateTime),
        # the condition stopped holding: the key may be raised again
        sa.Column("cleared_at", sa.DateTime),
        sa.Index("ix_notification_rule_state", "rule", "state"),
        sa.Index("ix_notification_record", "entity", "record_id"),
        sa.Index("ix_notification_warehouse", "warehouse_id"),
        sa.Index("ix_notification_raised", "raised_at"),
        # raised once per key while its condition holds
        sa.Index("uq_notification_open_key", "rule", "dedup_key", unique=True,
                 postgresql_where=sa.text("cleared_at IS NULL"),
                 sqlite_where=sa.text("cleared_at IS NULL")),
    )
    sa.Table(
        "notification_recipient", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("notification_id", sa.Integer, sa.ForeignKey("notification.id"), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Index("ix_notification_recipient_user", "username", "notification_id"),
    )
    sa.Table(
        "notification_ack", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("notification_id", sa.Integer, sa.ForeignKey("notification.id"), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("notification_id", "username", name="uq_notification_ack"),
        sa.Index("ix_notification_ack_user", "username", "notification_id"),
    )
    sa.Table(
        "notification_event", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("notification_id", sa.Integer, sa.ForeignKey("notification.id"), nullable=False,
                  index=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),  # comment | acknowledge | resolve
        sa.Column("comment", sa.Text),
    )
    sa.Table(
        "notification_mute", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("username", "rule", name="uq_notification_mute"),
    )
    sa.Table(
        "notification_email", md,
        # per user: the last notification sent by e-mail (the digest's cursor)
        sa.Column("username", sa.String(64), primary_key=True),
        sa.Column("last_id", sa.Integer, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("last_error", sa.Text),
    )
