"""Expiry housekeeping: lots past their date become expired, and what expires
soon is listed per warehouse, within the actor's scope."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.actor import SYSTEM, acting_as
from app.context import ServiceContext
from app.domain.quantities import format_quantity


def expire_past_lots(ctx: ServiceContext, on: dt.date) -> dict:
    """Through the ORM, so the audit trail records each status change. The
    system changes the (regulated) status, whoever asked for the run."""
    Lot = ctx.models["Lot"]
    with acting_as(SYSTEM), ctx.transaction():
        lots = ctx.session.execute(
            sa.select(Lot).where(Lot.expiry_date < on, Lot.status == "available")
            .order_by(Lot.expiry_date, Lot.lot_number)).scalars().all()
        for lot in lots:
            lot.status = "expired"
    return {"expired": len(lots), "lots": [lot.lot_number for lot in lots]}


def lots_expiring(ctx: ServiceContext, on: dt.date, days: int) -> dict:
    m = ctx.models
    B, Lot, P, W = m.table("stock_balance"), m["Lot"], m["Product"], m["Warehouse"]
    q = (sa.select(Lot.id, Lot.lot_number, Lot.expiry_date, Lot.status, P.sku, P.name,
                   W.code.label("warehouse"), sa.func.sum(B.c.quantity).label("quantity"))
         .join(Lot, Lot.id == B.c.lot_id).join(P, P.id == B.c.product_id)
         .join(W, W.id == B.c.warehouse_id)
         .where(B.c.is_real, B.c.quantity > 0, Lot.expiry_date <= on + dt.timedelta(days=days))
         .group_by(Lot.id, Lot.lot_number, Lot.expiry_date, Lot.status, P.sku, P.name, W.code)
         .order_by(Lot.expiry_date, P.sku, Lot.lot_number, W.code))
    if ctx.actor.warehouse_ids is not None:
        q = q.where(B.c.warehouse_id.in_(list(ctx.actor.warehouse_ids)))
    lots: dict[int, dict] = {}
    for r in ctx.session.execute(q):
        lot = lots.setdefault(r.id, {
            "sku": r.sku, "product": r.name, "lot": r.lot_number,
            "expiry_date": r.expiry_date.isoformat(), "days_left": (r.expiry_date - on).days,
            "lot_status": r.status, "warehouses": {}})
        lot["warehouses"][r.warehouse] = format_quantity(r.quantity)
    return {"as_of": on.isoformat(), "days": days, "lots": list(lots.values())}
