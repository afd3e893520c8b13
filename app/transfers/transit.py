"""What is on the truck: a shipped transfer's stock sits in its own transit
location, in neither warehouse, until it is received."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from app.context import ServiceContext
from app.domain.quantities import format_quantity

ZERO = Decimal(0)


def in_transit(ctx: ServiceContext, transfer) -> list:
    """Balances still in the transfer's transit location."""
    if not transfer.transit_location_id:
        return []
    B = ctx.models.table("stock_balance")
    return ctx.session.execute(sa.select(B).where(
        B.c.location_id == transfer.transit_location_id, B.c.quantity > 0)).all()


def in_transit_quantity(ctx: ServiceContext, transfer) -> Decimal:
    if not transfer.transit_location_id:
        return ZERO
    B = ctx.models.table("stock_balance")
    return ctx.session.execute(sa.select(sa.func.coalesce(sa.func.sum(B.c.quantity), 0)).where(
        B.c.location_id == transfer.transit_location_id, B.c.quantity > 0)).scalar_one()


def exceptions_of(ctx: ServiceContext, transfer) -> list:
    E = ctx.models["TransferException"]
    return list(ctx.session.execute(sa.select(E).where(E.transfer_id == transfer.id)
                                    .order_by(E.id)).scalars())


def open_exception_count(ctx: ServiceContext, transfer) -> int:
    E = ctx.models["TransferException"]
    return ctx.session.execute(sa.select(sa.func.count()).select_from(E).where(
        E.transfer_id == transfer.id, E.status == "open")).scalar_one()


def in_transit_lines(ctx: ServiceContext, transfer) -> list[dict]:
    """What is still on the truck, per product, lot and serial: the receive form's rows."""
    if not transfer.transit_location_id:
        return []
    m = ctx.models
    B, P, Lot, S = m.table("stock_balance"), m["Product"], m["Lot"], m["Serial"]
    rows = ctx.session.execute(
        sa.select(P.sku, P.name, Lot.lot_number, S.serial_number, sa.func.sum(B.c.quantity))
        .join(P, P.id == B.c.product_id)
        .outerjoin(Lot, Lot.id == B.c.lot_id).outerjoin(S, S.id == B.c.serial_id)
        .where(B.c.location_id == transfer.transit_location_id, B.c.quantity > 0)
        .group_by(P.sku, P.name, Lot.lot_number, S.serial_number)
        .order_by(P.sku, Lot.lot_number, S.serial_number)).all()
    return [{"sku": sku, "name": name, "lot": lot, "serial": serial, "quantity": format_quantity(q)}
            for sku, name, lot, serial, q in rows]
