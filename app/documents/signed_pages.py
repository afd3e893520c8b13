"""The signed-change page's data: a record's regulated fields with their
current values, the choices for each, who may change them, and the record's
signed changes so far."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.documents.engine import entity_meta, find_document
from app.documents.pages import display
from app.documents.signed_changes import may_change, signed_changes_of


def signed_change_page(ctx: ServiceContext, entity: str, ref: Any, lang: str) -> dict:
    meta = entity_meta(ctx, entity)
    record = find_document(ctx, entity, ref)
    fields = []
    for f in meta.regulated():
        value = getattr(record, f.name)
        choices = None
        if f.type == "enum":
            choices = [{"value": o, "label": f.option_label(o).get(lang) or o} for o in f.options]
        elif f.type == "link":
            target = ctx.models[f.target]
            title = entity_meta(ctx, f.target).title_field
            rows = ctx.session.execute(sa.select(target).order_by(getattr(target, title, target.id))).scalars()
            choices = [{"value": r.id, "label": str(r)} for r in rows]
        current = getattr(value, "id", value)
        fields.append({"name": f.name, "type": f.type, "label": f.label.get(lang) or f.label["en"],
                       "value": "" if current is None else (current.isoformat() if hasattr(current, "isoformat")
                                                            else current),
                       "display": display(value, f, lang), "choices": choices,
                       "roles": sorted(f.regulated.roles), "signature": f.regulated.signature,
                       "allowed": may_change(ctx, f)})
    history = signed_changes_of(ctx, entity, record.id)
    labels = {f.name: f.label.get(lang) or f.label["en"] for f in meta.regulated()}
    for h in history:
        h["field_label"] = labels.get(h["field"], h["field"])
        h["signed_at_text"] = h["signed_at"].replace("T", " ")[:16]
    return {"entity": entity, "resource": meta.resource, "label": meta.label.get(lang),
            "id": record.id, "title": str(record), "fields": fields,
            "signature": next((f["signature"] for f in fields if f["signature"]), None),
            "history": history}
