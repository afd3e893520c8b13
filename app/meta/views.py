"""Turn compiled entities into Flask-AppBuilder screens and REST APIs.

Class names derive from the entity name once (``ProductView``, ``ProductApi``),
and both share the permission view-menu ``Product``, so permissions stay
stable across restarts and the same role rules govern screen and API.
"""
from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response
from flask_appbuilder import ModelRestApi, ModelView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.models.filters import BaseFilter
from app.meta.interface import EntityInterface
from flask_appbuilder.security.decorators import has_access
from flask_babel import LazyString, get_locale
import sqlalchemy as sa

from app.actor import current_actor
from app.domain.errors import DomainError
from app.domain.expressions import ExpressionError, evaluate_bool
from app.meta.compiler import CompiledModels
from app.meta.model import EntityMeta, Metadata
from app.records import record_context
from app.web import request_language
from app.security import METHOD_PERMISSIONS

SYSTEM_COLUMNS = {
    "created_at": {"en": "Created at", "zh": "创建时间"},
    "created_by": {"en": "Created by", "zh": "创建人"},
    "updated_at": {"en": "Updated at", "zh": "修改时间"},
    "updated_by": {"en": "Updated by", "zh": "修改人"},
    "name": {"en": "Number", "zh": "单号"},
    "id": {"en": "ID", "zh": "ID"},
}


def pick_label(label: dict[str, str]) -> str:
    lang = str(get_locale() or "en")[:2]
    return label.get(lang) or label.get("en") or ""


def lazy(label: dict[str, str]) -> LazyString:
    """A label that renders in the language of the request that shows it."""
    return LazyString(pick_label, label)


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


class WarehouseScopeFilter(BaseFilter):
    """Base filter on every generated list, show, edit, delete, dropdown and
    export: rows of warehouses outside the user's grants never leave the DB."""

    name = "warehouse scope"

    def apply(self, query, value):
        entity: EntityMeta = self.model.__entity__
        cond = scope_condition(self.model, entity, value(), current_actor().warehouse_ids)
        return query if cond is None else query.filter(cond)


def _scope_filters(model, meta: Metadata) -> list:
    entity = model.__entity__
    scoped = entity.scope_fields or (entity.table_of and meta.entities[entity.table_of].scope_fields)
    return [["id", WarehouseScopeFilter, lambda: meta]] if scoped else []


def _labels(entity: EntityMeta) -> dict:
    labels = {n: lazy(lbl) for n, lbl in SYSTEM_COLUMNS.items()}
    for f in entity.fields.values():
        labels[f.name] = lazy(f.label)
        if f.column and f.column != f.name:
            labels[f.column] = lazy(f.label)
    return labels


def _visible(entity: EntityMeta, show_if: dict[str, str], item) -> list[str]:
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
            writer.writerow([_cell(item, c) for c in columns])
        return Response(buffer.getvalue().encode("utf-8-sig"), mimetype="text/csv",
                        headers={"Content-Disposition":
                                 f"attachment; filename={self.entity.table}.csv"})

    def _get_show_widget(self, pk, item, widgets=None, actions=None, show_fieldsets=None):
        hidden = set(_visible(self.entity, self.show_if, item))
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


def _cell(item, column: str) -> str:
    value = item
    for part in column.split("."):
        value = getattr(value, part, None)
    return "" if value is None else str(value)


class MedTraceRestApi(ModelRestApi):
    """Generated API: domain errors answer with their status and message."""

    allow_browser_login = True

    def _domain(self, call, *args):
        try:
            return call(*args)
        except DomainError as exc:
            self.datamodel.session.rollback()
            return self.response(exc.status, **exc.to_dict(request_language()))

    def post_headless(self):
        return self._domain(super().post_headless)

    def put_headless(self, pk):
        return self._domain(super().put_headless, pk)

    def delete_headless(self, pk):
        return self._domain(super().delete_headless, pk)


def _columns(entity: EntityMeta, form, *, for_api: bool) -> dict[str, list[str]]:
    scalar = [f.name for f in entity.fields.values() if f.type != "table"]
    addable = [f.name for f in entity.fields.values() if f.type != "table" and not f.read_only]
    # a form's read_only fields can be set when a record is created, not changed later
    editable = [n for n in addable if n not in form.read_only]
    head = ["name"] if entity.naming else []
    list_cols = list(form.list_columns) or (head + scalar)[:6]
    show = head + scalar + ["created_at", "created_by", "updated_at", "updated_by"]
    if for_api:
        links = [f"{f.name}.id" for f in entity.links()]
        read = ["id"] + head + [f.name for f in entity.fields.values()
                                if f.type not in ("table", "link")] + links + [
            "created_at", "created_by", "updated_at", "updated_by"]
        return {"list": read, "show": read, "add": addable, "edit": editable}
    return {"list": list_cols, "show": show, "add": addable, "edit": editable}


def build_view(model, meta: Metadata, related: list | None = None) -> type:
    entity: EntityMeta = model.__entity__
    form = meta.form(entity.name)
    cols = _columns(entity, form, for_api=False)
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
        "label_columns": _labels(entity),
        "base_filters": _scope_filters(model, meta),
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
    rel = _related_filters(entity, meta)
    attrs["add_form_query_rel_fields"] = rel
    attrs["edit_form_query_rel_fields"] = rel
    attrs["search_form_query_rel_fields"] = rel
    return type(f"{entity.name}View", (MedTraceModelView,), attrs)


def _related_filters(entity: EntityMeta, meta: Metadata) -> dict:
    """Dropdowns of linked scoped entities only offer rows in the user's scope."""
    out = {}
    for f in entity.links():
        target = meta.entities[f.target]
        if target.scope_fields or (target.table_of and meta.entities[target.table_of].scope_fields):
            out[f.name] = [["id", WarehouseScopeFilter, lambda: meta]]
    return out


def build_api(model, meta: Metadata) -> type:
    entity: EntityMeta = model.__entity__
    form = meta.form(entity.name)
    cols = _columns(entity, form, for_api=True)
    rel = _related_filters(entity, meta)
    attrs = {
        "datamodel": EntityInterface(model),
        "resource_name": entity.resource,
        "class_permission_name": entity.name,
        "method_permission_name": METHOD_PERMISSIONS,
        "list_columns": cols["list"],
        "show_columns": cols["show"],
        "add_columns": cols["add"],
        "edit_columns": cols["edit"],
        "search_columns": list(form.search_columns) or cols["add"][:6],
        "order_columns": [c for c in cols["list"] if "." not in c],
        "label_columns": _labels(entity),
        "base_filters": _scope_filters(model, meta),
        "add_query_rel_fields": rel,
        "edit_query_rel_fields": rel,
        "openapi_spec_tag": entity.name,
    }
    if not entity.editable:
        attrs["include_route_methods"] = {"get", "get_list", "info"}
    return type(f"{entity.name}Api", (MedTraceRestApi,), attrs)


def register_entities(appbuilder, compiled: CompiledModels) -> None:
    """Add one screen (with its menu entry) and one REST API per entity."""
    meta = compiled.meta
    child_views = {}
    for entity in meta.entities.values():
        if entity.table_of:
            view = build_view(compiled[entity.name], meta)
            child_views.setdefault(entity.table_of, []).append(view)
            appbuilder.add_view_no_menu(view)
    for entity in sorted(meta.entities.values(), key=lambda e: (e.module, e.name)):
        model = compiled[entity.name]
        appbuilder.add_api(build_api(model, meta))
        if entity.table_of:
            continue
        view = build_view(model, meta, related=child_views.get(entity.name))
        module_label = meta.modules.get(entity.module, {"en": entity.module, "zh": entity.module})
        appbuilder.add_view(view, entity.name, label=lazy(entity.label),
                            icon="fa-table", category=entity.module,
                            category_label=lazy(module_label))

