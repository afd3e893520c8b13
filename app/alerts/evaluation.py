"""One evaluation of a scheduled alert rule, set-based.

The rule's rows (``sources``) filtered by its condition (``conditions``) are
the alerts that hold now, each with its deduplication key computed in SQL.
Keys that are not open yet are raised (only those rows come to Python, to
write their message); open alerts whose key no longer holds are cleared
(resolved by the system, and the key may be raised again later). So a lot is
raised once per threshold, not every night; and when its stock is gone, or
it crosses to the next threshold, the old alert closes itself.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.alerts.conditions import to_sql
from app.alerts.sources import QUERIES, entity_select
from app.context import ServiceContext
from app.meta.alerts import AlertRule
from app.notifications.raising import jsonable, placeholders, render

CHUNK = 2000


def rule_select(ctx: ServiceContext, rule: AlertRule, today: dt.date, now: dt.datetime) -> sa.Select:
    dialect = ctx.session.get_bind().dialect.name
    t = rule.trigger
    if t.kind == "cron":
        return QUERIES[t.query].build(ctx.models, dialect, today, now, ctx.workflows)
    return entity_select(ctx.models, t.entity, dialect=dialect, today=today, date_field=t.field,
                         days=t.days, warehouse=t.warehouse)


def record_of(rule: AlertRule) -> tuple[str | None, str, str, str | None]:
    """(entity, id column, title column, column naming the entity) of the alert's record."""
    t = rule.trigger
    if t.kind == "cron":
        q = QUERIES[t.query]
        return q.entity, q.id_column, q.name_column, q.entity_column
    return t.entity, "id", "record_name", None


def dedup_key(columns, names) -> sa.ColumnElement:
    parts = [sa.func.coalesce(sa.cast(columns[n], sa.String), "") for n in names]
    key = parts[0]
    for part in parts[1:]:
        key = key + sa.literal(":") + part
    return key


def evaluate(ctx: ServiceContext, rule: AlertRule, *, today: dt.date | None = None,
             progress=None) -> dict:
    """Raise and clear ``rule``'s alerts; the caller commits."""
    now = ctx.now()
    today = today or now.date()
    N = ctx.models.table("notification")
    candidates = rule_select(ctx, rule, today, now).subquery("candidates")
    cols = {name: candidates.c[name] for name in candidates.c.keys()}
    holds = to_sql(rule.condition, cols, today) if rule.condition else sa.true()
    current = (sa.select(*cols.values(), dedup_key(cols, rule.dedup).label("dedup_key"))
               .where(holds)).subquery("current")
    open_key = sa.select(N.c.id).where(N.c.rule == rule.name, N.c.cleared_at.is_(None),
                                       N.c.dedup_key == current.c.dedup_key)
    new_rows = ctx.session.execute(sa.select(current).where(~sa.exists(open_key))).mappings().all()

    entity, id_col, name_col, entity_col = record_of(rule)
    used = sorted({name for text in rule.message.values() for name in placeholders(text)})
    raised = 0
    for start in range(0, len(new_rows), CHUNK):
        chunk = new_rows[start:start + CHUNK]
        ctx.session.execute(N.insert(), [_notification(rule, row, now, entity, id_col, name_col, entity_col, used)
                                         for row in chunk])
        raised += len(chunk)
        if progress:
            progress(raised, len(new_rows) + 1)
    holding = sa.select(current.c.dedup_key)
    cleared = ctx.session.execute(N.update().where(
        N.c.rule == rule.name, N.c.cleared_at.is_(None), N.c.dedup_key.notin_(holding)).values(
        cleared_at=now, state="resolved",
        resolved_by=sa.func.coalesce(N.c.resolved_by, "system"),
        resolved_at=sa.func.coalesce(N.c.resolved_at, now))).rowcount
    if progress:
        progress(len(new_rows) + 1, len(new_rows) + 1)
    return {"rule": rule.name, "raised": raised, "cleared": cleared, "as_of": today.isoformat()}


def _notification(rule: AlertRule, row, now, entity, id_col, name_col, entity_col, used) -> dict:
    values = {k: v for k, v in row.items() if k != "dedup_key"}
    return {
        "rule": rule.name, "kind": "alert", "severity": rule.severity_for(values.get("threshold")),
        "regulatory": rule.regulatory, "dedup_key": row["dedup_key"][:255],
        "entity": values.get(entity_col) if entity_col else entity,
        "record_id": values.get(id_col), "record_name": str(values.get(name_col) or "")[:128] or None,
        "warehouse_id": values.get("warehouse_id"),
        "role": values.get(rule.role_field) if rule.role_field else None,
        "data": {k: jsonable(v) for k, v in values.items()},
        "message": render(rule.message, values, used), "raised_at": now, "state": "open",
    }
