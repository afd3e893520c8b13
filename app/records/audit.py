"""The audit trail: one row per changed field of every audited record, written
in the same transaction as the change. The table is append-only (database
triggers refuse UPDATE, DELETE and TRUNCATE) and hash-chained (``chain``)."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.orm.base import NO_VALUE

from app.actor import Actor
from app.meta.model import EntityMeta
from app.records import chain

SYSTEM_COLUMNS = ("id", "created_at", "updated_at", "created_by", "updated_by")


def define_tables(md: sa.MetaData) -> None:
    sa.Table(
        "audit_log", md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("username", sa.String(64)),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),  # create / update / delete
        sa.Column("field", sa.String(64)),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        # the hash chain (app/records/chain.py); empty on rows from before it
        sa.Column("prev_hash", sa.String(64)),
        sa.Column("row_hash", sa.String(64)),
        sa.Index("ix_audit_log_record", "entity", "record_id"),
        info={"append_only": True},
    )
    chain.define_tables(md)  # the seal


def plain(value: Any) -> str | None:
    """A value as the audit trail stores it: text, exact, comparable."""
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def audit_rows(obj, entity: EntityMeta, action: str, actor: Actor, now: dt.datetime) -> list[dict]:
    """The rows that record ``action`` (create / update / delete) of ``obj``:
    one per field that has (or had) a value or changed."""
    base = {"at": now, "username": actor.username, "entity": entity.name, "action": action}
    state = inspect(obj)
    rows = []
    columns = [c.key for c in state.mapper.column_attrs if c.key not in SYSTEM_COLUMNS]
    # a link set through its relationship (``transfer.carrier = partner``) changes
    # its id column only during the flush, after these rows are taken
    links = {f.column: f.name for f in entity.links()}
    if entity.table_of:
        links["parent_id"] = "parent"
    for key in columns:
        if action == "create":
            new = getattr(obj, key)
            if new is not None:
                rows.append({**base, "field": key, "old_value": None, "new_value": plain(new)})
        elif action == "update":
            old, new, changed = _change(state, key, links.get(key))
            if changed and plain(old) != plain(new):
                rows.append({**base, "field": key, "old_value": plain(old), "new_value": plain(new)})
        else:  # delete: keep the last values
            value = getattr(obj, key)
            if value is not None:
                rows.append({**base, "field": key, "old_value": plain(value), "new_value": None})
    if action == "delete" and not rows:
        rows.append({**base, "field": None, "old_value": None, "new_value": None})
    return rows


def _change(state, key: str, relationship: str | None) -> tuple[Any, Any, bool]:
    """(old, new, changed) of a column before the flush; for a link, from its
    relationship when that is what was set."""
    if relationship is not None and relationship in state.attrs:
        rel = state.attrs[relationship].history
        if rel.added:
            added = rel.added[0]
            new = getattr(added, "id", None) if added is not None else None
            old_obj = rel.deleted[0] if rel.deleted else None
            old = old_obj.id if old_obj is not None else state.attrs[key].loaded_value
            if old is NO_VALUE:
                old = None
            return old, new, True
    hist = state.attrs[key].history
    if not hist.has_changes():
        return None, None, False
    return (hist.deleted[0] if hist.deleted else None), (hist.added[0] if hist.added else None), True

