"""Notices raised one at a time (workflow steps): written in the caller's
transaction, e-mailed through the outbox after it commits."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from flask import current_app, has_app_context

from app.context import ServiceContext
from app.notifications.raising import raise_notification

SEND_EMAILS = "jobs.notification_jobs.send_emails"


def email_configured() -> bool:
    return has_app_context() and bool(current_app.config.get("SMTP_HOST"))


def notify_users(ctx: ServiceContext, *, rule: str, message: Mapping[str, str], dedup_key: str,
                 recipients: Iterable[str], entity: str | None = None, record_id: int | None = None,
                 record_name: str | None = None, warehouse_id: int | None = None,
                 data: Mapping[str, Any] | None = None, severity: str = "info") -> int | None:
    """Address a notice to ``recipients`` (the inbox now, e-mail after the commit)."""
    names = sorted(set(recipients))
    if not names:
        return None
    tables = {n: ctx.models.table(n) for n in ("notification", "notification_recipient")}
    new_id = raise_notification(ctx.session.connection(), tables, rule=rule, kind="workflow",
                                severity=severity, message=message, dedup_key=dedup_key, now=ctx.now(),
                                entity=entity, record_id=record_id, record_name=record_name,
                                warehouse_id=warehouse_id, data=data, recipients=names)
    if new_id is not None and ctx.jobs is not None and email_configured():
        ctx.jobs.after_commit(ctx.session, SEND_EMAILS, description=f"e-mail notice {new_id} ({rule})")
    return new_id


def latest_transition_id(ctx: ServiceContext, entity: str, record_id: int) -> int | None:
    H = ctx.models.table("workflow_transition")
    return ctx.session.execute(sa.select(sa.func.max(H.c.id)).where(
        H.c.entity == entity, H.c.record_id == record_id)).scalar()
