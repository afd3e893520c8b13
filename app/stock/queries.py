"""Stock queries: on hand by product, lot, serial, location and status, and
the moves of a lot — always limited to the actor's warehouses."""
from __future__ import annotations

from typing import Any

from decimal import Decimal

import sqlalchemy as sa

from app.context import ServiceContext
from app.domain.quantities import format_quantity


def stock_on_hand(ctx: ServiceContext, filters: dict[str, Any], limit: int = 500,
                  offset: int = 0) -> dict:
    """Balances with quantity > 0, filtered; in-transit stock is included
    (warehouse empty, location kind 'transit') unless ``real_only``."""
    m = ctx.models
    B, P, L, Lot, S, W = (m.table("stock_balance"), m["Product"], m["Location"], m["Lot"],
                          m["Serial"], m["Warehouse"])
    q = (sa.select(B.c.id, B.c.product_id, P.sku, P.name.label("product_name"), B.c.lot_id,
                   Lot.lot_number, Lot.expiry_date, Lot.status.label("lot_status"), B.c.serial_id,
                   S.serial_number, B.c.location_id, L.code.label("location"), L.kind.label("location_kind"),
                   B.c.warehouse_id, W.code.label("warehouse"), B.c.status, B.c.quantity, B.c.reserved)
         .join(P, P.id == B.c.product_id).join(L, L.id == B.c.location_id)
         .outerjoin(Lot, Lot.id == B.c.lot_id).outerjoin(S, S.id == B.c.serial_id)
         .outerjoin(W, W.id == B.c.warehouse_id)
         .where(B.c.quantity > 0))
    kinds = ["bin", "receiving"] if filters.get("real_only") else ["bin", "receiving", "transit"]
    q = q.where(L.kind.in_(kinds))
    scope = ctx.actor.warehouse_ids
    if scope is not None:
        q = q.where(B.c.warehouse_id.in_(list(scope)) | _transit_in_scope(ctx, B, scope))
    for key, column in (("product", (B.c.product_id, P.sku)), ("warehouse", (B.c.warehouse_id, W.code)),
                        ("location", (B.c.location_id, L.code)), ("lot", (B.c.lot_id, Lot.lot_number)),
                        ("serial", (B.c.serial_id, S.serial_number))):
        value = filters.get(key)
        if value in (None, ""):
            continue
        by_id, by_code = column
        q = q.where(by_id == int(value)) if str(value).isdigit() and key != "lot" and key != "serial" \
            else q.where(by_code == str(value))
    if filters.get("status"):
        q = q.where(B.c.status == filters["status"])
    total = ctx.session.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
    rows = ctx.session.execute(q.order_by(P.sku, Lot.expiry_date, L.code, B.c.id)
                               .limit(limit).offset(offset)).mappings().all()
    return {"count": total, "result": [_plain(r) for r in rows]}


def _transit_in_scope(ctx, B, scope):
    """In-transit stock is visible to both ends of its transfer."""
    if "TransferOrder" not in ctx.models.models:
        return sa.false()
    T = ctx.models["TransferOrder"]
    return B.c.location_id.in_(sa.select(T.transit_location_id).where(
        T.from_warehouse_id.in_(list(scope)) | T.to_warehouse_id.in_(list(scope))))


def lot_moves(ctx: ServiceContext, lot_id: int) -> list[dict]:
    """Every move of one lot, oldest first, as far as the actor's scope reaches."""
    m = ctx.models
    M, L = m.table("stock_move"), m["Location"]
    src, dst = sa.orm.aliased(L), sa.orm.aliased(L)
    q = (sa.select(M.c.id, M.c.document_type, M.c.document_name, M.c.moved_at, M.c.quantity,
                   M.c.serial_id, M.c.from_status, M.c.to_status,
                   src.code.label("from_location"), dst.code.label("to_location"),
                   src.warehouse_id.label("from_warehouse_id"), dst.warehouse_id.label("to_warehouse_id"))
         .join(src, src.id == M.c.from_location_id).join(dst, dst.id == M.c.to_location_id)
         .where(M.c.lot_id == lot_id).order_by(M.c.moved_at, M.c.id))
    scope = ctx.actor.warehouse_ids
    if scope is not None:
        ids = list(scope)
        q = q.where(src.warehouse_id.in_(ids) | dst.warehouse_id.in_(ids))
    return [_plain(r) for r in ctx.session.execute(q).mappings()]


def _plain(row) -> dict:
    out = {}
    for k, v in dict(row).items():
        if hasattr(v, "isoformat"):
            v = v.isoformat()
        elif isinstance(v, Decimal):
            v = format_quantity(v)
        out[k] = v
    return out
