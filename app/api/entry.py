"""What the clerk's entry pages need beyond the document APIs: changing a draft
transfer, products with what is available at a warehouse, and what receiving
one scan would do. Each class shares its resource (URL prefix) with the domain
API beside it. Thin: parse, call one service, answer."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose, protect, safe
from marshmallow import EXCLUDE, Schema, fields, validate

from app.api.base import DomainApi
from app.domain.clock import today
from app.domain.errors import ValidationFailed
from app.i18n import current_language
from app.inventory.receipts import receipt_scan
from app.stock import queries as stock
from app.stock.items import search_products
from app.transfers.reads import transfer_detail
from app.transfers.requests import update_transfer

Qty = lambda **kw: fields.Decimal(as_string=True, **kw)  # noqa: E731
SEARCH_LIMIT = 50


class DraftLineSchema(Schema):
    id = fields.Integer(allow_none=True)
    product = fields.Raw(required=True)
    quantity = Qty(required=True)
    lot = fields.String(allow_none=True)
    serial = fields.String(allow_none=True)


class DraftSchema(Schema):
    """Every field optional: what is given is replaced; ``lines`` is the whole list."""

    from_warehouse = fields.Raw()
    to_warehouse = fields.Raw()
    priority = fields.String(validate=validate.OneOf(["normal", "urgent"]))
    requested_date = fields.Date(allow_none=True)
    reason = fields.String(allow_none=True, validate=validate.Length(max=2000))
    reason_code = fields.String(allow_none=True)
    strategy = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(DraftLineSchema), validate=validate.Length(min=1, max=1000))


class ScanSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    barcode = fields.String(required=True, validate=validate.Length(min=1, max=500))
    warehouse = fields.Raw(allow_none=True)


class TransferDraftApi(DomainApi):
    """``PUT /api/v1/transfers/<ref>``: beside the transfer actions (same resource)."""

    resource_name = "transfers"
    class_permission_name = "TransferOrder"
    method_permission_name = {"update": "write"}
    openapi_spec_tag = "Transfer"

    @expose("/<ref>", methods=["PUT"])
    @protect()
    @safe
    def update(self, ref):
        """Change a draft transfer: header fields given are replaced; `lines`, when given,
        is the whole new list (a line with the `id` of an existing line edits it, one
        without adds a line, lines left out are removed). Same rules as creating one.
        ---
        put:
          parameters:
          - {in: path, name: ref, required: true, schema: {type: string}}
          responses:
            200: {description: the transfer, with allowed actions}
            403: {description: the source warehouse is outside your scope}
            404: {description: unknown, or outside your scope}
            409: {description: the transfer is no longer a draft}
            422: {description: invalid input, each problem listed}
        """
        return self.run(lambda ctx, data: transfer_detail(ctx, update_transfer(ctx, ref, data),
                                                          current_language()),
                        schema=DraftSchema())


class AvailableStockApi(DomainApi):
    """``GET /api/v1/stock/available``: beside the stock queries (same resource)."""

    resource_name = "stock"
    class_permission_name = "Lot"
    method_permission_name = {"available": "read"}
    openapi_spec_tag = "Stock"

    @expose("/available", methods=["GET"])
    @protect()
    @safe
    def available(self):
        """Products by SKU, name, model or UDI-DI (`q`), or by id or SKU (`product`, repeatable), with what
        is available to leave `warehouse` now: the quantity not reserved, available and
        not expired, its earliest expiry, and each lot.
        ---
        get:
          parameters:
          - {in: query, name: warehouse, required: true, schema: {type: string}}
          - {in: query, name: q, schema: {type: string}}
          - {in: query, name: product, schema: {type: string}}
          responses:
            200: {description: the products found, with availability}
            403: {description: the warehouse is outside your scope}
        """
        def call(ctx):
            warehouse = ctx.warehouse_in_scope(request.args.get("warehouse"))
            refs = [r.strip() for r in request.args.getlist("product") if r.strip()][:SEARCH_LIMIT]
            if refs:
                products = [ctx.find("Product", ref, key="sku", what="product") for ref in refs]
            else:
                text = (request.args.get("q") or "").strip()
                if len(text) > 100:
                    raise ValidationFailed("the search text is too long (at most 100 characters)",
                                           zh="搜索内容过长（最多 100 个字符）")
                products = search_products(ctx, text, SEARCH_LIMIT)
            availability = stock.available_stock(ctx, warehouse.id, [p.id for p in products], today())
            return {"warehouse": warehouse.code, "result": [
                {"id": p.id, "sku": p.sku, "name": p.name, "model": p.model, "udi_di": p.udi_di,
                 "tracking": p.tracking, "uom": p.uom, "unit_price": str(p.unit_price or 0),
                 **availability[p.id]} for p in products]}
        return self.run(call, commit=False)


class ReceiptScanApi(DomainApi):
    """``POST /api/v1/receipts/scan``: beside receipt posting (same resource)."""

    resource_name = "receipts"
    class_permission_name = "Receipt"
    method_permission_name = {"scan": "create"}
    openapi_spec_tag = "Receipt"

    @expose("/scan", methods=["POST"])
    @protect()
    @safe
    def scan(self):
        """What receiving one scan would do, before posting: the label's dates (expiry,
        best before, sell by, due), the product, the lot on record, the expiry the receipt
        would record and its source, whether it must be typed, whether it is expired.
        ---
        post:
          responses:
            200: {description: the scan as the receipt would take it}
            422: {description: unreadable, contradicts the lot on record, or expired goods refused}
        """
        return self.run(lambda ctx, data: receipt_scan(ctx, data["barcode"], data.get("warehouse")),
                        schema=ScanSchema(), commit=False)


def register(appbuilder) -> None:
    for api in (TransferDraftApi, AvailableStockApi, ReceiptScanApi):
        appbuilder.add_api(api)
