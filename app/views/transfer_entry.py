"""Transfer entry (新建调拨单): a clerk requests a transfer from one of their
warehouses to any active warehouse, adds lines by scanning or by searching a
product (seeing what is available at the source and its earliest expiry),
optionally names a lot, and saves a draft or submits it.

The page reads its choices through ``app.transfers.entry``; it saves through
the REST API from the browser (``POST /api/v1/transfers/``, ``PUT
/api/v1/transfers/<name>``, ``POST .../actions/submit``), so the page and a
script take the same services and rules (totals, scope, the workflow)."""
from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.domain.errors import Conflict, Forbidden, NotFound
from app.i18n import Texts, current_language, lazy
from app.runtime import Runtime
from app.transfers.entry import draft_for_entry, entry_form
from app.web.requests import service_context

NEW_MENU = "NewTransfer"

TEXT = {
    "new": {"en": "New transfer", "zh": "新建调拨单"},
    "edit": {"en": "Edit transfer {name}", "zh": "修改调拨单 {name}"},
    "intro": {"en": "Choose where the goods go, then add lines by scanning a UDI barcode or searching a product. "
                    "Save as a draft to finish later, or submit it for approval.",
              "zh": "请选择调入仓库，然后扫描 UDI 条码或搜索产品添加明细。可先保存为草稿，也可直接提交审批。"},
    "back": {"en": "Back to the board", "zh": "返回看板"},
    "back_transfer": {"en": "Back to {name}", "zh": "返回 {name}"},
    "from": {"en": "From warehouse", "zh": "调出仓库"},
    "to": {"en": "To warehouse", "zh": "调入仓库"},
    "priority": {"en": "Priority", "zh": "优先级"},
    "needed_by": {"en": "Needed by", "zh": "需求日期"},
    "reason": {"en": "Reason", "zh": "调拨原因"},
    "note": {"en": "Note", "zh": "说明"},
    "choose": {"en": "(choose)", "zh": "（请选择）"},
    "none_chosen": {"en": "(none)", "zh": "（无）"},
    "no_source": {"en": "You have no warehouse to send from: ask an administrator for a data access grant.",
                  "zh": "您没有可调出的仓库，请联系管理员授予数据权限。"},
    "scan": {"en": "Scan (UDI barcode)", "zh": "扫码（UDI 条码）"},
    "scan_hint": {"en": "A scanned lot or serial is named on the line; choose “any lot” to let approval pick by FEFO.",
                  "zh": "扫描到的批号或序列号会写入该行；选择“任意批次”则由审批后按近效期先出分配。"},
    "search": {"en": "Search product", "zh": "搜索产品"},
    "search_hint": {"en": "SKU, name, model or UDI-DI", "zh": "物料编码、名称、型号或 UDI-DI"},
    "results": {"en": "Products found", "zh": "搜索结果"},
    "lines_title": {"en": "Lines", "zh": "明细"},
    "no_lines": {"en": "No line yet: scan or search a product.", "zh": "尚无明细：请扫码或搜索产品。"},
    "no": {"en": "#", "zh": "序号"},
    "sku": {"en": "SKU", "zh": "物料编码"},
    "name": {"en": "Name", "zh": "名称"},
    "model": {"en": "Model", "zh": "型号规格"},
    "udi_di": {"en": "UDI-DI", "zh": "UDI-DI"},
    "available": {"en": "Available at source", "zh": "调出仓可用"},
    "earliest_expiry": {"en": "Earliest expiry", "zh": "最近效期"},
    "lot": {"en": "Lot", "zh": "批次"},
    "quantity": {"en": "Quantity", "zh": "数量"},
    "save": {"en": "Save draft", "zh": "保存草稿"},
    "submit": {"en": "Submit for approval", "zh": "提交审批"},
}
JS_TEXT = {
    "add": {"en": "Add", "zh": "添加"},
    "remove": {"en": "Remove", "zh": "删除"},
    "any_lot": {"en": "Any lot (FEFO at approval)", "zh": "任意批次（审批后按近效期先出）"},
    "lot_option": {"en": "{lot} · expires {expiry} · {qty} available", "zh": "{lot} · 效期 {expiry} · 可用 {qty}"},
    "lot_option_no_expiry": {"en": "{lot} · {qty} available", "zh": "{lot} · 可用 {qty}"},
    "lot_not_here": {"en": "{lot} (none available at the source)", "zh": "{lot}（调出仓无可用库存）"},
    "serial": {"en": "Serial {serial}", "zh": "序列号 {serial}"},
    "short": {"en": "only {qty} available", "zh": "仅可用 {qty}"},
    "nothing_found": {"en": "No active product matches “{q}”.", "zh": "没有与“{q}”匹配的启用产品。"},
    "searching": {"en": "Searching…", "zh": "正在搜索…"},
    "scan_refused": {"en": "Scan refused", "zh": "扫码被拒绝"},
    "unknown_di": {"en": "No product has UDI-DI {di}; add it to the product master first.",
                   "zh": "没有产品的 UDI-DI 为 {di}，请先在产品主数据中添加。"},
    "duplicate_serial": {"en": "Serial {serial} of {sku} is already on this transfer (line {n}).",
                         "zh": "{sku} 的序列号 {serial} 已在本调拨单中（第 {n} 行）。"},
    "need_source": {"en": "Choose the warehouse the goods leave from.", "zh": "请选择调出仓库。"},
    "need_destination": {"en": "Choose the warehouse the goods go to.", "zh": "请选择调入仓库。"},
    "same_warehouse": {"en": "The source and the destination must differ.", "zh": "调出与调入仓库不能相同。"},
    "need_lines": {"en": "Add at least one line.", "zh": "请至少添加一行明细。"},
    "bad_quantity": {"en": "Line {n}: the quantity must be a number greater than zero.",
                     "zh": "第 {n} 行：数量必须是大于零的数字。"},
    "saved": {"en": "Draft {name} saved.", "zh": "草稿 {name} 已保存。"},
    "submitted": {"en": "{name} submitted for approval.", "zh": "{name} 已提交审批。"},
    "not_saved": {"en": "Transfer not saved", "zh": "调拨单未保存"},
    "saved_not_submitted": {"en": "Draft {name} saved, but not submitted", "zh": "草稿 {name} 已保存，但未能提交"},
    "summary": {"en": "{n} lines, {q} units", "zh": "共 {n} 行，{q} 件"},
    "failed": {"en": "The server refused the request", "zh": "服务器拒绝了请求"},
    "done": {"en": "Done.", "zh": "完成。"},
    "unreachable": {"en": "The server could not be reached; try again.", "zh": "无法连接服务器，请重试。"},
    "leave": {"en": "Leave without saving?", "zh": "尚未保存，确定离开？"},
}


def register(appbuilder, runtime: Runtime) -> list[tuple[str, str, str]]:
    """Add the entry page (new and edit); return its menu entry."""

    class TransferEntryView(BaseView):
        route_base = "/transfers"
        default_view = "new"
        class_permission_name = "TransferOrder"
        method_permission_name = {"new": "create", "edit": "write"}

        def _page(self, title: str, draft: dict | None):
            lang = current_language()
            ctx = service_context()
            t = Texts(TEXT, lang)
            return self.render_template(
                "medtrace/transfer_entry.html", t=t, lang=lang, title=title,
                form=entry_form(ctx, lang), draft=draft,
                js_text=Texts(JS_TEXT, lang).subset(JS_TEXT))

        @expose("/new/")
        @has_access
        def new(self):
            return self._page(Texts(TEXT)("new"), None)

        @expose("/<ref>/edit/")
        @has_access
        def edit(self, ref):
            ctx = service_context()
            try:
                draft = draft_for_entry(ctx, ref)
            except NotFound:
                abort(404)
            except (Conflict, Forbidden) as exc:
                flash(exc.in_language(current_language()), "warning")
                return redirect(url_for("TransferPagesView.detail", ref=ref))
            return self._page(Texts(TEXT)("edit", name=draft["name"]), draft)

    category = lazy(runtime.meta.modules.get("transfers", {"en": "Transfers", "zh": "调拨"}))
    sm = appbuilder.sm
    appbuilder.add_view(TransferEntryView, NEW_MENU, label=lazy(TEXT["new"]), icon="fa-plus",
                        category="transfers", category_label=category,
                        menu_cond=lambda: sm.has_access("can_create", "TransferOrder"))
    return [(NEW_MENU, "TransferOrder", "create")]
