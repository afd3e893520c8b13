"""Shipping (发运): every picked reservation moves from its bin into the
transfer's transit location, consuming the reservation, with the transport
details recorded. The effect behind the ``ship`` transition."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from app.context import ServiceContext
from app.domain.errors import ValidationFailed
from app.domain.ledger import Move
from app.stock import reservations
from app.stock.ledger import StockLedger
from app.stock.locations import transit_location
from app.transfers.requests import ENTITY, TransferInvalid


class ShippingDetails(Schema):
    """What the ``ship`` action may carry besides a comment."""

    class Meta:
        unknown = EXCLUDE

    carrier = fields.String(validate=validate.Length(min=1, max=64))
    vehicle = fields.String(validate=validate.Length(max=32))
    tracking_no = fields.String(validate=validate.Length(max=64))
    expected_arrival = fields.Date()


def ship_goods(ctx: ServiceContext, transfer, details: dict) -> None:
    held = reservations.open_reservations(ctx, ENTITY, transfer.id)
    if not held:
        raise TransferInvalid("nothing is reserved for this transfer", zh="本调拨单没有预留库存")
    unpicked = [r for r in held if r.picked < r.quantity]
    if unpicked:
        raise TransferInvalid(f"{len(unpicked)} reserved line(s) are not fully picked yet; "
                              "scan them before shipping",
                              zh=f"{len(unpicked)} 行预留尚未拣完，请先扫描拣货再发运")
    if details.get("carrier"):
        carrier = ctx.find("Partner", details["carrier"], key="code", what="carrier")
        if carrier.kind != "carrier":
            raise ValidationFailed(f"{carrier.code} is not a carrier", zh=f"{carrier.code} 不是承运商")
        transfer.carrier = carrier
    for key in ("vehicle", "tracking_no", "expected_arrival"):
        if details.get(key):
            setattr(transfer, key, details[key])
    transit = transit_location(ctx, transfer)
    now = ctx.now()
    StockLedger(ctx.session, ctx.models).post_moves(ENTITY, transfer.id, transfer.name, [
        Move(product_id=r.product_id, lot_id=r.lot_id or None, serial_id=r.serial_id or None,
             from_location_id=r.location_id, to_location_id=transit.id, quantity=r.quantity,
             reservation_id=r.id)
        for r in held], moved_at=now)
    for line in transfer.lines:
        line.shipped_qty = line.picked_qty or line.reserved_qty
    transfer.shipped_at = now
