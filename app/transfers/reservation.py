"""On approval a transfer reserves its stock at the source (FEFO by default,
with the destination's minimum remaining shelf life at the expected arrival);
on cancellation it gives it back."""
from __future__ import annotations

from decimal import Decimal

from app.context import ServiceContext
from app.domain.errors import DocumentInvalid
from app.stock import reservations
from app.stock.allocation import allocate_lines
from app.stock.items import serial_ids_of_picks
from app.transfers.requests import ENTITY, TransferInvalid

ZERO = Decimal(0)


def reserve_stock(ctx: ServiceContext, transfer, details: dict) -> None:
    """Allocate each line at the source and reserve it, so no other document
    can take the same units."""
    src, dst = transfer.from_warehouse, transfer.to_warehouse
    on_date = transfer.expected_arrival or transfer.requested_date or ctx.now().date()
    lines = list(transfer.lines)
    try:
        allocated = allocate_lines(
            ctx, src, [{"product": str(line.product_id), "quantity": line.quantity,
                        "lot": line.lot.lot_number if line.lot else None,
                        "serial": line.serial.serial_number if line.serial else None} for line in lines],
            on_date=on_date, strategy=transfer.strategy, lock=True,
            min_days_floor=dst.min_remaining_shelf_days or 0)
    except DocumentInvalid as exc:
        raise TransferInvalid("cannot reserve stock: " + exc.message, details=exc.details,
                              zh="无法预留库存：" + exc.in_language("zh")) from None
    picks = [(lines[i - 1], p) for i, _, line_picks in allocated for p in line_picks]
    serial_ids = serial_ids_of_picks(ctx, [p for _, p in picks])
    reservations.reserve(ctx, ENTITY, transfer.id, [
        reservations.Hold(line_id=line.id, product_id=p.candidate.product_id,
                          lot_id=p.candidate.lot_id or 0,
                          serial_id=serial_ids.get((p.candidate.product_id, p.candidate.serial), 0),
                          location_id=p.candidate.location_id, quantity=p.quantity)
        for line, p in picks])
    for line in lines:
        line.reserved_qty = line.quantity


def release_reservation(ctx: ServiceContext, transfer, details: dict) -> None:
    """Cancelling gives reserved units back to available stock."""
    reservations.release(ctx, ENTITY, transfer.id)
    for line in transfer.lines:
        line.reserved_qty = ZERO
