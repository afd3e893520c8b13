"""Picking by scan (扫码拣货): the reserved units in bin order, and each scan
confirmed against what this transfer reserved."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.documents.engine import authorize_step
from app.domain.quantities import format_quantity, parse_quantity
from app.stock import reservations
from app.stock.items import parse_scan, product_for_udi
from app.transfers.requests import ENTITY, TransferInvalid, get_transfer


def pick_list(ctx: ServiceContext, transfer) -> list[dict]:
    """Reserved units in bin pick-sequence order, with what is picked so far."""
    m = ctx.models
    R, L, Lot, S, P = (m.table("stock_reservation"), m["Location"], m["Lot"], m["Serial"], m["Product"])
    rows = ctx.session.execute(
        sa.select(R.c.id, R.c.quantity, R.c.picked, R.c.state, L.code, L.pick_sequence, P.sku,
                  Lot.lot_number, Lot.expiry_date, S.serial_number)
        .join(L, L.id == R.c.location_id).join(P, P.id == R.c.product_id)
        .outerjoin(Lot, Lot.id == R.c.lot_id).outerjoin(S, S.id == R.c.serial_id)
        .where(R.c.document_type == ENTITY, R.c.document_id == transfer.id,
               R.c.state.in_(("active", "consumed")))
        .order_by(L.pick_sequence, L.code, R.c.id)).all()
    return [{"reservation": r.id, "location": r.code, "sku": r.sku, "lot": r.lot_number,
             "serial": r.serial_number,
             "expiry_date": r.expiry_date.isoformat() if r.expiry_date else None,
             "quantity": format_quantity(r.quantity), "picked": format_quantity(r.picked)}
            for r in rows]


def scanned_item(ctx: ServiceContext, data: dict, where: str):
    """(product, lot number, serial, quantity) from a UDI scan or typed fields."""
    if data.get("barcode"):
        udi = parse_scan(ctx, data["barcode"])
        product = product_for_udi(ctx, udi)
        lot_number, serial = udi.lot, udi.serial
        qty_value = data["quantity"] if data.get("quantity") is not None else (udi.quantity or 1)
    else:
        product = ctx.find("Product", data.get("product"), key="sku", what="product")
        lot_number, serial = data.get("lot"), data.get("serial")
        qty_value = data["quantity"] if data.get("quantity") is not None else 1
    return product, lot_number, serial, parse_quantity(qty_value, where)


def pick_by_scan(ctx: ServiceContext, ref: Any, data: dict) -> dict:
    """Confirm picked units by scanning; a scan that matches no open reservation
    of this transfer (another product, lot or serial) is refused with a message."""
    transfer = get_transfer(ctx, ref, lock=True)
    authorize_step(ctx, ENTITY, transfer, "pick")
    m = ctx.models
    product, lot_number, serial, qty = scanned_item(ctx, data, "pick")
    R, L, Lot, S = m.table("stock_reservation"), m["Location"], m["Lot"], m["Serial"]
    q = (sa.select(R, Lot.lot_number, S.serial_number, L.code)
         .join(L, L.id == R.c.location_id).outerjoin(Lot, Lot.id == R.c.lot_id)
         .outerjoin(S, S.id == R.c.serial_id)
         .where(R.c.document_type == ENTITY, R.c.document_id == transfer.id,
                R.c.state == "active", R.c.product_id == product.id, R.c.picked < R.c.quantity))
    candidates = ctx.session.execute(q.order_by(L.pick_sequence, R.c.id)).all()
    if not candidates:
        raise TransferInvalid(f"{product.sku} is not on {transfer.name}'s pick list, or is fully picked",
                              zh=f"{product.sku} 不在 {transfer.name} 的拣货单上，或已拣完")
    matching = [c for c in candidates
                if (not lot_number or c.lot_number == lot_number)
                and (not serial or c.serial_number == serial)
                and (not data.get("location") or c.code == data.get("location"))]
    if not matching:
        expected = ", ".join(sorted({f"lot {c.lot_number}" + (f" serial {c.serial_number}" if c.serial_number else "")
                                     + f" in {c.code}" for c in candidates}))
        got = (f"lot {lot_number}" if lot_number else "") + (f" serial {serial}" if serial else "")
        raise TransferInvalid(f"scan does not match the reservation: got {got.strip() or product.sku}, "
                              f"expected {expected}",
                              zh=f"扫描结果与预留不符：扫描到 {got.strip() or product.sku}，应为 {expected}")
    remaining = qty
    for c in matching:
        take = min(remaining, c.quantity - c.picked)
        if take <= 0:
            continue
        reservations.mark_picked(ctx, c.id, take)
        remaining -= take
        if remaining == 0:
            break
    if remaining > 0:
        raise TransferInvalid(f"picking {format_quantity(qty)} exceeds what is reserved for that "
                              f"lot/serial by {format_quantity(remaining)}",
                              zh=f"拣货数量超出该批次/序列号的预留数量 {format_quantity(remaining)}")
    for line in transfer.lines:
        if line.product_id == product.id:
            line.picked_qty = (line.picked_qty or 0) + qty
            break
    return {"picked": format_quantity(qty), "pick_list": pick_list(ctx, transfer)}
