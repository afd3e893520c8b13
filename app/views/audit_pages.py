"""The audit trail (审计追踪): a page for QA and auditors, its exports, and the
read-only REST API.

The page reads through ``app.records.audit_trail``: labels in the user's
language, records by title with a link to their page, values as labels and
titles, local times to the minute (the zone is named in the header); filters by
user, entity, record and date range; CSV and XLSX exports of what the filters
select. Reading needs ``read`` on AuditLog, exporting ``export``
(``metadata/roles.yaml``); a user limited to some warehouses sees their rows.
No route writes: the table is append-only.
"""
from __future__ import annotations

import datetime as dt
import math

from flask import Response, current_app, request, url_for
from flask_appbuilder import BaseView, ModelRestApi, expose
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access

from app.exports import CSV_MIMETYPE, XLSX_MIMETYPE, csv_bytes, xlsx_bytes
from app.i18n import Texts, business_zone, lazy, zone_text
from app.records.audit_trail import AuditFilter, AuditReader, RecordRef, export_table
from app.runtime import Runtime
from app.web.requests import service_context

MENU = "AuditLog"
PAGE_SIZE = 50
TEXT = {
    "title": {"en": "Audit trail", "zh": "审计追踪"},
    "at": {"en": "When ({zone})", "zh": "时间（{zone}）"},
    "username": {"en": "Who", "zh": "操作人"},
    "entity_label": {"en": "Entity", "zh": "对象"},
    "record": {"en": "Record", "zh": "记录"},
    "action_label": {"en": "Action", "zh": "操作"},
    "field_label": {"en": "Field", "zh": "字段"},
    "old": {"en": "Old value", "zh": "原值"},
    "new": {"en": "New value", "zh": "新值"},
    "user": {"en": "User", "zh": "用户"},
    "any_user": {"en": "Any user", "zh": "全部用户"},
    "any_entity": {"en": "Any entity", "zh": "全部对象"},
    "record_hint": {"en": "Number, code or id", "zh": "单号、编码或 ID"},
    "from": {"en": "From", "zh": "从"},
    "to": {"en": "To", "zh": "到"},
    "filter": {"en": "Filter", "zh": "筛选"},
    "clear": {"en": "Clear", "zh": "清除"},
    "export_csv": {"en": "Export CSV", "zh": "导出 CSV"},
    "export_xlsx": {"en": "Export Excel", "zh": "导出 Excel"},
    "count": {"en": "{n} changes", "zh": "共 {n} 条变更"},
    "count_one": {"en": "1 change", "zh": "共 1 条变更"},
    "none": {"en": "No changes match these filters.", "zh": "没有符合筛选条件的变更。"},
    "previous": {"en": "Previous", "zh": "上一页"},
    "next": {"en": "Next", "zh": "下一页"},
    "page": {"en": "Page {page} of {pages}", "zh": "第 {page} 页，共 {pages} 页"},
    "bad_date": {"en": "{value} is not a date (YYYY-MM-DD): ignored",
                 "zh": "{value} 不是日期（YYYY-MM-DD），已忽略"},
    "system": {"en": "system (jobs and commands)", "zh": "system（后台任务与命令）"},
}
HEADER_KEYS = ("at", "username", "entity_label", "record", "action_label", "field_label", "old", "new")


def audit_model(runtime: Runtime):
    """A mapped class over the audit_log table (for the REST API), once per compile."""
    models = runtime.models
    if "AuditRecord" not in models.models:
        models.models["AuditRecord"] = type("AuditRecord", (models.base,), {
            "__table__": models.table("audit_log"),
            "__str__": lambda self: f"{self.entity} #{self.record_id} {self.field}",
        })
    return models.models["AuditRecord"]


def record_url(ref: RecordRef | None) -> str | None:
    """The page of the record a row is about (a line: its document), where the
    user may open it."""
    if ref is None:
        return None
    sm = current_app.appbuilder.sm
    # a workflow document's own page first (transfers have purpose-built ones),
    # else its generated detail screen
    candidates = [("TransferPagesView.detail" if ref.entity == "TransferOrder"
                   else f"{ref.entity}PagesView.detail", {"ref": ref.id}, ref.entity),
                  (f"{ref.entity}View.show", {"pk": ref.id}, ref.entity)]
    if ref.entity == "User":
        candidates.append(("UserDBModelView.show", {"pk": ref.id}, "UserDBModelView"))
    if ref.entity == "Role":
        candidates.append(("RoleModelView.show", {"pk": ref.id}, "RoleModelView"))
    for endpoint, args, permission_view in candidates:
        if endpoint in current_app.view_functions:
            allowed = (sm.has_access("can_read", permission_view)
                       or sm.has_access("can_show", permission_view))
            return url_for(endpoint, **args) if allowed else None
    return None


def _date(value: str | None, t: Texts, notes: list[str]) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        notes.append(t("bad_date", value=value))
        return None


class AuditLogView(BaseView):
    """Read-only by construction: no add, edit or delete route exists."""

    route_base = "/auditlogview"
    default_view = "list"
    class_permission_name = MENU
    method_permission_name = {"list": "read", "export_csv": "export", "export_xlsx": "export"}

    def _filter(self, t: Texts, notes: list[str]) -> AuditFilter:
        args = request.args
        return AuditFilter(username=args.get("user") or None, entity=args.get("entity") or None,
                           record=(args.get("record") or "").strip() or None,
                           date_from=_date(args.get("from"), t, notes),
                           date_to=_date(args.get("to"), t, notes))

    @expose("/list/")
    @has_access
    def list(self):
        t, notes = Texts(TEXT), []
        zone = business_zone()
        reader = AuditReader(service_context(), t.lang, zone)
        flt = self._filter(t, notes)
        try:
            page = max(1, int(request.args.get("page", 1)))
        except ValueError:
            page = 1
        count = reader.count(flt)
        pages = max(1, math.ceil(count / PAGE_SIZE))
        page = min(page, pages)
        rows = reader.rows(flt, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        for r in rows:
            r["url"] = record_url(r["ref"])
        users = sorted({u.username for u in self.appbuilder.sm.get_all_users()} | {"system"})
        args = {k: v for k, v in request.args.items() if k != "page" and v}
        sm = self.appbuilder.sm
        return self.render_template(
            "medtrace/audit.html", t=t, rows=rows, count=count, page=page, pages=pages,
            flt=flt, args=args, notes=notes, users=users, entities=reader.entity_choices(),
            zone=zone_text(zone), title=t("title"), can_export=sm.has_access("can_export", MENU))

    def _export(self):
        t = Texts(TEXT)
        zone = business_zone()
        reader = AuditReader(service_context(), t.lang, zone)
        header = {k: t(k, zone=zone_text(zone)) if k == "at" else t(k) for k in HEADER_KEYS}
        header["at_text"] = header.pop("at")
        return export_table(reader, self._filter(t, []), header)

    @expose("/export.csv")
    @has_access
    def export_csv(self):
        header, rows = self._export()
        return Response(csv_bytes(header, rows), mimetype=CSV_MIMETYPE, headers={
            "Content-Disposition": f"attachment; filename=audit-trail-{_stamp()}.csv"})

    @expose("/export.xlsx")
    @has_access
    def export_xlsx(self):
        header, rows = self._export()
        body = xlsx_bytes(header, rows, sheet=Texts(TEXT)("title"))
        return Response(body, mimetype=XLSX_MIMETYPE, headers={
            "Content-Disposition": f"attachment; filename=audit-trail-{_stamp()}.xlsx"})


class AuditScopeFilter(BaseFilter):
    """The REST API shows a user limited to some warehouses the rows the page shows them."""

    name = "audit scope"

    def apply(self, query, value):
        condition = AuditReader(service_context(), "en", business_zone()).scope_where()
        return query if condition is None else query.filter(condition)


def _stamp() -> str:
    return dt.datetime.now(business_zone()).strftime("%Y%m%d-%H%M")


def register(appbuilder, runtime: Runtime) -> None:
    """Add the audit trail page and API (menu access follows AuditLog read)."""
    model = audit_model(runtime)

    class AuditLogApi(ModelRestApi):
        datamodel = SQLAInterface(model)
        base_filters = [["id", AuditScopeFilter, None]]
        resource_name = "audit_log"
        class_permission_name = MENU
        method_permission_name = {"get": "read", "get_list": "read", "info": "read"}
        include_route_methods = {"get", "get_list", "info"}
        list_columns = ["id", "at", "username", "entity", "record_id", "action", "field",
                        "old_value", "new_value"]
        show_columns = list_columns
        search_columns = ["entity", "record_id", "username", "field", "action"]
        order_columns = ["id", "at"]
        base_order = ("id", "desc")

    appbuilder.add_view(AuditLogView, MENU, label=lazy(TEXT["title"]),
                        icon="fa-history", category="admin",
                        category_label=lazy(runtime.meta.modules.get("admin", {"en": "Admin", "zh": "管理"})))
    appbuilder.add_api(AuditLogApi)
