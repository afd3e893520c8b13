"""Purpose-built inventory pages: scan-to-receive (扫码收货), stock on hand per
warehouse (库存查询) and one lot's page (批次: where it is, how it moved).

The receive page reads its choices (suppliers, the user's warehouses and their
bins) on the server and posts through the REST API from the browser
(``/api/v1/receipts/scan`` for what a scan would do, ``/api/v1/receipts/``), so a
scan and an API call take exactly the same path. The stock pages read through ``app.services.stock``,
which applies the user's warehouse scope.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import abort, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from werkzeug.routing import BuildError

from app.actor import current_actor
from app.domain.quantities import format_quantity
from app.i18n import current_language, lazy
from app.runtime import Runtime
from app.web.requests import service_context
from app.stock import queries as stock
from app.views import stock_export

RECEIVE_MENU = "ScanReceive"
STOCK_MENU = "StockOnHand"
PAGE_SIZE = 200
LOT_BALANCES_LIMIT = 2000
EXPIRY_WARNING_DAYS = 90
# the page that shows each kind of document a move belongs to
DOCUMENT_PAGES = {"TransferOrder": "TransferPagesView.detail", "Receipt": "ReceiptPagesView.detail",
                  "Shipment": "ShipmentPagesView.detail"}

TEXT = {
    # receive page
    "receive": {"en": "Scan to receive", "zh": "扫码收货"},
    "receive_intro": {"en": "Choose the supplier and the warehouse, then scan each item's UDI barcode. "
                            "Press Enter after a typed code.",
                      "zh": "请选择供应商和仓库，然后逐件扫描 UDI 条码。手工输入时按回车确认。"},
    "supplier": {"en": "Supplier", "zh": "供应商"},
    "warehouse": {"en": "Warehouse", "zh": "仓库"},
    "bin": {"en": "Receive into", "zh": "入库库位"},
    "default_bin": {"en": "Receiving area (default)", "zh": "收货区（默认）"},
    "inspection": {"en": "Incoming inspection (receive into quarantine)", "zh": "来料检验（入待检区）"},
    "reference": {"en": "Delivery note", "zh": "送货单号"},
    "scan": {"en": "Scan (UDI barcode)", "zh": "扫码（UDI 条码）"},
    "scan_hint": {"en": "GS1, GS1 Digital Link or HIBC; the field stays ready for the next scan.",
                  "zh": "支持 GS1、GS1 数字链接和 HIBC；扫描后可直接扫下一件。"},
    "choose": {"en": "(choose)", "zh": "（请选择）"},
    "no_warehouse": {"en": "You have no warehouse to receive into: ask an administrator for a data access grant.",
                     "zh": "您没有可收货的仓库，请联系管理员授予数据权限。"},
    "no_supplier": {"en": "No supplier is on record: add one under Partners first.",
                    "zh": "尚无供应商，请先在往来单位中添加。"},
    "lines_title": {"en": "Scanned items", "zh": "已扫描货物"},
    "no_lines": {"en": "Nothing scanned yet.", "zh": "尚未扫描任何货物。"},
    "post": {"en": "Post receipt", "zh": "过账入库"},
    "clear": {"en": "Clear all lines", "zh": "清空明细"},
    "no": {"en": "#", "zh": "序号"},
    "di": {"en": "GTIN / HIBC DI", "zh": "GTIN / HIBC 产品标识"},
    # shared column headings
    "product": {"en": "Product", "zh": "产品"},
    "sku": {"en": "SKU", "zh": "物料编码"},
    "name": {"en": "Name", "zh": "名称"},
    "lot": {"en": "Lot", "zh": "批号"},
    "serial": {"en": "Serial", "zh": "序列号"},
    "expiry": {"en": "Expiry", "zh": "有效期至"},
    "label_dates": {"en": "Other dates on the label", "zh": "标签上的其他日期"},
    "production": {"en": "Production date", "zh": "生产日期"},
    "quantity": {"en": "Quantity", "zh": "数量"},
    "reserved": {"en": "Reserved", "zh": "已预留"},
    "available_qty": {"en": "Available", "zh": "可用数量"},
    "status": {"en": "Status", "zh": "状态"},
    "location": {"en": "Location", "zh": "库位"},
    "remove": {"en": "Remove", "zh": "删除"},
    # stock page
    "stock": {"en": "Stock on hand", "zh": "库存查询"},
    "all_warehouses": {"en": "All my warehouses", "zh": "我的全部仓库"},
    "any_status": {"en": "Any status", "zh": "全部状态"},
    "filter": {"en": "Filter", "zh": "查询"},
    "reset": {"en": "Reset", "zh": "重置"},
    "product_hint": {"en": "SKU", "zh": "物料编码"},
    "lot_hint": {"en": "Lot number", "zh": "批号"},
    "stock_none": {"en": "No stock matches these filters.", "zh": "没有符合条件的库存。"},
    "count": {"en": "{n} balances", "zh": "共 {n} 条库存记录"},
    "page_of": {"en": "rows {a}–{b} of {n}", "zh": "第 {a}–{b} 条，共 {n} 条"},
    "previous": {"en": "Previous", "zh": "上一页"},
    "next": {"en": "Next", "zh": "下一页"},
    "in_transit": {"en": "In transit", "zh": "在途"},
    "in_transit_title": {"en": "In transit to or from {wh}", "zh": "{wh} 相关在途库存"},
    "transit_of": {"en": "In transit: {name} {src} → {dst}", "zh": "在途：{name} {src} → {dst}"},
    "expired_badge": {"en": "Expired", "zh": "已过期"},
    "expiring_badge": {"en": "Expires soon", "zh": "近效期"},
    "out_of_scope": {"en": "Warehouse {code} is unknown or outside your data scope.",
                     "zh": "仓库 {code} 不存在或不在您的数据权限范围内。"},
    "scope_all": {"en": "You see every warehouse.", "zh": "您可查看全部仓库。"},
    "scope_some": {"en": "Your warehouses: {codes}", "zh": "您的仓库：{codes}"},
    # lot page
    "lot_title": {"en": "Lot {lot}", "zh": "批次 {lot}"},
    "where_now": {"en": "Where it is now", "zh": "当前库存位置"},
    "where_none": {"en": "None of this lot is in stock in your warehouses.",
                   "zh": "您的仓库中没有该批次的库存。"},
    "moves": {"en": "Moves", "zh": "出入库记录"},
    "moves_none": {"en": "This lot has no moves in your warehouses.", "zh": "该批次在您的仓库中没有出入库记录。"},
    "on_hand_total": {"en": "On hand in your warehouses", "zh": "您仓库中的在库数量"},
    "when": {"en": "When (UTC)", "zh": "时间 (UTC)"},
    "document": {"en": "Document", "zh": "单据"},
    "from": {"en": "From", "zh": "从"},
    "to": {"en": "To", "zh": "到"},
    "status_change": {"en": "Status", "zh": "状态"},
    "back_stock": {"en": "Back to stock on hand", "zh": "返回库存查询"},
}
STATUS = {
    "available": {"en": "Available", "zh": "可用"},
    "quarantine": {"en": "Quarantine", "zh": "待检"},
    "on_hold": {"en": "On hold", "zh": "冻结"},
    "recalled": {"en": "Recalled", "zh": "已召回"},
    "expired": {"en": "Expired", "zh": "已过期"},
    "damaged": {"en": "Damaged", "zh": "破损"},
}
BALANCE_STATUSES = ("available", "quarantine", "on_hold", "damaged", "recalled", "expired")
STATUS_CLASS = {"available": "success", "quarantine": "warning", "on_hold": "warning",
                "recalled": "danger", "expired": "danger", "damaged": "danger"}
JS_TEXT = {
    "working": {"en": "Posting…", "zh": "正在过账…"},
    "posted": {"en": "Receipt {name} posted: {n} lines into {location}.",
               "zh": "入库单 {name} 已过账：共 {n} 行，入库库位 {location}。"},
    "posted_quarantine": {"en": "The goods are in quarantine until the inspection releases them.",
                          "zh": "货物处于待检状态，检验放行后方可使用。"},
    "posted_expired": {"en": "{n} expired lines went into quarantine, their lots marked expired.",
                       "zh": "{n} 行过期货物已入待检，其批次标记为已过期。"},
    "open_receipt": {"en": "Open the receipt", "zh": "查看入库单"},
    "put_away": {"en": "Put it away", "zh": "去上架"},
    "best_before": {"en": "Best before {date}", "zh": "最佳使用日期 {date}"},
    "sell_by": {"en": "Sell by {date}", "zh": "销售截止 {date}"},
    "due_date": {"en": "Due {date}", "zh": "付款截止 {date}"},
    "from_best_before": {"en": "from the best-before date", "zh": "取自最佳使用日期"},
    "from_lot": {"en": "as on record for the lot", "zh": "按批次档案"},
    "type_expiry": {"en": "Type the expiry from the label", "zh": "请按标签输入失效日期"},
    "need_expiry": {"en": "Line {n}: type the expiry date printed on the label.",
                    "zh": "第 {n} 行：请输入标签上印刷的失效日期。"},
    "bad_expiry": {"en": "Line {n}: {date} is not a valid expiry date.", "zh": "第 {n} 行：{date} 不是有效的失效日期。"},
    "expired_quarantine": {"en": "Expired: into quarantine", "zh": "已过期：入待检"},
    "expired_refused": {"en": "Expired: {warehouse} does not accept expired goods",
                        "zh": "已过期：仓库 {warehouse} 不接收过期货物"},
    "scan_refused": {"en": "Scan refused", "zh": "扫码被拒绝"},
    "unknown_di": {"en": "No product has UDI-DI {di}; add it to the product master first.",
                   "zh": "没有产品的 UDI-DI 为 {di}，请先在产品主数据中添加。"},
    "duplicate_serial": {"en": "Serial {serial} of {sku} is already on this receipt (line {n}).",
                         "zh": "{sku} 的序列号 {serial} 已在本次收货中（第 {n} 行）。"},
    "need_supplier": {"en": "Choose the supplier.", "zh": "请选择供应商。"},
    "need_warehouse": {"en": "Choose the warehouse.", "zh": "请选择仓库。"},
    "need_lines": {"en": "Scan at least one item before posting.", "zh": "请至少扫描一件货物后再过账。"},
    "post_failed": {"en": "Receipt not posted", "zh": "入库单未过账"},
    "unreachable": {"en": "The server could not be reached; try again.", "zh": "无法连接服务器，请重试。"},
    "session": {"en": "Your session has expired: sign in again in another tab, the scanned lines stay here.",
                "zh": "登录已过期：请在新标签页重新登录，已扫描的明细仍保留在本页。"},
    "forbidden": {"en": "You may not do this", "zh": "您没有执行此操作的权限"},
    "remove": TEXT["remove"],
    "expired": TEXT["expired_badge"],
    "summary": {"en": "{n} lines, {q} units", "zh": "共 {n} 行，{q} 件"},
    "confirm_clear": {"en": "Remove all scanned lines?", "zh": "确定清空全部已扫描明细？"},
    "default_bin": TEXT["default_bin"],
    "choose": TEXT["choose"],
    "line": {"en": "line {n}", "zh": "第 {n} 行"},
}


def language() -> str:
    return current_language()


class Texts:
    """``t('stock')`` or ``t('count', n=3)`` in the request's language."""

    def __init__(self, lang: str):
        self.lang = lang

    def pick(self, label: dict) -> str:
        return label.get(self.lang) or label.get("en") or ""

    def __call__(self, key: str, **values) -> str:
        text = self.pick(TEXT[key])
        return text.format(**values) if values else text

    def status(self, status: str | None) -> str:
        if not status:
            return ""
        return self.pick(STATUS.get(status, {"en": status}))

    def js(self) -> dict:
        return {k: self.pick(v) for k, v in JS_TEXT.items()}


def _url(endpoint: str, **values) -> str | None:
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


# --------------------------------------------------------------------- choices
def scoped_warehouses(ctx) -> list:
    """Active warehouses the actor may see, by code."""
    W = ctx.models["Warehouse"]
    stmt = sa.select(W).where(W.active.isnot(False)).order_by(W.code)
    scope = ctx.actor.warehouse_ids
    if scope is not None:
        stmt = stmt.where(W.id.in_(list(scope)))
    return list(ctx.session.execute(stmt).scalars())


def receive_choices(ctx) -> dict:
    """Suppliers, the actor's warehouses and their bins (receiving area first)."""
    m = ctx.models
    P, L = m["Partner"], m["Location"]
    suppliers = [{"code": c, "name": n} for c, n in ctx.session.execute(
        sa.select(P.code, P.name).where(P.kind == "supplier").order_by(P.code)).all()]
    warehouses = scoped_warehouses(ctx)
    by_id = {w.id: w.code for w in warehouses}
    bins: dict[str, list[dict]] = {w.code: [] for w in warehouses}
    if by_id:
        rows = ctx.session.execute(
            sa.select(L.code, L.name, L.kind, L.warehouse_id)
            .where(L.warehouse_id.in_(list(by_id)), L.kind.in_(["receiving", "bin"]),
                   L.active.isnot(False))
            .order_by(L.warehouse_id, sa.case((L.kind == "receiving", 0), else_=1),
                      L.pick_sequence, L.code)).all()
        for code, name, kind, wid in rows:
            bins[by_id[wid]].append({"code": code, "name": name or "", "kind": kind})
    return {"suppliers": suppliers,
            "warehouses": [{"code": w.code, "name": w.name, "accept_expired": bool(w.accept_expired)}
                           for w in warehouses],
            "bins": bins}


# ----------------------------------------------------------------------- stock
def _expiry_flag(value: str | None, today: dt.date) -> str:
    if not value:
        return ""
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return ""
    if day < today:
        return "expired"
    if day <= today + dt.timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return ""


def _available(row: dict) -> str:
    try:
        return format_quantity(Decimal(row["quantity"]) - Decimal(row.get("reserved") or 0))
    except (InvalidOperation, TypeError):
        return ""


def _transit_labels(ctx, location_ids) -> dict[int, dict]:
    """Which transfer each transit location carries: {location_id: {name, src, dst}}."""
    ids = [i for i in set(location_ids) if i is not None]
    if not ids or "TransferOrder" not in ctx.models.models:
        return {}
    m = ctx.models
    T, W = m["TransferOrder"], m["Warehouse"]
    src, dst = sa.orm.aliased(W), sa.orm.aliased(W)
    rows = ctx.session.execute(
        sa.select(T.transit_location_id, T.name, src.code, dst.code)
        .join(src, src.id == T.from_warehouse_id).join(dst, dst.id == T.to_warehouse_id)
        .where(T.transit_location_id.in_(ids))).all()
    return {loc: {"name": name, "src": s, "dst": d} for loc, name, s, d in rows}


def _decorate(ctx, rows: list[dict], t: Texts, today: dt.date) -> list[dict]:
    transit = _transit_labels(ctx, [r["location_id"] for r in rows if r.get("location_kind") == "transit"])
    for r in rows:
        r["in_transit"] = r.get("location_kind") == "transit"
        r["transit_label"] = ""
        if r["in_transit"]:
            info = transit.get(r["location_id"])
            r["transit_label"] = t("transit_of", **info) if info else t("in_transit")
        r["status_label"] = t.status(r.get("status"))
        r["status_class"] = STATUS_CLASS.get(r.get("status") or "", "default")
        r["lot_status_label"] = t.status(r.get("lot_status"))
        r["expiry_flag"] = _expiry_flag(r.get("expiry_date"), today)
        r["available"] = _available(r)
    return rows


def stock_page_data(ctx, args, t: Texts, today: dt.date | None = None) -> dict:
    """Balances for the filter form, one page at a time, in the actor's scope.

    With a warehouse chosen, stock in transit to or from it (on the trucks of
    its transfers) is listed separately, since in-transit stock belongs to no
    warehouse."""
    today = today or dt.date.today()
    warehouses = scoped_warehouses(ctx)
    form = {k: (args.get(k) or "").strip() for k in ("warehouse", "product", "lot", "status")}
    if form["status"] not in BALANCE_STATUSES:
        form["status"] = ""
    try:
        page = max(1, int(args.get("page") or 1))
    except ValueError:
        page = 1
    filters = {"product": form["product"], "lot": form["lot"], "status": form["status"]}
    error, chosen = None, None
    if form["warehouse"]:
        chosen = next((w for w in warehouses if w.code == form["warehouse"]), None)
        if chosen is None:
            error = t("out_of_scope", code=form["warehouse"])
    rows, total, transit_rows = [], 0, []
    if error is None:
        if chosen is not None:
            filters["warehouse"] = str(chosen.id)
        result = stock.stock_on_hand(ctx, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        rows, total = result["result"], result["count"]
        if chosen is not None:
            transit_rows = _transit_rows_of(ctx, chosen, filters)
    rows = _decorate(ctx, rows, t, today)
    transit_rows = _decorate(ctx, transit_rows, t, today)
    first = (page - 1) * PAGE_SIZE
    scope = ctx.actor.warehouse_ids
    kept = {k: v for k, v in form.items() if v}
    return {
        "form": form, "error": error, "rows": rows, "count": total, "page": page,
        "first": first + 1 if rows else 0, "last": first + len(rows),
        "previous_url": _url("StockView.stock", page=page - 1, **kept) if page > 1 else None,
        "next_url": (_url("StockView.stock", page=page + 1, **kept)
                     if first + len(rows) < total else None),
        "transit_rows": transit_rows, "chosen": chosen.code if chosen else "",
        "warehouses": [{"code": w.code, "name": w.name} for w in warehouses],
        "statuses": [{"value": s, "label": t.status(s)} for s in BALANCE_STATUSES],
        "scope_text": t("scope_all") if scope is None else
        t("scope_some", codes=", ".join(w.code for w in warehouses) or "—"),
    }


def _transit_rows_of(ctx, warehouse, filters: dict) -> list[dict]:
    """In-transit balances of the transfers from or to ``warehouse``."""
    if "TransferOrder" not in ctx.models.models:
        return []
    m = ctx.models
    T, B = m["TransferOrder"], m.table("stock_balance")
    locations = ctx.session.execute(
        sa.select(T.transit_location_id).distinct()
        .where((T.from_warehouse_id == warehouse.id) | (T.to_warehouse_id == warehouse.id),
               T.transit_location_id.in_(sa.select(B.c.location_id).where(B.c.quantity > 0)))
        .order_by(T.transit_location_id)).scalars().all()
    rows: list[dict] = []
    for location_id in locations:
        part = {k: v for k, v in filters.items() if k != "warehouse"} | {"location": str(location_id)}
        rows += stock.stock_on_hand(ctx, part, limit=PAGE_SIZE)["result"]
    return rows


# ------------------------------------------------------------------------- lot
def lot_page_data(ctx, runtime: Runtime, lot_id: int, t: Texts, today: dt.date | None = None) -> dict | None:
    """A lot's header, where it is now and its moves, as far as the actor's
    scope reaches; None when the lot does not exist."""
    today = today or dt.date.today()
    m = ctx.models
    Lot, P, S = m["Lot"], m["Product"], m["Serial"]
    lot = ctx.session.get(Lot, lot_id)
    if lot is None:
        return None
    product = ctx.session.get(P, lot.product_id)
    balances = stock.stock_on_hand(ctx, {"product": str(lot.product_id), "lot": lot.lot_number},
                                   limit=LOT_BALANCES_LIMIT)["result"]
    balances = _decorate(ctx, balances, t, today)
    total = sum((Decimal(r["quantity"]) for r in balances), Decimal(0))
    moves = stock.lot_moves(ctx, lot_id)
    serial_ids = {mv["serial_id"] for mv in moves if mv.get("serial_id")}
    serials = dict(ctx.session.execute(
        sa.select(S.id, S.serial_number).where(S.id.in_(list(serial_ids)))).all()) if serial_ids else {}
    entities = runtime.meta.entities
    for mv in moves:
        doc = mv.get("document_type") or ""
        mv["document_label"] = t.pick(entities[doc].label) if doc in entities else doc
        page = DOCUMENT_PAGES.get(doc)
        mv["document_url"] = _url(page, ref=mv["document_name"]) if page and mv.get("document_name") else None
        mv["serial"] = serials.get(mv.get("serial_id"), "")
        mv["when"] = (mv.get("moved_at") or "").replace("T", " ")[:19]
        mv["from_status_label"] = t.status(mv.get("from_status"))
        mv["to_status_label"] = t.status(mv.get("to_status"))
    expiry = lot.expiry_date.isoformat() if lot.expiry_date else ""
    return {
        "id": lot.id, "lot_number": lot.lot_number,
        "sku": product.sku if product else "", "product_name": product.name if product else "",
        "tracking": product.tracking if product else "",
        "expiry_date": expiry, "expiry_flag": _expiry_flag(expiry, today),
        "production_date": lot.production_date.isoformat() if lot.production_date else "",
        "status": lot.status, "status_label": t.status(lot.status),
        "status_class": STATUS_CLASS.get(lot.status or "", "default"),
        "balances": balances, "total": format_quantity(total), "moves": moves,
    }


# ------------------------------------------------------------------------ views
def register(appbuilder, runtime: Runtime) -> list[str]:
    """Add the receive page and the stock pages; return their menu names."""

    def page(base_view, template: str, title: str, **kw):
        lang = language()
        return base_view.render_template(template, t=Texts(lang), lang=lang, title=title,
                                    actor=current_actor(), **kw)

    class ReceiveView(BaseView):
        route_base = "/receive"
        default_view = "receive"
        class_permission_name = "Receipt"
        method_permission_name = {"receive": "create"}

        @expose("/")
        @has_access
        def receive(self):
            t = Texts(language())
            choices = receive_choices(service_context())
            return page(self, "medtrace/receive.html", t("receive"), choices=choices,
                        js_text=t.js(), stock_url=_url("StockView.stock"),
                        can_put_away=self.appbuilder.sm.has_access("can_create", "InternalMove"))

    class StockView(BaseView):
        route_base = "/stock"
        default_view = "stock"
        class_permission_name = "Lot"
        method_permission_name = {"stock": "read", "lot": "read", "export_csv": "export"}

        @expose("/")
        @has_access
        def stock(self):
            t = Texts(language())
            data = stock_page_data(service_context(), request.args, t)
            return page(self, "medtrace/stock.html", t("stock"), view="stock", data=data,
                        can_receive=self.appbuilder.sm.has_access("can_create", "Receipt"))

        @expose("/export.csv")
        @has_access
        def export_csv(self):
            """Every balance the page's filters select (app/views/stock_export.py)."""
            return stock_export.stock_csv(service_context(), request.args, language())

        @expose("/lot/<int:lot_id>")
        @expose("/lot/<int:lot_id>/")
        @has_access
        def lot(self, lot_id):
            t = Texts(language())
            data = lot_page_data(service_context(), runtime, lot_id, t)
            if data is None:
                abort(404)
            return page(self, "medtrace/stock.html", t("lot_title", lot=data["lot_number"]),
                        view="lot", lot=data)

    sm = appbuilder.sm
    category = lazy(runtime.meta.modules.get("inventory", {"en": "Inventory", "zh": "库存"}))
    appbuilder.add_view(ReceiveView, RECEIVE_MENU, label=lazy(TEXT["receive"]), icon="fa-barcode",
                        category="inventory", category_label=category,
                        menu_cond=lambda: sm.has_access("can_create", "Receipt"))
    appbuilder.add_view(StockView, STOCK_MENU, label=lazy(TEXT["stock"]), icon="fa-cubes",
                        category="inventory", category_label=category,
                        menu_cond=lambda: sm.has_access("can_read", "Lot"))
    # (menu name, entity, permission): the menu shows for roles that may open the page
    return [(RECEIVE_MENU, "Receipt", "create"), (STOCK_MENU, "Lot", "read")]
