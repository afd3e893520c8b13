"""Places stock can be: a warehouse's bins and receiving area, and the virtual
places (supplier, customer, loss, transit) that keep the ledger double-entry."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.context import ServiceContext
from app.domain.errors import ValidationFailed
from app.records.guard import authorize

VIRTUAL_NAMES = {"supplier": "Suppliers 供应商", "customer": "Customers 客户",
                 "loss": "Inventory loss 盘亏", "scrap": "Scrap 报废", "repair": "Repair vendors 维修商"}


def virtual_location(ctx: ServiceContext, kind: str):
    """The shared virtual place of ``kind`` (supplier, customer, loss ...),
    created on first use. It belongs to no warehouse: the engine creates it on
    behalf of whoever posts, whatever their scope."""
    L = ctx.models["Location"]
    loc = ctx.session.execute(sa.select(L).where(L.kind == kind, L.warehouse_id.is_(None))
                              .order_by(L.id).limit(1)).scalar_one_or_none()
    if loc is None:
        loc = L(code=kind.upper(), name=VIRTUAL_NAMES.get(kind, kind.title()), kind=kind)
        authorize(ctx.session, loc)
        ctx.session.add(loc)
        ctx.session.flush()
    return loc


def transit_location(ctx: ServiceContext, document) -> Any:
    """The in-transit place of one transfer: its stock is on the truck, in
    neither warehouse. Created when the goods are shipped."""
    if document.transit_location_id:
        return document.transit_location
    L = ctx.models["Location"]
    loc = L(code=f"TRANSIT/{document.name}", name=f"In transit {document.name}", kind="transit")
    authorize(ctx.session, loc)
    ctx.session.add(loc)
    ctx.session.flush()
    document.transit_location = loc
    return loc


def bin_in_warehouse(ctx: ServiceContext, ref: Any, warehouse, what: str = "location"):
    loc = ctx.find("Location", ref, key="code", what=what)
    if loc.warehouse_id != warehouse.id or loc.kind not in ("bin", "receiving"):
        raise ValidationFailed(f"{what} {loc.code} is not a bin of warehouse {warehouse.code}",
                               zh=f"库位 {loc.code} 不属于仓库 {warehouse.code}")
    return loc


def receiving_location(ctx: ServiceContext, warehouse):
    L = ctx.models["Location"]
    loc = ctx.session.execute(sa.select(L).where(
        L.warehouse_id == warehouse.id, L.kind == "receiving").order_by(L.id).limit(1)
    ).scalar_one_or_none()
    if loc is None:
        raise ValidationFailed(f"warehouse {warehouse.code} has no receiving location; "
                               "add one or give a bin",
                               zh=f"仓库 {warehouse.code} 没有收货区：请添加收货区或指定货位")
    return loc
