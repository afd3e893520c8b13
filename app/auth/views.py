"""Failed password attempts, for administrators: a read-only screen and API.

Both share the permission view-menu ``AuthFailure`` (``can_read``), which only
FAB's Admin role holds: no metadata role grants it.
"""
from __future__ import annotations

from flask import current_app
from flask_appbuilder import ModelRestApi, ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.i18n import lazy, local_time

LABELS = {
    "at": {"en": "When (local time)", "zh": "时间（本地）"}, "username": {"en": "User name", "zh": "用户名"},
    "kind": {"en": "Kind", "zh": "类型"}, "reason": {"en": "Reason", "zh": "原因"},
    "remote_addr": {"en": "Remote address", "zh": "来源地址"},
}
COLUMNS = list(LABELS)


def failure_model(models):
    """A mapped class over auth_failure, created once per compile."""
    if "AuthFailureRecord" not in models.models:
        models.models["AuthFailureRecord"] = type("AuthFailureRecord", (models.base,), {
            "__table__": models.table("auth_failure"),
            "__str__": lambda self: f"{self.username} {self.kind} {self.at:%Y-%m-%d %H:%M}",
        })
    return models.models["AuthFailureRecord"]


def register(appbuilder) -> None:
    model = failure_model(current_app.extensions["medtrace"].models)

    class AuthFailureView(ModelView):
        # Read-only by construction: no add, edit or delete route exists.
        datamodel = SQLAInterface(model)
        class_permission_name = "AuthFailure"
        method_permission_name = {"list": "read", "show": "read"}
        base_permissions = ["can_read"]
        include_route_methods = {"list", "show"}
        list_columns = COLUMNS
        show_columns = COLUMNS
        search_columns = COLUMNS
        label_columns = {k: lazy(v) for k, v in LABELS.items()}
        formatters_columns = {"at": local_time}  # local minutes, as on every screen
        base_order = ("id", "desc")
        list_title = lazy({"en": "Failed sign-ins and signatures", "zh": "登录与签名失败记录"})
        show_title = list_title

    class AuthFailureApi(ModelRestApi):
        datamodel = SQLAInterface(model)
        resource_name = "auth_failure"
        class_permission_name = "AuthFailure"
        method_permission_name = {"get": "read", "get_list": "read", "info": "read"}
        include_route_methods = {"get", "get_list", "info"}
        list_columns = ["id"] + COLUMNS
        show_columns = ["id"] + COLUMNS
        search_columns = COLUMNS
        order_columns = ["id", "at"]
        base_order = ("id", "desc")

    appbuilder.add_view(AuthFailureView, "AuthFailure", icon="fa-user-lock",
                        label=lazy({"en": "Failed sign-ins", "zh": "登录失败记录"}),
                        category="Security")
    appbuilder.add_api(AuthFailureApi)
