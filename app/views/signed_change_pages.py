"""A page per record with regulated fields (a lot's status and expiry, a
product's risk class, a warehouse's region): QA or the administrator changes
them here with a reason and, where required, an electronic signature. The page
posts to the signed-change API, the same path as an integration."""
from __future__ import annotations

from flask import abort
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.documents.signed_pages import signed_change_page
from app.domain.errors import NotFound
from app.i18n import Texts, current_language
from app.runtime import Runtime
from app.web.requests import service_context

TEXT = {
    "title": {"en": "Signed change", "zh": "签名变更"},
    "intro": {"en": "These fields are regulated: a change needs a reason and is recorded with "
                    "who signed it, when and what the signature means.",
              "zh": "以下为受控字段：修改需填写原因，并记录签名人、时间和签名含义。"},
    "field": {"en": "Field", "zh": "字段"},
    "current": {"en": "Current value", "zh": "当前值"},
    "new": {"en": "New value", "zh": "新值"},
    "who": {"en": "Who may change it", "zh": "可修改角色"},
    "unchanged": {"en": "(unchanged)", "zh": "（不变）"},
    "reason": {"en": "Reason (required)", "zh": "原因（必填）"},
    "password": {"en": "Your password (electronic signature)", "zh": "您的登录密码（电子签名）"},
    "meaning": {"en": "Meaning of your signature", "zh": "签名含义"},
    "submit": {"en": "Sign and save", "zh": "签名并保存"},
    "history": {"en": "Signed changes", "zh": "签名变更记录"},
    "history_none": {"en": "No signed change yet.", "zh": "尚无签名变更。"},
    "when": {"en": "When (UTC)", "zh": "时间 (UTC)"},
    "by": {"en": "Signed by", "zh": "签名人"},
    "old": {"en": "Old value", "zh": "原值"},
    "not_yours": {"en": "Your roles may not change these fields.", "zh": "您的角色不能修改这些字段。"},
    "nothing": {"en": "Change at least one value.", "zh": "请至少修改一个值。"},
    "need_reason": {"en": "Please give the reason.", "zh": "请填写原因。"},
    "need_password": {"en": "Please enter your password to sign.", "zh": "请输入密码以签名。"},
    "done": {"en": "Saved and signed.", "zh": "已签名保存。"},
    "failed": {"en": "The server refused the change", "zh": "服务器拒绝了修改"},
}
JS_TEXT = ("nothing", "need_reason", "need_password", "done", "failed")


def register(appbuilder, runtime: Runtime) -> None:
    """A signed-change page for every entity with regulated fields (no menu entry:
    it is reached from the record)."""
    for entity in sorted(runtime.meta.entities.values(), key=lambda e: e.name):
        if entity.regulated():
            appbuilder.add_view_no_menu(_view(entity))


def _view(entity) -> type:
    @expose("/<ref>/")
    @has_access
    def page(self, ref):
        try:
            data = signed_change_page(service_context(), entity.name, ref, current_language())
        except NotFound:
            abort(404)
        t = Texts(TEXT)
        return self.render_template("medtrace/signed_change.html", rec=data, t=t, js_text=t.subset(JS_TEXT),
                                    title=f"{t('title')} · {data['label']} {data['title']}")

    return type(f"{entity.name}SignedChangeView", (BaseView,), {
        "route_base": f"/records/{entity.resource}/signed-change", "default_view": "page",
        "class_permission_name": entity.name, "method_permission_name": {"page": "read"},
        "page": page,
    })
