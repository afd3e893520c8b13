"""Receipts (入库单): find a posted receipt (by number, delivery note or
supplier), see its lines and how each was received, and, for those allowed
to correct receipts (the ``write`` permission on Receipt: warehouse managers),
reverse a wrong one. The button posts ``POST /api/v1/receipts/<name>/reverse``
from the browser: the API's rules and messages, nothing of its own."""
from __future__ import annotations

from flask import abort, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.domain.errors import NotFound
from app.i18n import Texts, current_language, lazy
from app.inventory.receipts import receipt_detail, recent_receipts
from app.runtime import Runtime
from app.web.requests import service_context

MENU = "ReceiptLookup"

TEXT = {
    "title": {"en": "Receipts and corrections", "zh": "入库单查询与冲销"},
    "intro": {"en": "Find a receipt by its number, delivery note or supplier. A wrong receipt is corrected by "
                    "reversing it (warehouse managers), never by editing it.",
              "zh": "按入库单号、送货单号或供应商查找入库单。错误的入库单只能冲销（由仓库经理操作），不能修改。"},
    "find": {"en": "Find", "zh": "查找"},
    "find_hint": {"en": "RC-…, delivery note or supplier", "zh": "RC-…、送货单号或供应商"},
    "latest": {"en": "Latest receipts", "zh": "最近的入库单"},
    "found": {"en": "Receipts matching “{q}”", "zh": "与“{q}”匹配的入库单"},
    "none": {"en": "No receipt found.", "zh": "没有找到入库单。"},
    "number": {"en": "Number", "zh": "单号"},
    "received_at": {"en": "Received at (UTC)", "zh": "入库时间 (UTC)"},
    "supplier": {"en": "Supplier", "zh": "供应商"},
    "warehouse": {"en": "Warehouse", "zh": "仓库"},
    "reference": {"en": "Delivery note", "zh": "送货单号"},
    "status": {"en": "Status", "zh": "状态"},
    "posted": {"en": "Posted", "zh": "已过账"},
    "reversed": {"en": "Reversed", "zh": "已冲销"},
    # one receipt
    "receipt": {"en": "Receipt {name}", "zh": "入库单 {name}"},
    "back": {"en": "All receipts", "zh": "全部入库单"},
    "location": {"en": "Received into", "zh": "入库库位"},
    "inspection": {"en": "Incoming inspection", "zh": "来料检验"},
    "yes": {"en": "Yes", "zh": "是"},
    "no": {"en": "No", "zh": "否"},
    "by": {"en": "Received by", "zh": "收货人"},
    "note": {"en": "Note", "zh": "备注"},
    "lines": {"en": "Lines", "zh": "明细"},
    "sku": {"en": "SKU", "zh": "物料编码"},
    "name": {"en": "Name", "zh": "名称"},
    "lot": {"en": "Lot", "zh": "批号"},
    "serial": {"en": "Serial", "zh": "序列号"},
    "expiry": {"en": "Expiry", "zh": "有效期至"},
    "quantity": {"en": "Quantity", "zh": "数量"},
    "received_as": {"en": "Received as", "zh": "入库状态"},
    "lot_status": {"en": "Lot status now", "zh": "批次当前状态"},
    "reverse": {"en": "Reverse this receipt", "zh": "冲销此入库单"},
    "reverse_help": {"en": "Reversing takes every unit of this receipt back out of {location} with mirror moves. "
                           "Units already put away, shipped or reserved must be moved back first.",
                     "zh": "冲销将以反向移动把本入库单的全部货物从 {location} 移出。已上架、已发出或已预留的货物须先移回。"},
    "confirm_reverse": {"en": "Reverse receipt {name}? Its stock leaves {location}; this cannot be undone.",
                        "zh": "确定冲销入库单 {name}？其库存将从 {location} 移出，且不可撤销。"},
    "reversed_note": {"en": "This receipt was reversed: its stock was taken back out.",
                      "zh": "此入库单已冲销，其库存已移出。"},
}
STATUS = {"available": {"en": "Available", "zh": "可用"}, "quarantine": {"en": "Quarantine", "zh": "待检"},
          "on_hold": {"en": "On hold", "zh": "冻结"}, "recalled": {"en": "Recalled", "zh": "已召回"},
          "expired": {"en": "Expired", "zh": "已过期"}, "damaged": {"en": "Damaged", "zh": "破损"}}
JS_TEXT = {"failed": {"en": "The server refused the request", "zh": "服务器拒绝了请求"},
           "done": {"en": "Done.", "zh": "完成。"},
           "working": {"en": "Working…", "zh": "处理中…"}}


def register(appbuilder, runtime: Runtime) -> list[tuple[str, str, str]]:
    class ReceiptPagesView(BaseView):
        route_base = "/receipts"
        default_view = "lookup"
        class_permission_name = "Receipt"
        method_permission_name = {"lookup": "read", "detail": "read"}

        @expose("/")
        @has_access
        def lookup(self):
            lang = current_language()
            t = Texts(TEXT, lang)
            q = (request.args.get("q") or "").strip()[:64]
            rows = recent_receipts(service_context(), q)
            return self.render_template("medtrace/receipts.html", t=t, lang=lang, title=t("title"),
                                        q=q, rows=rows, view="lookup", js_text={})

        @expose("/<ref>/")
        @has_access
        def detail(self, ref):
            lang = current_language()
            t = Texts(TEXT, lang)
            try:
                data = receipt_detail(service_context(), ref)
            except NotFound:
                abort(404)
            status = Texts(STATUS, lang)
            for line in data["lines"]:
                line["received_as_label"] = status(line["received_as"]) if line["received_as"] in STATUS else ""
                line["lot_status_label"] = status(line["lot_status"]) if line["lot_status"] in STATUS else ""
            can_reverse = (data["status"] == "posted"
                           and self.appbuilder.sm.has_access("can_write", "Receipt"))
            return self.render_template("medtrace/receipts.html", t=t, lang=lang,
                                        title=t("receipt", name=data["name"]), rc=data, view="detail",
                                        can_reverse=can_reverse,
                                        js_text=Texts(JS_TEXT, lang).subset(JS_TEXT))

    category = lazy(runtime.meta.modules.get("inventory", {"en": "Inventory", "zh": "库存"}))
    sm = appbuilder.sm
    appbuilder.add_view(ReceiptPagesView, MENU, label=lazy(TEXT["title"]), icon="fa-undo",
                        category="inventory", category_label=category,
                        menu_cond=lambda: sm.has_access("can_read", "Receipt"))
    return [(MENU, "Receipt", "read")]
