"""What the generated screens and REST APIs share: the warehouse scope filter,
labels, the columns each shows, their default order, and dropdown filters
(scope, and a link's ``filter`` from metadata: a carrier is a carrier)."""
from __future__ import annotations

from flask_appbuilder.models.filters import BaseFilter

from app.actor import current_actor
from app.domain.expressions import ExpressionError, evaluate_bool
from app.i18n import lazy
from app.meta.model import EntityMeta, Metadata
from app.records.scope import is_scoped, scope_condition
from app.records.validation import record_context

SYSTEM_COLUMNS = {
    "created_at": {"en": "Created at", "zh": "创建时间"},
    "created_by": {"en": "Created by", "zh": "创建人"},
    "updated_at": {"en": "Updated at", "zh": "修改时间"},
    "updated_by": {"en": "Updated by", "zh": "修改人"},
    "name": {"en": "Number", "zh": "单号"},
    "id": {"en": "ID", "zh": "ID"},
}


class WarehouseScopeFilter(BaseFilter):
    """Base filter on every generated list, show, edit, delete, dropdown and
    export: rows of warehouses outside the user's grants never leave the DB."""

    name = "warehouse scope"

    def apply(self, query, value):
        entity: EntityMeta = self.model.__entity__
        cond = scope_condition(self.model, entity, value(), current_actor().warehouse_ids)
        return query if cond is None else query.filter(cond)


class LinkTargetFilter(BaseFilter):
    """A link field's ``filter`` from metadata ({kind: carrier}): the dropdown
    and the API's choices offer only the records it allows."""

    name = "link target"

    def apply(self, query, value):
        conditions = []
        for key, allowed in value.items():
            column = getattr(self.model, key)
            conditions.append(column.in_(allowed) if isinstance(allowed, list) else column == allowed)
        return query.filter(*conditions)


def scope_filters(model, meta: Metadata) -> list:
    return [["id", WarehouseScopeFilter, lambda: meta]] if is_scoped(model.__entity__, meta) else []


def labels(entity: EntityMeta) -> dict:
    labels = {n: lazy(lbl) for n, lbl in SYSTEM_COLUMNS.items()}
    for f in entity.fields.values():
        labels[f.name] = lazy(f.label)
        if f.column and f.column != f.name:
            labels[f.column] = lazy(f.label)
    return labels


def hidden_fields(entity: EntityMeta, show_if: dict[str, str], item) -> list[str]:
    """Fields hidden by a form's ``show_if`` CEL condition for this record."""
    if not show_if:
        return []
    ctx = record_context(item, entity)
    hidden = []
    for field, expr in show_if.items():
        try:
            if not evaluate_bool(expr, ctx):
                hidden.append(field)
        except ExpressionError:
            hidden.append(field)
    return hidden


def cell_text(item, column: str) -> str:
    value = item
    for part in column.split("."):
        value = getattr(value, part, None)
    return "" if value is None else str(value)


DATE_TYPES = ("date", "datetime")


def columns_of(entity: EntityMeta, form, *, for_api: bool) -> dict[str, list[str]]:
    scalar = [f.name for f in entity.fields.values() if f.type != "table"]
    addable = [f.name for f in entity.fields.values() if f.type != "table" and not f.read_only]
    # a form's read_only fields can be set when a record is created, not changed later
    editable = [n for n in addable if n not in form.read_only]
    head = ["name"] if entity.naming else []
    list_cols = list(form.list_columns) or default_list_columns(entity, head, scalar)
    show = head + scalar + ["created_at", "created_by", "updated_at", "updated_by"]
    if entity.table_of:
        # a line names its document when it is added; it never moves to another
        addable = ["parent"] + addable
    if for_api:
        links = [f"{f.name}.id" for f in entity.links()] + (["parent.id"] if entity.table_of else [])
        read = ["id"] + head + [f.name for f in entity.fields.values()
                                if f.type not in ("table", "link")] + links + [
            "created_at", "created_by", "updated_at", "updated_by"]
        return {"list": read, "show": read, "add": addable, "edit": editable}
    return {"list": list_cols, "show": show, "add": addable, "edit": editable}


def default_list_columns(entity: EntityMeta, head: list[str], scalar: list[str]) -> list[str]:
    """Without a form: the number, the document's date (a list of documents
    without a date column cannot be read), then the first fields; seven at most."""
    dates = [n for n in scalar if entity.fields[n].type in DATE_TYPES][:1]
    if entity.naming and not dates:
        dates = ["created_at"]
    rest = [n for n in scalar if n not in dates]
    return (head + dates + rest)[:7]


def default_order(entity: EntityMeta, form) -> tuple[str, str]:
    """The form's order, else newest first for documents (numbered records and
    lines), else by the record's title."""
    if form.order:
        return tuple(form.order)
    if entity.naming or entity.table_of:
        return ("id", "desc")
    title = entity.title_field
    if title in entity.fields and entity.fields[title].type not in ("link", "table"):
        return (title, "asc")
    return ("id", "asc")


def related_filters(entity: EntityMeta, meta: Metadata) -> dict:
    """Dropdowns of links offer only rows in the user's scope, and only the
    records the link's metadata ``filter`` allows."""
    out = {}
    for f in entity.links():
        filters = []
        if is_scoped(meta.entities[f.target], meta):
            filters.append(["id", WarehouseScopeFilter, lambda: meta])
        if f.filter:
            filters.append(["id", LinkTargetFilter, dict(f.filter)])
        if filters:
            out[f.name] = filters
    return out
