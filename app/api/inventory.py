"""UDI parsing, receipts, internal moves, shipments and stock queries."""
from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose, protect, safe
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from app.api.base import DomainApi
from app.domain.errors import NotFound
from app.domain.quantities import format_quantity
from app.inventory.internal_moves import post_internal_move
from app.inventory.receipts import post_receipt
from app.inventory.reversal import reverse_document
from app.inventory.shipments import post_shipment
from app.stock import queries as stock
from app.stock.items import parse_scan, product_for_udi

DecimalQty = lambda **kw: fields.Decimal(as_string=True, **kw)  # noqa: E731


class UdiParseSchema(Schema):
    barcode = fields.String(required=True, validate=validate.Length(min=1, max=500))
    separator = fields.String(validate=validate.Length(max=5))


class ReceiptLineSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    barcode = fields.String(validate=validate.Length(max=255))
    product = fields.Raw()
    lot_number = fields.String(validate=validate.Length(max=64))
    serial = fields.String(validate=validate.Length(max=64))
    expiry_date = fields.Date()
    production_date = fields.Date()
    quantity = DecimalQty()

    @validates_schema
    def scan_or_product(self, data, **kwargs):
        if not data.get("barcode") and data.get("product") in (None, ""):
            raise ValidationError("give a scanned barcode or a product")


class ReceiptSchema(Schema):
    supplier = fields.Raw(required=True)
    warehouse = fields.Raw(required=True)
    location = fields.Raw()
    inspection = fields.Boolean(load_default=False)
    reference = fields.String(validate=validate.Length(max=64))
    note = fields.String()
    lines = fields.List(fields.Nested(ReceiptLineSchema), required=True,
                        validate=validate.Length(min=1, max=2000))


class MoveLineSchema(Schema):
    product = fields.Raw(required=True)
    lot = fields.Raw()
    serial = fields.String()
    from_location = fields.Raw(required=True)
    to_location = fields.Raw(required=True)
    quantity = DecimalQty(required=True)
    status = fields.String(validate=validate.OneOf(["available", "quarantine", "on_hold", "damaged"]))


class MoveSchema(Schema):
    warehouse = fields.Raw(required=True)
    reason = fields.String()
    lines = fields.List(fields.Nested(MoveLineSchema), required=True,
                        validate=validate.Length(min=1, max=2000))


class ShipmentLineSchema(Schema):
    product = fields.Raw(required=True)
    quantity = DecimalQty(required=True)
    lot = fields.String()
    serial = fields.String()


class ShipmentSchema(Schema):
    customer = fields.Raw(required=True)
    warehouse = fields.Raw(required=True)
    strategy = fields.String(validate=validate.OneOf(["fefo", "fifo", "closest_bin", "manual_lot"]))
    reference = fields.String()
    note = fields.String()
    lines = fields.List(fields.Nested(ShipmentLineSchema), required=True,
                        validate=validate.Length(min=1, max=2000))


def document_body(doc, lines: list[dict]) -> dict:
    return {"id": doc.id, "name": doc.name, "status": doc.status, "lines": lines}


class UdiParseApi(DomainApi):
    resource_name = "udi"
    class_permission_name = "Product"
    method_permission_name = {"parse": "read"}
    openapi_spec_tag = "UDI"

    @expose("/parse", methods=["POST"])
    @protect()
    @safe
    def parse(self):
        """Parse a raw UDI scan (GS1 element string, HRI, Digital Link, HIBCC).
        ---
        post:
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {barcode: {type: string}}}
          responses:
            200: {description: parsed fields}
            422: {description: the scan cannot be parsed; message says why}
        """
        def call(ctx, data):
            udi = parse_scan(ctx, data["barcode"], data.get("separator"))
            result = udi.to_dict()
            try:
                product = product_for_udi(ctx, udi)
                result["product"] = {"id": product.id, "sku": product.sku, "name": product.name,
                                     "tracking": product.tracking}
            except NotFound:
                result["product"] = None
            return result
        return self.run(call, schema=UdiParseSchema())


class ReceiptPostingApi(DomainApi):
    resource_name = "receipts"
    class_permission_name = "Receipt"
    method_permission_name = {"post_receipt": "create", "reverse": "write"}
    openapi_spec_tag = "Receipt"

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def post_receipt(self):
        """Receive goods (入库): lines by UDI scan or by hand; posts supplier → bin.
        ---
        post:
          responses:
            201: {description: the posted receipt}
            403: {description: warehouse outside your scope}
            422: {description: invalid lines, each problem listed}
        """
        def call(ctx, data):
            doc = post_receipt(ctx, data)
            return document_body(doc, [{
                "product": l.product.sku, "lot": l.lot.lot_number if l.lot else None,
                "serial": l.serial.serial_number if l.serial else None,
                "expiry_date": l.expiry_date.isoformat() if l.expiry_date else None,
                "quantity": format_quantity(l.quantity)} for l in doc.lines]) | {
                "location": doc.location.code, "inspection": doc.inspection}
        return self.run(call, status=201, schema=ReceiptSchema())

    @expose("/<ref>/reverse", methods=["POST"])
    @protect()
    @safe
    def reverse(self, ref):
        """Reverse a posted receipt with mirror moves.
        ---
        post:
          responses:
            200: {description: reversed}
        """
        return self.run(lambda ctx: {"name": reverse_document(ctx, "Receipt", ref).name,
                                     "status": "reversed"})


class MovePostingApi(DomainApi):
    resource_name = "moves"
    class_permission_name = "InternalMove"
    method_permission_name = {"post_move": "create"}
    openapi_spec_tag = "InternalMove"

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def post_move(self):
        """Put away or move stock between bins of one warehouse.
        ---
        post:
          responses:
            201: {description: the posted move}
        """
        return self.run(lambda ctx, data: document_body(post_internal_move(ctx, data), []),
                        status=201, schema=MoveSchema())


class ShipmentPostingApi(DomainApi):
    resource_name = "shipments"
    class_permission_name = "Shipment"
    method_permission_name = {"post_shipment": "create", "reverse": "write"}
    openapi_spec_tag = "Shipment"

    @expose("/", methods=["POST"])
    @protect()
    @safe
    def post_shipment(self):
        """Ship to a customer/hospital (出库) with allocation by strategy.
        ---
        post:
          responses:
            201: {description: the shipment with its pick list}
            422: {description: not enough allocatable stock, and why}
        """
        def call(ctx, data):
            doc, picks = post_shipment(ctx, data)
            return {"id": doc.id, "name": doc.name, "status": doc.status, "pick_list": picks}
        return self.run(call, status=201, schema=ShipmentSchema())


class StockQueryApi(DomainApi):
    resource_name = "stock"
    class_permission_name = "Lot"
    method_permission_name = {"on_hand": "read", "moves_of_lot": "read"}
    openapi_spec_tag = "Stock"

    @expose("/", methods=["GET"])
    @protect()
    @safe
    def on_hand(self):
        """Stock on hand, filtered by product, warehouse, location, lot, serial, status.
        ---
        get:
          responses:
            200: {description: balances}
        """
        args = {k: request.args.get(k) for k in
                ("product", "warehouse", "location", "lot", "serial", "status")}
        args["real_only"] = request.args.get("real_only") in ("1", "true")
        try:
            limit = min(int(request.args.get("limit", 500)), 5000)
            offset = int(request.args.get("offset", 0))
        except ValueError:
            return self.response_400(message="limit and offset must be whole numbers")
        return self.run(lambda ctx: stock.stock_on_hand(ctx, args, limit=limit, offset=offset))

    @expose("/lots/<int:lot_id>/moves", methods=["GET"])
    @protect()
    @safe
    def moves_of_lot(self, lot_id):
        """All moves of one lot.
        ---
        get:
          responses:
            200: {description: moves}
        """
        return self.run(lambda ctx: {"result": stock.lot_moves(ctx, lot_id)})


def register(appbuilder) -> None:
    for api in (UdiParseApi, ReceiptPostingApi, MovePostingApi, ShipmentPostingApi, StockQueryApi):
        appbuilder.add_api(api)
