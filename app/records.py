"""Rules that hold for every write of a metadata entity, whoever makes it.

A single ``before_flush`` hook covers the generated screens, the REST API and
the services alike: naming series, required fields and enum options, CEL rules,
warehouse scope and the append-only audit trail.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.actor import Actor, current_actor
from app.domain.errors import Conflict, Forbidden, ValidationFailed
from app.domain.expressions import ExpressionError, evaluate_bool
from app.meta.model import EntityMeta

# Rows to audit are collected before the flush (while history is available)
# and written after it (when new rows have their ids).
_PENDING = "medtrace_pending_audit"


def entity_of(obj: Any) -> EntityMeta | None:
    return getattr(type(obj), "__entity__", None)


def record_context(obj: Any, entity: EntityMeta) -> dict:
    """The values a CEL rule sees: each field by name (links as ids)."""
    ctx: dict[str, Any] = {"id": obj.id}
    for f in entity.fields.values():
        if f.type == "table":
            continue
        if f.type == "link":
            value = getattr(obj, f.column)
            if value is None:
                related = getattr(obj, f.name, None)
                if related is not None:
                    # not flushed yet: a stand-in id that is unique per object keeps
                    # rules such as `from_warehouse != to_warehouse` meaningful
                    value = related.id if related.id is not None else -(id(related) % 10**9)
            ctx[f.name] = value
        else:
            ctx[f.name] = getattr(obj, f.name)
    if getattr(obj, "name", None) is not None:
        ctx["name"] = obj.name
    return ctx


def check_record(obj: Any, entity: EntityMeta, actor: Actor) -> None:
    """Raise ValidationFailed listing every problem with this record, in English
    and Chinese (the API answers in the user's language)."""
    problems: list[tuple[str, str]] = []
    ctx = record_context(obj, entity)
    for f in entity.fields.values():
        value = ctx.get(f.name)
        if f.type == "table":
            continue
        if f.required and value in (None, "") and f.default is None:
            problems.append((f"{f.label['en']} ({f.name}) is required", f"{f.label['zh']}（{f.name}）为必填项"))
        if f.type == "enum" and value not in (None, "") and value not in f.options:
            options = ", ".join(f.options)
            problems.append((f"{f.name}: {value!r} is not one of {options}",
                             f"{f.label['zh']}：{value!r} 不是可选值（{options}）"))
    if not problems:
        for rule in entity.rules:
            try:
                ok = evaluate_bool(rule.expr, ctx)
            except ExpressionError:
                ok = False
            if not ok:
                problems.append((rule.message["en"], rule.message["zh"]))
    if problems:
        raise ValidationFailed(
            f"{entity.label['en']}: " + "; ".join(en for en, _ in problems),
            details={"entity": entity.name, "problems": [en for en, _ in problems]},
            zh=f"{entity.label['zh']}：" + "；".join(zh for _, zh in problems))


def scope_values(obj: Any, entity: EntityMeta) -> list[int | None]:
    values = []
    for name in entity.scope_fields:
        if name == "id":
            values.append(obj.id)
        else:
            column = entity.fields[name].column
            value = getattr(obj, column)
            if value is None:
                related = getattr(obj, name, None)
                value = related.id if related is not None else None
            values.append(value)
    return values


def check_scope(obj: Any, entity: EntityMeta, actor: Actor, creating: bool) -> None:
    """A user may only write records whose owning warehouse (the first scope
    field, e.g. a transfer's source) is granted to them; a line follows its
    document. Seeing a record (any scope field) does not let one change it."""
    if actor.warehouse_ids is None:
        return
    if entity.table_of:
        parent = getattr(obj, "parent", None)
        if parent is not None:
            check_scope(parent, entity_of(parent), actor, creating=False)
        return
    if not entity.scope_fields:
        return
    if creating and entity.scope_fields[0] == "id":
        return  # a new warehouse has no id yet; creating one needs the create permission
    owner = scope_values(obj, entity)[0]
    if owner not in actor.warehouse_ids:
        raise Forbidden(
            f"{entity.label['en']}: warehouse outside your data scope; "
            "ask an administrator for a data access grant",
            zh=f"{entity.label['zh']}：仓库不在您的数据权限范围内，请联系管理员授予数据权限")


def _plain(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def next_in_series(session: Session, table: sa.Table, prefix: str) -> int:
    """Atomically take the next counter for ``prefix``: one upsert, row-locked."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(prefix=prefix, current=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["prefix"], set_={"current": table.c.current + 1}
    ).returning(table.c.current)
    return session.connection().execute(stmt).scalar_one()


def format_series(pattern: str, now: dt.datetime, counter_fn) -> str:
    import re
    text = (pattern.replace("{YYYY}", f"{now:%Y}").replace("{YY}", f"{now:%y}")
            .replace("{MM}", f"{now:%m}").replace("{DD}", f"{now:%d}"))
    match = re.search(r"\{(#+)\}", text)
    prefix = text[: match.start()] + "#" + text[match.end():]
    number = counter_fn(prefix)
    return text[: match.start()] + str(number).zfill(len(match.group(1))) + text[match.end():]


def _audit_rows(obj, entity: EntityMeta, action: str, actor: Actor, now) -> list[dict]:
    base = {"at": now, "username": actor.username, "entity": entity.name, "action": action}
    state = inspect(obj)
    rows = []
    columns = [c.key for c in state.mapper.column_attrs
               if c.key not in ("id", "created_at", "updated_at", "created_by", "updated_by")]
    for key in columns:
        if action == "create":
            new = getattr(obj, key)
            if new is not None:
                rows.append({**base, "field": key, "old_value": None, "new_value": _plain(new)})
        elif action == "update":
            hist = state.attrs[key].history
            if hist.has_changes():
                old = hist.deleted[0] if hist.deleted else None
                new = hist.added[0] if hist.added else None
                if _plain(old) != _plain(new):
                    rows.append({**base, "field": key, "old_value": _plain(old),
                                 "new_value": _plain(new)})
        else:  # delete: keep the last values
            value = getattr(obj, key)
            if value is not None:
                rows.append({**base, "field": key, "old_value": _plain(value), "new_value": None})
    if action == "delete" and not rows:
        rows.append({**base, "field": None, "old_value": None, "new_value": None})
    return rows


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context, instances) -> None:
    actor = current_actor()
    # services check scope themselves (e.g. a transit location belongs to no
    # warehouse); the generic screens and APIs are checked here
    if session.info.get("medtrace_service_write"):
        actor = replace(actor, warehouse_ids=None)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    pending = session.info.setdefault(_PENDING, [])
    for obj in list(session.new):
        entity = entity_of(obj)
        if entity is None:
            continue
        obj.created_by = obj.created_by or actor.username
        obj.updated_by = actor.username
        if entity.naming and not getattr(obj, "name", None):
            table = type(obj).metadata.tables["naming_series"]
            obj.name = format_series(entity.naming, now,
                                     lambda prefix: next_in_series(session, table, prefix))
        check_record(obj, entity, actor)
        check_scope(obj, entity, actor, creating=True)
        check_workflow_state(session, obj, creating=True)
        if entity.audit:
            pending.append((obj, entity, "create"))
    for obj in list(session.dirty):
        entity = entity_of(obj)
        if entity is None or not session.is_modified(obj, include_collections=False):
            continue
        obj.updated_by = actor.username
        check_record(obj, entity, actor)
        check_scope(obj, entity, actor, creating=False)
        check_workflow_state(session, obj, creating=False)
        # the scope must hold before the change as well as after it
        old_values = _committed_scope(obj, entity)
        if actor.warehouse_ids is not None and entity.scope_fields and \
                old_values[0] not in actor.warehouse_ids:
            raise Forbidden(f"{entity.label['en']}: record outside your data scope",
                            zh=f"{entity.label['zh']}：记录不在您的数据权限范围内")
        if entity.audit:
            pending.append(("update", obj, entity, _audit_rows(obj, entity, "update", actor, now)))
    for obj in list(session.deleted):
        entity = entity_of(obj)
        if entity is None:
            continue
        check_scope(obj, entity, actor, creating=False)
        check_workflow_state(session, obj, creating=False)
        if entity.audit:
            pending.append(("delete", obj, entity,
                            _audit_rows(obj, entity, "delete", actor, now)))


def check_workflow_state(session: Session, obj: Any, creating: bool) -> None:
    """A document's state moves only through a workflow transition, and once it
    has left its first state only services (posting, transitions) change it."""
    # a line (table_of entity) follows its document's state
    parent = getattr(obj, "parent", None) if entity_of(obj).table_of else None
    target = parent if parent is not None else obj
    workflow = getattr(type(target), "__workflow__", None)
    if workflow is None:
        return
    field = workflow.state_field
    if creating and target is obj:
        if getattr(obj, field) in (None, ""):
            setattr(obj, field, workflow.initial)
        elif getattr(obj, field) != workflow.initial:
            raise Conflict(f"a new {workflow.entity} starts in state {workflow.initial}; "
                           "its state changes only through workflow actions")
        return
    if session.info.get("medtrace_service_write"):
        if target is obj and inspect(obj).attrs[field].history.has_changes() and \
                id(obj) not in session.info.get("medtrace_workflow_writes", set()):
            raise Conflict(f"the state of {workflow.entity} changes only through a workflow action")
        return
    state = inspect(target).attrs[field]
    if target is obj and state.history.has_changes():
        raise Conflict(f"the state of {workflow.entity} changes only through a workflow action "
                       "(POST .../actions/<action>), not by editing the field")
    committed = state.history.deleted[0] if state.history.deleted else getattr(target, field)
    if committed != workflow.initial:
        raise Conflict(f"{getattr(target, 'name', '') or workflow.entity} is {committed}: "
                       f"only a {workflow.initial} document can be edited")


def _committed_scope(obj, entity: EntityMeta) -> list:
    state = inspect(obj)
    values = []
    for name in entity.scope_fields:
        key = "id" if name == "id" else entity.fields[name].column
        hist = state.attrs[key].history
        values.append(hist.deleted[0] if hist.deleted else getattr(obj, key))
    return values


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context) -> None:
    pending = session.info.pop(_PENDING, [])
    if not pending:
        return
    actor = current_actor()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows: list[dict] = []
    table = None
    for item in pending:
        if item[-1] == "create":
            obj, entity, _ = item
            prepared = _audit_rows(obj, entity, "create", actor, now)
        else:
            _, obj, entity, prepared = item
        table = type(obj).metadata.tables["audit_log"]
        rows.extend({**r, "record_id": obj.id} for r in prepared)
    if rows and table is not None:
        session.connection().execute(table.insert(), rows)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
