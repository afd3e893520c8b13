"""Stock on hand as a CSV file: every balance the stock page's filters select
(warehouse, product, lot, status), in the user's scope, with status labels in
their language; cells safe from formula injection. Served by the stock page
(``inventory_pages.StockView.export_csv``), allowed by ``export`` on Lot."""
from __future__ import annotations

from decimal import Decimal

from flask import Response

from app.context import ServiceContext
from app.display import decimal_text
from app.exports import CSV_MIMETYPE, csv_bytes
from app.i18n import Texts
from app.stock import queries as stock

EXPORT_LIMIT = 100_000
TEXT = {
    "warehouse": {"en": "Warehouse", "zh": "仓库"},
    "location": {"en": "Location", "zh": "库位"},
    "sku": {"en": "SKU", "zh": "物料编码"},
    "name": {"en": "Name", "zh": "名称"},
    "lot": {"en": "Lot", "zh": "批号"},
    "serial": {"en": "Serial number", "zh": "序列号"},
    "expiry": {"en": "Expiry date", "zh": "失效日期"},
    "status": {"en": "Status", "zh": "状态"},
    "quantity": {"en": "Quantity", "zh": "数量"},
    "reserved": {"en": "Reserved", "zh": "已预留"},
    "available": {"en": "Available to allocate", "zh": "可分配"},
    "in_transit": {"en": "In transit", "zh": "在途"},
}
COLUMNS = tuple(TEXT)[:-1]


def stock_csv(ctx: ServiceContext, args, lang: str) -> Response:
    t = Texts(TEXT, lang)
    filters = {k: (args.get(k) or "").strip() for k in ("product", "lot", "status")}
    if (args.get("warehouse") or "").strip():
        filters["warehouse"] = str(ctx.warehouse_in_scope(args["warehouse"].strip()).id)
    vocab = ctx.models.meta.vocabularies.get("stock_status")
    rows = stock.stock_on_hand(ctx, filters, limit=EXPORT_LIMIT)["result"]

    def line(r: dict) -> list:
        quantity, reserved = Decimal(r["quantity"]), Decimal(r.get("reserved") or 0)
        status = r.get("status") or ""
        return [r.get("warehouse") or t("in_transit"), r.get("location"), r.get("sku"),
                r.get("product_name"), r.get("lot_number") or "", r.get("serial_number") or "",
                r.get("expiry_date") or "", vocab.label_of(status, lang) if vocab else status,
                decimal_text(quantity), decimal_text(reserved),
                decimal_text(quantity - reserved if status == "available" else 0)]
    body = csv_bytes([t(c) for c in COLUMNS], (line(r) for r in rows))
    return Response(body, mimetype=CSV_MIMETYPE,
                    headers={"Content-Disposition": "attachment; filename=stock-on-hand.csv"})
