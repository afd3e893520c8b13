"""What the whole site needs beyond its pages: a favicon, Flask-AppBuilder's
user screens in the users' language (role labels from ``metadata/roles.yaml``,
Yes / No), its statistics chart drawn without an internet connection (the
chart template is overridden in ``templates/appbuilder``), a log without
noise, and the business time zone checked at start-up."""
from __future__ import annotations

import logging

from flask import Flask, has_request_context, request, send_from_directory

from app.display import YES_NO
from app.i18n import business_zone, current_language, lazy, pick
from app.meta.model import Metadata

# FAB's own roles, labelled like the metadata roles
FAB_ROLES = {
    "Admin": {"en": "Administrator", "zh": "系统管理员"},
    "Public": {"en": "Public (not signed in)", "zh": "公共（未登录）"},
}
TEXT = {
    "login_count": {"en": "Sign-ins", "zh": "登录次数"},
    "fail_login_count": {"en": "Failed sign-ins", "zh": "登录失败次数"},
    "other_permissions": {"en": "{n} screen permissions", "zh": "{n} 项页面权限"},
}
# the metadata permissions, as a role list reads them
VERBS = {
    "can_read": {"en": "read", "zh": "查看"}, "can_create": {"en": "create", "zh": "新建"},
    "can_write": {"en": "change", "zh": "修改"}, "can_delete": {"en": "delete", "zh": "删除"},
    "can_approve": {"en": "approve", "zh": "审批"}, "can_print": {"en": "print", "zh": "打印"},
    "can_export": {"en": "export", "zh": "导出"},
}
AUDIT_LOG = {"en": "Audit trail", "zh": "审计追踪"}


class QuietRedirects(logging.Filter):
    """FAB warns "Invalid redirect detected" on every sign-in without a ``next``
    address (it falls back to the home page, as it should). Keep the warning
    for a ``next`` that was actually refused."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "Invalid redirect detected" not in record.getMessage():
            return True
        return has_request_context() and bool(request.args.get("next"))


def role_label(meta: Metadata, name: str) -> str:
    role = meta.roles.get(name)
    label = role.label if role is not None else FAB_ROLES.get(name)
    return pick(label) if label else name


def permissions_text(meta: Metadata, permissions) -> str:
    """A role's permissions per entity ("Product: read, change"), in the
    user's language; FAB's screen permissions counted, not listed."""
    lang = current_language()
    by_entity: dict[str, list[str]] = {}
    others = 0
    for pv in permissions or []:
        name, view = pv.permission.name, pv.view_menu.name
        label = meta.entities[view].label if view in meta.entities else (
            AUDIT_LOG if view == "AuditLog" else None)
        if name in VERBS and label is not None:
            by_entity.setdefault(pick(label, lang), []).append(name)
        else:
            others += 1
    sep, colon = ("、", "：") if lang == "zh" else (", ", ": ")
    order = list(VERBS)
    parts = [f"{entity}{colon}{sep.join(pick(VERBS[v], lang) for v in sorted(verbs, key=order.index))}"
             for entity, verbs in sorted(by_entity.items())]
    if others:
        parts.append(pick(TEXT["other_permissions"], lang).format(n=others))
    return " · ".join(parts)


def _user_view(appbuilder):
    return getattr(appbuilder.sm, "user_view", None)


def _find_view(appbuilder, class_name: str):
    return next((v for v in appbuilder.baseviews if type(v).__name__ == class_name), None)


def label_security_screens(appbuilder, meta: Metadata) -> None:
    """Roles by their labels in the user form and lists, Yes / No for flags."""
    def roles_text(roles) -> str:
        return ", ".join(role_label(meta, r.name) for r in roles or [])

    def yes_no(value) -> str:
        return pick(YES_NO[bool(value)], current_language())

    users = _user_view(appbuilder)
    if users is not None:
        users.formatters_columns = {**(users.formatters_columns or {}),
                                    "roles": roles_text, "active": yes_no,
                                    "groups": lambda groups: ", ".join(g.name for g in groups or [])}
        for form in (users.add_form, users.edit_form):
            field = getattr(form, "roles", None) if form is not None else None
            if field is not None and hasattr(field, "kwargs"):
                field.kwargs["get_label"] = lambda role: role_label(meta, role.name)
    roles = _find_view(appbuilder, "RoleModelView")
    if roles is not None:
        roles.formatters_columns = {**(roles.formatters_columns or {}),
                                    "name": lambda name: role_label(meta, name),
                                    "permissions": lambda pvs: permissions_text(meta, pvs)}
    stats = _find_view(appbuilder, "UserStatsChartView")
    if stats is not None:
        # its two charts are named by their definitions' labels, in English only
        stats.label_columns = {**stats.label_columns,
                               "login_count": lazy(TEXT["login_count"]),
                               "fail_login_count": lazy(TEXT["fail_login_count"])}
        stats.definitions = [{**d, "label": lazy(TEXT[d["series"][0]])} if d["series"][0] in TEXT
                             else d for d in stats.definitions]


def register(app: Flask, appbuilder, meta: Metadata) -> None:
    with app.app_context():
        business_zone()  # a wrong MEDTRACE_TIMEZONE stops start-up, naming the setting
    logging.getLogger("flask_appbuilder.utils.base").addFilter(QuietRedirects())
    label_security_screens(appbuilder, meta)

    @app.route("/favicon.ico")
    def favicon():
        return send_from_directory(app.static_folder, "medtrace/favicon.ico",
                                   mimetype="image/vnd.microsoft.icon", max_age=7 * 24 * 3600)
