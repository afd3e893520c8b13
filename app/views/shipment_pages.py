"""Shipping to a customer or hospital (出库发货): the clerk chooses the
warehouse and the hospital, adds lines by scanning or searching a product
(seeing what is available and its earliest expiry), optionally names a lot,
and posts. Allocation (FEFO by default, minimum remaining shelf life) and every
rule are the API's: the page posts ``POST /api/v1/shipments/`` from the
browser. The shipment's page then shows its pick list in bin order."""
from __future__ import annotations

from flask import abort
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.domain.errors import NotFound
from app.i18n import Texts, current_language, lazy
from app.inventory.shipments import customers, shipment_detail
from app.runtime import Runtime
from app.stock.queries import active_warehouses
from app.web.requests import service_context

MENU = "ShipToCustomer"

TEXT = {
    "title": {"en": "Ship to a hospital", "zh": "发货出库"},
    "intro": {"en": "Choose the warehouse and the hospital or customer, add the goods by scanning or searching, "
                    "then post. Lots are allocated first-expiry-first-out unless you name one.",
              "zh": "请选择仓库和医院/客户，扫码或搜索添加货物后过账。未指定批次时按近效期先出分配。"},
    "warehouse": {"en": "Warehouse", "zh": "仓库"},
    "customer": {"en": "Hospital / customer", "zh": "医院/客户"},
    "reference": {"en": "Customer order", "zh": "客户订单号"},
    "strategy": {"en": "Allocation", "zh": "分配策略"},
    "default_strategy": {"en": "(the product's or warehouse's default)", "zh": "（按产品或仓库默认）"},
    "note": {"en": "Note", "zh": "备注"},
    "choose": {"en": "(choose)", "zh": "（请选择）"},
    "no_warehouse": {"en": "You have no warehouse to ship from: ask an administrator for a data access grant.",
                     "zh": "您没有可发货的仓库，请联系管理员授予数据权限。"},
    "no_customer": {"en": "No hospital or customer is on record: add one under Partners first.",
                    "zh": "尚无医院或客户，请先在往来单位中添加。"},
    "scan": {"en": "Scan (UDI barcode)", "zh": "扫码（UDI 条码）"},
    "scan_hint": {"en": "A scanned lot or serial is named on the line; “any lot” ships first expiry first.",
                  "zh": "扫描到的批号或序列号会写入该行；选择“任意批次”则按近效期先出。"},
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
    "available": {"en": "Available", "zh": "可用"},
    "earliest_expiry": {"en": "Earliest expiry", "zh": "最近效期"},
    "lot": {"en": "Lot", "zh": "批次"},
    "quantity": {"en": "Quantity", "zh": "数量"},
    "post": {"en": "Post shipment", "zh": "过账出库"},
    # the shipment's page
    "shipment": {"en": "Shipment {name}", "zh": "出库单 {name}"},
    "new": {"en": "New shipment", "zh": "新建出库"},
    "shipped_at": {"en": "Shipped at (UTC)", "zh": "出库时间 (UTC)"},
    "status": {"en": "Status", "zh": "状态"},
    "posted": {"en": "Posted", "zh": "已过账"},
    "reversed": {"en": "Reversed", "zh": "已冲销"},
    "by": {"en": "Posted by", "zh": "过账人"},
    "pick_list": {"en": "Pick list (in bin order)", "zh": "拣货单（按货位顺序）"},
    "seq": {"en": "Step", "zh": "顺序"},
    "bin": {"en": "Bin", "zh": "货位"},
    "serial": {"en": "Serial", "zh": "序列号"},
    "expiry": {"en": "Expiry", "zh": "有效期至"},
    "print": {"en": "Print", "zh": "打印"},
}
JS_TEXT = {
    "add": {"en": "Add", "zh": "添加"},
    "remove": {"en": "Remove", "zh": "删除"},
    "any_lot": {"en": "Any lot (first expiry first)", "zh": "任意批次（近效期先出）"},
    "lot_option": {"en": "{lot} · expires {expiry} · {qty} available", "zh": "{lot} · 效期 {expiry} · 可用 {qty}"},
    "lot_option_no_expiry": {"en": "{lot} · {qty} available", "zh": "{lot} · 可用 {qty}"},
    "lot_not_here": {"en": "{lot} (none available here)", "zh": "{lot}（本仓无可用库存）"},
    "serial": {"en": "Serial {serial}", "zh": "序列号 {serial}"},
    "short": {"en": "only {qty} available", "zh": "仅可用 {qty}"},
    "nothing_found": {"en": "No active product matches “{q}”.", "zh": "没有与“{q}”匹配的启用产品。"},
    "scan_refused": {"en": "Scan refused", "zh": "扫码被拒绝"},
    "unknown_di": {"en": "No product has UDI-DI {di}; add it to the product master first.",
                   "zh": "没有产品的 UDI-DI 为 {di}，请先在产品主数据中添加。"},
    "duplicate_serial": {"en": "Serial {serial} of {sku} is already on this shipment (line {n}).",
                         "zh": "{sku} 的序列号 {serial} 已在本出库单中（第 {n} 行）。"},
    "need_source": {"en": "Choose the warehouse the goods leave from.", "zh": "请选择发货仓库。"},
    "need_customer": {"en": "Choose the hospital or customer.", "zh": "请选择医院或客户。"},
    "need_lines": {"en": "Add at least one line.", "zh": "请至少添加一行明细。"},
    "bad_quantity": {"en": "Line {n}: the quantity must be a number greater than zero.",
                     "zh": "第 {n} 行：数量必须是大于零的数字。"},
    "summary": {"en": "{n} lines, {q} units", "zh": "共 {n} 行，{q} 件"},
    "posted": {"en": "Shipment {name} posted to {customer}.", "zh": "出库单 {name} 已过账，发往 {customer}。"},
    "not_posted": {"en": "Shipment not posted", "zh": "出库单未过账"},
    "unreachable": {"en": "The server could not be reached; try again.", "zh": "无法连接服务器，请重试。"},
    "leave": {"en": "Leave without posting?", "zh": "尚未过账，确定离开？"},
    "failed": {"en": "The server refused the request", "zh": "服务器拒绝了请求"},
}


def register(appbuilder, runtime: Runtime) -> list[tuple[str, str, str]]:
    class ShipmentPagesView(BaseView):
        route_base = "/shipments"
        default_view = "new"
        class_permission_name = "Shipment"
        method_permission_name = {"new": "create", "detail": "read"}

        @expose("/new/")
        @has_access
        def new(self):
            lang = current_language()
            t = Texts(TEXT, lang)
            ctx = service_context()
            meta = runtime.meta.entities["Shipment"].fields["strategy"]
            strategies = [{"value": o, "label": meta.option_label(o).get(lang) or o} for o in meta.options]
            return self.render_template(
                "medtrace/shipment_new.html", t=t, lang=lang, title=t("title"),
                warehouses=active_warehouses(ctx), customers=customers(ctx), strategies=strategies,
                js_text=Texts(JS_TEXT, lang).subset(JS_TEXT))

        @expose("/<ref>/")
        @has_access
        def detail(self, ref):
            lang = current_language()
            t = Texts(TEXT, lang)
            try:
                data = shipment_detail(service_context(), ref)
            except NotFound:
                abort(404)
            return self.render_template("medtrace/shipment_detail.html", t=t, lang=lang,
                                        title=t("shipment", name=data["name"]), sh=data, js_text={})

    category = lazy(runtime.meta.modules.get("inventory", {"en": "Inventory", "zh": "库存"}))
    sm = appbuilder.sm
    appbuilder.add_view(ShipmentPagesView, MENU, label=lazy(TEXT["title"]), icon="fa-truck",
                        category="inventory", category_label=category,
                        menu_cond=lambda: sm.has_access("can_create", "Shipment"))
    return [(MENU, "Shipment", "create")]
