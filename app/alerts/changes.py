"""``on_change`` alert rules, raised in the transaction that changes the field.

A ``before_flush`` hook notes which watched fields change (while their old
value is known); ``after_flush`` reads the record as a rule row (the same
columns as a scheduled rule: ``sources.entity_select``), evaluates the
condition (CEL, one record) and writes the notification on the flushing
connection, so it commits or rolls back with the change. E-mail follows
through the outbox (``jobs.notification_jobs.send_emails``) after the commit.

The same hook closes workflow notices whose document moved on: a "waiting for
your approval" is resolved when the document leaves that state.
"""
from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.actor import current_actor
from app.alerts.sources import entity_select
from app.domain.clock import utcnow
from app.domain.expressions import ExpressionError, evaluate_bool
from app.notifications.raising import WORKFLOW_KINDS, raise_notification, render, resolve_open
from app.records.validation import entity_of

_PENDING = "medtrace_alert_changes"
SEND_EMAILS = "jobs.notification_jobs.send_emails"
RULES = "medtrace_alerts"


def _watched(app) -> dict:
    rules = app.extensions.get(RULES) or {}
    out: dict[str, list] = {}
    for rule in rules.values():
        if rule.trigger.kind == "on_change":
            out.setdefault(rule.trigger.entity, []).append(rule)
    return out


def _before_flush(session: Session, flush_context, instances) -> None:
    if not has_app_context() or RULES not in current_app.extensions:
        return
    watched = current_app.extensions.get("medtrace_alerts_by_entity")
    if watched is None:
        watched = current_app.extensions["medtrace_alerts_by_entity"] = _watched(current_app)
    workflows = current_app.extensions["medtrace"].workflows
    pending = session.info.setdefault(_PENDING, [])
    for obj in list(session.dirty):
        entity = entity_of(obj)
        if entity is None:
            continue
        state = inspect(obj)
        for rule in watched.get(entity.name, ()):
            column = entity.fields[rule.trigger.field].column
            history = state.attrs[column].history
            if not history.has_changes():
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old != new and (not rule.trigger.to or new in rule.trigger.to):
                pending.append(("rule", rule, obj, old, new))
        wf = workflows.get(entity.name)
        if wf is not None and state.attrs[wf.state_field].history.has_changes():
            pending.append(("moved", entity.name, obj, None, getattr(obj, wf.state_field)))


def _after_flush(session: Session, flush_context) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending or not has_app_context():
        return
    runtime = current_app.extensions["medtrace"]
    models = runtime.models
    tables = {n: models.table(n) for n in ("notification", "notification_recipient")}
    conn = session.connection()
    now = utcnow()
    raised = 0
    for kind, rule, obj, old, new in pending:
        if kind == "moved":
            resolve_open(conn, tables, entity=rule, record_id=obj.id, rules=WORKFLOW_KINDS,
                         by="system", now=now, keep_prefix=f"{rule}:{obj.id}:{new}:")
            continue
        rows = conn.execute(entity_select(models, rule.trigger.entity, dialect=conn.dialect.name,
                                          today=now.date(), warehouse=rule.trigger.warehouse,
                                          record_ids=[obj.id])).mappings().all()
        for row in rows:
            values = {**row, "old_value": old, "new_value": new}
            try:
                if rule.condition and not evaluate_bool(rule.condition, values):
                    continue
            except ExpressionError:
                continue  # a condition that cannot be evaluated on this record raises nothing
            key = ":".join("" if values.get(k) is None else str(values[k]) for k in rule.dedup)
            if raise_notification(conn, tables, rule=rule.name, kind="alert", severity=rule.severity,
                                  message=render(rule.message, values), dedup_key=key, now=now,
                                  entity=rule.trigger.entity, record_id=obj.id,
                                  record_name=str(values.get("record_name") or ""),
                                  warehouse_id=values.get("warehouse_id"), data=values,
                                  regulatory=rule.regulatory):
                raised += 1
    if raised and current_app.config.get("SMTP_HOST") and runtime.jobs is not None:
        runtime.jobs.after_commit(session, SEND_EMAILS,
                                  description=f"e-mail {raised} alert(s) raised by {current_actor().username}")


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install(session_class=Session) -> None:
    """Register the hook on ``session_class`` (idempotent)."""
    for name, fn in (("before_flush", _before_flush), ("after_flush", _after_flush),
                     ("after_rollback", _after_rollback)):
        if not event.contains(session_class, name, fn):
            event.listen(session_class, name, fn)
