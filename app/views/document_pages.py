"""Generic pages for every workflow document without purpose-built ones: a
board (columns by state, pending approvals on top) and a detail page with the
fields, lines, history and action buttons. Menus appear for roles that may
read the entity; the buttons act through the generic workflow API."""
from __future__ import annotations

from flask import abort
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.documents.pages import document_board, document_page
from app.domain.errors import NotFound
from app.i18n import Texts, business_zone, current_language, lazy, zone_text
from app.runtime import Runtime
from app.web.requests import service_context

TEXT = {
    "board": {"en": "{label} board", "zh": "{label}看板"},
    "pending": {"en": "Waiting for my approval", "zh": "待我审批"},
    "pending_none": {"en": "Nothing is waiting for your approval.", "zh": "暂无待您审批的单据。"},
    "finished": {"en": "Finished in the last {days} days", "zh": "近 {days} 天已结束"},
    "none": {"en": "None", "zh": "无"},
    "more": {"en": "and {n} more", "zh": "另有 {n} 张"},
    "back": {"en": "Back to the board", "zh": "返回看板"},
    "actions": {"en": "Actions", "zh": "操作"},
    "no_actions": {"en": "No action is open to you in this state.", "zh": "当前状态下您没有可执行的操作。"},
    "not_possible": {"en": "Not possible for you now", "zh": "您当前不能执行"},
    "history": {"en": "History and signatures", "zh": "审批记录与电子签名"},
    "history_none": {"en": "No action taken yet.", "zh": "尚无操作记录。"},
    "when": {"en": "When ({zone})", "zh": "时间（{zone}）"},
    "who": {"en": "Who", "zh": "操作人"},
    "action": {"en": "Action", "zh": "操作"},
    "transition": {"en": "From → to", "zh": "状态变化"},
    "comment": {"en": "Comment", "zh": "意见"},
    "signature": {"en": "Electronic signature", "zh": "电子签名"},
    "signed": {"en": "Signed by {who} at {at}, meaning: {meaning}", "zh": "{who} 于 {at} 签署，含义：{meaning}"},
    "lines_none": {"en": "No lines.", "zh": "无明细。"},
    # the action dialog (common.js)
    "comment_required": {"en": "Comment (required)", "zh": "意见（必填）"},
    "comment_optional": {"en": "Comment (optional)", "zh": "意见（选填）"},
    "password": {"en": "Your password", "zh": "您的登录密码"},
    "sign_notice": {"en": "This action is signed electronically. Re-enter your password to sign; "
                          "the meaning of your signature is recorded:",
                    "zh": "此操作需要电子签名。请再次输入您的密码进行签署，签名含义将被记录："},
    "confirm": {"en": "Confirm", "zh": "确认"},
    "close": {"en": "Cancel", "zh": "取消"},
    "working": {"en": "Working…", "zh": "处理中…"},
    "need_comment": {"en": "Please enter a comment.", "zh": "请填写意见。"},
    "need_password": {"en": "Please enter your password to sign.", "zh": "请输入密码以签名。"},
    "failed": {"en": "The server refused the request", "zh": "服务器拒绝了请求"},
    "done": {"en": "Done.", "zh": "完成。"},
    "choose": {"en": "(choose)", "zh": "（请选择）"},
}
JS_TEXT = ("comment_required", "comment_optional", "password", "sign_notice", "confirm", "close",
           "working", "need_comment", "need_password", "failed", "done", "choose")


def register(appbuilder, runtime: Runtime, skip: set[str]) -> list[tuple[str, str, str]]:
    """A board and a detail page per workflow entity not in ``skip``; returns
    their menu entries for permission sync."""
    pages = []
    for entity_name in sorted(runtime.workflows):
        if entity_name in skip:
            continue
        entity = runtime.meta.entities[entity_name]
        form = runtime.meta.form(entity_name)
        card_fields = tuple(form.list_columns) or tuple(entity.fields)
        view = _view(entity, card_fields)
        menu = f"{entity_name}Board"
        label = {lang: TEXT["board"][lang].format(label=entity.label[lang]) for lang in ("en", "zh")}
        module_label = runtime.meta.modules.get(entity.module, {"en": entity.module, "zh": entity.module})
        appbuilder.add_view(view, menu, label=lazy(label), icon="fa-columns",
                            category=entity.module, category_label=lazy(module_label))
        pages.append((menu, entity_name, "read"))
    return pages


def _view(entity, card_fields: tuple[str, ...]) -> type:
    def _page(self, template: str, **kw):
        t = Texts(TEXT)
        return self.render_template(template, t=t, lang=t.lang, js_text=t.subset(JS_TEXT),
                                    entity_label=entity.label.get(t.lang), zone=zone_text(), **kw)

    @expose("/board/")
    @has_access
    def board(self):
        data = document_board(service_context(), entity.name, current_language(), card_fields)
        return self._page("medtrace/document_board.html", board=data,
                          title=Texts(TEXT)("board", label=data["label"]))

    @expose("/<ref>/")
    @has_access
    def detail(self, ref):
        try:
            data = document_page(service_context(), entity.name, ref, current_language(),
                                 business_zone())
        except NotFound:
            abort(404)
        return self._page("medtrace/document_detail.html", doc=data, title=f"{data['label']} {data['name']}")

    return type(f"{entity.name}PagesView", (BaseView,), {
        "route_base": f"/documents/{entity.resource}", "default_view": "board",
        "class_permission_name": entity.name,
        "method_permission_name": {"board": "read", "detail": "read"},
        "_page": _page, "board": board, "detail": detail,
    })
