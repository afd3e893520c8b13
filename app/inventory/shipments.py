"""Shipments (出库) to customers and hospitals: allocated by strategy (FEFO by
default, respecting the minimum remaining shelf life), posted bin → customer."""
from __future__ import annotations

from typing import Any

from app.context import ServiceContext
from app.domain.allocation import order_pick_list
from app.domain.errors import DocumentInvalid, ValidationFailed
from app.domain.ledger import Move
from app.domain.quantities import format_quantity
from app.stock.allocation import allocate_lines
from app.stock.items import names_for, serial_ids_of_picks
from app.stock.ledger import StockLedger
from app.stock.locations import virtual_location

def post_shipment(ctx: ServiceContext, data: dict) -> tuple[Any, list]:
    """Ship to a customer or hospital: allocate by strategy (FEFO by default,
    respecting minimum remaining shelf life), post bin → customer moves and
    record the shipped lots and serials. Returns (shipment, pick list)."""
    m = ctx.models
    warehouse = ctx.warehouse_in_scope(data.get("warehouse"))
    customer = ctx.find("Partner", data.get("customer"), key="code", what="customer")
    if customer.kind not in ("customer", "hospital"):
        raise ValidationFailed(f"{customer.code} is a {customer.kind}, not a customer or hospital",
                               zh=f"{customer.code} 不是客户或医院")
    lines = data.get("lines") or []
    if not lines:
        raise ValidationFailed("a shipment needs at least one line", zh="出库单至少需要一行明细")
    now = ctx.now()
    try:
        allocated = allocate_lines(ctx, warehouse, lines, on_date=now.date(),
                                   strategy=data.get("strategy"), lock=True)
    except DocumentInvalid as exc:
        raise DocumentInvalid("shipment not posted: " + exc.message, details=exc.details,
                              zh="出库单未过账：" + exc.in_language("zh")) from None
    shipment = m["Shipment"](customer=customer, warehouse=warehouse, shipped_at=now,
                             strategy=data.get("strategy"), reference=data.get("reference"),
                             status="posted", note=data.get("note"))
    customer_loc = virtual_location(ctx, "customer")
    all_picks = order_pick_list([p for _, _, picks in allocated for p in picks])
    products = {p.id: p for _, p, _ in allocated}
    serial_ids = serial_ids_of_picks(ctx, all_picks)
    moves = []
    for seq, pick in enumerate(all_picks, 1):
        c = pick.candidate
        shipment.lines.append(m["ShipmentLine"](
            product_id=c.product_id, lot_id=c.lot_id, serial_id=serial_ids.get((c.product_id, c.serial)),
            location_id=c.location_id, quantity=pick.quantity, expiry_date=c.expiry_date,
            pick_sequence=seq))
        moves.append(Move(product_id=c.product_id, lot_id=c.lot_id,
                          serial_id=serial_ids.get((c.product_id, c.serial)),
                          from_location_id=c.location_id, to_location_id=customer_loc.id,
                          quantity=pick.quantity))
    ctx.session.add(shipment)
    ctx.session.flush()
    StockLedger(ctx.session, m).post_moves("Shipment", shipment.id, shipment.name, moves,
                                           moved_at=now, names=names_for(products.values()))
    pick_list = [{"sequence": i, "location": p.candidate.location_code,
                  "product_id": p.candidate.product_id, "sku": products[p.candidate.product_id].sku,
                  "lot": p.candidate.lot_number, "serial": p.candidate.serial,
                  "expiry_date": p.candidate.expiry_date.isoformat() if p.candidate.expiry_date else None,
                  "quantity": format_quantity(p.quantity)} for i, p in enumerate(all_picks, 1)]
    return shipment, pick_list
