"""Put-away (上架): the clerk scans (or picks) an item waiting in the receiving
area, scans the bin it goes to, and posts. The page suggests a bin where one
is configured or already holds the item (``app.inventory.putaway``) and posts
through the REST API (``POST /api/v1/moves/``), the same path as a script."""
from __future__ import annotations

from flask import request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from app.domain.clock import today
from app.domain.errors import DomainError
from app.i18n import Texts, current_language, lazy
from app.inventory.putaway import putaway_worklist
from app.runtime import Runtime
from app.stock.queries import active_warehouses
from app.web.requests import service_context

MENU = "PutAway"

TEXT = {
    "title": {"en": "Put away", "zh": "上架"},
    "intro": {"en": "Scan an item in the receiving area (or choose it below), then scan the bin it goes to "
                    "and press Enter.",
              "zh": "扫描收货区中的货物（或在下表中选择），再扫描目标货位并按回车过账。"},
    "warehouse": {"en": "Warehouse", "zh": "仓库"},
    "choose": {"en": "(choose)", "zh": "（请选择）"},
    "show": {"en": "Show", "zh": "显示"},
    "no_warehouse": {"en": "You have no warehouse: ask an administrator for a data access grant.",
                     "zh": "您没有可操作的仓库，请联系管理员授予数据权限。"},
    "scan_item": {"en": "1. Scan the item", "zh": "1. 扫描货物"},
    "scan_bin": {"en": "2. Scan the bin", "zh": "2. 扫描货位"},
    "quantity": {"en": "Quantity", "zh": "数量"},
    "post": {"en": "Put away", "zh": "上架过账"},
    "suggested": {"en": "Suggested", "zh": "建议货位"},
    "use": {"en": "Use", "zh": "使用"},
    "waiting": {"en": "Waiting in receiving", "zh": "收货区待上架"},
    "none": {"en": "Nothing is waiting in the receiving area.", "zh": "收货区没有待上架的货物。"},
    "from": {"en": "In", "zh": "所在库位"},
    "sku": {"en": "SKU", "zh": "物料编码"},
    "name": {"en": "Name", "zh": "名称"},
    "lot": {"en": "Lot", "zh": "批号"},
    "serial": {"en": "Serial", "zh": "序列号"},
    "expiry": {"en": "Expiry", "zh": "有效期至"},
    "status": {"en": "Status", "zh": "状态"},
    "movable": {"en": "To put away", "zh": "待上架数量"},
    "pick": {"en": "Choose", "zh": "选择"},
    "selected": {"en": "Selected", "zh": "已选择"},
    "nothing_selected": {"en": "No item chosen yet.", "zh": "尚未选择货物。"},
    "dedicated": {"en": "bin set up for this product", "zh": "该产品的指定货位"},
    "same_lot": {"en": "holds this lot", "zh": "已存放该批次"},
    "same_product": {"en": "holds this product", "zh": "已存放该产品"},
    "expired": {"en": "Expired", "zh": "已过期"},
}
JS_TEXT = {
    "scan_refused": {"en": "Scan refused", "zh": "扫码被拒绝"},
    "unknown_di": {"en": "No product has UDI-DI {di}", "zh": "没有产品的 UDI-DI 为 {di}"},
    "not_waiting": {"en": "{what} is not waiting in the receiving area", "zh": "{what} 不在收货区待上架货物中"},
    "lot_of": {"en": "lot {lot} of {sku}", "zh": "{sku} 批次 {lot}"},
    "serial_of": {"en": "serial {serial} of {sku}", "zh": "{sku} 序列号 {serial}"},
    "need_item": {"en": "Scan or choose the item to put away first.", "zh": "请先扫描或选择要上架的货物。"},
    "need_bin": {"en": "Scan the bin the item goes to.", "zh": "请扫描目标货位。"},
    "not_a_bin": {"en": "{bin} is not a bin of {warehouse}", "zh": "{bin} 不是仓库 {warehouse} 的货位"},
    "same_bin": {"en": "The item is already in {bin}", "zh": "货物已在 {bin}"},
    "bad_quantity": {"en": "The quantity must be a number greater than zero and at most {max}.",
                     "zh": "数量必须是大于零且不超过 {max} 的数字。"},
    "done": {"en": "Put away: {qty} × {what} → {bin} ({name})", "zh": "已上架：{qty} × {what} → {bin}（{name}）"},
    "failed": {"en": "Not put away", "zh": "未上架"},
    "unreachable": {"en": "The server could not be reached; try again.", "zh": "无法连接服务器，请重试。"},
}
STATUS = {"available": {"en": "Available", "zh": "可用"}, "quarantine": {"en": "Quarantine", "zh": "待检"},
          "on_hold": {"en": "On hold", "zh": "冻结"}, "damaged": {"en": "Damaged", "zh": "破损"},
          "recalled": {"en": "Recalled", "zh": "已召回"}, "expired": {"en": "Expired", "zh": "已过期"}}


def register(appbuilder, runtime: Runtime) -> list[tuple[str, str, str]]:
    class PutAwayView(BaseView):
        route_base = "/putaway"
        default_view = "putaway"
        class_permission_name = "InternalMove"
        method_permission_name = {"putaway": "create"}

        @expose("/")
        @has_access
        def putaway(self):
            lang = current_language()
            t = Texts(TEXT, lang)
            ctx = service_context()
            warehouses = active_warehouses(ctx)
            chosen = (request.args.get("warehouse") or "").strip()
            if not chosen and len(warehouses) == 1:
                chosen = warehouses[0]["code"]
            work, error = None, None
            if chosen:
                try:
                    work = putaway_worklist(ctx, chosen)
                except DomainError as exc:
                    error = exc.in_language(lang)
            status = Texts(STATUS, lang)
            for item in (work or {}).get("items", []):
                item["status_label"] = status(item["status"]) if item["status"] in STATUS else item["status"]
                item["expired"] = bool(item.get("expiry_date") and item["expiry_date"] < today().isoformat())
            return self.render_template(
                "medtrace/putaway.html", t=t, lang=lang, title=t("title"), warehouses=warehouses,
                chosen=chosen, work=work, error=error, js_text=Texts(JS_TEXT, lang).subset(JS_TEXT))

    category = lazy(runtime.meta.modules.get("inventory", {"en": "Inventory", "zh": "库存"}))
    sm = appbuilder.sm
    appbuilder.add_view(PutAwayView, MENU, label=lazy(TEXT["title"]), icon="fa-level-down",
                        category="inventory", category_label=category,
                        menu_cond=lambda: sm.has_access("can_create", "InternalMove"))
    return [(MENU, "InternalMove", "create")]
