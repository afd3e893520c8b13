"""Generated screens: one Flask-AppBuilder ModelView per entity, with CSV
export, scoped to the user's warehouses, in the user's language."""
from __future__ import annotations

import csv
import io

from flask import Response
from flask_appbuilder import ModelView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.security.decorators import has_access

from app.actor import current_actor
from app.crud.common import (
    cell_text, columns_of, hidden_fields, labels, related_filters, scope_filters,
)
from app.crud.interface import EntityInterface
from app.i18n import lazy
from app.meta.model import EntityMeta, Metadata
from app.records.scope import scope_condition
from app.security import METHOD_PERMISSIONS


class MedTraceModelView(ModelView):
    """Generated screen: adds CSV export and turns domain errors into flashes."""

    list_template = "medtrace/list.html"
    entity: EntityMeta
    show_if: dict = {}
    page_size = 25

    @expose("/export.csv")
    @has_access
    def export_csv(self):
        query = self.datamodel.session.query(self.datamodel.obj)
        cond = scope_condition(self.datamodel.obj, self.entity, self.meta,
                               current_actor().warehouse_ids)
        if cond is not None:
            query = query.filter(cond)
        columns = list(self.list_columns)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([str(self.label_columns.get(c, c)) for c in columns])
        for item in query.order_by(self.datamodel.obj.id).limit(100000):
            writer.writerow([cell_text(item, c) for c in columns])
        return Response(buffer.getvalue().encode("utf-8-sig"), mimetype="text/csv",
                        headers={"Content-Disposition":
                                 f"attachment; filename={self.entity.table}.csv"})

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        hidden = set(hidden_fields(self.entity, self.show_if, item))
        if hidden:
            columns = [c for c in self.show_columns if c not in hidden]
            saved = self.show_columns
            self.show_columns = columns
            try:
                return super()._get_show_widget(pk, item, widgets, actions,
                                                show_fieldsets=None if not self.show_fieldsets else
                                                [(t, {"fields": [f for f in s["fields"] if f not in hidden]})
                                                 for t, s in self.show_fieldsets])
            finally:
                self.show_columns = saved
        return super()._get_show_widget(pk, item, widgets, actions, show_fieldsets)


def build_view(model, meta: Metadata, related: list | None = None) -> type:
    entity: EntityMeta = model.__entity__
    form = meta.form(entity.name)
    cols = columns_of(entity, form, for_api=False)
    attrs = {
        "datamodel": EntityInterface(model),
        "entity": entity,
        "meta": meta,
        "show_if": form.show_if,
        "class_permission_name": entity.name,
        "method_permission_name": METHOD_PERMISSIONS,
        "list_title": lazy(entity.label),
        "show_title": lazy(entity.label),
        "add_title": lazy(entity.label),
        "edit_title": lazy(entity.label),
        "list_columns": cols["list"],
        "show_columns": cols["show"],
        "add_columns": cols["add"],
        "edit_columns": cols["edit"],
        "search_columns": list(form.search_columns) or cols["list"][:4],
        "label_columns": labels(entity),
        "base_filters": scope_filters(model, meta),
        "related_views": related or [],
    }
    if not entity.editable:
        # posted documents: created by their service, never edited through CRUD
        attrs["include_route_methods"] = {"list", "show", "export_csv"}
    if form.order:
        attrs["base_order"] = tuple(form.order)
    if form.sections:
        sets = [(lazy(s.label), {"fields": [f for f in s.fields if f in cols["show"]]})
                for s in form.sections]
        # fields no section names (e.g. just added by an admin) still appear
        placed = {f for s in form.sections for f in s.fields}
        rest = [f for f in cols["show"] if f not in placed]
        if rest:
            sets.append((lazy({"en": "More", "zh": "其他"}), {"fields": rest}))
        attrs["show_fieldsets"] = sets
        attrs["add_fieldsets"] = [(t, {"fields": [f for f in s["fields"] if f in cols["add"]]})
                                  for t, s in sets]
        attrs["edit_fieldsets"] = [(t, {"fields": [f for f in s["fields"] if f in cols["edit"]]})
                                   for t, s in sets]
    rel = related_filters(entity, meta)
    attrs["add_form_query_rel_fields"] = rel
    attrs["edit_form_query_rel_fields"] = rel
    attrs["search_form_query_rel_fields"] = rel
    return type(f"{entity.name}View", (MedTraceModelView,), attrs)
