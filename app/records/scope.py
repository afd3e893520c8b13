"""Warehouse scope: a user reads and writes only the records of the warehouses
granted to them. Reads are limited in SQL (``scope_condition``); writes are
checked on every flush (``check_scope``)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect

from app.actor import Actor
from app.domain.errors import Forbidden
from app.meta.model import EntityMeta, Metadata
from app.records.validation import entity_of, link_value


def scope_values(obj: Any, entity: EntityMeta) -> list[int | None]:
    values = []
    for name in entity.scope_fields:
        if name == "id":
            values.append(obj.id)
        else:
            values.append(link_value(obj, name, entity.fields[name].column))
    return values


def committed_scope(obj, entity: EntityMeta) -> list:
    state = inspect(obj)
    values = []
    for name in entity.scope_fields:
        key = "id" if name == "id" else entity.fields[name].column
        hist = state.attrs[key].history
        values.append(hist.deleted[0] if hist.deleted else getattr(obj, key))
    return values


def check_scope(obj: Any, entity: EntityMeta, actor: Actor, creating: bool,
                session=None) -> None:
    """A user may only write records whose owning warehouse (the first scope
    field, e.g. a transfer's source) is granted to them; a line follows its
    document. Seeing a record (any scope field) does not let one change it. A
    lot or serial (``scope: {stock: true}``) belongs to every warehouse whose
    stock holds it."""
    if actor.warehouse_ids is None:
        return
    if entity.scope_by_stock:
        if not creating and session is not None:
            held = held_in(session, obj, entity)
            outside = held - actor.warehouse_ids
            if outside:
                raise Forbidden(
                    f"{entity.label['en']}: held in warehouses outside your data scope "
                    f"({len(outside)}); only a user who sees every warehouse holding it may change it",
                    zh=f"{entity.label['zh']}：在您数据权限范围以外的仓库有库存（{len(outside)} 个），"
                       "只有能看到所有持有仓库的用户才能修改")
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


def held_in(session, obj: Any, entity: EntityMeta) -> set[int]:
    """Warehouses whose real stock holds the record (a lot or a serial)."""
    balances = type(obj).metadata.tables.get("stock_balance")
    if balances is None or obj.id is None:
        return set()
    column = balances.c[f"{entity.table}_id"]
    rows = session.execute(sa.select(balances.c.warehouse_id).where(
        column == obj.id, balances.c.is_real, balances.c.quantity > 0).distinct())
    return {r[0] for r in rows if r[0] is not None}


def check_committed_scope(obj: Any, entity: EntityMeta, actor: Actor) -> None:
    """The scope must hold before a change as well as after it."""
    if actor.warehouse_ids is None or not entity.scope_fields:
        return
    if committed_scope(obj, entity)[0] not in actor.warehouse_ids:
        raise Forbidden(f"{entity.label['en']}: record outside your data scope",
                        zh=f"{entity.label['zh']}：记录不在您的数据权限范围内")


def scope_condition(model, entity: EntityMeta, meta: Metadata, ids) -> Any:
    """SQL condition limiting ``model`` rows to warehouses ``ids`` (None: no limit)."""
    if ids is None:
        return None
    if entity.table_of and not entity.scope_fields:
        parent = meta.entities[entity.table_of]
        inner = scope_condition(model.parent.property.mapper.class_, parent, meta, ids)
        return None if inner is None else model.parent.has(inner)
    if not entity.scope_fields:
        return None
    columns = [model.id if n == "id" else getattr(model, entity.fields[n].column)
               for n in entity.scope_fields]
    return sa.or_(*(c.in_(list(ids)) for c in columns))


def is_scoped(entity: EntityMeta, meta: Metadata) -> bool:
    return bool(entity.scope_fields or (entity.table_of and meta.entities[entity.table_of].scope_fields))
