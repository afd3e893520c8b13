"""Purpose-built pages and the read-only audit trail."""
from __future__ import annotations

from flask_appbuilder import ModelRestApi, ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.i18n import lazy
from app.runtime import Runtime

AUDIT_LABELS = {
    "at": {"en": "When", "zh": "时间"}, "username": {"en": "Who", "zh": "操作人"},
    "entity": {"en": "Entity", "zh": "对象"}, "record_id": {"en": "Record", "zh": "记录"},
    "action": {"en": "Action", "zh": "操作"}, "field": {"en": "Field", "zh": "字段"},
    "old_value": {"en": "Old value", "zh": "原值"}, "new_value": {"en": "New value", "zh": "新值"},
}
AUDIT_COLUMNS = list(AUDIT_LABELS)


def audit_model(runtime: Runtime):
    """A mapped class over the audit_log table, created once per compile."""
    models = runtime.models
    if "AuditRecord" not in models.models:
        models.models["AuditRecord"] = type("AuditRecord", (models.base,), {
            "__table__": models.table("audit_log"),
            "__str__": lambda self: f"{self.entity} #{self.record_id} {self.field}",
        })
    return models.models["AuditRecord"]


def register(appbuilder, runtime: Runtime) -> None:
    """Add the audit trail screen and API (menu access follows AuditLog read)."""
    model = audit_model(runtime)

    class AuditLogView(ModelView):
        # Read-only by construction: no add, edit or delete route exists.
        datamodel = SQLAInterface(model)
        class_permission_name = "AuditLog"
        method_permission_name = {"list": "read", "show": "read"}
        base_permissions = ["can_read"]
        list_columns = AUDIT_COLUMNS
        show_columns = AUDIT_COLUMNS
        search_columns = ["entity", "record_id", "username", "field", "action", "at"]
        label_columns = {k: lazy(v) for k, v in AUDIT_LABELS.items()}
        base_order = ("id", "desc")
        list_title = lazy({"en": "Audit trail", "zh": "审计追踪"})
        show_title = list_title
        include_route_methods = {"list", "show"}

    class AuditLogApi(ModelRestApi):
        datamodel = SQLAInterface(model)
        resource_name = "audit_log"
        class_permission_name = "AuditLog"
        method_permission_name = {"get": "read", "get_list": "read", "info": "read"}
        include_route_methods = {"get", "get_list", "info"}
        list_columns = ["id"] + AUDIT_COLUMNS
        show_columns = ["id"] + AUDIT_COLUMNS
        search_columns = ["entity", "record_id", "username", "field", "action"]
        order_columns = ["id", "at"]
        base_order = ("id", "desc")

    appbuilder.add_view(AuditLogView, "AuditLog", label=lazy({"en": "Audit trail", "zh": "审计追踪"}),
                        icon="fa-history", category="admin",
                        category_label=lazy(runtime.meta.modules.get("admin", {"en": "Admin", "zh": "管理"})))
    appbuilder.add_api(AuditLogApi)
