"""Generated screens: one Flask-AppBuilder ModelView per entity, scoped to the
user's warehouses, in the user's language.

What FAB leaves raw, these screens make readable and safe:

* every choice-list field is a select of its labels (enum options and
  vocabularies); links are searchable selects limited by scope and by the
  link's metadata ``filter``; a ``lookup: users`` field is chosen from users;
* every value shows as a person reads it (``app.display``): labels, Yes / No,
  titles, local times to the minute, quantities without trailing zeros;
* a refused save keeps what was typed and puts each problem next to its field
  (the same rules the records hook enforces on every write);
* edit and delete are offered only where they can succeed (a document past its
  first state changes through its actions), and a refused one says why;
* newest documents first, a date column, pagination and CSV export of what the
  list shows, with formula injection neutralised.
"""
from __future__ import annotations

import logging

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import ModelView
from flask_appbuilder.baseviews import expose
from flask_appbuilder.exceptions import DatabaseException
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.urltools import (
    get_filter_args, get_order_args, get_page_args, get_page_size_args,
)
from flask_appbuilder.widgets import ListWidget
from sqlalchemy.exc import SQLAlchemyError
from wtforms import DecimalField, SelectField
from wtforms.validators import DataRequired, InputRequired, Optional

from app.actor import current_actor
from app.crud.common import (
    columns_of, default_order, hidden_fields, labels, related_filters, scope_filters,
)
from app.crud.interface import EntityInterface
from app.display import decimal_text, value_text
from app.domain.errors import DomainError
from app.exports import CSV_MIMETYPE, csv_bytes
from app.i18n import business_zone, current_language, lazy, pick
from app.meta.model import EntityMeta, FieldMeta, Metadata
from app.records.validation import record_problems
from app.security import METHOD_PERMISSIONS

log = logging.getLogger(__name__)
EXPORT_LIMIT = 100_000
TEXT = {
    "more": {"en": "More", "zh": "其他"},
    "none": {"en": "—", "zh": "—"},
    "required": {"en": "This field is required.", "zh": "此项为必填项。"},
    "not_a_choice": {"en": "Choose one of the listed values.", "zh": "请从列表中选择。"},
    "locked": {"en": "{name} is in state “{state}”: only a {what} in state “{initial}” can be "
                     "edited or deleted; it changes through its actions now.",
               "zh": "{name} 当前状态为「{state}」：只有「{initial}」状态的{what}可以编辑或删除，"
                     "请通过单据操作处理。"},
    "not_yours": {"en": "{name} belongs to {warehouse}, outside your data scope: you can read it, "
                        "not change it.",
                  "zh": "{name} 属于 {warehouse}，不在您的数据权限范围内：可以查看，不能修改。"},
    "refused": {"en": "Not saved: {reason}", "zh": "未保存：{reason}"},
    "database": {"en": "the database cannot hold a value as entered ({detail})",
                 "zh": "数据库无法保存所填的值（{detail}）"},
    "fix_fields": {"en": "Not saved: correct the fields marked below.",
                   "zh": "未保存：请更正下方标出的字段。"},
}


class MedTraceListWidget(ListWidget):
    """FAB's list, with edit / delete only on rows where they can succeed and
    codes that do not wrap."""

    template = "medtrace/widgets/list.html"


# ─── form fields ──────────────────────────────────────────────────────────────────


def _choice_coerce(value):
    return None if value in (None, "") else str(value)


def enum_field(f: FieldMeta, *, required: bool, search: bool = False) -> SelectField:
    """A select of an enum's options, labelled in the user's language."""
    choices = [(o, lazy(f.option_label(o))) for o in f.options]
    if not required:
        choices = [("", lazy(TEXT["none"]))] + choices
    return SelectField(lazy(f.label), choices=choices, coerce=_choice_coerce,
                       default=None if search else f.default, widget=Select2Widget(),
                       validators=[DataRequired() if required else Optional()],
                       validate_choice=True, invalid_choice_message=lazy(TEXT["not_a_choice"]))


def _user_choices():
    users = sorted(current_app.appbuilder.sm.get_all_users(), key=lambda u: u.username)
    return [(u.username, f"{u.username} · {u.first_name} {u.last_name}".strip(" ·")) for u in users]


def user_field(f: FieldMeta, *, required: bool) -> SelectField:
    """A ``lookup: users`` field: the user is chosen, never typed."""
    def choices():
        rows = _user_choices()
        return rows if required else [("", pick(TEXT["none"]))] + rows
    return SelectField(lazy(f.label), choices=choices, coerce=_choice_coerce, widget=Select2Widget(),
                       validators=[DataRequired() if required else Optional()],
                       invalid_choice_message=lazy(TEXT["not_a_choice"]))


class QuantityField(DecimalField):
    """A decimal input that shows the value as the lists do (10, 2.5, 12.50),
    never rounded to two places: WTForms' default would show 0.0005 as 0.00
    and save that back when any other field of the record is edited."""

    def __init__(self, *args, scale: int = 4, **kwargs):
        super().__init__(*args, places=None, **kwargs)
        self.scale = scale

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else decimal_text(self.data, self.scale)


def decimal_field(f: FieldMeta, *, required: bool) -> QuantityField:
    return QuantityField(lazy(f.label), scale=f.scale, widget=BS3TextFieldWidget(),
                         default=f.default,
                         validators=[InputRequired() if required else Optional()])


def choice_fields(entity: EntityMeta, columns: list[str], *, search: bool = False) -> dict:
    out = {}
    for name in columns:
        f = entity.fields.get(name)
        if f is None:
            continue
        required = f.required and not search
        if f.type == "enum":
            out[name] = enum_field(f, required=required, search=search)
        elif f.type == "string" and f.lookup == "users":
            out[name] = user_field(f, required=required)
        elif f.type == "decimal" and not search:
            out[name] = decimal_field(f, required=required)
    return out


# ─── values ───────────────────────────────────────────────────────────────────────


def formatter(entity: EntityMeta, column: str, model):
    """How ``column`` shows in lists and detail pages, in the request's language."""
    f = entity.fields.get(column)
    workflow = getattr(model, "__workflow__", None)
    if workflow is not None and column == workflow.state_field and (f is None or f.type != "enum"):
        def state(value):
            return workflow.state_label(value, current_language()) if value else ""
        return state

    def show(value):
        return value_text(value, f, current_language(), business_zone())
    return show


def nowrap_columns(entity: EntityMeta, columns: list[str]) -> set[str]:
    """Codes, numbers, links and dates read as one token: they never wrap."""
    out = {c for c in columns if c in ("name", "created_at", "updated_at", entity.title_field)}
    for c in columns:
        f = entity.fields.get(c)
        if f is not None and (f.type in ("link", "date", "datetime", "enum", "decimal", "int")
                              or f.name in ("code", "sku", "lot_number", "serial_number", "udi_di")):
            out.add(c)
    return out


# ─── the view ─────────────────────────────────────────────────────────────────────


class MedTraceModelView(ModelView):
    list_template = "medtrace/list.html"
    list_widget = MedTraceListWidget
    entity: EntityMeta
    meta: Metadata
    show_if: dict = {}
    nowrap: set = set()
    page_size = 25

    def _init_forms(self):
        super()._init_forms()
        # a link's empty choice reads "—", not FAB's "__None"
        for form in (self.add_form, self.edit_form, self.search_form):
            for f in self.entity.links():
                unbound = getattr(form, f.name, None)
                if unbound is not None and hasattr(unbound, "kwargs"):
                    unbound.kwargs["blank_text"] = pick(TEXT["none"], "en")

    # -- export ---------------------------------------------------------------------
    @expose("/export.csv")
    @has_access
    def export_csv(self):
        """What the list shows (its search filters, in scope), every page, as
        labels in the user's language."""
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        joined = self._filters.get_joined_filters(self._base_filters)
        order_column, order_direction = self.base_order or ("id", "asc")
        _, items = self.datamodel.query(joined, order_column, order_direction,
                                        page=0, page_size=EXPORT_LIMIT)
        columns = list(self.list_columns)
        header = [str(self.label_columns.get(c, c)) for c in columns]
        shown = {c: self.formatters_columns.get(c) for c in columns}

        def cell(item, column):
            value = getattr(item, column, None)
            fmt = shown[column]
            return fmt(value) if fmt else ("" if value is None else str(value))
        body = csv_bytes(header, ([cell(item, c) for c in columns] for item in items))
        return Response(body, mimetype=CSV_MIMETYPE, headers={
            "Content-Disposition": f"attachment; filename={self.entity.table}.csv"})

    # -- locks: edit and delete only where they can succeed -----------------------------
    def lock_reason(self, item) -> str | None:
        """Why ``item`` cannot be edited or deleted on this screen, or None: it
        belongs to a warehouse outside the user's scope (``app.records.scope``
        refuses the write), or it is a workflow document (or a line of one) past
        its first state, which changes through its actions (``app.records.guard``)."""
        target = getattr(item, "parent", None) if self.entity.table_of else item
        if target is None:
            return None
        lang = current_language()
        meta = type(target).__entity__
        what = pick(meta.label, lang)
        scope = current_actor().warehouse_ids
        if scope is not None and meta.scope_fields and meta.scope_fields[0] != "id":
            # a record is changed by its owning warehouse (the first scope field)
            owner = getattr(target, meta.scope_fields[0], None)
            if owner is not None and owner.id not in scope:
                return pick(TEXT["not_yours"], lang).format(
                    name=getattr(target, "name", None) or str(target), warehouse=owner)
        workflow = getattr(type(target), "__workflow__", None)
        if workflow is None:
            return None
        state = getattr(target, workflow.state_field)
        if state in (None, "", workflow.initial):
            return None
        return pick(TEXT["locked"], lang).format(
            name=getattr(target, "name", None) or what, what=what if lang == "zh" else what.lower(),
            state=workflow.state_label(state, lang), initial=workflow.state_label(workflow.initial, lang))

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        """A record that cannot be edited here opens its detail page, which says why."""
        item = self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters)
        if item is not None and (reason := self.lock_reason(item)):
            flash(reason, "warning")
            return redirect(url_for(f"{self.endpoint}.show", pk=pk))
        return super().edit(pk)

    def _get_list_widget(self, filters, actions=None, order_column="", order_direction="",
                         page=None, page_size=None, widgets=None, **kwargs):
        widgets = widgets or {}
        page_size = page_size or self.page_size
        if not order_column and self.base_order:
            order_column, order_direction = self.base_order
        joined = filters.get_joined_filters(self._base_filters)
        count, items = self.datamodel.query(joined, order_column, order_direction,
                                            page=page, page_size=page_size)
        pks = [self._serialize_pk_if_composite(pk) for pk in self.datamodel.get_keys(items)]
        locked = {pk for pk, item in zip(pks, items) if self.lock_reason(item)}
        widgets["list"] = self.list_widget(
            label_columns=self.label_columns, include_columns=self.list_columns,
            value_columns=self.datamodel.get_values(items, self.list_columns),
            order_columns=self.order_columns, formatters_columns=self.formatters_columns,
            page=page, page_size=page_size, count=count, pks=pks, locked=locked,
            nowrap=self.nowrap, actions=actions or self.actions, filters=filters,
            modelview_name=self.__class__.__name__, **kwargs)
        return widgets

    def pre_update(self, item):
        reason = self.lock_reason(item)
        if reason:
            raise Locked(reason, zh=reason)

    def pre_delete(self, item):
        reason = self.lock_reason(item)
        if reason:
            raise Locked(reason, zh=reason)

    def _delete(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        lang = current_language()
        try:
            self.pre_delete(item)
            self.datamodel.delete(item)
            self.post_delete(item)
            flash(self.delete_row_message, "success")
        except Locked as exc:
            flash(str(exc), "warning")
        except DomainError as exc:
            flash(pick(TEXT["refused"], lang).format(reason=exc.in_language(lang)), "danger")
        self.update_redirect()

    # -- add and edit: errors next to their fields, input kept ---------------------------
    def _add(self):
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        form = self.add_form.refresh()
        if request.method == "POST":
            self._fill_form_exclude_cols(exclude_cols, form)
            if form.validate():
                self.process_form(form, True)
                if self._save(form, self.datamodel.obj(), adding=True):
                    return None
            else:
                flash(pick(TEXT["fix_fields"]), "danger")
        else:
            self.update_redirect()
        return self._get_add_widget(form=form, exclude_cols=exclude_cols)

    def _edit(self, pk):
        pages, page_sizes, orders = get_page_args(), get_page_size_args(), get_order_args()
        get_filter_args(self._filters, disallow_if_not_in_search=False)
        exclude_cols = self._filters.get_relation_cols()
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        pk = self.datamodel.get_pk_value(item)
        reason = self.lock_reason(item)
        if reason:
            flash(reason, "warning")
            return None
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            self._fill_form_exclude_cols(exclude_cols, form)
            form._id = pk
            if form.validate():
                self.process_form(form, False)
                if self._save(form, item, adding=False):
                    return None
            else:
                flash(pick(TEXT["fix_fields"]), "danger")
        else:
            form = self.edit_form.refresh(obj=item)
            self.prefill_form(form, pk)
            self.update_redirect()
        widgets = self._get_edit_widget(form=form, exclude_cols=exclude_cols)
        return self._get_related_views_widgets(item, filters={}, orders=orders, pages=pages,
                                               page_sizes=page_sizes, widgets=widgets)

    def _save(self, form, item, *, adding: bool) -> bool:
        """Write ``item`` from ``form``; False with the problems on the form
        (next to their fields, else at the top) when it is refused."""
        session = self.datamodel.session
        lang = current_language()
        try:
            with session.no_autoflush:
                form.populate_obj(item)
                (self.pre_add if adding else self.pre_update)(item)
                # the rules the records hook applies on the flush, asked first so
                # each problem can be put next to its field
                problems = record_problems(item, self.entity)
        except DomainError as exc:
            session.rollback()
            flash(pick(TEXT["refused"], lang).format(reason=exc.in_language(lang)), "danger")
            return False
        if problems:
            session.rollback()
            self._place(form, [(p.field, pick(TEXT["required"], lang) if p.code == "required"
                                else (p.zh if lang == "zh" else p.en)) for p in problems])
            return False
        try:
            if adding:
                self.datamodel.add(item)
                self.post_add(item)
                flash(self.add_row_message, "success")
            else:
                self.datamodel.edit(item)
                self.post_update(item)
                flash(self.edit_row_message, "success")
        except DomainError as exc:
            fields = (exc.details or {}).get("fields") if isinstance(exc.details, dict) else None
            if fields:
                self._place(form, [(name, exc.in_language(lang)) for name in fields])
            else:
                flash(pick(TEXT["refused"], lang).format(reason=exc.in_language(lang)), "danger")
            return False
        except (SQLAlchemyError, DatabaseException) as exc:  # a value the database cannot hold
            session.rollback()
            log.warning("refused by the database: %s", exc)
            cause = exc.__cause__ if isinstance(exc, DatabaseException) and exc.__cause__ else exc
            cause = getattr(cause, "orig", None) or cause
            flash(pick(TEXT["refused"], lang).format(
                reason=pick(TEXT["database"], lang).format(detail=str(cause).splitlines()[0])), "danger")
            return False
        return True

    def _place(self, form, problems: list[tuple[str | None, str]]) -> None:
        """Each problem under its field; those about no field on the form on top."""
        placed = False
        for name, text in problems:
            field = form._fields.get(name) if name else None
            if field is not None:
                field.errors = list(field.errors or []) + [text]
                placed = True
            else:
                flash(pick(TEXT["refused"]).format(reason=text), "danger")
        if placed:
            flash(pick(TEXT["fix_fields"]), "danger")

    # -- detail: fields hidden by the form's show_if ----------------------------------
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


class Locked(DomainError):
    """A document past its first state is edited through its actions only."""

    status = 409


def build_view(model, meta: Metadata, related: list | None = None) -> type:
    entity: EntityMeta = model.__entity__
    form = meta.form(entity.name)
    cols = columns_of(entity, form, for_api=False)
    search = list(form.search_columns) or cols["list"][:4]
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
        "search_columns": search,
        "label_columns": labels(entity),
        "base_filters": scope_filters(model, meta),
        "base_order": default_order(entity, form),
        "related_views": related or [],
        "formatters_columns": {c: formatter(entity, c, model)
                               for c in dict.fromkeys(cols["list"] + cols["show"])},
        "nowrap": nowrap_columns(entity, cols["list"]),
        "add_form_extra_fields": choice_fields(entity, cols["add"]),
        "edit_form_extra_fields": choice_fields(entity, cols["edit"]),
        "search_form_extra_fields": choice_fields(entity, search, search=True),
    }
    if not entity.editable:
        # posted documents: created by their service, never edited through CRUD
        attrs["include_route_methods"] = {"list", "show", "export_csv"}
    if form.sections:
        sets = [(lazy(s.label), {"fields": [f for f in s.fields if f in cols["show"]]})
                for s in form.sections]
        # fields no section names (e.g. just added by an admin) still appear
        placed = {f for s in form.sections for f in s.fields}
        rest = [f for f in cols["show"] if f not in placed]
        if rest:
            sets.append((lazy(TEXT["more"]), {"fields": rest}))
        attrs["show_fieldsets"] = sets
        # a section with nothing to enter is left out of the forms
        attrs["add_fieldsets"] = [(t, {"fields": fs}) for t, s in sets
                                  if (fs := [f for f in s["fields"] if f in cols["add"]])]
        attrs["edit_fieldsets"] = [(t, {"fields": fs}) for t, s in sets
                                   if (fs := [f for f in s["fields"] if f in cols["edit"]])]
    rel = related_filters(entity, meta)
    attrs["add_form_query_rel_fields"] = rel
    attrs["edit_form_query_rel_fields"] = rel
    attrs["search_form_query_rel_fields"] = rel
    return type(f"{entity.name}View", (MedTraceModelView,), attrs)
