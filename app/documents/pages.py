"""A workflow document as its generic page shows it: every field with its label
and a readable value, its lines, the history with signatures, and every action
(allowed ones as buttons, refused ones with the reason)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from app.context import ServiceContext
from app.documents.board import board
from app.documents.engine import (
    action_options, describe_options, entity_meta, find_document, history_of, title_of, workflow_of,
)
from app.domain.quantities import format_quantity
from app.i18n import local_time
from app.meta.model import EntityMeta, FieldMeta

YES_NO = {True: {"en": "Yes", "zh": "是"}, False: {"en": "No", "zh": "否"}}
SYSTEM_FIELDS = (("created_by", {"en": "Created by", "zh": "创建人"}),
                 ("created_at", {"en": "Created at", "zh": "创建时间"}))


def display(value: Any, f: FieldMeta | None, lang: str, zone: dt.tzinfo = dt.timezone.utc) -> str:
    """A value as a person reads it: labels, not keys; titles, not ids; times
    in ``zone`` (the business's, named by the page) to the minute."""
    if value is None or value == "":
        return ""
    if f is not None and f.type == "enum":
        return f.option_label(value).get(lang) or str(value)
    if isinstance(value, bool):
        return YES_NO[value][lang if lang in YES_NO[value] else "en"]
    if isinstance(value, Decimal):
        return format_quantity(value)
    if isinstance(value, dt.datetime):
        return local_time(value, zone)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _fields(doc, meta: EntityMeta, lang: str, skip: set[str], zone: dt.tzinfo) -> list[dict]:
    out = []
    for f in meta.fields.values():
        if f.type == "table" or f.name in skip:
            continue
        value = getattr(doc, f.name)
        out.append({"name": f.name, "label": f.label.get(lang) or f.label["en"],
                    "value": display(value, f, lang, zone)})
    return out


def document_page(ctx: ServiceContext, entity: str, ref: Any, lang: str,
                  zone: dt.tzinfo = dt.timezone.utc) -> dict:
    wf = workflow_of(ctx, entity)
    meta = entity_meta(ctx, entity)
    doc = find_document(ctx, entity, ref)
    state = getattr(doc, wf.state_field)
    options = describe_options(ctx, wf, action_options(ctx, entity, doc), lang)
    tables = []
    for f in meta.tables():
        child = entity_meta(ctx, f.target)
        rows = getattr(doc, f.name)
        columns = [c for c in child.fields.values() if c.type != "table"]
        tables.append({"name": f.name, "label": f.label.get(lang) or f.label["en"],
                       "columns": [c.label.get(lang) or c.label["en"] for c in columns],
                       "rows": [[display(getattr(r, c.name), c, lang, zone) for c in columns]
                                for r in rows]})
    return {
        "entity": entity, "resource": meta.resource, "label": meta.label.get(lang),
        "id": doc.id, "name": title_of(doc), "state": state, "state_label": wf.state_label(state, lang),
        "fields": _fields(doc, meta, lang, {wf.state_field}, zone)
        + [{"name": n, "label": label[lang], "value": display(getattr(doc, n), None, lang, zone)}
           for n, label in SYSTEM_FIELDS],
        "tables": tables,
        "actions": [o for o in options if o["allowed"]],
        "refused": [o for o in options if not o["allowed"]],
        "history": [{**h, "at_text": display(h["at"], None, lang, zone),
                     "signed_at_text": display(h["signed_at"], None, lang, zone)}
                    for h in history_of(ctx, entity, doc, lang)],
    }


def document_board(ctx: ServiceContext, entity: str, lang: str, fields: tuple[str, ...] = ()) -> dict:
    """The generic board; each card shows ``fields`` (the form's list columns)."""
    meta = entity_meta(ctx, entity)
    wf = workflow_of(ctx, entity)
    shown = [meta.fields[n] for n in fields
             if n in meta.fields and n != wf.state_field and meta.fields[n].type != "table"][:4]

    def card(doc) -> dict:
        return {"facts": [{"label": f.label.get(lang) or f.label["en"],
                           "value": display(getattr(doc, f.name), f, lang)} for f in shown]}
    data = board(ctx, entity, lang, card=card)
    data["resource"] = meta.resource
    return data
