"""Receiving a transfer (调拨收货) at the destination: what arrived, by scan or
by product/lot/serial, with damaged units, moves from transit into a bin (the
``receive_items`` step, possibly in several parts); confirming the receipt (the
``receive`` transition) turns what is still on the truck into shortages."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.documents import history
from app.documents.engine import authorize_step, take_action
from app.domain.errors import DocumentInvalid, NotFound, Problems, ValidationFailed
from app.domain.ledger import Move
from app.domain.quantities import format_quantity, parse_quantity
from app.stock.ledger import StockLedger
from app.stock.locations import bin_in_warehouse, receiving_location
from app.transfers.picking import scanned_item
from app.transfers.requests import ENTITY, get_transfer
from app.transfers.transit import in_transit

ZERO = Decimal(0)


def receive_transfer(ctx: ServiceContext, ref: Any, data: dict) -> Any:
    """Record what arrived. With ``complete`` (default), the receipt is then
    confirmed: units still in transit become 'short' exceptions."""
    transfer = get_transfer(ctx, ref, lock=True)
    authorize_step(ctx, ENTITY, transfer, "receive_items")
    if data.get("lines"):
        receive_items(ctx, transfer, data)
    if data.get("complete", True):
        take_action(ctx, ENTITY, transfer, "receive", comment=data.get("comment"))
    return transfer


def receive_items(ctx: ServiceContext, transfer, data: dict) -> None:
    m = ctx.models
    dst = transfer.to_warehouse
    location = (bin_in_warehouse(ctx, data["location"], dst) if data.get("location")
                else receiving_location(ctx, dst))
    transit = transfer.transit_location
    left = {(r.product_id, r.lot_id, r.serial_id): r.quantity for r in in_transit(ctx, transfer)}
    Lot, S = m["Lot"], m["Serial"]
    moves, problems, exceptions = [], Problems(), []
    for i, line in enumerate(data.get("lines") or [], 1):
        where = f"line {i}"
        try:
            product, lot_number, serial, qty = scanned_item(ctx, line, where)
            damaged = parse_quantity(line.get("damaged") or 0, where, allow_zero=True)
            if damaged > qty:
                raise ValidationFailed(f"damaged quantity must be between 0 and {format_quantity(qty)}",
                                       zh=f"破损数量必须在 0 到 {format_quantity(qty)} 之间")
            lot_id = serial_id = 0
            if lot_number:
                lot_id = ctx.session.execute(sa.select(Lot.id).where(
                    Lot.product_id == product.id, Lot.lot_number == lot_number)).scalar() or -1
            if serial:
                serial_id = ctx.session.execute(sa.select(S.id).where(
                    S.product_id == product.id, S.serial_number == serial)).scalar() or -1
            keys = [k for k in left if k[0] == product.id and (not lot_number or k[1] == lot_id)
                    and (not serial or k[2] == serial_id)]
            if not keys:
                what = (f"serial {serial}" if serial else f"lot {lot_number}" if lot_number else product.sku)
                raise ValidationFailed(f"{what} was not shipped on {transfer.name}",
                                       zh=f"{what} 不在 {transfer.name} 的发运明细中")
            available = sum(left[k] for k in keys)
            if qty > available:
                raise ValidationFailed(f"receiving {format_quantity(qty)} of {product.sku} but only "
                                       f"{format_quantity(available)} is in transit on {transfer.name}",
                                       zh=f"收货数量 {format_quantity(qty)} 超过 {transfer.name} 的在途数量 "
                                          f"{format_quantity(available)}")
            remaining, good = qty, qty - damaged
            for k in keys:
                take = min(remaining, left[k])
                if take <= 0:
                    continue
                good_part = min(take, good)
                bad_part = take - good_part
                for part, status in ((good_part, "available"), (bad_part, "damaged")):
                    if part > 0:
                        moves.append(Move(product_id=k[0], lot_id=k[1] or None, serial_id=k[2] or None,
                                          from_location_id=transit.id, to_location_id=location.id,
                                          quantity=part, to_status=status))
                if bad_part > 0:
                    exceptions.append(dict(kind="damaged", product_id=k[0], lot_id=k[1] or None,
                                           serial_id=k[2] or None, quantity=bad_part,
                                           location_id=location.id))
                good -= good_part
                left[k] -= take
                remaining -= take
            for tl in transfer.lines:
                if tl.product_id == product.id:
                    tl.received_qty = (tl.received_qty or ZERO) + qty
                    break
        except (ValidationFailed, NotFound) as exc:
            problems.line(i, exc)
    problems.raise_if_any(DocumentInvalid, ("nothing received: ", "未收货："))
    StockLedger(ctx.session, m).post_moves(ENTITY, transfer.id, transfer.name, moves, moved_at=ctx.now())
    _open_exceptions(ctx, transfer, exceptions)
    if not data.get("complete", True):
        # a partial receipt is a step in the history, with its comment (a
        # receipt confirmed now is the ``receive`` transition's row)
        history.record_step(ctx.session, m.table("workflow_transition"), entity=ENTITY,
                            record_id=transfer.id, step="receive_items", state=transfer.state,
                            at=ctx.now(), username=ctx.actor.username,
                            user_id=ctx.actor.user_id, comment=data.get("comment"))


def receive_remaining(ctx: ServiceContext, transfer, details: dict) -> None:
    """Confirming the receipt: whatever is still in transit is short."""
    _open_exceptions(ctx, transfer, [
        dict(kind="short", product_id=r.product_id, lot_id=r.lot_id or None,
             serial_id=r.serial_id or None, quantity=r.quantity, location_id=transfer.transit_location_id)
        for r in in_transit(ctx, transfer)])
    transfer.received_at = ctx.now()


def _open_exceptions(ctx: ServiceContext, transfer, exceptions: list[dict]) -> None:
    E = ctx.models["TransferException"]
    for e in exceptions:
        ctx.session.add(E(transfer=transfer, warehouse_id=transfer.to_warehouse_id, status="open", **e))
    ctx.session.flush()
