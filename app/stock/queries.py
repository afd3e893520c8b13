"""Stock queries: on hand by product, lot, serial, location and status, and
the moves of a lot — always limited to the actor's warehouses."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

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


def available_stock(ctx: ServiceContext, warehouse_id: int, product_ids, on: dt.date) -> dict[int, dict]:
    """What could leave a warehouse now, per product: units in its bins and
    receiving area that are available (balance and lot), not expired at ``on``
    and not reserved; with the earliest expiry and each lot, earliest first.
    The same stock allocation draws on (``app.stock.allocation``), before the
    minimum remaining shelf life that allocation applies per destination."""
    ids = sorted({int(i) for i in product_ids})
    if not ids:
        return {}
    m = ctx.models
    B, Lot = m.table("stock_balance"), m["Lot"]
    free = sa.func.sum(B.c.quantity - B.c.reserved)
    rows = ctx.session.execute(
        sa.select(B.c.product_id, Lot.lot_number, Lot.expiry_date, free.label("free"))
        .outerjoin(Lot, Lot.id == B.c.lot_id)
        .where(B.c.warehouse_id == warehouse_id, B.c.is_real, B.c.status == "available",
               B.c.product_id.in_(ids), B.c.quantity - B.c.reserved > 0,
               sa.or_(Lot.id.is_(None), Lot.status == "available"),
               sa.or_(Lot.expiry_date.is_(None), Lot.expiry_date >= on))
        .group_by(B.c.product_id, Lot.lot_number, Lot.expiry_date)
        .order_by(B.c.product_id, Lot.expiry_date.is_(None), Lot.expiry_date, Lot.lot_number)).all()
    out = {i: {"available": Decimal(0), "earliest_expiry": None, "lots": []} for i in ids}
    for r in rows:
        item = out[r.product_id]
        item["available"] += r.free
        if r.expiry_date and (item["earliest_expiry"] is None or r.expiry_date < item["earliest_expiry"]):
            item["earliest_expiry"] = r.expiry_date
        if r.lot_number:
            item["lots"].append({"lot": r.lot_number, "expiry_date": _iso(r.expiry_date),
                                 "available": format_quantity(r.free)})
    for item in out.values():
        item["available"] = format_quantity(item["available"])
        item["earliest_expiry"] = _iso(item["earliest_expiry"])
    return out


def receiving_stock(ctx: ServiceContext, warehouse_id: int) -> list[dict]:
    """What waits in a warehouse's receiving area to be put away: one row per
    product, lot, serial and status, oldest lots first, with the bin the
    put-away page suggests (see ``suggested_bins``)."""
    m = ctx.models
    B, L, P, Lot, S = m.table("stock_balance"), m["Location"], m["Product"], m["Lot"], m["Serial"]
    rows = ctx.session.execute(
        sa.select(B.c.product_id, P.sku, P.name, P.tracking, B.c.lot_id, Lot.lot_number,
                  Lot.expiry_date, Lot.status.label("lot_status"), B.c.serial_id, S.serial_number,
                  B.c.location_id, L.code.label("location"), B.c.status, B.c.quantity, B.c.reserved)
        .join(L, L.id == B.c.location_id).join(P, P.id == B.c.product_id)
        .outerjoin(Lot, Lot.id == B.c.lot_id).outerjoin(S, S.id == B.c.serial_id)
        .where(B.c.warehouse_id == warehouse_id, L.kind == "receiving", B.c.quantity > 0)
        .order_by(P.sku, Lot.expiry_date, Lot.lot_number, S.serial_number, B.c.id)).mappings().all()
    suggestions = suggested_bins(ctx, warehouse_id, {(r["product_id"], r["lot_id"]) for r in rows})
    out = []
    for r in rows:
        row = _plain(r)
        row["movable"] = format_quantity(r["quantity"] - r["reserved"])
        bin_ = suggestions.get((r["product_id"], r["lot_id"] or 0))
        row["suggested_bin"], row["suggested_because"] = bin_ if bin_ else (None, None)
        out.append(row)
    return out


def suggested_bins(ctx: ServiceContext, warehouse_id: int, items) -> dict[tuple, tuple[str, str]]:
    """The bin to put each (product id, lot id or 0) away into, and why:

    1. ``dedicated``: an active bin of the warehouse whose *Put-away bin for
       product* (``Location.putaway_for``) is the product, first in pick order;
    2. ``same_lot``: else the bin already holding the most of that lot, so a lot
       stays together for FEFO picking;
    3. ``same_product``: else the bin already holding the most of the product.

    Items with none of these get no suggestion: the clerk chooses a bin.
    """
    items = {(p, lot or 0) for p, lot in items}
    if not items:
        return {}
    m = ctx.models
    B, L = m.table("stock_balance"), m["Location"]
    products = sorted({p for p, _ in items})
    dedicated: dict[int, str] = {}
    for product_id, code in ctx.session.execute(
            sa.select(L.putaway_for_id, L.code)
            .where(L.warehouse_id == warehouse_id, L.kind == "bin", L.active.isnot(False),
                   L.putaway_for_id.in_(products))
            .order_by(L.pick_sequence, L.code)):
        dedicated.setdefault(product_id, code)
    held: dict[tuple, str] = {}
    by_product: dict[int, str] = {}
    totals = (sa.select(B.c.product_id, B.c.lot_id, L.code, sa.func.sum(B.c.quantity).label("q"))
              .join(L, L.id == B.c.location_id)
              .where(B.c.warehouse_id == warehouse_id, L.kind == "bin", L.active.isnot(False),
                     B.c.quantity > 0, B.c.product_id.in_(products))
              .group_by(B.c.product_id, B.c.lot_id, L.code))
    product_totals: dict[tuple, Decimal] = {}
    for r in ctx.session.execute(totals.order_by(sa.desc("q"), L.code)):
        held.setdefault((r.product_id, r.lot_id), r.code)
        product_totals[(r.product_id, r.code)] = product_totals.get((r.product_id, r.code), 0) + r.q
    for (product_id, code), q in sorted(product_totals.items(), key=lambda kv: (-kv[1], kv[0][1])):
        by_product.setdefault(product_id, code)
    out = {}
    for product_id, lot_id in items:
        key = (product_id, lot_id)
        if product_id in dedicated:
            out[key] = (dedicated[product_id], "dedicated")
        elif lot_id and (product_id, lot_id) in held:
            out[key] = (held[(product_id, lot_id)], "same_lot")
        elif product_id in by_product:
            out[key] = (by_product[product_id], "same_product")
    return out


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def active_warehouses(ctx: ServiceContext, in_scope: bool = True) -> list[dict]:
    """Active warehouses by code: the user's own (``in_scope``), or all of them
    (where goods may be sent)."""
    W = ctx.models["Warehouse"]
    stmt = sa.select(W.id, W.code, W.name, W.accept_expired).where(W.active.isnot(False)).order_by(W.code)
    if in_scope and ctx.actor.warehouse_ids is not None:
        stmt = stmt.where(W.id.in_(list(ctx.actor.warehouse_ids)))
    return [{"id": i, "code": c, "name": n, "accept_expired": bool(a)}
            for i, c, n, a in ctx.session.execute(stmt)]
