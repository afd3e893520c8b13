"""What an electronic signature signs: a hash of the record's content.

``content_hash(obj, entity)`` is sha256 over a canonical JSON of the record's
entity name, its fields that a person enters (not read-only ones such as the
workflow state or computed totals, and not system columns), and the same
fields of its table (line) rows, sorted. Stored with a signature, it shows
later whether the record still says what was signed: recompute and compare.
Values are canonical so a database round trip does not change the hash
(``Decimal('3.20')`` and ``Decimal('3.2000')`` are both ``"3.2"``; a link is
the id it points to). Pure: no Flask, no session.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from app.meta.model import EntityMeta

SYSTEM_FIELDS = frozenset({"id", "created_at", "updated_at", "created_by", "updated_by"})


def canonical_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, Decimal)):
        d = value if isinstance(value, Decimal) else Decimal(str(value))
        if d == 0:
            return "0"
        text = format(d.normalize(), "f")
        return text
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [canonical_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): canonical_value(v) for k, v in value.items()}
    return str(value)


def signed_fields(obj: Any, entity: EntityMeta) -> dict[str, Any]:
    """The record's own signed fields (no table fields), canonical."""
    out = {}
    for f in entity.fields.values():
        if f.type == "table" or f.read_only or f.name in SYSTEM_FIELDS:
            continue
        out[f.name] = canonical_value(getattr(obj, f.column))
    return out


def canonical_content(obj: Any, entity: EntityMeta) -> dict[str, Any]:
    content: dict[str, Any] = {"entity": entity.name, "fields": signed_fields(obj, entity)}
    lines = {}
    for f in entity.tables():
        rows = []
        for line in getattr(obj, f.name) or []:
            line_entity = getattr(type(line), "__entity__", None)
            if line_entity is None:
                raise TypeError(f"{type(line).__name__} is not a compiled entity")
            rows.append(signed_fields(line, line_entity))
        lines[f.name] = sorted(rows, key=_dumps)
    content["lines"] = lines
    return content


def content_hash(obj: Any, entity: EntityMeta) -> str:
    """sha256 (hex) of the record's canonical content: what a signature signs."""
    return hashlib.sha256(_dumps(canonical_content(obj, entity)).encode("utf-8")).hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
